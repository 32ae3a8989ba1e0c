#include "storage/ledger_directory.h"

#include <algorithm>
#include <cerrno>
#include <map>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/check.h"
#include "common/clock.h"
#include "common/prefetch.h"
#include "storage/entry_log_format.h"
#include "storage/flush_pace.h"

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
  // (docs/semantics.md): refuse, and say how to rebuild it.
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
  QUIRE_RETURN_IF_ERROR(dir->LoadUsage());
  return dir;
}

Status LedgerDirectory::LoadUsage() {
  std::vector<std::pair<uint64_t, LogSummary>> summaries;
  QUIRE_RETURN_IF_ERROR(index_->ForEachLogSummary([&](uint64_t log, const LogSummary& summary) {
    summaries.emplace_back(log, summary);
    return true;
  }));
  LedgerIndex::Batch missing = index_->NewBatch();
  for (const auto& [log, summary] : summaries) {
    // Data past the recorded end is the tail of a flush or compaction that a crash cut short
    // before its index batch: nothing points there, and only cutting it off gives its space back.
    std::string path = logger_->LogPath(log);
    auto file = options_.fs->Open(path, {});
    if (!file.ok() && file.status().Is(StatusCode::kNotFound)) {
      missing.DeleteLog(log);  // deleted before its rows were (DeleteLog's order)
      continue;
    }
    QUIRE_RETURN_IF_ERROR(file.status());
    usage_.SetTotal(log, summary.total_bytes);
    QUIRE_ASSIGN_OR_RETURN(uint64_t size, (*file)->Size());
    uint64_t end = kEntryLogHeaderSize + summary.total_bytes;
    if (size > end && summary.total_bytes > 0) {
      spdlog::info("entry log {}: cutting off {} bytes after its recorded end {} (a flush or "
                   "compaction interrupted by a crash)",
                   path, size - end, end);
      QUIRE_RETURN_IF_ERROR((*file)->Truncate(end));
      QUIRE_RETURN_IF_ERROR((*file)->Sync());
    }
  }
  QUIRE_RETURN_IF_ERROR(index_->Write(missing));
  return index_->ForEachLogLedger([&](uint64_t log, uint64_t ledger, uint64_t bytes) {
    if (usage_.Known(log)) usage_.Add(log, ledger, bytes);
    return true;
  });
}

bool LedgerDirectory::TryPut(uint64_t ledger, uint64_t entry, const Payload& payload,
                             bool* flush_due) {
  WriterMutexLock lock(mu_);
  if (!filling_->Fits(payload.size())) {
    *flush_due = true;
    return false;
  }
  filling_->Put(ledger, entry, payload);
  const uint64_t half_full = filling_->max_bytes() / 2;
  const uint64_t threshold = options_.flush_threshold_bytes;
  *flush_due = filling_->bytes() >= (threshold > 0 ? std::min(threshold, half_full) : half_full);
  return true;
}

void LedgerDirectory::ForcePut(uint64_t ledger, uint64_t entry, const Payload& payload) {
  WriterMutexLock lock(mu_);
  filling_->Put(ledger, entry, payload);
}

bool LedgerDirectory::HasPendingFlush() {
  ReaderMutexLock lock(mu_);
  return !flushing_->empty();
}

