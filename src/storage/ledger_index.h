// The index of one ledger directory, in RocksDB: where each entry is, what the bookie knows about
// each ledger (master key, fence, explicit LAC), and how many bytes each ledger holds in each entry
// log (what garbage collection decides with). Formats in docs/formats.md, "Index".
//
// Column families:
//   entries:     BE64(ledger) BE64(first entry) -> a run of entries (entry_runs.h): log, the first
//                record's offset, each record's size. A ledger's runs never overlap. Big-endian
//                keys make RocksDB's byte order the numeric order, so an entry's run and a
//                ledger's last entry are each one SeekForPrev.
//   ledgers:     BE64(ledger) -> LedgerInfo (see EncodeLedgerInfo)
//   logs:        BE64(log) -> version:u8(1) total_bytes:u64   (the log's usage is recorded)
//   log_ledgers: BE64(log) BE64(ledger) -> version:u8(1) bytes:u64
//   default:     "format" -> the index format version, as decimal text
//
// Writes come from the flush thread and the garbage collector, each one synced batch, serialized
// by the storage engine's index-writer lock and, for the runs a batch reads and rewrites, by
// Write's own; reads from any thread. RocksDB does its own I/O (not through quire::FileSystem):
// every batch is written with sync=true, so after a crash the index holds exactly the batches
// that completed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "quire/status.h"
#include "storage/entry_log.h"
#include "storage/entry_runs.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Iterator;
class WriteBatch;
}  // namespace rocksdb

namespace quire::storage {

// 2 added the `logs` and `log_ledgers` column families; a version 1 index is upgraded when a
// bookie opens it (its entry logs' usage is then rebuilt by scanning them). 3 stores runs of
// entries; a row of formats 1 and 2 (one entry) reads as a run of one, so opening one for
// writing only records the new version.
inline constexpr uint32_t kIndexFormatVersion = 3;

// What a bookie stores about a ledger besides its entries.
struct LedgerInfo {
  std::string master_key;
  bool fenced = false;
  std::string explicit_lac;  // empty: none written
  bool operator==(const LedgerInfo&) const = default;
};

//   version:u8(1) flags:u8(bit 0 = fenced) key_len:u32 key lac_len:u32 lac
std::string EncodeLedgerInfo(const LedgerInfo& info);
Result<LedgerInfo> DecodeLedgerInfo(std::string_view bytes, std::string_view what);

// What the index records about one entry log: the bytes of records (padding included) written to
// it. Its presence means the log's per-ledger usage rows are complete.
struct LogSummary {
  uint64_t total_bytes = 0;
  bool operator==(const LogSummary&) const = default;
};

// RocksDB's memory and WAL bounds (tests make them small).
struct LedgerIndexOptions {
  // The entry locations' memtable. A flush costs 0.3-0.5 CPU s per million entries, and the
  // bookies of an ensemble flush at nearly the same moment (they index the same entries):
  // 16 MiB (~250 K entries, a flush every 3-6 s at full load) spreads that in small pieces, where
  // 64 MiB stalled adds on a busy machine for 100-200 ms (docs/performance.md, "The index's
  // memtable").
  uint64_t entries_write_buffer_bytes = 16ull << 20;
  // The WAL is shared by the column families, and one is deleted only when every family has
  // flushed what it holds. Entry locations fill their memtable every few seconds at full load,
  // but ledger infos and log usage are small and rarely flush, so without a bound (RocksDB's
  // default: 4 × every family's memtables, 2.5 GB here) the WAL grows to gigabytes, all of it
  // read again at every start. Past this size RocksDB flushes the families that hold it back.
  uint64_t max_wal_bytes = 256ull << 20;
};

class LedgerIndex {
 public:
  // Opens (creating if needed) the RocksDB instance at `path` (a real directory).
  static Result<std::unique_ptr<LedgerIndex>> Open(const std::string& path,
                                                   const LedgerIndexOptions& options = {});
  // Opens an existing index for reading only (offline tools): creates and changes nothing, takes
  // no lock; writes fail. kNotFound-like I/O error if there is no index at `path`.
  static Result<std::unique_ptr<LedgerIndex>> OpenReadOnly(const std::string& path);
  ~LedgerIndex();

  Result<std::optional<EntryLocation>> Find(uint64_t ledger, uint64_t entry) const;
  // Find for many (ledger, entry) pairs at once, in order (one batched RocksDB MultiGet: much
  // cheaper per key than Find, most of all for keys in order).
  Result<std::vector<std::optional<EntryLocation>>> FindMany(
      const std::vector<std::pair<uint64_t, uint64_t>>& keys) const;
  // The highest entry id of `ledger` in the index, if any.
  Result<std::optional<uint64_t>> LastEntry(uint64_t ledger) const;
  Result<std::optional<LedgerInfo>> GetLedgerInfo(uint64_t ledger) const;

