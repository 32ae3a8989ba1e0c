// One ledger directory: its write caches, entry logs, RocksDB index, entry-log usage and
// read-ahead cache.
//
// Write path: TryPut() stores a journaled entry in the filling write cache. The flush thread
// swaps the caches (SwapCaches), appends the swapped one sorted to the entry log and fdatasyncs it,
// writes the locations, the entry logs' usage and the ledger infos to the index in one synced batch
// (FlushSwapped), then drops the swapped cache (FinishFlush). An entry is always findable: in a
// cache until the index has it. A flush that fails on a full disk (or that would leave less free
// space than reserved_bytes) gives the space it took back and keeps the swapped cache, so the
// next FlushSwapped tries the same entries again.
//
// Read path: write caches, then the read-ahead cache, then index + pread; a miss reads ahead the
// following entries of the same ledger from the same log. A read that finds its log deleted
// (compaction moved the entry meanwhile) looks the entry up again.
//
// Threads: TryPut/WaitForRoom/Read/LastEntry from any thread; SwapCaches/FlushSwapped/FinishFlush
// from the flush thread only. Methods that write the index (FlushSwapped, DeleteLedgers, and the
// compactor's batches) are called with the storage engine's index-writer lock held;
// RecordScannedUsage and DeleteLog take it themselves.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "storage/entry_log.h"
#include "storage/entry_log_usage.h"
#include "storage/ledger_index.h"
#include "storage/write_cache.h"

namespace quire::storage {

struct LedgerDirectoryOptions {
  std::string directory;
  FileSystem* fs = nullptr;
  uint64_t write_cache_bytes = 128ull << 20;  // this directory's share of writeCacheMaxSizeMB
  uint64_t flush_threshold_bytes = 0;         // flushThresholdKB; 0: half a cache half
  uint64_t read_cache_bytes = 128ull << 20;
  uint64_t read_ahead_bytes = 128ull << 10;
  uint64_t entry_log_size_limit = 1024ull << 20;
  bool entry_log_direct_io = true;
  uint64_t reserved_bytes = 0;  // free space a flush never takes (ledgerDirReservedSpaceMB)
};

// How a flush spreads its entry-log writes (storage/flush_pace.h): over `duration_ns` (0: at
// once), until `hurry` is above 0, which says that something waits for the flush to end (an add
// for room, Flush(), the engine's stop). The time it waited is added to `*waited_ns` if given.
struct FlushPacing {
  uint64_t duration_ns = 0;
  const std::atomic<int>* hurry = nullptr;
  uint64_t* waited_ns = nullptr;
};

struct LedgerDirectoryStats {
  uint64_t write_cache_bytes = 0;  // both halves
  uint64_t write_cache_hits = 0;
  uint64_t read_cache_hits = 0;
  uint64_t entry_log_reads = 0;    // reads that went to disk
};

// What /metrics reports of a ledger directory.
struct LedgerDirectoryInventory {
  uint64_t ledgers = 0;     // with an info row in the index (a new ledger: from its first flush)
  uint64_t entry_logs = 0;  // entry log files, the current one included
};

class LedgerDirectory {
 public:
  static Result<std::unique_ptr<LedgerDirectory>> Open(const LedgerDirectoryOptions& options);

  // Stores the entry if the filling cache has room; false if not (wait with WaitForRoom, retry).
  // Sets *flush_due when the filling cache holds flush_threshold_bytes, or is half full.
  bool TryPut(uint64_t ledger, uint64_t entry, const Payload& payload, bool* flush_due);
  // Stores the entry whether or not the cache has room: journal replay on a full disk, where
  // nothing can be flushed yet and the journal bounds what comes (about one write cache).
  void ForcePut(uint64_t ledger, uint64_t entry, const Payload& payload);
  // True while a swapped cache waits to be flushed (the last flush of it failed).
  bool HasPendingFlush();
  // Waits until the filling cache could take `size` bytes, or `deadline` (kTooManyRequests).
  Status WaitForRoom(size_t size, std::chrono::steady_clock::time_point deadline);

  // kNoSuchEntry if the directory does not have it.
  Result<std::string> Read(uint64_t ledger, uint64_t entry);
  Result<std::optional<uint64_t>> LastEntry(uint64_t ledger);
  // Every entry id of the ledger in the caches or the index, ascending.
  Result<std::vector<uint64_t>> ListEntries(uint64_t ledger);
  Result<std::optional<LedgerInfo>> LoadLedgerInfo(uint64_t ledger) const {
    return index_->GetLedgerInfo(ledger);
  }