Status LedgerDirectory::WaitForRoom(size_t size, std::chrono::steady_clock::time_point deadline) {
  WriterMutexLock lock(mu_);
  while (!filling_->Fits(size)) {
    if (!mu_.WaitUntil(room_, deadline) && !filling_->Fits(size)) {
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
    ReaderMutexLock lock(mu_);
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
  // Compaction may move the entry and delete its old log between the lookup and the read: the
  // read then fails with kNotFound, and the entry is looked up again. Each retry needs another
  // compaction of the same entry in between, so a few are plenty.
  std::optional<EntryLocation> previous;
  for (int attempt = 0;; ++attempt) {
    QUIRE_ASSIGN_OR_RETURN(auto loc, index_->Find(ledger, entry));
    if (!loc) {
      return Status(StatusCode::kNoSuchEntry,
                    fmt::format("ledger {} entry {} is not stored here", ledger, entry));
    }
    entry_log_reads_.fetch_add(1, std::memory_order_relaxed);
    Result<std::string> r = ReadFromLog(ledger, entry, *loc);
    bool moved = previous && (previous->log_id != loc->log_id || previous->offset != loc->offset);
    if (r.ok() || !r.status().Is(StatusCode::kNotFound) || attempt >= 3 ||
        (previous && !moved)) {
      return r;
    }
    previous = loc;
  }
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
    ReaderMutexLock lock(mu_);
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
    ReaderMutexLock lock(mu_);
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
    WriterMutexLock lock(mu_);
    if (flushing_->empty()) std::swap(filling_, flushing_);
    count = flushing_->count();
  }
  room_.notify_all();
  return count;
}

Status LedgerDirectory::CheckRoom(uint64_t bytes) {
  if (options_.reserved_bytes == 0) return Status::Ok();
  auto space = options_.fs->Space(options_.directory);
  if (!space.ok()) return Status::Ok();  // cannot tell; the write itself will say
  if (space->available_bytes >= bytes + options_.reserved_bytes) return Status::Ok();
  return IOError(fmt::format("ledger directory {}: {} bytes free, and writing {} more would leave "
                             "less than the {} reserved for garbage collection "
                             "(ledgerDirReservedSpaceMB)",
                             options_.directory, space->available_bytes, bytes,
                             options_.reserved_bytes),
                 ENOSPC);
}

namespace {

// Sleeps until a paced flush is due to write past `written` bytes, in slices so that a hurry
// ends the wait soon. Bounded: the schedule's due time passes.
void WaitForPace(const FlushPace& pace, uint64_t written, const FlushPacing& pacing) {
  constexpr uint64_t kSliceNs = 5'000'000;
  const uint64_t start = MonotonicNanos();
  uint64_t now = start;
  while (pacing.hurry == nullptr || pacing.hurry->load(std::memory_order_relaxed) == 0) {
    uint64_t wait = pace.WaitNs(written, now);
    if (wait == 0) break;
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min(wait, kSliceNs)));
    now = MonotonicNanos();
  }
  if (pacing.waited_ns != nullptr) *pacing.waited_ns += now - start;
}

}  // namespace

Status LedgerDirectory::FlushSwapped(const std::vector<std::pair<uint64_t, LedgerInfo>>& infos,
                                     const FlushPacing& pacing) {
  // flushing_ is not modified until FinishFlush(), so it is read here without the lock.
  std::vector<WriteCache::Item> items = swapped_cache().Sorted();
  if (items.empty() && infos.empty()) return Status::Ok();
  uint64_t bytes = 0;
  for (const WriteCache::Item& item : items) bytes += kEntryLogRecordHeader + item.payload.size();
  QUIRE_RETURN_IF_ERROR(CheckRoom(bytes));

  LedgerIndex::Batch batch = index_->NewBatch();
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> added;  // (log, ledger) -> bytes
  const FlushPace pace(bytes, pacing.duration_ns, MonotonicNanos());
  constexpr uint64_t kPaceStep = 1 << 20;  // about one entry-log write (write_chunk_bytes)
  auto write = [&]() -> Status {
    uint64_t written = 0;
    uint64_t next_pace = kPaceStep;
    for (size_t i = 0; i < items.size(); ++i) {
      const WriteCache::Item& item = items[i];
      if (i + 1 < items.size()) PrefetchForRead(items[i + 1].payload);
      EntryLocation loc;
      QUIRE_RETURN_IF_ERROR(logger_->Add(item.ledger, item.entry, item.payload, &loc));
      batch.PutLocation(item.ledger, item.entry, loc);
      added[{loc.log_id, item.ledger}] += loc.size;
      written += kEntryLogRecordHeader + item.payload.size();
      if (pace.paced() && written >= next_pace) {
        WaitForPace(pace, written, pacing);
        next_pace = written + kPaceStep;
      }
    }
    if (!items.empty()) QUIRE_RETURN_IF_ERROR(logger_->Commit());
    // The usage rows hold totals, so they are computed from the table without changing it: the
    // table changes only once the batch is in.
    for (const auto& [key, n] : added) {
      batch.PutLogLedgerBytes(key.first, key.second, usage_.Bytes(key.first, key.second) + n);
    }
    for (const CommittedLog& log : logger_->committed()) {
      batch.PutLogSummary(log.log_id, {log.end - kEntryLogHeaderSize});
    }
    for (const auto& [ledger, info] : infos) batch.PutLedgerInfo(ledger, info);
    return index_->Write(batch);
  };
  Status s = write();
  if (!s.ok()) {
    logger_->RollBack().IgnoreError();  // RollBack logs its own failure; `s` is what counts
    return s;
  }
  if (!items.empty()) flush_generation_.fetch_add(1, std::memory_order_acq_rel);
  for (const auto& [key, n] : added) usage_.Add(key.first, key.second, n);
  for (const CommittedLog& log : logger_->committed()) {
    usage_.SetTotal(log.log_id, log.end - kEntryLogHeaderSize);
  }
  logger_->Accept();
  return Status::Ok();
}

