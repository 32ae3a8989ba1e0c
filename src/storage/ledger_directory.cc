#include "storage/ledger_directory.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

#include "storage/entry_log_format.h"

namespace quire::storage {

LedgerDirectory::LedgerDirectory(const LedgerDirectoryOptions& options)
    : options_(options),
      read_cache_(options.read_cache_bytes),
      filling_(std::make_unique<WriteCache>(options.write_cache_bytes / 2)),
      flushing_(std::make_unique<WriteCache>(options.write_cache_bytes / 2)) {}

Result<std::unique_ptr<LedgerDirectory>> LedgerDirectory::Open(const LedgerDirectoryOptions& o) {
  std::unique_ptr<LedgerDirectory> dir(new LedgerDirectory(o));
  std::string current = JoinPath(o.directory, "current");
  QUIRE_RETURN_IF_ERROR(o.fs->CreateDirs(current));
  // The index is created before the first entry log, so entry logs without an index mean it was
  // lost. Starting with an empty one would answer "no such entry" for data this bookie holds
  // (SEMANTICS.md): refuse, and say how to rebuild it.
  QUIRE_ASSIGN_OR_RETURN(std::vector<std::string> names, o.fs->List(current));
  bool has_index = std::find(names.begin(), names.end(), "index") != names.end();
  bool has_logs = std::any_of(names.begin(), names.end(), [](const std::string& name) {
    uint64_t id = 0;
    return ParseEntryLogFileName(name, &id);
  });
  if (has_logs && !has_index) {
    return Corruption(fmt::format(
        "ledger directory {} has entry logs but no index ({}/index is missing): rebuild it with "
        "`quire index rebuild {}` while the bookie is stopped",
        o.directory, current, o.directory));
  }
  QUIRE_ASSIGN_OR_RETURN(dir->index_, LedgerIndex::Open(JoinPath(current, "index")));
  EntryLogOptions lo;
  lo.current_dir = current;
  lo.fs = o.fs;
  lo.size_limit = o.entry_log_size_limit;
  lo.direct_io = o.entry_log_direct_io;
  QUIRE_ASSIGN_OR_RETURN(dir->logger_, EntryLogger::Open(lo));
  return dir;
}

bool LedgerDirectory::TryPut(uint64_t ledger, uint64_t entry, const Payload& payload,
                             bool* flush_due) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (!filling_->Fits(payload->size())) {
    *flush_due = true;
    return false;
  }
  filling_->Put(ledger, entry, payload);
  *flush_due = filling_->bytes() >= filling_->max_bytes() / 2;
  return true;
}

Status LedgerDirectory::WaitForRoom(size_t size, std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  while (!filling_->Fits(size)) {
    if (room_.wait_until(lock, deadline) == std::cv_status::timeout && !filling_->Fits(size)) {
      return Status(StatusCode::kTooManyRequests,
                    fmt::format("ledger directory {}: the write cache is full and flushes are not "
                                "keeping up",
                                options_.directory));
    }
  }
  return Status::Ok();
}

Result<std::string> LedgerDirectory::Read(uint64_t ledger, uint64_t entry) {
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const WriteCache* cache : {filling_.get(), flushing_.get()}) {
      if (auto hit = cache->Get(ledger, entry)) {
        write_cache_hits_.fetch_add(1, std::memory_order_relaxed);
        return std::string(*hit);
      }
    }
  }
  if (auto hit = read_cache_.Get(ledger, entry)) {
    read_cache_hits_.fetch_add(1, std::memory_order_relaxed);
    return std::move(*hit);
  }
  QUIRE_ASSIGN_OR_RETURN(auto loc, index_->Find(ledger, entry));
  if (!loc) {
    return Status(StatusCode::kNoSuchEntry,
                  fmt::format("ledger {} entry {} is not stored here", ledger, entry));
  }
  entry_log_reads_.fetch_add(1, std::memory_order_relaxed);
  return ReadFromLog(ledger, entry, *loc);
}

