// One ledger directory: its write caches, entry logs, RocksDB index and read-ahead cache.
//
// Write path: TryPut() stores a journaled entry in the filling write cache. The flush thread
// swaps the caches (SwapCaches), appends the swapped one sorted to the entry log and fdatasyncs it,
// writes the locations (and ledger infos) to the index in one synced batch (FlushSwapped), then
// drops the swapped cache (FinishFlush). An entry is always findable: in a cache until the index
// has it.
//
// Read path: write caches, then the read-ahead cache, then index + pread; a miss reads ahead the
// following entries of the same ledger from the same log.
//
// Threads: TryPut/WaitForRoom/Read/LastEntry from any thread; SwapCaches/FlushSwapped/FinishFlush
// from the flush thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "storage/entry_log.h"
#include "storage/ledger_index.h"
#include "storage/write_cache.h"

namespace quire::storage {

struct LedgerDirectoryOptions {
  std::string directory;
  FileSystem* fs = nullptr;
  uint64_t write_cache_bytes = 128ull << 20;  // this directory's share of writeCacheMaxSizeMB
  uint64_t read_cache_bytes = 128ull << 20;
  uint64_t read_ahead_bytes = 128ull << 10;
  uint64_t entry_log_size_limit = 1024ull << 20;
  bool entry_log_direct_io = true;
};

struct LedgerDirectoryStats {
  uint64_t write_cache_bytes = 0;  // both halves
  uint64_t write_cache_hits = 0;
  uint64_t read_cache_hits = 0;
  uint64_t entry_log_reads = 0;    // reads that went to disk
};

class LedgerDirectory {
 public:
  static Result<std::unique_ptr<LedgerDirectory>> Open(const LedgerDirectoryOptions& options);

  // Stores the entry if the filling cache has room; false if not (wait with WaitForRoom, retry).
  // Sets *flush_due when the filling cache is half full.
  bool TryPut(uint64_t ledger, uint64_t entry, const Payload& payload, bool* flush_due);
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
  Status FlushSwapped(const std::vector<std::pair<uint64_t, LedgerInfo>>& infos);
  void FinishFlush();

  LedgerDirectoryStats stats();
  const std::string& directory() const { return options_.directory; }
  LedgerIndex* index() { return index_.get(); }
  EntryLogger* entry_logger() { return logger_.get(); }

 private:
  explicit LedgerDirectory(const LedgerDirectoryOptions& options);
  Result<std::string> ReadFromLog(uint64_t ledger, uint64_t entry, const EntryLocation& loc);

  const LedgerDirectoryOptions options_;
  std::unique_ptr<LedgerIndex> index_;
  std::unique_ptr<EntryLogger> logger_;
  ReadCache read_cache_;

  std::shared_mutex mu_;
  std::condition_variable_any room_;
  std::unique_ptr<WriteCache> filling_;   // guarded by mu_
  std::unique_ptr<WriteCache> flushing_;  // swapped under mu_; read-only while flushing

  std::atomic<uint64_t> write_cache_hits_{0}, read_cache_hits_{0}, entry_log_reads_{0};
};

}  // namespace quire::storage