void LedgerDirectory::FinishFlush() {
  // The flushed cache is swapped for an empty one under the lock and freed outside it: freeing up
  // to a million payloads takes milliseconds that adds (which take the lock) must not wait for.
  // The empty one is sized for as many entries as the flushed one held, so that filling it does
  // not rehash its index a dozen times on the add path (1 % of a bookie's CPU at full load).
  auto empty = std::make_unique<WriteCache>(options_.write_cache_bytes / 2,
                                            swapped_cache().count());
  {
    WriterMutexLock lock(mu_);
    std::swap(flushing_, empty);
  }
  room_.notify_all();
}

Result<size_t> LedgerDirectory::DeleteLedgers(const std::vector<uint64_t>& ledgers) {
  if (ledgers.empty()) return 0;
  LedgerIndex::Batch batch = index_->NewBatch();
  for (uint64_t ledger : ledgers) {
    batch.DeleteLedger(ledger);
    for (uint64_t log : usage_.LogsOf(ledger)) batch.DeleteLogLedger(log, ledger);
  }
  QUIRE_RETURN_IF_ERROR(index_->Write(batch));
  for (uint64_t ledger : ledgers) usage_.RemoveLedger(ledger);
  read_cache_.EraseLedgers(ledgers);
  // No flush runs (the caller holds the index-writer lock), so the swapped cache may change too.
  std::unordered_set<uint64_t> gone(ledgers.begin(), ledgers.end());
  size_t dropped = 0;
  {
    WriterMutexLock lock(mu_);
    dropped += filling_->EraseLedgers(gone);
    dropped += flushing_->EraseLedgers(gone);
  }
  room_.notify_all();
  return dropped;
}

Result<std::vector<uint64_t>> LedgerDirectory::ListLogs() const {
  return EntryLogger::ListLogs(options_.fs, logger_->options().current_dir);
}

Result<std::vector<uint64_t>> LedgerDirectory::UnknownLogs() {
  // The order matters. A log the flush thread creates after the listing is not listed; one
  // created before it is unsettled by then; one that settled since is known by then.
  QUIRE_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, ListLogs());
  std::vector<uint64_t> unsettled = logger_->UnsettledLogs();
  std::erase_if(ids, [&](uint64_t id) {
    return std::find(unsettled.begin(), unsettled.end(), id) != unsettled.end() ||
           usage_.Known(id);
  });
  return ids;
}

std::vector<LogUsage> LedgerDirectory::SettledUsage() const {
  // The unsettled set first, then the usage: a log outside the set had its usage complete
  // before it left the set (EntryLogger::UnsettledLogs).
  std::vector<uint64_t> unsettled = logger_->UnsettledLogs();
  std::vector<LogUsage> logs = usage_.Logs();
  std::erase_if(logs, [&](const LogUsage& u) {
    return std::find(unsettled.begin(), unsettled.end(), u.log_id) != unsettled.end();
  });
  return logs;
}

