// Garbage collection: gives back the space of deleted ledgers (docs/architecture.md, "Garbage
// collection"; BookKeeper's GarbageCollectorThread).
//
// One thread, "q-gc", runs a pass every gcWaitTime ms and whenever Trigger() asks. A pass:
//  1. flushes the write caches (so the index holds every ledger the bookie has, and the journals
//     are checkpointed past them: replay cannot bring a deleted ledger back);
//  2. snapshots the ledgers held, then lists the ledgers in the metadata store (LedgerCatalog);
//     the held ledgers missing from a complete listing are re-read one by one, and only those the
//     store confirms absent are deleted (gc_policy.h has the rules);
//  3. scans the entry logs whose usage is not recorded (older index, index rebuild, a crash);
//  4. deletes the entry logs nothing points into;
//  5. when a compaction is due (or was asked for), compacts the logs whose live fraction is below
//     its threshold, throttled to compactionRateByBytes (storage/compactor.h).
// Every step is crash-safe on its own; a pass stopped half-way (shutdown, an error) leaves a
// consistent state that the next pass continues from. Passes work in read-only mode too: that is
// how a full bookie gets space back.
//
// Threads: every public method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/histogram.h"
#include "common/mutex.h"
#include "quire/status.h"
#include "storage/gc_policy.h"
#include "storage/storage_engine.h"

namespace quire::storage {

// Which ledgers exist, as the cluster's metadata store says. Implemented by the bookie over the
// metadata service; tests implement it to fail, time out or answer empty.
class LedgerCatalog {
 public:
  virtual ~LedgerCatalog() = default;
  // Calls `fn` for every ledger id, ascending. An error means the listing is incomplete.
  virtual Status ForEachLedger(const std::function<Status(uint64_t)>& fn) = 0;
  // Re-reads one ledger: kExists, kAbsent only when the store definitely has no such ledger,
  // kUnknown on any error.
  virtual LedgerExistence Exists(uint64_t ledger) = 0;
};

// What one pass did. Sizes are bytes of files.
struct GcPassReport {
  uint64_t id = 0;
  std::string trigger;  // "timer" or "request"
  CompactionKind compaction = CompactionKind::kNone;
  uint64_t start_unix_ms = 0;
  uint64_t duration_ms = 0;
  uint64_t compaction_ms = 0;        // of which compacting
  bool finished = false;             // false while it runs
  Status status;                     // why the pass stopped early, if it did
  std::string compaction_suspended;  // what a suspension took from the compaction, if anything
  std::string ledger_gc_skipped;     // why no ledger was deleted (an untrusted listing), if so
  uint64_t ledgers_held = 0;
  uint64_t ledgers_deleted = 0;
  uint64_t ledgers_kept_unconfirmed = 0;  // not listed, but a re-read did not confirm them gone
  uint64_t logs_scanned = 0;         // logs whose usage was rebuilt by scanning
  uint64_t logs_deleted = 0;         // deleted with nothing live in them
  uint64_t logs_compacted = 0;       // emptied by compaction, then deleted
  uint64_t logs_skipped_no_room = 0;
  uint64_t entries_moved = 0;
  uint64_t bytes_moved = 0;          // entry bytes compaction copied
  uint64_t bytes_deleted = 0;        // of the deleted logs
  uint64_t bytes_written = 0;        // of the logs compaction wrote
  int64_t bytes_reclaimed() const {
    return static_cast<int64_t>(bytes_deleted) - static_cast<int64_t>(bytes_written);
  }
};

struct GcStatus {
  uint64_t requested = 0;   // the last pass id handed out by Trigger()
  uint64_t completed = 0;   // the last pass id that finished
  std::vector<GcPassReport> recent;  // newest first, the one running included
  // Totals since start-up (metrics).
  uint64_t passes = 0;
  uint64_t ledgers_deleted = 0;
  uint64_t logs_deleted = 0;
  uint64_t logs_compacted = 0;
  uint64_t entries_moved = 0;
  uint64_t bytes_moved = 0;
  uint64_t bytes_reclaimed = 0;
  Histogram::Snapshot pass_duration_ms;
  std::vector<double> live_fractions;  // of every entry log now, for a histogram
};

class GarbageCollector {
 public:
  // Starts "q-gc". `engine` and `catalog` outlive the collector. `on_deleted`, if set, is called
  // on q-gc with the ledgers each pass deleted (the bookie forgets their LACs).
  static std::unique_ptr<GarbageCollector> Start(
      StorageEngine* engine, LedgerCatalog* catalog, const GcOptions& options,
      std::function<void(const std::vector<uint64_t>&)> on_deleted = nullptr);
  // Stops the thread; a pass in progress stops at its next safe point.
  ~GarbageCollector();
  GarbageCollector(const GarbageCollector&) = delete;
  GarbageCollector& operator=(const GarbageCollector&) = delete;

