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
// buffered descriptor per log, cached.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/file_system.h"
#include "storage/entry_log_format.h"

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
};

class EntryLogger {
 public:
  // Opens the directory; the next log gets an id above every existing one (a log is never
  // appended to after a restart).
  static Result<std::unique_ptr<EntryLogger>> Open(const EntryLogOptions& options);

  // Flush thread only. Adds an entry to the batch being built; `location` is where it will be
  // once Commit() returns OK.
  Status Add(uint64_t ledger, uint64_t entry, std::string_view payload, EntryLocation* location);
  // Flush thread only. Writes what Add() buffered and fdatasyncs the log(s) touched.
  Status Commit();

  // Any thread. Reads the record at `location` and checks that it is intact and is (ledger,
  // entry); kCorruption names the file and offset otherwise.
  Result<std::string> Read(const EntryLocation& location, uint64_t ledger, uint64_t entry);
  // Any thread. Reads raw bytes of a log (read-ahead).
  Result<size_t> ReadRaw(uint64_t log_id, uint64_t offset, char* buf, size_t n);

  std::string LogPath(uint64_t log_id) const;
  uint64_t current_log_id() const { return log_id_; }
  // Entry logs in the directory, ascending.
  static Result<std::vector<uint64_t>> ListLogs(FileSystem* fs, const std::string& current_dir);

 private:
  explicit EntryLogger(const EntryLogOptions& options) : options_(options) {}
  Status StartLog(uint64_t log_id);
  Status WriteFullChunks(bool everything);
  Status FinishLog();
  Result<std::shared_ptr<File>> Reader(uint64_t log_id);

  const EntryLogOptions options_;

  // Flush thread only.
  std::unique_ptr<File> file_;
  uint64_t log_id_ = 0;
  uint64_t written_ = 0;   // bytes of the current log already written (aligned)
  AlignedBuffer pending_;  // bytes after written_, not yet written
  bool dirty_ = false;     // the current log has unsynced writes

  std::mutex readers_mu_;
  std::map<uint64_t, std::shared_ptr<File>> readers_;  // guarded by readers_mu_
};

// Scans a whole entry log (dump, index rebuild). Stops at the end of data; a damaged record is
// reported as kCorruption with its offset unless it is the last thing in the file.
Status ScanEntryLog(FileSystem* fs, const std::string& path,
                    const std::function<Status(const EntryLogRecord&, uint64_t offset)>& fn);

}  // namespace quire::storage
