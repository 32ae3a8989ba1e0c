#include "storage/entry_log.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/coding.h"
#include "storage/file_window.h"

namespace quire::storage {

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
  QUIRE_ASSIGN_OR_RETURN(auto ids, ListLogs(options.fs, options.current_dir));
  QUIRE_RETURN_IF_ERROR(logger->StartLog(ids.empty() ? 1 : ids.back() + 1));
  return logger;
}

std::string EntryLogger::LogPath(uint64_t log_id) const {
  return JoinPath(options_.current_dir, EntryLogFileName(log_id));
}

Status EntryLogger::StartLog(uint64_t log_id) {
  std::string path = LogPath(log_id);
  OpenOptions o{.create = true, .exclusive = true, .direct = options_.direct_io};
  QUIRE_ASSIGN_OR_RETURN(file_, options_.fs->Open(path, o));
  log_id_ = log_id;
  EntryLogHeader header;
  header.log_id = log_id;
  header.created_unix_ms = UnixMillis();
  EncodeEntryLogHeader(header, &pending_);
  written_ = 0;
  dirty_ = true;
  // The name must survive a crash before the index may point into the file.
  QUIRE_RETURN_IF_ERROR(options_.fs->SyncDir(options_.current_dir));
  spdlog::debug("entry log: started {}{}", path,
                file_->direct() ? "" : " (buffered: no O_DIRECT on this file system)");
  return Status::Ok();
}

Status EntryLogger::Add(uint64_t ledger, uint64_t entry, std::string_view payload,
                        EntryLocation* location) {
  uint64_t size = kEntryLogRecordHeader + payload.size();
  if (written_ + pending_.size() + size > options_.size_limit &&
      written_ + pending_.size() > kEntryLogHeaderSize) {
    QUIRE_RETURN_IF_ERROR(FinishLog());
    QUIRE_RETURN_IF_ERROR(StartLog(log_id_ + 1));
  }
  *location = {log_id_, written_ + pending_.size(), static_cast<uint32_t>(size)};
  AppendEntryLogRecord(&pending_, ledger, entry, payload);
  if (pending_.size() >= options_.write_chunk_bytes) return WriteFullChunks(false);
  return Status::Ok();
}

// Writes the aligned prefix of pending_ (or all of it, padded, when `everything`).
Status EntryLogger::WriteFullChunks(bool everything) {
  if (everything) PadEntryLog(&pending_);
  size_t n = everything ? pending_.size() : AlignDown(pending_.size(), kEntryLogAlignment);
  if (n == 0) return Status::Ok();
  QUIRE_RETURN_IF_ERROR(file_->Write(written_, std::string_view(pending_.data(), n)));
  if (!file_->direct()) QUIRE_RETURN_IF_ERROR(file_->StartWriteback(written_, n));
  written_ += n;
  dirty_ = true;
  size_t rest = pending_.size() - n;
  if (rest > 0) std::memmove(pending_.data(), pending_.data() + n, rest);
  pending_.Resize(rest);
  return Status::Ok();
}

Status EntryLogger::FinishLog() {
  QUIRE_RETURN_IF_ERROR(WriteFullChunks(true));
  if (dirty_) QUIRE_RETURN_IF_ERROR(file_->Sync());
  dirty_ = false;
  return Status::Ok();
}

Status EntryLogger::Commit() {
  // A padding record ends each batch, so every batch starts at an aligned offset.
  return FinishLog().WithContext(fmt::format("entry log {}", LogPath(log_id_)));
}

Result<std::shared_ptr<File>> EntryLogger::Reader(uint64_t log_id) {
  std::lock_guard<std::mutex> lock(readers_mu_);
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

Status ScanEntryLog(FileSystem* fs, const std::string& path,
                    const std::function<Status(const EntryLogRecord&, uint64_t offset)>& fn) {
  QUIRE_ASSIGN_OR_RETURN(auto file, fs->Open(path, {.read_only = true}));
  QUIRE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  FileWindow w(file.get(), size);
  QUIRE_ASSIGN_OR_RETURN(std::string_view header, w.At(0, kEntryLogHeaderSize));
  QUIRE_RETURN_IF_ERROR(DecodeEntryLogHeader(header, path).status());

  uint64_t off = kEntryLogHeaderSize;
  while (off < size) {
    QUIRE_ASSIGN_OR_RETURN(std::string_view head, w.At(off, 8));
    uint32_t length = head.size() >= 8 ? DecodeFixed32(head.data()) : 0;
    QUIRE_ASSIGN_OR_RETURN(std::string_view bytes,
                           w.At(off, 8 + std::min<size_t>(length, kEntryLogMaxPayload + 16)));
    EntryLogRecord record;
    std::string detail;
    EntryLogDecode d = DecodeEntryLogRecord(bytes, &record, &detail);
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
      QUIRE_ASSIGN_OR_RETURN(std::string_view h, w.At(next, 8));
      uint32_t len = h.size() >= 8 ? DecodeFixed32(h.data()) : 0;
      QUIRE_ASSIGN_OR_RETURN(std::string_view b,
                             w.At(next, 8 + std::min<size_t>(len, kEntryLogMaxPayload + 16)));
      EntryLogRecord r;
      std::string ignored;
      if (DecodeEntryLogRecord(b, &r, &ignored) == EntryLogDecode::kRecord) {
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

}  // namespace quire::storage
