// The bookie's storage engine: journals + ledger storage, with crash recovery.
//
// The promise: an add whose callback reported OK is on disk, and comes back byte-exact after any
// crash (kill -9, power cut) — as long as the disks keep what fdatasync said they kept.
//
// Write path (docs/architecture.md draws it): AddEntry checks the ledger's master key and fence,
// stores the entry in the write cache of the ledger's directory, and queues its record on the
// ledger's journal, all under the ledger's lock so that a fence is ordered after every add that
// passed the check before it. The journal thread group-commits; the callback runs on the callback
// executor once the record is durable. In the background the flush thread moves write caches into
// entry logs + the RocksDB index and then checkpoints the journals.
//
// Entries enter the write cache before they are journaled (as in BookKeeper): a checkpoint taken
// at a journal's synced position therefore never passes a record whose entry is not yet in a
// cache that the same flush persists. A read may see an entry whose add is still in the journal;
// readers of ledgers only read up to the LAC, and recovery re-writes what it finds, so this is
// harmless.
//
// Threads: every public method is thread-safe. Callbacks run on the callback executor threads
// ("q-callback-N"), in journal order per journal; they may call back into the engine.
// Failure: a journal or flush I/O error makes the engine unwritable for good (health() says why):
// adds, fences and LAC writes fail with kReadOnly; reads go on. A full ledger disk is not such an
// error: the flush that hit it (ENOSPC, or a flush that would eat into ledgerDirReservedSpaceMB)
// gives back the space it took, keeps its entries in the write cache (they are in the journal
// too, and the journal is not checkpointed past them), and is retried every flushIntervalMs;
// disk_full() reports the state until a flush succeeds. The bookie turns read-only meanwhile, and
// garbage collection frees space.
//
// Memory: the engine keeps the state of the ledgers in use (master key, fence, LAC) in memory and
// forgets a ledger idle for about a minute once its state is in the index; the next access loads
// it back (not on an I/O thread: TryAddEntry declines instead, and AddEntry loads it).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/executor.h"
#include "common/file_system.h"
#include "common/histogram.h"
#include "common/mutex.h"
#include "storage/journal.h"
#include "storage/ledger_directory.h"
#include "storage/payload.h"
#include "storage/storage_options.h"

namespace quire::storage {

struct StorageStats {
  std::vector<JournalStats> journals;
  std::vector<LedgerDirectoryStats> directories;
  uint64_t adds = 0;            // adds acknowledged OK
  uint64_t add_bytes = 0;
  uint64_t add_errors = 0;
  uint64_t reads = 0;
  uint64_t read_bytes = 0;
  uint64_t flushes = 0;
  uint64_t flushed_entries = 0;
  Histogram::Snapshot flush_latency_ns;  // without a paced flush's waits
  uint64_t flush_paced_ns = 0;           // what paced flushes waited (flushPacing)
  uint64_t write_cache_waits = 0;  // adds that had to wait for write-cache room
  size_t callback_queue = 0;
  size_t cached_ledgers = 0;       // ledger states held in memory
  uint64_t flush_failures = 0;     // flushes held back by a full disk (then retried)
};

// Summary of start-up recovery.
struct RecoverySummary {
  uint64_t journal_files = 0;
  uint64_t records = 0;
  uint64_t torn_bytes = 0;
};

// The wait before the next periodic flush: `interval_ms` ±25 %, chosen by `random` (uniform over
// 32 bits). Bookies that receive the same adds fill their caches alike and, started together or
// sharing a machine, would flush in step: a flush's burst of CPU and writes would then slow every
// bookie of a write set at once, a stall that Qa < Qw cannot hide. Out of step, the bookies that
// are not flushing answer. Never 0.
uint64_t FlushWaitMs(uint64_t interval_ms, uint32_t random);

class StorageEngine {
 public:
  using Callback = std::function<void(Status)>;

  // Checks the directories (cookie, lock), replays the journals from their checkpoints and starts
  // the journal, flush and callback threads.
  static Result<std::unique_ptr<StorageEngine>> Open(const StorageOptions& options);
  // Clean shutdown: journals what is queued, runs the callbacks, flushes and checkpoints.
  ~StorageEngine();
  StorageEngine(const StorageEngine&) = delete;
  StorageEngine& operator=(const StorageEngine&) = delete;

