// Entry logs: where flushed entries live. One EntryLogger per ledger directory.
//
// The flush thread appends a batch of entries (sorted by ledger, entry) to the current log,
// writing in chunks so the journal's I/O is never stuck behind one huge write, and fdatasyncs at
// the end; only then may the index point at them. With O_DIRECT (the default where the file system
// has it) entry-log writes do not go through the page cache at all, so they cannot cause the
// write-back storms that stall the journal's fdatasync; without it, each chunk is handed to
// write-back at once (sync_file_range) so dirty pages never pile up.
//
// Logs are rotated at entryLogSizeLimitMB. Reads are positional (pread) through a separate,
// buffered descriptor per log, cached. Garbage collection deletes logs nothing points into and
// writes compaction logs (storage/garbage_collector.h); a compaction log is written under a
// .compacting name and renamed to its .log name before the index may point into it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/executor.h"
#include "common/file_system.h"
#include "common/mutex.h"
#include "storage/entry_log_format.h"
#include "storage/file_window.h"

namespace quire::storage {

// Where an entry is: its log, the offset of its record, and the record's size on disk.
struct EntryLocation {
  uint64_t log_id = 0;
  uint64_t offset = 0;
  uint32_t size = 0;
};

struct EntryLogOptions {
  std::string current_dir;                   // <ledgerDir>/current
  FileSystem* fs = nullptr;
  uint64_t size_limit = 1024ull << 20;       // entryLogSizeLimitMB
  bool direct_io = true;
  uint64_t write_chunk_bytes = 1ull << 20;   // one write call's size during a flush
  // Full chunks are written by another thread while the writer goes on buffering (one write in
  // flight at a time); Commit() waits for it. Compaction uses it to read and write at once.
  bool write_behind = false;
};

// Writes one entry log file: the header, then batches of records, each batch padded to the
// alignment and fdatasync'd by Commit(). Used by the flush thread for the current log and by
// compaction for the log it copies live entries into. One thread at a time.
class EntryLogWriter {
 public:
  // Creates `path` (it must not exist) and syncs its directory, so the name survives a crash
  // before anything may point into the file.
  static Result<std::unique_ptr<EntryLogWriter>> Create(const EntryLogOptions& options,
                                                        const std::string& path, uint64_t log_id);
  ~EntryLogWriter();

  // Buffers a record; `*offset` is where it will be once Commit() returns OK. Writes full chunks
  // as they fill.
  Status Add(uint64_t ledger, uint64_t entry, std::string_view payload, uint64_t* offset);
  // Writes what is buffered (padded) and fdatasyncs: every record added so far is durable.
  Status Commit();
  // After a failed Add or Commit: drops the buffer and truncates the file back to the end of the
  // last successful Commit, giving back the space the failed batch took (a full disk). The writer
  // must not be used again (after a failed sync the file's unsynced pages are unknown); a file
  // that never committed anything is removed. Returns the first error.
  Status Abandon();

  uint64_t log_id() const { return log_id_; }
  // Bytes of the file once everything added is written (header included, padding not).
  uint64_t size() const { return written_ + pending_.size(); }
  // End of the data of the last successful Commit (0 before the first).
  uint64_t committed_end() const { return committed_end_; }
  const std::string& path() const { return path_; }
  File* file() { return file_.get(); }

 private:
  EntryLogWriter(const EntryLogOptions& options, std::string path, uint64_t log_id)
      : options_(options), path_(std::move(path)), log_id_(log_id) {}
  // Writes the aligned prefix of the buffer (or all of it, padded, when `everything`).
  Status WriteChunks(bool everything);
  // Waits for the write in flight (write_behind) and returns its status.
  Status WaitInFlight();

  const EntryLogOptions options_;
  const std::string path_;
  const uint64_t log_id_;
  std::unique_ptr<File> file_;
  uint64_t written_ = 0;        // bytes of the file already written (aligned)
  uint64_t committed_end_ = 0;  // end of the last synced batch
  AlignedBuffer pending_;       // bytes after written_, not yet written
  AlignedBuffer in_flight_buf_;          // write_behind: what the write in flight writes
  std::future<Status> in_flight_;        // write_behind: that write
  std::unique_ptr<Executor> writer_;     // write_behind: the thread that writes it
};

// A log whose data was made durable, and where its data ends now.
struct CommittedLog {
  uint64_t log_id = 0;
  uint64_t end = 0;  // the file's data end (header included)
};

class EntryLogger {
 public:
  // Opens the directory: removes the leftovers of an interrupted compaction (*.compacting) and
  // starts a new current log whose id is above every existing one (a log is never appended to
  // after a restart).
  static Result<std::unique_ptr<EntryLogger>> Open(const EntryLogOptions& options);
  // Removes the current log if nothing was ever committed to it (a bookie that stops without
  // having written leaves no empty log behind).
  ~EntryLogger();