  // Flush thread. Swaps the caches unless the previous flush has not finished; returns the number
  // of entries now waiting to be flushed.
  size_t SwapCaches();
  // Flush thread. Writes the swapped cache to the entry log and the index, its entry-log writes
  // spread out as `pacing` says (at once by default). On failure nothing of it is in the index and
  // the swapped cache is kept (call again later).
  Status FlushSwapped(const std::vector<std::pair<uint64_t, LedgerInfo>>& infos,
                      const FlushPacing& pacing = {});
  void FinishFlush();

  // --- Garbage collection ---
  // Removes the ledgers' entry locations, infos, usage rows, read-ahead entries and the entries
  // the write caches still hold (on a full disk they may never be flushed otherwise), in one
  // synced batch. The caller holds the index-writer lock (no flush runs) and the ledgers' locks
  // (no add comes in). Returns how many cached entries were dropped.
  Result<size_t> DeleteLedgers(const std::vector<uint64_t>& ledgers);
  // Entry logs on disk whose usage the index does not record, except the flush thread's
  // unsettled ones (EntryLogger::UnsettledLogs).
  Result<std::vector<uint64_t>> UnknownLogs();
  // The usage of every known log except the unsettled ones: what garbage collection may judge,
  // delete and compact. (The flush thread may roll over from its current log at any time; the
  // log it left is then complete on disk, but its usage is not until the flush's index batch is
  // in, so a log judged by it could be deleted with acknowledged entries in it.)
  std::vector<LogUsage> SettledUsage() const;
  // Scans an unknown log and records its usage: the bytes of each record the index points at.
  // A log that never had a durable header is recorded as empty; a damaged one is left unknown
  // (kCorruption), never deleted.
  Status RecordScannedUsage(uint64_t log, Mutex* index_writer) QUIRE_EXCLUDES(*index_writer);
  // Deletes a log the usage says nothing points into, then its usage rows.
  Status DeleteLog(uint64_t log, Mutex* index_writer) QUIRE_EXCLUDES(*index_writer);

  // Incremented each time a flush has written entry locations (under the index-writer lock):
  // compaction knows that locations it looked up are unchanged while it stays the same.
  uint64_t flush_generation() const { return flush_generation_.load(std::memory_order_acquire); }

  LedgerDirectoryStats stats();
  // Any thread. Counts the index's ledger rows and lists the directory: not for hot paths.
  Result<LedgerDirectoryInventory> Inventory() const;
  const std::string& directory() const { return options_.directory; }
  const LedgerDirectoryOptions& options() const { return options_; }
  LedgerIndex* index() { return index_.get(); }
  EntryLogger* entry_logger() { return logger_.get(); }
  EntryLogUsage* usage() { return &usage_; }
  FileSystem* fs() const { return options_.fs; }

 private:
  explicit LedgerDirectory(const LedgerDirectoryOptions& options);
  Status LoadUsage();
  // Entry logs in the directory, ascending, the current one included.
  Result<std::vector<uint64_t>> ListLogs() const;
  // Fails like a full disk when writing `bytes` would leave less than reserved_bytes free.
  Status CheckRoom(uint64_t bytes);
  Result<std::string> ReadFromLog(uint64_t ledger, uint64_t entry, const EntryLocation& loc);
  // The swapped cache, for the flush thread, which reads it without mu_: flushing_ and its
  // contents change only under the index-writer lock (SwapCaches, FinishFlush, DeleteLedgers),
  // which the flush holds. The analysis cannot see that lock here.
  const WriteCache& swapped_cache() const QUIRE_NO_THREAD_SAFETY_ANALYSIS { return *flushing_; }

  const LedgerDirectoryOptions options_;
  std::unique_ptr<LedgerIndex> index_;
  std::unique_ptr<EntryLogger> logger_;
  EntryLogUsage usage_;
  ReadCache read_cache_;

  SharedMutex mu_;
  std::condition_variable_any room_;  // waited on with mu_ held exclusively
  std::unique_ptr<WriteCache> filling_ QUIRE_GUARDED_BY(mu_) QUIRE_PT_GUARDED_BY(mu_);
  // Read-only while flushing (swapped_cache()).
  std::unique_ptr<WriteCache> flushing_ QUIRE_GUARDED_BY(mu_) QUIRE_PT_GUARDED_BY(mu_);

  std::atomic<uint64_t> write_cache_hits_{0}, read_cache_hits_{0}, entry_log_reads_{0};
  std::atomic<uint64_t> flush_generation_{0};
};

}  // namespace quire::storage