Result<std::string> LedgerDirectory::ReadFromLog(uint64_t ledger, uint64_t entry,
                                                 const EntryLocation& loc) {
  if (options_.read_ahead_bytes <= loc.size || options_.read_cache_bytes == 0) {
    return logger_->Read(loc, ledger, entry);
  }
  std::string buf(options_.read_ahead_bytes, '\0');
  QUIRE_ASSIGN_OR_RETURN(size_t n, logger_->ReadRaw(loc.log_id, loc.offset, buf.data(), buf.size()));
  std::string_view bytes(buf.data(), n);
  // The requested record is checked (CRC, identity) by the logger's own reader on any doubt.
  EntryLogRecord record;
  std::string detail;
  if (DecodeEntryLogRecord(bytes, &record, &detail) != EntryLogDecode::kRecord ||
      record.ledger_id != ledger || record.entry_id != entry) {
    return logger_->Read(loc, ledger, entry);
  }
  std::string result(record.payload);
  size_t pos = record.size;
  while (pos < bytes.size()) {
    EntryLogRecord next;
    if (DecodeEntryLogRecord(bytes.substr(pos), &next, &detail) != EntryLogDecode::kRecord ||
        next.ledger_id != ledger) {
      break;
    }
    read_cache_.Put(next.ledger_id, next.entry_id, next.payload);
    pos += next.size;
  }
  return result;
}

Result<std::optional<uint64_t>> LedgerDirectory::LastEntry(uint64_t ledger) {
  std::optional<uint64_t> last;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const WriteCache* cache : {filling_.get(), flushing_.get()}) {
      if (auto e = cache->LastEntry(ledger)) last = std::max(last.value_or(0), *e);
    }
  }
  QUIRE_ASSIGN_OR_RETURN(auto indexed, index_->LastEntry(ledger));
  if (indexed) last = std::max(last.value_or(0), *indexed);
  return last;
}

Result<std::vector<uint64_t>> LedgerDirectory::ListEntries(uint64_t ledger) {
  std::vector<uint64_t> ids;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const WriteCache* cache : {filling_.get(), flushing_.get()}) cache->EntriesOf(ledger, &ids);
  }
  QUIRE_RETURN_IF_ERROR(index_->ForEachEntry(ledger, [&](uint64_t entry, const EntryLocation&) {
    ids.push_back(entry);
    return true;
  }));
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

size_t LedgerDirectory::SwapCaches() {
  size_t count;
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (flushing_->empty()) std::swap(filling_, flushing_);
    count = flushing_->count();
  }
  room_.notify_all();
  return count;
}

Status LedgerDirectory::FlushSwapped(const std::vector<std::pair<uint64_t, LedgerInfo>>& infos) {
  // flushing_ is not modified until FinishFlush(), so it is read here without the lock.
  std::vector<WriteCache::Item> items = flushing_->Sorted();
  LedgerIndex::Batch batch = index_->NewBatch();
  for (const WriteCache::Item& item : items) {
    EntryLocation loc;
    QUIRE_RETURN_IF_ERROR(logger_->Add(item.ledger, item.entry, item.payload, &loc));
    batch.PutLocation(item.ledger, item.entry, loc);
  }
  if (!items.empty()) QUIRE_RETURN_IF_ERROR(logger_->Commit());
  for (const auto& [ledger, info] : infos) batch.PutLedgerInfo(ledger, info);
  return index_->Write(batch);
}

void LedgerDirectory::FinishFlush() {
  // The flushed cache is swapped for an empty one under the lock and freed outside it: freeing up
  // to a million payloads takes milliseconds that adds (which take the lock) must not wait for.
  auto empty = std::make_unique<WriteCache>(options_.write_cache_bytes / 2);
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    std::swap(flushing_, empty);
  }
  room_.notify_all();
}

LedgerDirectoryStats LedgerDirectory::stats() {
  LedgerDirectoryStats s;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    s.write_cache_bytes = filling_->bytes() + flushing_->bytes();
  }
  s.write_cache_hits = write_cache_hits_.load(std::memory_order_relaxed);
  s.read_cache_hits = read_cache_hits_.load(std::memory_order_relaxed);
  s.entry_log_reads = entry_log_reads_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace quire::storage