  // Flush thread only. Adds an entry to the batch being built; `location` is where it will be
  // once Commit() returns OK. Starts a new log when the current one is full (or after RollBack).
  Status Add(uint64_t ledger, uint64_t entry, std::string_view payload, EntryLocation* location);
  // Flush thread only. Writes what Add() buffered and fdatasyncs the log(s) touched.
  Status Commit();
  // Flush thread only. The logs made durable since the last Accept(), with their data ends: what
  // the index batch that points into them records as their sizes.
  const std::vector<CommittedLog>& committed() const { return committed_; }
  // Flush thread only. The index now points into everything committed: it is kept from now on.
  void Accept();
  // Flush thread only. After a failure anywhere between two Accept()s (an Add, a Commit, or the
  // index write that was to follow): discards everything written since the last Accept(), so the
  // space it took comes back (a full disk), and makes the next Add start a new log. The log that
  // was current at the last Accept() is cut back to where it was then and not written again
  // (after a failed sync its unsynced pages are unknown); logs started since are removed.
  Status RollBack();

  // Any thread. Reads the record at `location` and checks that it is intact and is (ledger,
  // entry); kCorruption names the file and offset otherwise. kNotFound if the log was deleted.
  Result<std::string> Read(const EntryLocation& location, uint64_t ledger, uint64_t entry);
  // Any thread. Reads raw bytes of a log (read-ahead).
  Result<size_t> ReadRaw(uint64_t log_id, uint64_t offset, char* buf, size_t n);

  // Any thread. The logs the flush thread may still write into, or has written into without the
  // index and the usage knowing yet: the current log and those it rolled over from in a flush
  // whose index batch is not in. Garbage collection must not judge them (their usage is not
  // final) and never touches them. A log joins before its file is created and leaves only once
  // the index and the usage record everything in it (Accept) or its writes were undone
  // (RollBack); so a reader that sees a log outside this set, then reads its usage, sees it whole.
  std::vector<uint64_t> UnsettledLogs() const;
  bool Unsettled(uint64_t log_id) const;
  // Any thread. A fresh log id (above every log that exists or existed since start-up).
  uint64_t AllocateLogId() { return next_log_id_.fetch_add(1); }

  // Compaction: a new log named <id>.compacting, invisible to ListLogs and to readers until
  // Publish renames it to its .log name; written behind, `io_bytes` at a time.
  Result<std::unique_ptr<EntryLogWriter>> CreateCompactionLog(size_t io_bytes);
  Status Publish(EntryLogWriter* writer);
  // Removes a log that nothing in the index points into any more. Readers that opened it before
  // keep reading it until they close it.
  Status DeleteLog(uint64_t log_id);

  std::string LogPath(uint64_t log_id) const;
  const EntryLogOptions& options() const { return options_; }
  // Entry logs in the directory, ascending.
  static Result<std::vector<uint64_t>> ListLogs(FileSystem* fs, const std::string& current_dir);

 private:
  explicit EntryLogger(const EntryLogOptions& options) : options_(options) {}
  Status StartLog();
  Status CommitCurrent();
  Result<std::shared_ptr<File>> Reader(uint64_t log_id);

  const EntryLogOptions options_;
  std::atomic<uint64_t> next_log_id_{1};

  // Flush thread only.
  std::unique_ptr<EntryLogWriter> current_;  // null after RollBack() until the next Add
  std::vector<CommittedLog> committed_;      // since the last Accept()
  CommittedLog accepted_;                    // the current log at the last Accept(), its end then
  std::vector<uint64_t> started_;            // logs started since the last Accept()

  mutable Mutex unsettled_mu_;
  std::vector<uint64_t> unsettled_ QUIRE_GUARDED_BY(unsettled_mu_);  // see UnsettledLogs()

  Mutex readers_mu_;
  std::map<uint64_t, std::shared_ptr<File>> readers_ QUIRE_GUARDED_BY(readers_mu_);
};

// Scans a whole entry log (dump, index rebuild, compaction). Stops at the end of data; a damaged
// record is reported as kCorruption with its offset unless it is the last thing in the file.
// With `prefetch`, the next chunk is read while `fn` works on this one (FileWindow).
Status ScanEntryLog(FileSystem* fs, const std::string& path,
                    const std::function<Status(const EntryLogRecord&, uint64_t offset)>& fn,
                    bool prefetch = false);
// Reads the records in `ranges` of an entry log (ascending, each a run of whole records), ahead
// and with O_DIRECT. Every record there must be intact: anything else is kCorruption with the file
// and offset.
Status ScanEntryLogRanges(FileSystem* fs, const std::string& path,
                          const std::vector<ByteRange>& ranges,
                          const std::function<Status(const EntryLogRecord&, uint64_t offset)>& fn,
                          size_t io_bytes);

}  // namespace quire::storage
