// Compaction of entry logs: copies the entries the index still points at out of mostly-dead logs
// into a new log, switches the index to the copies, and deletes the old logs.
//
// Crash safety, step by step (every step leaves each entry readable at an index location that
// exists, byte for byte):
//  1. The records the index points at are appended to <id>.compacting (no index entry can point
//     there: readers and ListLogs see only .log names). Where they are comes from one walk over
//     the index entries of the logs' ledgers, so only live records are read, ahead, with
//     O_DIRECT, while the copy is written behind (when they are too scattered, the whole log is
//     read and each record looked up). A crash here leaves the .compacting file, which EntryLogger
//     removes at start-up.
//  2. Every chunk (64 MiB of copies) is fdatasync'd; before the first switch the file is
//     renamed to <id>.log and the directory synced.
//  3. Under the index-writer lock (on a second thread, "q-gc-switch", while the next chunk is
//     copied), one synced batch points each copied entry at its copy, but only
//     if the index still points at the record that was copied (an entry written again meanwhile
//     keeps its newer location), and moves the entries' bytes from the old log's usage to the new
//     one's. A crash before the batch leaves the copies unreferenced: the new log's usage is
//     unknown, the next pass scans it, finds nothing live and deletes it.
//  4. Once a whole old log is scanned and switched, nothing points into it: it is deleted, then its
//     usage rows. A crash in between leaves rows of a missing file, which the next pass drops.
//
// Throttling: `pace(bytes)` is called before each entry is copied and may sleep; it returns false
// when garbage collection must stop (shutdown), and compaction then stops between two steps.
//
// Threads: the garbage-collection thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "common/executor.h"
#include "common/mutex.h"
#include "storage/entry_log.h"
#include "storage/file_window.h"
#include "storage/ledger_directory.h"

namespace quire::storage {

struct CompactionStats {
  uint64_t logs_compacted = 0;   // old logs emptied and deleted
  uint64_t entries_moved = 0;
  uint64_t bytes_moved = 0;      // record bytes copied (and switched)
  uint64_t bytes_scanned = 0;    // record bytes read from the old logs
  uint64_t bytes_deleted = 0;    // file bytes of the deleted logs
  uint64_t bytes_written = 0;    // file bytes of the new logs
};

class Compactor {
 public:
  // `index_writer` is the storage engine's index-writer lock.
  // `chunk_bytes` of copies are switched at a time; the logs are read and written `io_bytes` at a
  // time.
  Compactor(LedgerDirectory* dir, Mutex* index_writer,
            std::function<bool(uint64_t bytes)> pace, uint64_t chunk_bytes = 64ull << 20,
            size_t io_bytes = 4u << 20);
  ~Compactor();

  // Compacts `logs` in order. Before each one, checks that the disk has room for its live bytes
  // plus `margin` and skips it if not. Stops early (OK) when pace() says so.
  Status Compact(const std::vector<uint64_t>& logs, uint64_t margin, CompactionStats* stats);

 private:
  struct Move {
    uint64_t ledger;
    uint64_t entry;
    EntryLocation from;
    EntryLocation to;
    uint64_t generation;  // the directory's flush generation when `from` was looked up
  };
  // A record of the old log waiting for its index lookup; its payload is in staged_bytes_.
  struct Staged {
    uint64_t ledger;
    uint64_t entry;
    uint64_t offset;
    uint32_t size;  // the record's, header included
    size_t payload_at;
  };
  static constexpr size_t kStageRecords = 4096;
  static constexpr size_t kStageBytes = 8u << 20;
  // Logs whose live ranges are found with one walk over their ledgers' index entries, and the
  // most runs kept in memory for them (16 bytes each); past it, those logs are scanned whole.
  static constexpr size_t kLogsPerGroup = 16;
  static constexpr size_t kMaxRuns = 4u << 20;
  using LiveRanges = std::map<uint64_t, std::vector<ByteRange>>;  // log -> ranges, ascending

  // Where, in each log, the records are that the index points at (runs of adjacent records);
  // nullopt when they are too scattered to keep.
  Result<std::optional<LiveRanges>> FindLiveRanges(const std::vector<uint64_t>& logs);
  // Compacts one log: reads `ranges` of it (or the whole log, if null) and copies the records
  // the index points at.
  Status CompactOne(uint64_t log, const std::vector<ByteRange>* ranges, CompactionStats* stats,
                    bool* stopped);
  // Copies the staged records the index points at (one batched lookup).
  Status CopyStaged(uint64_t log, CompactionStats* stats, bool* stopped);
  // Appends one record to the new log (paced), and switches when a chunk is full.
  Status Copy(uint64_t log, uint64_t ledger, uint64_t entry, uint64_t offset, uint32_t size,
              std::string_view payload, CompactionStats* stats, bool* stopped);
  // Syncs the new log, publishes it on first use, and hands the pending moves to the switcher
  // thread (waiting for the switch before, if it still runs).
  Status Switch();
  // On the switcher thread: points the index at the copies (one synced batch, under the
  // index-writer lock) and moves their bytes in the usage.
  Status ApplySwitch(const std::vector<Move>& moves, uint64_t out_log, uint64_t total)
      QUIRE_EXCLUDES(*index_writer_);
  // On the switcher thread: deletes an old log once its records are switched.
  Status ApplyDrop(uint64_t log) QUIRE_EXCLUDES(*index_writer_);
  // Runs `step` on the switcher thread, after the steps before it; a failed step makes the
  // later ones fail too, and WaitSwitches() returns its error.
  void Background(std::function<Status()> step);
  Status WaitSwitches();
  void MergeSwitched(CompactionStats* stats);
  // Switches what is pending and closes the new log (removing it if nothing went into it).
  Status FinishOutput(CompactionStats* stats);
  // Removes the usage rows the old log still has (entries that were dead already) and the log,
  // on the switcher thread.
  Status DropOld(uint64_t log);

  LedgerDirectory* dir_;
  Mutex* index_writer_;
  std::function<bool(uint64_t)> pace_;
  const uint64_t chunk_bytes_;
  const size_t io_bytes_;

  std::unique_ptr<EntryLogWriter> out_;
  bool published_ = false;
  std::vector<Move> pending_;  // copied, not yet switched
  uint64_t pending_bytes_ = 0;
  std::vector<Staged> staged_;
  std::string staged_bytes_;
  uint64_t looked_up_ = 0;  // flush generation of the last index lookup

  // The switcher: index switches and old-log deletions, one at a time, in order, while the
  // compaction thread copies on ("q-gc-switch", started by it, so at its low priority).
  Mutex switch_mu_;
  CondVar switch_cv_;
  size_t in_flight_ QUIRE_GUARDED_BY(switch_mu_) = 0;
  Status switch_error_ QUIRE_GUARDED_BY(switch_mu_);
  CompactionStats switched_ QUIRE_GUARDED_BY(switch_mu_);  // what the switcher did
  std::unique_ptr<Executor> switcher_;  // last: stopped (its steps run) first
};

}  // namespace quire::storage
