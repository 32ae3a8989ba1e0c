#include "storage/entry_log.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/coding.h"
#include "storage/file_window.h"

namespace quire::storage {

namespace {
constexpr std::string_view kCompactingSuffix = ".compacting";

std::string CompactingFileName(uint64_t log_id) {
  return fmt::format("{:016x}{}", log_id, kCompactingSuffix);
}
}  // namespace

// --- EntryLogWriter ---

Result<std::unique_ptr<EntryLogWriter>> EntryLogWriter::Create(const EntryLogOptions& options,
                                                               const std::string& path,
                                                               uint64_t log_id) {
  std::unique_ptr<EntryLogWriter> w(new EntryLogWriter(options, path, log_id));
  OpenOptions o{.create = true, .exclusive = true, .direct = options.direct_io};
  QUIRE_ASSIGN_OR_RETURN(w->file_, options.fs->Open(path, o));
  EntryLogHeader header;
  header.log_id = log_id;
  header.created_unix_ms = UnixMillis();
  EncodeEntryLogHeader(header, &w->pending_);
  // The name must survive a crash before the index may point into the file.
  Status synced = options.fs->SyncDir(options.current_dir);
  if (!synced.ok()) {
    w->file_.reset();
    options.fs->Unlink(path).IgnoreError();
    return synced;
  }
  spdlog::debug("entry log: started {}{}", path,
                w->file_->direct() ? "" : " (buffered: no O_DIRECT on this file system)");
  return w;
}

Status EntryLogWriter::Add(uint64_t ledger, uint64_t entry, std::string_view payload,
                           uint64_t* offset) {
  *offset = size();
  AppendEntryLogRecord(&pending_, ledger, entry, payload);
  if (pending_.size() >= options_.write_chunk_bytes) return WriteChunks(false);
  return Status::Ok();
}

EntryLogWriter::~EntryLogWriter() { WaitInFlight().IgnoreError(); }

Status EntryLogWriter::WaitInFlight() {
  if (!in_flight_.valid()) return Status::Ok();
  return in_flight_.get();
}

Status EntryLogWriter::WriteChunks(bool everything) {
  if (everything) PadEntryLog(&pending_);
  size_t n = everything ? pending_.size() : AlignDown(pending_.size(), kEntryLogAlignment);
  if (n == 0) return Status::Ok();
  QUIRE_RETURN_IF_ERROR(WaitInFlight());
  if (options_.write_behind && !everything) {
    // Hand the chunk over: the buffers swap, and what follows the chunk moves back.
    std::swap(in_flight_buf_, pending_);
    pending_.Clear();
    pending_.Append(in_flight_buf_.data() + n, in_flight_buf_.size() - n);
    in_flight_buf_.Resize(n);
    if (!writer_) writer_ = std::make_unique<Executor>("q-write-behind", 1);
    auto task = std::make_shared<std::packaged_task<Status()>>([this, at = written_, n] {
      QUIRE_RETURN_IF_ERROR(file_->Write(at, in_flight_buf_.view()));
      if (!file_->direct()) return file_->StartWriteback(at, n);
      return Status::Ok();
    });
    in_flight_ = task->get_future();
    writer_->Submit([task] { (*task)(); });
    written_ += n;
    return Status::Ok();
  }
  QUIRE_RETURN_IF_ERROR(file_->Write(written_, std::string_view(pending_.data(), n)));
  if (!file_->direct()) QUIRE_RETURN_IF_ERROR(file_->StartWriteback(written_, n));
  written_ += n;
  size_t rest = pending_.size() - n;
  if (rest > 0) std::memmove(pending_.data(), pending_.data() + n, rest);
  pending_.Resize(rest);
  return Status::Ok();
}

Status EntryLogWriter::Commit() {
  // A padding record ends each batch, so every batch starts at an aligned offset.
  if (written_ == committed_end_ && pending_.size() == 0) return Status::Ok();
  QUIRE_RETURN_IF_ERROR(WriteChunks(true).WithContext(fmt::format("entry log {}", path_)));
  QUIRE_RETURN_IF_ERROR(file_->Sync().WithContext(fmt::format("entry log {}", path_)));
  committed_end_ = written_;
  return Status::Ok();
}

Status EntryLogWriter::Abandon() {
  WaitInFlight().IgnoreError();  // its outcome does not matter: everything after the commit goes
  pending_.Clear();
  if (!file_) return Status::Ok();
  Status s;
  if (committed_end_ == 0) {
    // Nothing in it was ever durable: the file goes.
    file_.reset();
    s = options_.fs->Unlink(path_);
  } else {
    // The committed prefix was synced before the failure, so it is still what the index points
    // at; only the failed batch is cut off. Truncating needs no free space.
    s = file_->Truncate(committed_end_);
    file_.reset();
  }
  written_ = committed_end_;
  return s.WithContext(fmt::format("abandoning entry log {}", path_));
}

// --- EntryLogger ---

Result<std::vector<uint64_t>> EntryLogger::ListLogs(FileSystem* fs, const std::string& current_dir) {
  QUIRE_ASSIGN_OR_RETURN(auto names, fs->List(current_dir));
  std::vector<uint64_t> ids;
  for (const std::string& n : names) {
    uint64_t id;
    if (ParseEntryLogFileName(n, &id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::unique_ptr<EntryLogger>> EntryLogger::Open(const EntryLogOptions& options) {
  std::unique_ptr<EntryLogger> logger(new EntryLogger(options));
  QUIRE_ASSIGN_OR_RETURN(auto names, options.fs->List(options.current_dir));
  uint64_t max_id = 0;
  for (const std::string& name : names) {
    uint64_t id = 0;
    if (ParseEntryLogFileName(name, &id)) {
      max_id = std::max(max_id, id);
    } else if (ParseHexFileName(name, kCompactingSuffix, &id)) {
      // Compaction had not published it: nothing in the index points into it.
      max_id = std::max(max_id, id);
      std::string path = JoinPath(options.current_dir, name);
      QUIRE_RETURN_IF_ERROR(options.fs->Unlink(path));
      spdlog::info("entry log: removed {}, left over by a compaction that did not finish", path);
    }
  }
  logger->next_log_id_ = max_id + 1;
  QUIRE_RETURN_IF_ERROR(logger->StartLog());
  return logger;
}

EntryLogger::~EntryLogger() {
  if (current_ && current_->committed_end() == 0) current_->Abandon().IgnoreError();
}

std::string EntryLogger::LogPath(uint64_t log_id) const {
  return JoinPath(options_.current_dir, EntryLogFileName(log_id));
}

Status EntryLogger::StartLog() {
  uint64_t id = AllocateLogId();
  {
    // Before the file exists: garbage collection lists the files first, then this set.
    MutexLock lock(unsettled_mu_);
    unsettled_.push_back(id);
  }
  QUIRE_ASSIGN_OR_RETURN(current_, EntryLogWriter::Create(options_, LogPath(id), id));
  started_.push_back(id);
  return Status::Ok();
}

Status EntryLogger::CommitCurrent() {
  QUIRE_RETURN_IF_ERROR(current_->Commit());
  if (committed_.empty() || committed_.back().log_id != current_->log_id()) {
    committed_.push_back({current_->log_id(), current_->committed_end()});
  } else {
    committed_.back().end = current_->committed_end();
  }
  return Status::Ok();
}

Status EntryLogger::Add(uint64_t ledger, uint64_t entry, std::string_view payload,
                        EntryLocation* location) {
  if (!current_) QUIRE_RETURN_IF_ERROR(StartLog());
  uint64_t size = kEntryLogRecordHeader + payload.size();
  if (current_->size() + size > options_.size_limit && current_->size() > kEntryLogHeaderSize) {
    QUIRE_RETURN_IF_ERROR(CommitCurrent());
    QUIRE_RETURN_IF_ERROR(StartLog());
  }
  uint64_t offset = 0;
  // The context is formatted only on failure: this runs once per entry flushed.
  if (Status s = current_->Add(ledger, entry, payload, &offset); !s.ok()) {
    return s.WithContext(fmt::format("entry log {}", current_->path()));
  }
  *location = {current_->log_id(), offset, static_cast<uint32_t>(size)};
  return Status::Ok();
}

Status EntryLogger::Commit() {
  if (!current_) return Status::Ok();
  return CommitCurrent();
}

void EntryLogger::Accept() {
  committed_.clear();
  started_.clear();
  if (current_) accepted_ = {current_->log_id(), current_->committed_end()};
  MutexLock lock(unsettled_mu_);
  unsettled_.clear();
  if (current_) unsettled_.push_back(current_->log_id());
}

std::vector<uint64_t> EntryLogger::UnsettledLogs() const {
  MutexLock lock(unsettled_mu_);
  return unsettled_;
}

bool EntryLogger::Unsettled(uint64_t log_id) const {
  MutexLock lock(unsettled_mu_);
  return std::find(unsettled_.begin(), unsettled_.end(), log_id) != unsettled_.end();
}

Status EntryLogger::RollBack() {
  current_.reset();
  committed_.clear();
  Status first;
  auto keep = [&first](Status s) {
    if (!s.ok() && !s.Is(StatusCode::kNotFound) && first.ok()) first = s;
  };
  for (uint64_t id : std::exchange(started_, {})) {
    if (id != accepted_.log_id) keep(options_.fs->Unlink(LogPath(id)));
  }
  if (accepted_.log_id != 0) {
    std::string path = LogPath(accepted_.log_id);
    if (accepted_.end == 0) {
      keep(options_.fs->Unlink(path));
    } else {
      auto file = options_.fs->Open(path, {});
      if (file.ok()) {
        keep((*file)->Truncate(accepted_.end));
      } else {
        keep(file.status());
      }
    }
  }
  keep(options_.fs->SyncDir(options_.current_dir));
  {
    MutexLock lock(readers_mu_);
    readers_.erase(accepted_.log_id);  // a cached descriptor may have seen the cut-off tail
  }
  accepted_ = {};
  {
    // After the undo: the logs started since the last Accept() are gone, the one current then is
    // back to what the index records, and the next Add starts a new log.
    MutexLock lock(unsettled_mu_);
    unsettled_.clear();
  }
  if (!first.ok()) spdlog::warn("entry log: rolling back a failed flush: {}", first.ToString());
  return first;
}

Result<std::unique_ptr<EntryLogWriter>> EntryLogger::CreateCompactionLog(size_t io_bytes) {
  uint64_t id = AllocateLogId();
  EntryLogOptions o = options_;
  o.write_behind = true;
  o.write_chunk_bytes = io_bytes;
  return EntryLogWriter::Create(o, JoinPath(options_.current_dir, CompactingFileName(id)), id);
}

Status EntryLogger::Publish(EntryLogWriter* writer) {
  QUIRE_RETURN_IF_ERROR(options_.fs->Rename(writer->path(), LogPath(writer->log_id())));
  return options_.fs->SyncDir(options_.current_dir);
}

Status EntryLogger::DeleteLog(uint64_t log_id) {
  {
    MutexLock lock(readers_mu_);
    readers_.erase(log_id);
  }
  // Not followed by a directory sync: if a crash undid the unlink, the log is back without usage
  // rows, and the next pass scans it, finds nothing the index points at, and deletes it again.
  Status s = options_.fs->Unlink(LogPath(log_id));
  if (!s.ok() && !s.Is(StatusCode::kNotFound)) return s;
  return Status::Ok();
}

Result<std::shared_ptr<File>> EntryLogger::Reader(uint64_t log_id) {
  MutexLock lock(readers_mu_);
  auto it = readers_.find(log_id);
  if (it != readers_.end()) return it->second;
  QUIRE_ASSIGN_OR_RETURN(auto file, options_.fs->Open(LogPath(log_id), {.read_only = true}));
  std::shared_ptr<File> shared(std::move(file));
  readers_.emplace(log_id, shared);
  return shared;
}

Result<size_t> EntryLogger::ReadRaw(uint64_t log_id, uint64_t offset, char* buf, size_t n) {
  QUIRE_ASSIGN_OR_RETURN(auto file, Reader(log_id));
  return file->Read(offset, buf, n);
}

Result<std::string> EntryLogger::Read(const EntryLocation& loc, uint64_t ledger, uint64_t entry) {
  std::string buf(loc.size, '\0');
  QUIRE_ASSIGN_OR_RETURN(size_t n, ReadRaw(loc.log_id, loc.offset, buf.data(), buf.size()));
  EntryLogRecord record;
  std::string detail;
  EntryLogDecode d = DecodeEntryLogRecord(std::string_view(buf.data(), n), &record, &detail);
  if (d != EntryLogDecode::kRecord || record.ledger_id != ledger || record.entry_id != entry ||
      record.size != loc.size) {
    if (d == EntryLogDecode::kRecord) {
      detail = fmt::format("found ledger {} entry {} instead", record.ledger_id, record.entry_id);
    } else if (detail.empty()) {
      detail = "record cut short";
    }
    return Corruption(fmt::format("entry log {} offset {}: ledger {} entry {}: {}",
                                  LogPath(loc.log_id), loc.offset, ledger, entry, detail));
  }
  buf.erase(0, kEntryLogRecordHeader);
  return buf;
}

namespace {

// Decodes the record at `off` of a scanned log (a length word, then that many bytes and the
// rest of the record, bounded by the largest payload).
Result<EntryLogDecode> DecodeAt(FileWindow& w, uint64_t off, EntryLogRecord* record,
                                std::string* detail) {
  QUIRE_ASSIGN_OR_RETURN(std::string_view head, w.At(off, 8));
  uint32_t length = head.size() >= 8 ? DecodeFixed32(head.data()) : 0;
  QUIRE_ASSIGN_OR_RETURN(std::string_view bytes,
                         w.At(off, 8 + std::min<size_t>(length, kEntryLogMaxPayload + 16)));
  return DecodeEntryLogRecord(bytes, record, detail);
}

}  // namespace

Status ScanEntryLog(FileSystem* fs, const std::string& path,
                    const std::function<Status(const EntryLogRecord&, uint64_t offset)>& fn,
                    bool prefetch) {
  // A prefetching scan reads the whole log once: O_DIRECT, where the file system has it, skips
  // the page cache (faster here, and it does not push out what readers use).
  QUIRE_ASSIGN_OR_RETURN(auto file, fs->Open(path, {.read_only = true, .direct = prefetch}));
  QUIRE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  FileWindow w(file.get(), size, prefetch);
  QUIRE_ASSIGN_OR_RETURN(std::string_view header, w.At(0, kEntryLogHeaderSize));
  QUIRE_RETURN_IF_ERROR(DecodeEntryLogHeader(header, path).status());

  uint64_t off = kEntryLogHeaderSize;
  while (off < size) {
    EntryLogRecord record;
    std::string detail;
    QUIRE_ASSIGN_OR_RETURN(EntryLogDecode d, DecodeAt(w, off, &record, &detail));
    if (d == EntryLogDecode::kRecord) {
      if (!record.padding()) QUIRE_RETURN_IF_ERROR(fn(record, off));
      off += record.size;
      continue;
    }
    if (d == EntryLogDecode::kEndOfData) return Status::Ok();
    // Damage. Each flush starts at an aligned offset; if a valid record starts at a later block
    // boundary, synced data is damaged. Otherwise this is the tail of a flush cut short by a
    // crash, which the index never pointed to.
    for (uint64_t next = AlignUp(off + 1, kEntryLogAlignment); next < size;
         next += kEntryLogAlignment) {
      EntryLogRecord r;
      std::string ignored;
      QUIRE_ASSIGN_OR_RETURN(EntryLogDecode later, DecodeAt(w, next, &r, &ignored));
      if (later == EntryLogDecode::kRecord) {
        return Corruption(fmt::format("entry log {} offset {}: {}", path, off,
                                      detail.empty() ? "record cut short" : detail));
      }
    }
    spdlog::warn("entry log {}: incomplete data at offset {} at the end (an interrupted flush)",
                 path, off);
    return Status::Ok();
  }
  return Status::Ok();
}

Status ScanEntryLogRanges(FileSystem* fs, const std::string& path,
                          const std::vector<ByteRange>& ranges,
                          const std::function<Status(const EntryLogRecord&, uint64_t offset)>& fn,
                          size_t io_bytes) {
  if (ranges.empty()) return Status::Ok();
  QUIRE_ASSIGN_OR_RETURN(auto file, fs->Open(path, {.read_only = true, .direct = true}));
  QUIRE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  FileWindow w(file.get(), size, /*prefetch=*/true, ranges, io_bytes);
  for (const ByteRange& r : ranges) {
    uint64_t off = r.begin;
    while (off < r.end) {
      EntryLogRecord record;
      std::string detail;
      QUIRE_ASSIGN_OR_RETURN(EntryLogDecode d, DecodeAt(w, off, &record, &detail));
      if (d != EntryLogDecode::kRecord || record.padding() || off + record.size > r.end) {
        return Corruption(fmt::format("entry log {} offset {}: not the record the index points "
                                      "at{}{}",
                                      path, off, detail.empty() ? "" : ": ", detail));
      }
      QUIRE_RETURN_IF_ERROR(fn(record, off));
      off += record.size;
    }
  }
  return Status::Ok();
}

}  // namespace quire::storage
