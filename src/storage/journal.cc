#include "storage/journal.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/coding.h"
#include "common/crc32c.h"
#include "common/logging.h"
#include "common/prefetch.h"

namespace quire::storage {
namespace {

constexpr char kMarkFile[] = "lastMark";
constexpr char kMarkMagic[4] = {'Q', 'M', 'R', 'K'};
constexpr uint32_t kMarkVersion = 1;
constexpr size_t kMarkSize = 4 + 4 + 8 + 8 + 4;



std::string CurrentDir(const std::string& directory) { return JoinPath(directory, "current"); }

// Journal file ids found in the directory, ascending.
Result<std::vector<uint64_t>> ListJournalFiles(FileSystem* fs, const std::string& current) {
  QUIRE_ASSIGN_OR_RETURN(auto names, fs->List(current));
  std::vector<uint64_t> ids;
  for (const std::string& n : names) {
    uint64_t id;
    if (ParseJournalFileName(n, &id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

JournalWrite::JournalWrite(JournalRecordType type, uint64_t ledger, uint64_t entry, Payload d,
                           JournalCallback cb)
    : data(std::move(d)), done(std::move(cb)) {
  header_size = EncodeJournalRecordHeader(header, type, ledger, entry, payload());
}

JournalWrite::JournalWrite(JournalRecordType type, uint64_t ledger, uint64_t entry, std::string d,
                           JournalCallback cb)
    : JournalWrite(type, ledger, entry, d.empty() ? nullptr : MakePayload(std::move(d)),
                   std::move(cb)) {}

Result<JournalPosition> ReadJournalMark(FileSystem* fs, const std::string& directory) {
  std::string path = JoinPath(CurrentDir(directory), kMarkFile);
  QUIRE_ASSIGN_OR_RETURN(bool exists, fs->Exists(path));
  if (!exists) return JournalPosition{};
  QUIRE_ASSIGN_OR_RETURN(std::string bytes, fs->ReadFile(path));
  if (bytes.size() != kMarkSize || std::memcmp(bytes.data(), kMarkMagic, 4) != 0 ||
      DecodeFixed32(bytes.data() + 24) != crc32c::Value(bytes.data(), 24)) {
    return Corruption(fmt::format("{}: not a valid journal checkpoint", path));
  }
  if (DecodeFixed32(bytes.data() + 4) > kMarkVersion) {
    return Status(StatusCode::kUnimplemented,
                  fmt::format("{}: checkpoint format version {} is newer than this Quire's", path,
                              DecodeFixed32(bytes.data() + 4)));
  }
  return JournalPosition{DecodeFixed64(bytes.data() + 8), DecodeFixed64(bytes.data() + 16)};
}

Status WriteJournalMark(FileSystem* fs, const std::string& directory, JournalPosition mark) {
  std::string bytes(kMarkMagic, 4);
  PutFixed32(&bytes, kMarkVersion);
  PutFixed64(&bytes, mark.file_id);
  PutFixed64(&bytes, mark.offset);
  PutFixed32(&bytes, crc32c::Value(bytes.data(), bytes.size()));
  return fs->WriteFileAtomically(JoinPath(CurrentDir(directory), kMarkFile), bytes);
}

Result<JournalReplaySummary> ReplayJournal(FileSystem* fs, const std::string& directory,
                                           bool skip_corruption, const JournalRecordFn& fn) {
  std::string current = CurrentDir(directory);
  JournalReplaySummary summary;
  QUIRE_ASSIGN_OR_RETURN(summary.mark, ReadJournalMark(fs, directory));
  QUIRE_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, ListJournalFiles(fs, current));
  if (!ids.empty()) summary.next_file_id = ids.back() + 1;
  summary.next_file_id = std::max(summary.next_file_id, summary.mark.file_id + 1);

  for (size_t i = 0; i < ids.size(); ++i) {
    uint64_t id = ids[i];
    if (id < summary.mark.file_id) continue;  // wholly checkpointed; deleted at the next one
    std::string path = JoinPath(current, JournalFileName(id));
    JournalScanOptions scan;
    scan.newest_file = i + 1 == ids.size();
    scan.skip_corruption = skip_corruption;
    scan.start_offset = id == summary.mark.file_id ? summary.mark.offset : kJournalHeaderSize;
    QUIRE_ASSIGN_OR_RETURN(JournalScanResult r, ScanJournalFile(fs, path, scan, fn));
    ++summary.files;
    summary.records += r.records;
    if (r.torn_tail && r.end_offset < kJournalHeaderSize) {
      // Created but its header never made it to disk: it never held an acknowledged record.
      spdlog::warn("journal {}: removing a file whose creation was cut short by a crash", path);
      QUIRE_RETURN_IF_ERROR(fs->Unlink(path));
      QUIRE_RETURN_IF_ERROR(fs->SyncDir(current));
    } else if (r.torn_tail) {
      summary.torn_bytes += r.torn_bytes;
      spdlog::warn("journal {}: dropped {} bytes after offset {}, the crash point (writes that "
                   "were never synced, and in a reused file its older contents)",
                   path, r.torn_bytes, r.end_offset);
      QUIRE_ASSIGN_OR_RETURN(auto file, fs->Open(path, {}));
      QUIRE_RETURN_IF_ERROR(file->Truncate(r.end_offset));
      QUIRE_RETURN_IF_ERROR(file->Sync());
    }
  }
  return summary;
}

Journal::Journal(const JournalOptions& options)
    : options_(options), current_dir_(CurrentDir(options.directory)) {}

Result<std::unique_ptr<Journal>> Journal::Open(const JournalOptions& options,
                                               uint64_t first_file_id,
                                               JournalPosition checkpoint) {
  if (options.fs == nullptr || options.callback_executor == nullptr) {
    return InvalidArgument("journal options need a file system and a callback executor");
  }
  std::unique_ptr<Journal> journal(new Journal(options));
  QUIRE_RETURN_IF_ERROR(options.fs->CreateDirs(journal->current_dir_));
  // Files wholly before the checkpoint are no longer needed for replay.
  QUIRE_ASSIGN_OR_RETURN(std::vector<uint64_t> ids,
                         ListJournalFiles(options.fs, journal->current_dir_));
  std::vector<uint64_t> retired;
  for (uint64_t id : ids) {
    if (id < checkpoint.file_id && id < first_file_id) retired.push_back(id);
  }
  {
    // No other thread runs yet: uncontended, taken only because the field is guarded.
    MutexLock lock(journal->files_mu_);
    journal->retired_before_ = checkpoint.file_id;
  }
  QUIRE_RETURN_IF_ERROR(journal->Retire(retired));
  QUIRE_RETURN_IF_ERROR(journal->StartFile(first_file_id));
  {
    MutexLock lock(journal->mu_);
    journal->synced_ = {journal->file_id_, journal->offset_};
  }
  journal->thread_ = std::thread([j = journal.get()] { j->Run(); });
  journal->sync_thread_ = std::thread([j = journal.get()] { j->SyncLoop(); });
  return journal;
}

Journal::~Journal() { Close(); }

void Journal::Close() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  bool was_running = thread_.joinable();
  if (thread_.joinable()) thread_.join();  // writes what is queued, then lets the syncer finish
  if (sync_thread_.joinable()) sync_thread_.join();
  // The next start begins a new file, so this one must end where its data ends.
  if (was_running && file_ != nullptr && health().ok()) {
    Status s = FinishFile();
    if (!s.ok()) {
      // Not a loss: replay treats what follows the data as the unsynced tail and cuts it there.
      spdlog::warn("journal {}: could not cut {} at the end of its data on close: {}",
                   options_.index, file_->path(), s.ToString());
    }
  }
}

Status Journal::StartFile(uint64_t file_id) {
  std::string path = JoinPath(current_dir_, JournalFileName(file_id));
  JournalFileHeader header;
  header.file_id = file_id;
  header.created_unix_ms = UnixMillis();
  header.salt = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  AlignedBuffer header_bytes;
  EncodeJournalHeader(header, &header_bytes);

  std::optional<uint64_t> reuse;
  {
    MutexLock lock(files_mu_);
    if (!reusable_.empty()) {
      reuse = reusable_.front();
      reusable_.pop_front();
    }
  }
  std::unique_ptr<File> file;
  uint64_t allocated = 0;
  bool reused = false;
  if (reuse) {
    Result<std::unique_ptr<File>> old = ReuseFile(*reuse, file_id, header_bytes.view());
    if (old.ok()) {
      file = std::move(*old);
      QUIRE_ASSIGN_OR_RETURN(allocated, file->Size());
      reused = true;
      files_reused_.fetch_add(1, std::memory_order_relaxed);
    } else {
      std::string old_path = JoinPath(current_dir_, JournalFileName(*reuse));
      spdlog::warn("journal {}: could not reuse {} ({}); deleting it and starting a new file",
                   options_.index, old_path, old.status().ToString());
      options_.fs->Unlink(old_path).IgnoreError();
    }
  }
  if (file == nullptr) {
    OpenOptions o{.create = true, .exclusive = true, .direct = options_.direct_io};
    QUIRE_ASSIGN_OR_RETURN(file, options_.fs->Open(path, o));
    // The header is durable, and the name is in the directory, before any record goes in.
    QUIRE_RETURN_IF_ERROR(file->Allocate(0, options_.prealloc_bytes));
    QUIRE_RETURN_IF_ERROR(file->WriteAndSync(0, header_bytes.view()));
    QUIRE_RETURN_IF_ERROR(options_.fs->SyncDir(current_dir_));
    allocated = options_.prealloc_bytes;
  }
  file_ = std::move(file);
  file_id_ = file_id;
  salt_ = header.salt;
  offset_ = kJournalHeaderSize;
  allocated_ = allocated;
  // A reused file was written to its end in its earlier life; a new one only in its header.
  zeroed_ = reused ? allocated : kJournalHeaderSize;
  group_seq_ = 0;
  files_started_.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("journal {}: writing {}{}{}", options_.index, path,
               reused ? fmt::format(" (reusing {})", JournalFileName(*reuse)) : "",
               file_->direct() ? "" : " (buffered: the file system has no O_DIRECT)");
  return Status::Ok();
}

Result<std::unique_ptr<File>> Journal::ReuseFile(uint64_t old_id, uint64_t file_id,
                                                 std::string_view header) {
  std::string from = JoinPath(current_dir_, JournalFileName(old_id));
  std::string to = JoinPath(current_dir_, JournalFileName(file_id));
  {
    QUIRE_ASSIGN_OR_RETURN(auto old, options_.fs->Open(from, {.direct = options_.direct_io}));
    // New identity first: under its new name the file must never show its old header, whose
    // salt would make its old groups valid records.
    QUIRE_RETURN_IF_ERROR(old->WriteAndSync(0, header));
  }
  QUIRE_RETURN_IF_ERROR(options_.fs->Rename(from, to));
  QUIRE_RETURN_IF_ERROR(options_.fs->SyncDir(current_dir_));
  return options_.fs->Open(to, {.direct = options_.direct_io});
}

Status Journal::FinishFile() {
  // fdatasync persists a size change (fdatasync(2)), so the cut is durable when Sync returns.
  QUIRE_RETURN_IF_ERROR(file_->Truncate(offset_));
  return file_->Sync();
}

Status Journal::EnsureSpace(uint64_t bytes) {
  if (offset_ + bytes > options_.max_file_bytes && offset_ > kJournalHeaderSize) {
    // Every file but the newest is complete and synced (replay relies on it): wait until the
    // sync thread has covered all of this one before starting the next.
    {
      MutexLock lock(mu_);
      cv_.Wait(mu_, [this]() QUIRE_REQUIRES(mu_) {
        return !error_.ok() || (unsynced_.empty() && !syncing_);
      });
      if (!error_.ok()) return error_;
    }
    QUIRE_RETURN_IF_ERROR(FinishFile());
    QUIRE_RETURN_IF_ERROR(StartFile(file_id_ + 1));
    MutexLock lock(mu_);
    synced_ = {file_id_, offset_};
  }
  if (offset_ + bytes > allocated_) {
    uint64_t grow = std::max(options_.prealloc_bytes, offset_ + bytes - allocated_);
    QUIRE_RETURN_IF_ERROR(file_->Allocate(allocated_, grow));
    allocated_ += grow;
  }
  return Status::Ok();
}

bool Journal::ZeroAheadDue() {
  if (options_.zero_ahead_bytes == 0 || zero_ahead_failed_ || file_ == nullptr) return false;
  if (group_bytes_average_ >= kZeroChunk / 4) {  // large groups: no zeros (journal.h)
    zero_refilling_ = false;
    return false;
  }
  // Refilled from half way to the full distance, in chunks: topping up after every group would
  // cost each group a second write.
  uint64_t full = std::min(offset_ + options_.zero_ahead_bytes, options_.max_file_bytes);
  uint64_t half = std::min(offset_ + options_.zero_ahead_bytes / 2, options_.max_file_bytes);
  if (zeroed_ < half) zero_refilling_ = true;
  if (zeroed_ >= full) zero_refilling_ = false;
  return zero_refilling_;
}

void Journal::ZeroAhead() {
  uint64_t start = std::max(zeroed_, offset_);
  uint64_t end = std::min({start + kZeroChunk, offset_ + options_.zero_ahead_bytes,
                           AlignUp(options_.max_file_bytes, kJournalAlignment)});
  if (end <= start) return;
  if (zeros_.size() == 0) zeros_.AppendZeros(kZeroChunk);
  Status s;
  if (end > allocated_) {
    // The space the next groups would fallocate anyway, taken a little early.
    uint64_t grow = std::max(options_.prealloc_bytes, end - allocated_);
    s = file_->Allocate(allocated_, grow);
    if (s.ok()) allocated_ += grow;
  }
  // Not synced: zeros need no durability. Blocks that a crash leaves unwritten read as zeros
  // too, and replay takes either for the end of the data.
  if (s.ok()) s = file_->Write(start, zeros_.view().substr(0, end - start));
  if (!s.ok()) {
    zero_ahead_failed_ = true;
    spdlog::warn("journal {}: writing zeros ahead of the data in {} failed ({}); from now on the "
                 "journal writes into fallocate'd space only",
                 options_.index, file_->path(), s.ToString());
    return;
  }
  zeroed_ = end;
  zeroed_bytes_.fetch_add(end - start, std::memory_order_relaxed);
}

void Journal::Append(JournalWrite write) {
  {
    MutexLock lock(mu_);
    if (error_.ok() && !stopping_) {
      queued_bytes_ += write.bytes();
      queue_.push_back(std::move(write));
      if (!JournalLeadScope::Defer(this)) cv_.NotifyOne();
      return;
    }
  }
  std::vector<JournalCallback> cbs;
  if (write.done) cbs.push_back(std::move(write.done));
  Dispatch(std::move(cbs), health().ok() ? Status(StatusCode::kAborted, "journal is stopping")
                                         : health());
}

void Journal::Append(std::vector<JournalWrite> writes) {
  {
    MutexLock lock(mu_);
    if (error_.ok() && !stopping_) {
      for (JournalWrite& w : writes) {
        queued_bytes_ += w.bytes();
        queue_.push_back(std::move(w));
      }
      if (!JournalLeadScope::Defer(this)) cv_.NotifyOne();
      return;
    }
  }
  for (JournalWrite& w : writes) Append(std::move(w));
}

JournalPosition Journal::SyncedPosition() const {
  MutexLock lock(mu_);
  return synced_;
}

Status Journal::health() const {
  MutexLock lock(mu_);
  return error_;
}

JournalStats Journal::stats() const {
  JournalStats s;
  s.writes = writes_.load(std::memory_order_relaxed);
  s.syncs = syncs_.load(std::memory_order_relaxed);
  s.records = records_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  s.files_started = files_started_.load(std::memory_order_relaxed);
  s.files_reused = files_reused_.load(std::memory_order_relaxed);
  s.zeroed_bytes = zeroed_bytes_.load(std::memory_order_relaxed);
  s.inline_writes = inline_writes_.load(std::memory_order_relaxed);
  {
    MutexLock lock(mu_);
    s.queued_records = queue_.size();
  }
  s.sync_latency_ns = sync_latency_.Take();
  s.sync_latency_in_flush_ns = sync_latency_in_flush_.Take();
  s.records_per_sync = records_per_sync_.Take();
  return s;
}

Status Journal::Checkpoint(JournalPosition mark) {
  QUIRE_RETURN_IF_ERROR(WriteJournalMark(options_.fs, options_.directory, mark));
  std::vector<uint64_t> retired;
  {
    // Under files_mu_ so that two checkpoints never retire the same file. A concurrent StartFile
    // renames a pool file (below retired_before_) to a new id (above the mark): neither name
    // falls in the range retired here.
    MutexLock lock(files_mu_);
    if (mark.file_id <= retired_before_) return Status::Ok();
    QUIRE_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, ListJournalFiles(options_.fs, current_dir_));
    for (uint64_t id : ids) {
      if (id >= retired_before_ && id < mark.file_id) retired.push_back(id);
    }
    retired_before_ = mark.file_id;
  }
  return Retire(retired);
}

Status Journal::Retire(const std::vector<uint64_t>& ids) {
  std::vector<uint64_t> doomed;
  {
    MutexLock lock(files_mu_);
    for (uint64_t id : ids) reusable_.push_back(id);
    while (reusable_.size() > options_.reusable_files) {
      doomed.push_back(reusable_.front());
      reusable_.pop_front();
    }
  }
  for (uint64_t id : doomed) {
    std::string path = JoinPath(current_dir_, JournalFileName(id));
    Status s = options_.fs->Unlink(path);
    if (!s.ok() && !s.Is(StatusCode::kNotFound)) return s.WithContext("deleting an old journal file");
    spdlog::debug("journal {}: deleted {} (checkpointed)", options_.index, path);
  }
  return Status::Ok();
}

void Journal::Dispatch(std::vector<JournalCallback> callbacks, const Status& status) {
  if (callbacks.empty()) return;
  options_.callback_executor->Submit([cbs = std::move(callbacks), status]() {
    for (const JournalCallback& cb : cbs) cb(status);
  });
}

void Journal::Fail(const Status& status, std::vector<JournalCallback> callbacks) {
  std::deque<JournalWrite> queued;
  std::deque<Unsynced> unsynced;
  Status first;
  {
    MutexLock lock(mu_);
    if (error_.ok()) error_ = status;
    first = error_;
    queued.swap(queue_);
    queued_bytes_ = 0;
    unsynced.swap(unsynced_);
  }
  cv_.NotifyAll();
  for (Unsynced& u : unsynced) {
    for (JournalCallback& cb : u.callbacks) callbacks.push_back(std::move(cb));
  }
  for (JournalWrite& w : queued) {
    if (w.done) callbacks.push_back(std::move(w.done));
  }
  Dispatch(std::move(callbacks), first);
}

void Journal::RecordSync(uint64_t latency_ns, size_t records) {
  (flush_active_.load(std::memory_order_relaxed) ? sync_latency_in_flush_ : sync_latency_)
      .Record(latency_ns);
  last_sync_ns_.store(latency_ns, std::memory_order_relaxed);
  syncs_.fetch_add(1, std::memory_order_relaxed);
  records_.fetch_add(records, std::memory_order_relaxed);
  records_per_sync_.Record(records);
}

namespace {
thread_local JournalLeadScope* current_lead_scope = nullptr;
}  // namespace

JournalLeadScope::JournalLeadScope() {
  if (current_lead_scope != nullptr) return;
  current_lead_scope = this;
  active_ = true;
}

JournalLeadScope::~JournalLeadScope() {
  if (!active_) return;
  // Appends made by what Lead runs (callbacks) wake their journal thread as usual.
  current_lead_scope = nullptr;
  for (Journal* journal : journals_) journal->Lead();
}

bool JournalLeadScope::Defer(Journal* journal) {
  JournalLeadScope* scope = current_lead_scope;
  if (scope == nullptr || !journal->options_.write_inline) return false;
  if (std::find(scope->journals_.begin(), scope->journals_.end(), journal) ==
      scope->journals_.end()) {
    scope->journals_.push_back(journal);
  }
  return true;
}

void Journal::Lead() {
  std::vector<JournalWrite> group;
  {
    MutexLock lock(mu_);
    if (queue_.empty() || writing_) return;  // the role's holder looks at the queue when done
    bool idle = !syncing_ && unsynced_.empty() && !stopping_ && error_.ok() &&
                queue_.size() <= kMaxLeadRecords &&
                last_sync_ns_.load(std::memory_order_relaxed) <= options_.lead_max_sync_ns;
    if (!idle) {
      cv_.NotifyOne();
      return;
    }
    writing_ = true;
    TakeGroup(&group);
  }
  inline_writes_.fetch_add(1, std::memory_order_relaxed);
  WriteGroup(&group, /*leader=*/true);
}

void Journal::TakeGroup(std::vector<JournalWrite>* group) {
  size_t bytes = 0;
  while (!queue_.empty() &&
         (group->empty() || bytes + queue_.front().bytes() <= options_.group_bytes_threshold)) {
    bytes += queue_.front().bytes();
    queued_bytes_ -= queue_.front().bytes();
    group->push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void Journal::ReleaseRole() {
  writing_ = false;
  // Only when there is work: a leader's release must not wake an idle journal thread for
  // nothing (that wake-up is what leading saves).
  if (!queue_.empty() || zero_due_ || stopping_) cv_.NotifyAll();
}

void Journal::Run() {
  SetThreadName(fmt::format("q-journal-{}", options_.index));
  std::vector<JournalWrite> group;
  while (true) {
    group.clear();
    {
      // An idle journal thread sleeps; it never spins (docs/performance.md, "No spinning").
      MutexLock lock(mu_);
      cv_.Wait(mu_, [this]() QUIRE_REQUIRES(mu_) {
        return !writing_ && (stopping_ || !queue_.empty() || zero_due_);
      });
      if (queue_.empty() && stopping_) break;  // everything queued is written
      writing_ = true;
      if (queue_.empty()) {
        // Idle time goes to zeros ahead of the data, one chunk between looks at the queue.
        lock.Unlock();
        if (ZeroAheadDue()) ZeroAhead();
        lock.Lock();
        zero_due_ = ZeroAheadDue();
        ReleaseRole();
        continue;
      }
      // Wait for a fuller group only under load, when the last group held more than one record:
      // a lone writer's add would otherwise wait the whole time for nothing.
      if (options_.max_group_wait_us > 0 && !stopping_ && last_group_records_ > 1) {
        auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::microseconds(options_.max_group_wait_us);
        cv_.WaitUntil(mu_, deadline, [this]() QUIRE_REQUIRES(mu_) {
          return stopping_ || queued_bytes_ >= options_.group_bytes_threshold;
        });
      }
      // Bound the unsynced window: at most kMaxUnsyncedGroups written groups wait for a sync.
      cv_.Wait(mu_, [this]() QUIRE_REQUIRES(mu_) {
        return !error_.ok() || unsynced_.size() < kMaxUnsyncedGroups;
      });
      TakeGroup(&group);
    }
    WriteGroup(&group, /*leader=*/false);
  }
  MutexLock lock(mu_);
  writer_done_ = true;
  sync_cv_.NotifyOne();
}

void Journal::WriteGroup(std::vector<JournalWrite>* group, bool leader) {
  last_group_records_ = group->size();
  std::vector<JournalCallback> callbacks;
  callbacks.reserve(group->size());
  JournalGroupBuilder builder(&buffer_);
  builder.Begin();
  for (size_t i = 0; i < group->size(); ++i) {
    JournalWrite& w = (*group)[i];
    if (i + 1 < group->size()) PrefetchForRead((*group)[i + 1].payload());
    builder.Append(std::string_view(w.header, w.header_size), w.payload());
    if (w.done) callbacks.push_back(std::move(w.done));
  }
  Status s = health();
  group_bytes_average_ = (group_bytes_average_ * 7 + builder.size()) / 8;
  if (s.ok()) s = EnsureSpace(AlignUp(builder.size() + kMinPaddingRecord, kJournalAlignment));
  if (s.ok()) {
    uint64_t durable_before;
    bool inline_sync;
    {
      MutexLock lock(mu_);
      durable_before = synced_.file_id == file_id_ ? synced_.offset : kJournalHeaderSize;
      // Nothing else to write and nothing waiting for a sync: write and sync this group in one
      // call, the shortest path for a lone writer. Otherwise hand the sync to the sync thread
      // and go on writing: the pipeline that keeps the disk busy under load. A leader took the
      // role with nothing unsynced, and syncs what it wrote.
      inline_sync = leader || (queue_.empty() && unsynced_.empty() && !syncing_);
      if (inline_sync) syncing_ = true;
    }
    uint32_t length = builder.Finish(salt_, group_seq_, durable_before);
    uint64_t start = MonotonicNanos();
    s = inline_sync ? file_->WriteAndSync(offset_, buffer_.view())
                    : file_->Write(offset_, buffer_.view());
    uint64_t latency = MonotonicNanos() - start;
    if (s.ok()) {
      offset_ += length;
      zeroed_ = std::max(zeroed_, offset_);
      ++group_seq_;
      writes_.fetch_add(1, std::memory_order_relaxed);
      bytes_.fetch_add(length, std::memory_order_relaxed);
    }
    bool zero_due = ZeroAheadDue();
    if (s.ok() && inline_sync) {
      RecordSync(latency, group->size());
      {
        MutexLock lock(mu_);
        syncing_ = false;
        synced_ = {file_id_, offset_};
        zero_due_ = zero_due;
        ReleaseRole();
      }
      if (leader) {
        for (const JournalCallback& cb : callbacks) cb(Status::Ok());
      } else {
        Dispatch(std::move(callbacks), Status::Ok());
      }
      return;
    }
    if (inline_sync) {
      MutexLock lock(mu_);
      syncing_ = false;
    }
    if (s.ok()) {
      MutexLock lock(mu_);
      if (error_.ok()) {
        unsynced_.push_back({file_.get(), file_id_, offset_, std::move(callbacks), group->size()});
        sync_cv_.NotifyOne();
        zero_due_ = zero_due;
        ReleaseRole();
        return;
      }
      s = error_;
    }
  }
  if (health().ok()) {
    spdlog::error("journal {}: {}; the journal is stopped, adds fail from now on",
                  options_.index, s.ToString());
  }
  // Failed before the role is given back: no later group may be written, and acknowledged, past
  // one that failed.
  Fail(s.WithContext(fmt::format("journal {}", options_.directory)), std::move(callbacks));
  MutexLock lock(mu_);
  ReleaseRole();
}

void Journal::SyncLoop() {
  SetThreadName(fmt::format("q-jsync-{}", options_.index));
  while (true) {
    std::deque<Unsynced> batch;
    {
      MutexLock lock(mu_);
      sync_cv_.Wait(mu_,
                    [this]() QUIRE_REQUIRES(mu_) { return writer_done_ || !unsynced_.empty(); });
      if (unsynced_.empty()) return;  // the journal thread is done and everything is synced
      batch.swap(unsynced_);
      syncing_ = error_.ok();
    }
    std::vector<JournalCallback> callbacks;
    size_t records = 0;
    for (Unsynced& u : batch) {
      records += u.records;
      for (JournalCallback& cb : u.callbacks) callbacks.push_back(std::move(cb));
    }
    Status s = health();
    if (s.ok()) {
      uint64_t start = MonotonicNanos();
      s = batch.back().file->Sync();  // one fdatasync covers every group written before it
      if (s.ok()) RecordSync(MonotonicNanos() - start, records);
    }
    if (s.ok()) {
      {
        MutexLock lock(mu_);
        syncing_ = false;
        synced_ = {batch.back().file_id, batch.back().end};
      }
      cv_.NotifyAll();
      Dispatch(std::move(callbacks), Status::Ok());
      continue;
    }
    {
      MutexLock lock(mu_);
      syncing_ = false;
    }
    if (health().ok()) {
      spdlog::error("journal {}: {}; the journal is stopped, adds fail from now on",
                    options_.index, s.ToString());
    }
    // Never retried: after a failed fdatasync the kernel may have dropped the dirty pages.
    Fail(s.WithContext(fmt::format("journal {}", options_.directory)), std::move(callbacks));
  }
}

}  // namespace quire::storage