  // Adds an entry. The first add of a ledger records its master key; later adds, fences and LAC
  // writes must carry the same key (kUnauthorized otherwise, and nothing is stored). A normal add
  // to a fenced ledger fails with kFenced; a recovery add is accepted. Re-adding an entry is
  // idempotent. `done` runs exactly once, on the callback executor.
  // The payload (not null) is shared, not copied, by the journal and the write cache; it must
  // not change.
  void AddEntry(uint64_t ledger, uint64_t entry, std::string_view master_key, Payload payload,
                bool recovery, Callback done);
  void AddEntry(uint64_t ledger, uint64_t entry, std::string_view master_key, std::string payload,
                bool recovery, Callback done) {
    AddEntry(ledger, entry, master_key, MakePayload(std::move(payload)), recovery, std::move(done));
  }

  // AddEntry without waiting: if the write cache has no room, or the ledger's state must first be
  // loaded from the index, it returns false and leaves `done` untouched (the caller may then call
  // AddEntry on a thread that can wait); otherwise it takes it and returns true. For callers that
  // must not block (I/O threads).
  bool TryAddEntry(uint64_t ledger, uint64_t entry, std::string_view master_key,
                   const Payload& payload, bool recovery, Callback& done);

  // Fences the ledger (creating it with this master key if the bookie has never seen it): once
  // `done` reports OK the fence is durable and every later normal add is refused, and every add
  // that was accepted before it is durable too.
  void Fence(uint64_t ledger, std::string_view master_key, Callback done);

  // Stores an explicit LAC (opaque bytes from the writer), durably before `done`.
  void SetExplicitLac(uint64_t ledger, std::string_view master_key, std::string lac,
                      Callback done);

  // Calls back once every record queued on the ledger's journal before it is durable (a journal
  // barrier: adds are durable when acknowledged anyway; this orders the caller after them).
  void ForceLedger(uint64_t ledger, Callback done);

  // The entry ids stored for the ledger, ascending (kNoSuchLedger if unknown).
  Result<std::vector<uint64_t>> ListEntries(uint64_t ledger);

  // kNoSuchLedger if the bookie has never seen the ledger, kNoSuchEntry if it lacks the entry,
  // kCorruption (naming file and offset) if the stored copy is damaged.
  Result<std::string> ReadEntry(uint64_t ledger, uint64_t entry);
  // The highest entry id stored for the ledger (kNoSuchEntry if none, kNoSuchLedger).
  Result<uint64_t> LastEntryId(uint64_t ledger);
  Result<LedgerInfo> GetLedgerInfo(uint64_t ledger);

  // Flushes the write caches and checkpoints the journals now; returns when done.
  Status Flush() QUIRE_EXCLUDES(flush_mu_);

  // OK while writable; otherwise the error that made the engine read-only.
  Status health() const QUIRE_EXCLUDES(error_mu_);
  // OK unless the last flush failed on a full ledger disk (kIOError, sys_errno ENOSPC, naming the
  // directory); cleared by the next flush that succeeds.
  Status disk_full() const QUIRE_EXCLUDES(error_mu_);
  StorageStats stats() const;
  // Each ledger directory's inventory, in options().ledger_dirs order (LedgerDirectory::
  // Inventory: scans the indexes' ledger rows, so for /metrics, not for hot paths).
  Result<std::vector<LedgerDirectoryInventory>> Inventory() const;
  const RecoverySummary& recovery() const { return recovery_; }
  const StorageOptions& options() const { return options_; }

 private:
  friend class GarbageCollector;  // drives the primitives below
  class LedgerTable;
  explicit StorageEngine(const StorageOptions& options);