  class Batch {
   public:
    Batch();
    ~Batch();
    Batch(Batch&&) noexcept;
    Batch& operator=(Batch&&) noexcept;
    // Where `entry` now is. Consecutive calls for consecutive entries of one ledger whose
    // records are adjacent in one log (a flush's, a compaction's) make one run; a later call for
    // an entry of the same batch replaces the earlier one, as it replaces what the index held.
    void PutLocation(uint64_t ledger, uint64_t entry, const EntryLocation& location);
    void PutLedgerInfo(uint64_t ledger, const LedgerInfo& info);
    // Removes the ledger's info and every entry location (one range deletion), also those put
    // earlier in this batch.
    void DeleteLedger(uint64_t ledger);
    void PutLogSummary(uint64_t log, const LogSummary& summary);
    void PutLogLedgerBytes(uint64_t log, uint64_t ledger, uint64_t bytes);
    void DeleteLogLedger(uint64_t log, uint64_t ledger);
    // Removes the log's summary and every usage row of it.
    void DeleteLog(uint64_t log);
    size_t count() const { return count_; }

   private:
    friend class LedgerIndex;
    const LedgerIndex* index_ = nullptr;
    std::unique_ptr<rocksdb::WriteBatch> batch_;
    // Locations become rows at Write, laid over the runs the index holds then.
    std::vector<std::pair<uint64_t, EntryRun>> runs_;  // (ledger, run), in the order put
    uint64_t last_run_end_ = 0;                          // where runs_.back()'s last record ends
    std::vector<uint64_t> deleted_;                      // ledgers deleted in this batch
    size_t count_ = 0;
  };
  Batch NewBatch() const;
  // Writes the batch atomically and durably (WAL + fsync). The runs it puts are first laid over
  // those the index holds for the same entries (OverlayRuns), read and written under one lock.
  // A full disk fails with kIOError and sys_errno ENOSPC; the next Write first asks RocksDB to
  // resume from it. With `sync` false the batch is not fsync'd: a crash may lose it (and every
  // batch after it up to the next synced one), never a part of it; for changes whose loss the
  // next start repairs.
  Status Write(Batch& batch, bool sync = true) QUIRE_EXCLUDES(write_mu_);

  // How many ledgers have an info row. Reads every ledger key: the cost grows with the ledgers
  // held (for /metrics, not for hot paths).
  Result<uint64_t> CountLedgers() const;

  // Visits ledgers / a ledger's entries in order; `fn` returning false stops.
  Status ForEachLedger(const std::function<bool(uint64_t, const LedgerInfo&)>& fn) const;
  Status ForEachEntry(uint64_t ledger,
                      const std::function<bool(uint64_t, const EntryLocation&)>& fn) const;
  // Visits every entry of every ledger, in (ledger, entry) order, ledger info or not.
  Status ForEachLocation(
      const std::function<bool(uint64_t ledger, uint64_t entry, const EntryLocation&)>& fn) const;
  // Visits the entry logs' summaries / usage rows, in log (then ledger) order.
  Status ForEachLogSummary(const std::function<bool(uint64_t log, const LogSummary&)>& fn) const;
  Status ForEachLogLedger(
      const std::function<bool(uint64_t log, uint64_t ledger, uint64_t bytes)>& fn) const;

  // Asks RocksDB to compact the whole index now, so that the space of deleted rows comes back
  // (garbage collection calls it after deleting ledgers). Blocks until done.
  Status CompactAll();
  const std::string& path() const { return path_; }

 private:
  LedgerIndex() = default;
  static Result<std::unique_ptr<LedgerIndex>> OpenWith(const std::string& path, bool read_only,
                                                       const LedgerIndexOptions& options);
  // The run of `ledger` with the greatest first entry not above `entry`, if any (`it` is an
  // iterator over `entries`).
  Result<std::optional<EntryRun>> RunAtOrBefore(rocksdb::Iterator* it, uint64_t ledger,
                                                uint64_t entry) const;
  // The runs of `ledger` that hold any entry in [from, to], in order.
  Result<std::vector<EntryRun>> RunsOverlapping(uint64_t ledger, uint64_t from, uint64_t to) const;
  // Turns the batch's runs into row puts and deletions of `batch_`.
  Status PlaceRuns(Batch& batch) QUIRE_REQUIRES(write_mu_);

  std::string path_;
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::ColumnFamilyHandle* default_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* entries_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* ledgers_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* logs_cf_ = nullptr;         // null in a read-only version 1 index
  rocksdb::ColumnFamilyHandle* log_ledgers_cf_ = nullptr;  // likewise
  Mutex write_mu_;
  bool needs_resume_ QUIRE_GUARDED_BY(write_mu_) = false;  // a write failed on a full disk
};

}  // namespace quire::storage