  // Asks for a pass as soon as the one running (if any) ends, with this compaction (requests
  // made before it starts are merged, keeping the largest compaction). Returns the id of the pass
  // that will serve the request.
  uint64_t Trigger(CompactionKind compaction);
  // Waits until pass `id` finished; false on timeout.
  bool WaitFor(uint64_t id, std::chrono::milliseconds timeout);
  // Suspends the kinds of compaction named (BookKeeper's suspend_compaction) until they are
  // resumed: a compaction of a suspended kind in progress stops before its next copy (what it
  // copied stays), and later passes run a minor compaction instead of a suspended major one, or
  // none. Passes still delete ledgers and the logs with nothing live. Not persisted: a restarted
  // bookie compacts again.
  void SuspendCompaction(CompactionSuspension which);
  void ResumeCompaction(CompactionSuspension which);
  CompactionSuspension compaction_suspension() const;
  GcStatus status() const;

 private:
  GarbageCollector(StorageEngine* engine, LedgerCatalog* catalog, const GcOptions& options,
                   std::function<void(const std::vector<uint64_t>&)> on_deleted);
  void Loop();
  void RunPass(GcPassReport* report);
  Status CollectLedgers(GcPassReport* report);
  Status CollectLogs(GcPassReport* report);
  // Whether a compaction of `kind` may copy on: false when stopping or when `kind` is suspended.
  bool MayCompact(CompactionKind kind) const QUIRE_EXCLUDES(mu_);
  // Sleeps as the throttle requires for `bytes` more; false (at once) when stopping or when
  // compaction of `kind` is suspended.
  bool Pace(uint64_t bytes, uint64_t rate, std::chrono::steady_clock::time_point* next,
            CompactionKind kind = CompactionKind::kNone) QUIRE_EXCLUDES(mu_);
  bool stopping() const QUIRE_EXCLUDES(mu_);
  void Publish(const GcPassReport& report);

  StorageEngine* const engine_;
  LedgerCatalog* const catalog_;
  const GcOptions options_;
  const std::function<void(const std::vector<uint64_t>&)> on_deleted_;

  mutable Mutex mu_;
  CondVar cv_;
  bool stopping_ QUIRE_GUARDED_BY(mu_) = false;
  CompactionSuspension suspension_ QUIRE_GUARDED_BY(mu_);
  uint64_t requested_ QUIRE_GUARDED_BY(mu_) = 0;
  uint64_t started_ QUIRE_GUARDED_BY(mu_) = 0;
  uint64_t completed_ QUIRE_GUARDED_BY(mu_) = 0;
  CompactionKind requested_compaction_ QUIRE_GUARDED_BY(mu_) = CompactionKind::kNone;
  std::deque<GcPassReport> recent_ QUIRE_GUARDED_BY(mu_);
  GcStatus totals_ QUIRE_GUARDED_BY(mu_);  // the counters
  Histogram pass_duration_ms_;

  // q-gc only.
  std::chrono::steady_clock::time_point last_minor_, last_major_;
  std::thread thread_;
};

}  // namespace quire::storage