  // --- For the garbage collector ---
  // The ledgers this bookie holds (their info is in an index), ascending. Call after Flush().
  Result<std::vector<uint64_t>> HeldLedgers();
  // Deletes the ledgers' entries, info and cached state, unflushed writes included (a full disk
  // may hold them back for good; a writer still at work on a deleted ledger makes it anew, and
  // the next pass deletes that). Their journal records stay until the next checkpoint: a crash
  // before it brings such writes back for the next pass to delete. Returns the ledgers deleted.
  Result<std::vector<uint64_t>> DeleteLedgers(const std::vector<uint64_t>& ledgers)
      QUIRE_EXCLUDES(flush_mu_);
  // Serializes every writer of the indexes: flushes and garbage collection.
  Mutex& index_writer() { return flush_mu_; }
  const std::vector<std::unique_ptr<LedgerDirectory>>& directories() const { return directories_; }

  bool TryAdd(uint64_t ledger, uint64_t entry, std::string_view master_key, const Payload& payload,
              bool recovery, Callback& done, bool may_load);

  Status Start();
  // Fence and explicit LAC: checks the key, changes the ledger's state and journals the record,
  // under the ledger's lock.
  void JournalLedgerState(uint64_t ledger, std::string_view master_key, JournalRecordType type,
                          std::string data, Callback done);
  Status ApplyReplayed(const JournalRecord& record);
  LedgerDirectory* DirectoryFor(uint64_t ledger) const;
  Journal* JournalFor(uint64_t ledger) const;
  void Reply(Callback done, Status status);
  void RequestFlush();
  void FlushLoop();
  // One flush: swap caches, write entry logs + index, then (if `checkpoint`) the journal marks.
  // A `paced` flush spreads its entry-log writes (flushPacing; the flush thread's own flushes).
  Status FlushOnce(bool checkpoint, bool paced = false) QUIRE_EXCLUDES(flush_mu_);
  // Flushes the cache swapped out of `dir` (with the ledger infos of `infos`) and drops it.
  Status FlushDirectory(size_t dir, std::vector<std::pair<uint64_t, LedgerInfo>> infos,
                        const FlushPacing& pacing = {});
  void SetError(const Status& status) QUIRE_EXCLUDES(error_mu_);
  void SetDiskFull(const Status& status) QUIRE_EXCLUDES(error_mu_);

  StorageOptions options_;
  FileSystem* fs_;
  std::unique_ptr<FileSystem> owned_fs_;
  std::vector<std::unique_ptr<FileLock>> locks_;
  std::unique_ptr<Executor> callbacks_;
  std::unique_ptr<LedgerTable> ledgers_;
  std::vector<std::unique_ptr<LedgerDirectory>> directories_;
  std::vector<std::unique_ptr<Journal>> journals_;
  RecoverySummary recovery_;

  mutable Mutex error_mu_;
  Status error_ QUIRE_GUARDED_BY(error_mu_);
  Status disk_full_ QUIRE_GUARDED_BY(error_mu_);
  std::atomic<bool> writable_{false};

  Mutex flush_mu_;  // serializes flushes (flush thread vs Flush()) and GC's index writes
  // The journal positions last checkpointed.
  std::vector<JournalPosition> checkpointed_ QUIRE_GUARDED_BY(flush_mu_);
  uint64_t last_sweep_ms_ QUIRE_GUARDED_BY(flush_mu_) = 0;  // the last idle-ledger sweep
  uint64_t last_flush_start_ns_ QUIRE_GUARDED_BY(flush_mu_) = 0;  // when the caches last swapped
  // Above 0 while something waits for the running flush to end (an add for room, Flush(), the
  // stop): a paced flush then writes the rest at once.
  std::atomic<int> flush_hurry_{0};

  Mutex flush_wait_mu_;
  CondVar flush_cv_;
  bool flush_requested_ QUIRE_GUARDED_BY(flush_wait_mu_) = false;
  bool stopping_ QUIRE_GUARDED_BY(flush_wait_mu_) = false;
  std::thread flush_thread_;

  std::atomic<uint64_t> adds_{0}, add_bytes_{0}, add_errors_{0}, reads_{0}, read_bytes_{0};
  std::atomic<uint64_t> flushes_{0}, flushed_entries_{0}, write_cache_waits_{0};
  std::atomic<uint64_t> flush_failures_{0};
  std::atomic<uint64_t> flush_paced_ns_{0};
  Histogram flush_latency_;
};

}  // namespace quire::storage
