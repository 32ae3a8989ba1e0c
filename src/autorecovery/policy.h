// Autorecovery's decisions, without any I/O (docs/autorecovery.md): which bookies are lost, which
// of a ledger's bookies a marker names, and what a replication worker does with a marked ledger.
// The auditor and the workers (auditor.h, replication_worker.h) only carry them out, so the rules
// are tested here alone (tests/autorecovery/policy_test.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "metadata/metadata_store.h"
#include "quire/ledger_metadata.h"

namespace quire::autorecovery {

// Which bookies the auditor counts as lost. The cluster expects every bookie that has a cookie
// (formatted into it and not decommissioned); one that has no registration is missing from the
// moment the auditor first sees it so, and lost once it has been missing for `lost_delay`
// (lostBookieRecoveryDelay). A bookie that registers again before that is forgotten: a restart
// within the delay copies nothing.
class MissingBookieTracker {
 public:
  explicit MissingBookieTracker(std::chrono::milliseconds lost_delay) : lost_delay_(lost_delay) {}

  // Continues the clocks of a previous auditor (AutoRecoveryState::missing_bookies), so a
  // take-over neither restarts the delay nor forgets a bookie that died with that auditor.
  void Restore(const std::vector<metadata::MissingBookie>& missing);

  // One look at the cluster: `expected` (cookies) and `live` (registered, writable or read-only)
  // at `now_ms` (Unix ms). Returns true when the set of missing bookies changed.
  bool Observe(const std::vector<BookieId>& expected, const std::set<BookieId>& live,
               int64_t now_ms);

  // The missing bookies, sorted by id, with the time each was first seen missing.
  std::vector<metadata::MissingBookie> missing() const;
  // The bookies missing for at least the delay at `now_ms`.
  std::set<BookieId> Lost(int64_t now_ms) const;
  // How long until the next missing bookie becomes lost, or nullopt if none is waiting.
  std::optional<std::chrono::milliseconds> UntilNextLost(int64_t now_ms) const;

 private:
  std::chrono::milliseconds lost_delay_;
  std::map<BookieId, int64_t> missing_since_ms_;
};

// The bookies of `lost` that the ledger's ensembles name, sorted: what its marker must list.
std::vector<BookieId> LostBookiesOf(const LedgerMetadata& metadata, const std::set<BookieId>& lost);

// Whether an open ledger's writer looks gone: its LAC has not moved for `grace`
// (openLedgerRereplicationGracePeriod). One per worker; ledgers it stops asking about are
// forgotten by Forget().
class WriterActivity {
 public:
  explicit WriterActivity(std::chrono::milliseconds grace) : grace_(grace) {}
  // Records the LAC read at `now_ms`; true when it has stayed the same for at least the grace
  // period (the first observation starts the clock).
  bool Quiet(LedgerId ledger, EntryId lac, int64_t now_ms);
  void Forget(LedgerId ledger) { seen_.erase(ledger); }

 private:
  struct Seen {
    EntryId lac;
    int64_t since_ms;
  };
  std::chrono::milliseconds grace_;
  std::map<LedgerId, Seen> seen_;
};

// What a replication worker does with a marked ledger.
enum class Action {
  kClearMarker,   // no ensemble names a marked bookie any more (or the ledger is gone)
  kReplicate,     // closed: copy the marked bookies' entries elsewhere
  kCheckWriter,   // open or being recovered: see whether its writer is alive (WriterActivity)
};
Action Decide(const LedgerMetadata& metadata, const metadata::UnderReplicatedLedger& marker);
std::string_view ActionName(Action action);

// A copying rate (replicationRateByBytes): after each batch, when the next may start. Up to a
// second's worth of bytes may go at once after a pause.
class ByteRate {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ByteRate(int64_t bytes_per_second) : bytes_per_second_(bytes_per_second) {}
  bool limited() const { return bytes_per_second_ > 0; }
  // `bytes` were just copied at `now`: the earliest start of the next batch (now if unlimited).
  Clock::time_point After(int64_t bytes, Clock::time_point now);

 private:
  int64_t bytes_per_second_;
  Clock::time_point next_{};
};

// The order in which a worker takes marked ledgers: closed ones first (nothing stands in the way
// of copying them), then by id. Returns indices into `states`.
std::vector<size_t> WorkOrder(const std::vector<std::pair<LedgerId, LedgerState>>& states);

}  // namespace quire::autorecovery