Status LedgerDirectory::RecordScannedUsage(uint64_t log, Mutex* index_writer) {
  std::string path = logger_->LogPath(log);
  QUIRE_ASSIGN_OR_RETURN(auto file, options_.fs->Open(path, {.read_only = true}));
  QUIRE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  std::string head(std::min<uint64_t>(size, kEntryLogHeaderSize), '\0');
  QUIRE_ASSIGN_OR_RETURN(size_t n, file->Read(0, head.data(), head.size()));
  file.reset();
  head.resize(n);
  std::map<uint64_t, uint64_t> live;  // ledger -> bytes the index points at
  uint64_t end = kEntryLogHeaderSize;
  // A header that never became durable (a crash right after the log was created) reads as zeros
  // or not at all: the index cannot point into such a log, since it points only into committed
  // batches, and a commit syncs the header with the first batch.
  bool never_written = head.find_first_not_of('\0') == std::string::npos;
  if (!never_written) {
    // The records are looked up a few thousand at a time: FindMany answers the entries of one
    // index run from one lookup (a log holds its ledgers' entries in runs).
    struct Scanned {
      uint64_t ledger, entry, offset;
      uint32_t size;
    };
    std::vector<Scanned> scanned;
    auto count_live = [&]() -> Status {
      std::vector<std::pair<uint64_t, uint64_t>> keys;
      keys.reserve(scanned.size());
      for (const Scanned& r : scanned) keys.emplace_back(r.ledger, r.entry);
      QUIRE_ASSIGN_OR_RETURN(auto locations, index_->FindMany(keys));
      for (size_t i = 0; i < scanned.size(); ++i) {
        const std::optional<EntryLocation>& loc = locations[i];
        if (loc && loc->log_id == log && loc->offset == scanned[i].offset) {
          live[scanned[i].ledger] += scanned[i].size;
        }
      }
      scanned.clear();
      return Status::Ok();
    };
    QUIRE_RETURN_IF_ERROR(ScanEntryLog(options_.fs, path,
                                       [&](const EntryLogRecord& r, uint64_t offset) -> Status {
      end = offset + r.size;
      scanned.push_back({r.ledger_id, r.entry_id, offset, r.size});
      return scanned.size() < 4096 ? Status::Ok() : count_live();
    }));
    QUIRE_RETURN_IF_ERROR(count_live());
    end = std::max(end, AlignUp(end, kEntryLogAlignment));
  }
  uint64_t total = std::min(size, end) > kEntryLogHeaderSize ? std::min(size, end) - kEntryLogHeaderSize : 0;
  MutexLock lock(*index_writer);
  LedgerIndex::Batch batch = index_->NewBatch();
  batch.PutLogSummary(log, {total});
  for (const auto& [ledger, bytes] : live) batch.PutLogLedgerBytes(log, ledger, bytes);
  QUIRE_RETURN_IF_ERROR(index_->Write(batch));
  usage_.SetTotal(log, total);
  for (const auto& [ledger, bytes] : live) usage_.Add(log, ledger, bytes);
  return Status::Ok();
}

Status LedgerDirectory::DeleteLog(uint64_t log, Mutex* index_writer) {
  QUIRE_CHECK(!logger_->Unsettled(log));
  QUIRE_CHECK(usage_.LedgersIn(log).empty());
  // The file goes first, then its rows, without an fsync of either: a crash may leave the rows
  // of a missing log, which the next start removes (LoadUsage), or bring the file back without
  // rows, which the next pass scans and deletes. Neither can lose an entry: nothing points into
  // the log.
  QUIRE_RETURN_IF_ERROR(logger_->DeleteLog(log));
  MutexLock lock(*index_writer);
  LedgerIndex::Batch batch = index_->NewBatch();
  batch.DeleteLog(log);
  QUIRE_RETURN_IF_ERROR(index_->Write(batch, /*sync=*/false));
  usage_.RemoveLog(log);
  return Status::Ok();
}

Result<LedgerDirectoryInventory> LedgerDirectory::Inventory() const {
  LedgerDirectoryInventory inv;
  QUIRE_ASSIGN_OR_RETURN(inv.ledgers, index_->CountLedgers());
  QUIRE_ASSIGN_OR_RETURN(std::vector<uint64_t> logs, ListLogs());
  inv.entry_logs = logs.size();
  return inv;
}

LedgerDirectoryStats LedgerDirectory::stats() {
  LedgerDirectoryStats s;
  {
    ReaderMutexLock lock(mu_);
    s.write_cache_bytes = filling_->bytes() + flushing_->bytes();
  }
  s.write_cache_hits = write_cache_hits_.load(std::memory_order_relaxed);
  s.read_cache_hits = read_cache_hits_.load(std::memory_order_relaxed);
  s.entry_log_reads = entry_log_reads_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace quire::storage
