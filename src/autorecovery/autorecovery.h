// Autorecovery (docs/autorecovery.md): a lost bookie's copies come back without an operator.
//
// Two roles run in every autorecovery process (a bookie with autoRecoveryDaemonEnabled, or
// `quire autorecovery run`):
//  * the auditor, elected through the metadata store's lock "auditor" (one in the cluster; when
//    its process dies its session expires and another takes over). It watches the registrations,
//    counts a bookie with a cookie but no registration as missing, and once it has been missing
//    for lostBookieRecoveryDelay marks every ledger whose ensembles name it under-replicated. Every
//    auditorPeriodicCheckInterval it also reads every replica of every closed ledger (as `quire
//    ledger check` does) and marks the ledgers with missing or corrupt copies.
//  * a replication worker, which takes one marked ledger at a time under the lock
//    "replicate-<ledger id>", copies each marked bookie's entries to a replacement (closed ledgers
//    first), swaps it into the ensembles by compare-and-set, reads every replica back and only
//    then clears the marker. An open ledger is left to its writer while its LAC moves; once it has
//    not moved for openLedgerRereplicationGracePeriod the ledger is recovered (fenced and closed)
//    first.
// Nothing here needs a ledger's password: the metadata keeps the keys (docs/security.md).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "autorecovery/options.h"
#include "autorecovery/policy.h"
#include "client/client_context.h"
#include "client/replication.h"
#include "common/histogram.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "metadata/metadata_store.h"
#include "quire/client.h"

namespace quire::autorecovery {

// What `quire autorecovery status` and GET /api/v1/autorecovery/status show.
struct AutoRecoveryStatus {
  bool enabled = true;
  std::optional<std::string> auditor;  // the holder of the auditor lock; nullopt: none
  std::vector<metadata::MissingBookie> missing_bookies;
  int64_t audit_time_ms = 0;
  int64_t last_check_time_ms = 0;
  int64_t under_replicated_ledgers = 0;  // markers, counted up to kMaxCounted
  bool count_truncated = false;
};
Result<AutoRecoveryStatus> ReadStatus(metadata::MetadataStore& store);
nlohmann::json StatusToJson(const AutoRecoveryStatus& status, int64_t lost_delay_ms = -1);
// The cluster-wide switch (compare-and-set on the autorecovery record).
Status SetEnabled(metadata::MetadataStore& store, bool enabled);

// Progress of a manual `quire bookie recover`: called after each ledger.
struct RecoverProgress {
  int64_t ledgers_done = 0;
  int64_t ledgers_total = 0;
  CopiedEntries copied;
};

// Copies every ledger's entries off `bookie` now (`quire bookie recover`, BookKeeper's shell
// `recover`): open ledgers are recovered (fenced and closed) first, as for a dead bookie. Returns
// what was copied; fails on the first ledger that cannot be moved (naming it).
Result<CopiedEntries> RecoverBookie(client::ClientContext& context, const BookieId& bookie,
                                    const client::ReplicationOptions& options,
                                    const std::function<void(const RecoverProgress&)>& progress);

class AutoRecovery {
 public:
  // Starts the auditor election and (options.worker) the replication worker, each on its own
  // thread. Fails only when the client context cannot be built.
  static Result<std::unique_ptr<AutoRecovery>> Start(AutoRecoveryOptions options);
  ~AutoRecovery();  // Stop()
  AutoRecovery(const AutoRecovery&) = delete;
  AutoRecovery& operator=(const AutoRecovery&) = delete;

  // Stops both threads (a copy in progress stops at its next batch; its ledger stays marked).
  void Stop();

  bool is_auditor() const { return is_auditor_.load(); }
  // quire_autorecovery_* metrics (docs/operations.md, "Metrics").
  void WriteMetrics(MetricsWriter& w) const;

 private:
  AutoRecovery(AutoRecoveryOptions options, std::shared_ptr<client::ClientContext> context);
  metadata::MetadataStore& store() { return context_->store(); }
  // Waits until `deadline` or Stop(), or (`wakeable`: the auditor) a Wake(); false once stopping.
  bool WaitUntil(std::chrono::steady_clock::time_point deadline, bool wakeable);
  // Makes the auditor look again now (a registration changed, the lock was lost).
  void Wake();
  bool stopping() const { return stop_.load(); }

  void AuditorLoop();
  // One term as auditor, while `lock` is held.
  void Audit(metadata::OwnershipLock& lock);
  // Marks every ledger naming a bookie of `lost`; returns how many were marked.
  Result<int64_t> MarkLedgersOf(const std::set<BookieId>& lost);
  Status PeriodicCheck();

  void WorkerLoop();
  // Takes and handles one marked ledger; false when there was nothing it could take.
  Result<bool> ReplicateOne(WriterActivity& activity);
  Status Replicate(const metadata::UnderReplicatedLedger& marker);
  client::ReplicationOptions CopyOptions();

  const AutoRecoveryOptions options_;
  std::shared_ptr<client::ClientContext> context_;

  Mutex mu_;
  CondVar wake_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> is_auditor_{false};
  bool audit_now_ QUIRE_GUARDED_BY(mu_) = false;
  // Worker thread only: the copying rate, and the ledgers whose last attempt failed with when to
  // try them again (5 polls later, as BookKeeper's rwRereplicateBackoffMs).
  ByteRate copy_rate_{options_.rate_bytes_per_second};
  std::map<LedgerId, std::chrono::steady_clock::time_point> retry_after_;

  // Metrics.
  std::atomic<int64_t> under_replicated_{0};  // as the last audit or worker pass counted
  std::atomic<int64_t> lost_bookies_{0};
  std::atomic<int64_t> entries_copied_{0};
  std::atomic<int64_t> bytes_copied_{0};
  std::atomic<int64_t> ledgers_replicated_{0};
  std::atomic<int64_t> ledgers_recovered_{0};
  std::atomic<int64_t> ledgers_marked_{0};
  std::atomic<int64_t> failures_{0};
  Histogram heal_ms_;  // marker set -> cleared, per ledger this worker healed (ms)

  std::thread auditor_thread_;
  std::thread worker_thread_;
};

}  // namespace quire::autorecovery
