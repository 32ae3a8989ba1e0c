#include "storage/storage_engine.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <random>
#include <unordered_map>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/logging.h"
#include "common/test_faults.h"
#include "storage/cookie.h"
#include "storage/flush_pace.h"

namespace quire::storage {

// How often idle ledgers' states are forgotten: a ledger idle for one to two intervals is.
constexpr uint64_t kLedgerSweepIntervalMs = 30'000;

// What the engine knows about the ledgers in use, in memory, sharded by ledger id. A shard's
// mutex is "the ledger's lock": adds, fences and LAC writes hold it from the key/fence check until
// their journal record is queued. A state that is in the index (not dirty) may be forgotten and
// loaded again; Sweep() forgets those idle for two sweeps, so memory follows the ledgers in use,
// not every ledger the bookie ever held.
class StorageEngine::LedgerTable {
 public:
  struct State {
    LedgerInfo info;
    bool dirty = false;     // changed since the last flush persisted it
    uint64_t used = 0;      // the sweep epoch of the last access
  };
  struct Shard {
    Mutex mu;
    std::unordered_map<uint64_t, State> map QUIRE_GUARDED_BY(mu);
    std::vector<uint64_t> dirty QUIRE_GUARDED_BY(mu);
  };

  // Holds the locks of several shards, taken in the order given. The analysis does not follow
  // a set of locks: the holder asserts each shard's lock where it uses the shard.
  class ShardLocks {
   public:
    explicit ShardLocks(std::vector<Shard*> shards) : shards_(std::move(shards)) {
      for (Shard* shard : shards_) shard->mu.Lock();
    }
    ~ShardLocks() {
      for (Shard* shard : shards_) shard->mu.Unlock();
    }
    ShardLocks(const ShardLocks&) = delete;
    ShardLocks& operator=(const ShardLocks&) = delete;

   private:
    std::vector<Shard*> shards_;
  };

  Shard& ShardFor(uint64_t ledger) { return shards_[ledger % kShards]; }

  // The ledger's state; nullptr if the bookie has never seen the ledger. A state not in memory is
  // loaded from the index, unless `may_load` is false: then *must_load is set and nullptr
  // returned.
  Result<State*> Find(Shard& shard, uint64_t ledger, LedgerDirectory* dir, bool may_load = true,
                      bool* must_load = nullptr) QUIRE_REQUIRES(shard.mu) {
    uint64_t epoch = epoch_.load(std::memory_order_relaxed);
    auto it = shard.map.find(ledger);
    if (it != shard.map.end()) {
      it->second.used = epoch;
      return &it->second;
    }
    if (!may_load) {
      *must_load = true;
      return static_cast<State*>(nullptr);
    }
    QUIRE_ASSIGN_OR_RETURN(auto info, dir->LoadLedgerInfo(ledger));
    if (!info) return static_cast<State*>(nullptr);
    return &shard.map.emplace(ledger, State{std::move(*info), false, epoch}).first->second;
  }

  // The ledger is not in the table.
  State* Create(Shard& shard, uint64_t ledger, std::string_view master_key)
      QUIRE_REQUIRES(shard.mu) {
    State* s = &shard.map.emplace(ledger, State{}).first->second;
    s->info.master_key = master_key;
    s->used = epoch_.load(std::memory_order_relaxed);
    MarkDirty(shard, ledger, s);
    return s;
  }

  void MarkDirty(Shard& shard, uint64_t ledger, State* s) QUIRE_REQUIRES(shard.mu) {
    if (!s->dirty) {
      s->dirty = true;
      shard.dirty.push_back(ledger);
    }
  }

  // The infos changed since the last call, grouped by `ndirs` directories (ledger mod ndirs).
  std::vector<std::vector<std::pair<uint64_t, LedgerInfo>>> TakeDirty(size_t ndirs) {
    std::vector<std::vector<std::pair<uint64_t, LedgerInfo>>> out(ndirs);
    for (Shard& shard : shards_) {
      MutexLock lock(shard.mu);
      for (uint64_t ledger : shard.dirty) {
        State& s = shard.map.at(ledger);
        s.dirty = false;
        out[ledger % ndirs].emplace_back(ledger, s.info);
      }
      shard.dirty.clear();
    }
    return out;
  }

  // After a flush of these infos failed: they are dirty again, so the next flush writes them.
  // (Nothing forgot them meanwhile: Sweep and Forget run under the same index-writer lock as the
  // flush.)
  void Requeue(const std::vector<std::pair<uint64_t, LedgerInfo>>& infos) {
    for (const auto& [ledger, info] : infos) {
      Shard& shard = ShardFor(ledger);
      MutexLock lock(shard.mu);
      auto it = shard.map.find(ledger);
      if (it != shard.map.end()) MarkDirty(shard, ledger, &it->second);
    }
  }

  // Garbage collection: forgets a deleted ledger, dirty or not. Caller also holds the
  // index-writer lock (no TakeDirty runs).
  void Forget(Shard& shard, uint64_t ledger) QUIRE_REQUIRES(shard.mu) {
    shard.map.erase(ledger);
    std::erase(shard.dirty, ledger);
  }

  // Forgets the states in the index that were not used since the previous sweep; returns how many.
  size_t Sweep() {
    uint64_t epoch = epoch_.fetch_add(1, std::memory_order_relaxed);
    size_t forgotten = 0;
    for (Shard& shard : shards_) {
      MutexLock lock(shard.mu);
      forgotten += std::erase_if(shard.map, [&](const auto& kv) {
        return !kv.second.dirty && kv.second.used < epoch;  // not used since the last sweep
      });
    }
    return forgotten;
  }

  size_t size() {
    size_t n = 0;
    for (Shard& shard : shards_) {
      MutexLock lock(shard.mu);
      n += shard.map.size();
    }
    return n;
  }

 private:
  static constexpr size_t kShards = 64;
  Shard shards_[kShards];
  std::atomic<uint64_t> epoch_{1};
};

StorageEngine::StorageEngine(const StorageOptions& options)
    : options_(options), ledgers_(std::make_unique<LedgerTable>()) {}

Result<std::unique_ptr<StorageEngine>> StorageEngine::Open(const StorageOptions& options) {
  std::unique_ptr<StorageEngine> engine(new StorageEngine(options));
  QUIRE_RETURN_IF_ERROR(engine->Start());
  return engine;
}

Status StorageEngine::Start() {
  fs_ = options_.fs;
  if (fs_ == nullptr) {
    owned_fs_ = NewPosixFileSystem();
    fs_ = owned_fs_.get();
  }
  Cookie cookie{options_.bookie_id, options_.instance_id, options_.journal_dirs,
                options_.ledger_dirs};
  QUIRE_ASSIGN_OR_RETURN(locks_, PrepareDirectories(fs_, cookie));
  callbacks_ = std::make_unique<Executor>("q-callback", options_.callback_threads);

  size_t ndirs = options_.ledger_dirs.size();
  for (const std::string& d : options_.ledger_dirs) {
    LedgerDirectoryOptions o;
    o.directory = d;
    o.fs = fs_;
    o.write_cache_bytes = options_.write_cache_bytes / ndirs;
    o.flush_threshold_bytes = options_.flush_threshold_bytes;
    o.read_cache_bytes = options_.read_ahead_cache_bytes / ndirs;
    o.read_ahead_bytes = options_.read_ahead_bytes;
    o.entry_log_size_limit = options_.entry_log_size_limit;
    o.entry_log_direct_io = options_.entry_log_direct_io;
    o.reserved_bytes = options_.ledger_dir_reserved_bytes;
    QUIRE_ASSIGN_OR_RETURN(auto dir, LedgerDirectory::Open(o));
    directories_.push_back(std::move(dir));
  }

  // Replay every journal before any of them takes new records: replayed entries land in the
  // write caches, and the first checkpoint after start-up covers them.
  std::vector<uint64_t> next_ids;
  std::vector<JournalPosition> marks;
  for (const std::string& d : options_.journal_dirs) {
    auto summary = ReplayJournal(fs_, d, options_.journal_skip_corruption,
                                 [this](const JournalRecord& r, uint64_t) { return ApplyReplayed(r); });
    if (!summary.ok()) return summary.status().WithContext("replaying journal " + d);
    recovery_.journal_files += summary->files;
    recovery_.records += summary->records;
    recovery_.torn_bytes += summary->torn_bytes;
    next_ids.push_back(summary->next_file_id);
    marks.push_back(summary->mark);
  }
  {
    // Replay's flushes may have run, but the flush thread does not yet: the lock is uncontended.
    MutexLock lock(flush_mu_);
    checkpointed_ = marks;
  }
  for (size_t i = 0; i < options_.journal_dirs.size(); ++i) {
    JournalOptions o;
    o.directory = options_.journal_dirs[i];
    o.fs = fs_;
    o.callback_executor = callbacks_.get();
    o.prealloc_bytes = options_.journal_prealloc_bytes;
    o.max_file_bytes = options_.journal_max_file_bytes;
    o.reusable_files = options_.journal_reusable_files;
    o.zero_ahead_bytes = options_.journal_zero_ahead_bytes;
    o.write_inline = options_.journal_write_inline;
    o.max_group_wait_us = options_.journal_max_group_wait_us;
    o.group_bytes_threshold = options_.journal_group_bytes_threshold;
    o.direct_io = options_.journal_direct_io;
    o.index = static_cast<int>(i);
    QUIRE_ASSIGN_OR_RETURN(auto journal, Journal::Open(o, next_ids[i], marks[i]));
    journals_.push_back(std::move(journal));
  }
  writable_ = true;
  flush_thread_ = std::thread([this] { FlushLoop(); });
  spdlog::info(
      "storage engine started ({} journal(s), {} ledger director{}, I/O: {}); recovery replayed "
      "{} record(s) from {} journal file(s){}",
      journals_.size(), directories_.size(), directories_.size() == 1 ? "y" : "ies",
      fs_->Describe(), recovery_.records, recovery_.journal_files,
      recovery_.torn_bytes ? fmt::format(", dropped a torn tail of {} bytes", recovery_.torn_bytes)
                           : "");
  return Status::Ok();
}

StorageEngine::~StorageEngine() {
  writable_ = false;
  {
    MutexLock lock(flush_wait_mu_);
    stopping_ = true;
  }
  flush_hurry_.fetch_add(1, std::memory_order_relaxed);  // for good: a paced flush ends at once
  flush_cv_.NotifyAll();
  if (flush_thread_.joinable()) flush_thread_.join();
  for (auto& j : journals_) j->Close();
  if (health().ok() && !journals_.empty()) {
    Status s = FlushOnce(true);
    if (!s.ok()) spdlog::error("storage engine: final flush failed: {}", s.ToString());
  }
  callbacks_.reset();  // runs the callbacks still queued
  journals_.clear();
  directories_.clear();
  locks_.clear();
}

LedgerDirectory* StorageEngine::DirectoryFor(uint64_t ledger) const {
  return directories_[ledger % directories_.size()].get();
}

Journal* StorageEngine::JournalFor(uint64_t ledger) const {
  return journals_[ledger % journals_.size()].get();
}

void StorageEngine::Reply(Callback done, Status status) {
  callbacks_->Submit([done = std::move(done), status = std::move(status)] { done(status); });
}

Status StorageEngine::health() const {
  MutexLock lock(error_mu_);
  return error_;
}

Status StorageEngine::disk_full() const {
  MutexLock lock(error_mu_);
  return disk_full_;
}

void StorageEngine::SetDiskFull(const Status& status) {
  flush_failures_.fetch_add(1, std::memory_order_relaxed);
  {
    MutexLock lock(error_mu_);
    bool first = disk_full_.ok();
    disk_full_ = status;
    if (!first) return;  // reported once, when it starts
  }
  spdlog::warn(
      "storage: flushing to the entry logs is held back by a full disk: {}. The entries stay in "
      "the journal and the write cache; the flush is retried every {} ms and garbage collection "
      "frees space",
      status.ToString(), options_.flush_interval_ms);
}

namespace {
bool IsDiskFull(const Status& s) {
  return s.Is(StatusCode::kIOError) && (s.sys_errno() == ENOSPC || s.sys_errno() == EDQUOT);
}
}  // namespace

void StorageEngine::SetError(const Status& status) {
  {
    MutexLock lock(error_mu_);
    if (!error_.ok()) return;
    error_ = status;
  }
  writable_ = false;
  spdlog::error("storage engine is now read-only: {}", status.ToString());
}

namespace {
Status NotWritable(const Status& error) {
  if (!error.ok()) {
    return Status(StatusCode::kReadOnly,
                  fmt::format("bookie storage is read-only after an error: {}", error.ToString()));
  }
  return Status(StatusCode::kReadOnly, "bookie storage is shutting down");
}

Status Unauthorized(uint64_t ledger) {
  return Status(StatusCode::kUnauthorized,
                fmt::format("ledger {}: the master key does not match the ledger's", ledger));
}
}  // namespace

bool StorageEngine::TryAddEntry(uint64_t ledger, uint64_t entry, std::string_view master_key,
                                const Payload& payload, bool recovery, Callback& done) {
  return TryAdd(ledger, entry, master_key, payload, recovery, done, /*may_load=*/false);
}

bool StorageEngine::TryAdd(uint64_t ledger, uint64_t entry, std::string_view master_key,
                           const Payload& payload, bool recovery, Callback& done, bool may_load) {
  if (!writable_.load(std::memory_order_relaxed)) {
    Reply(std::move(done), NotWritable(health()));
    return true;
  }
  LedgerDirectory* dir = DirectoryFor(ledger);
  size_t size = payload.size();
  bool flush_due = false;
  {
    LedgerTable::Shard& shard = ledgers_->ShardFor(ledger);
    MutexLock lock(shard.mu);
    bool must_load = false;
    auto found = ledgers_->Find(shard, ledger, dir, may_load, &must_load);
    if (!found.ok()) {
      Reply(std::move(done), found.status());
      return true;
    }
    if (must_load) return false;  // an index read: not on this thread
    LedgerTable::State* state = *found;
    if (state != nullptr && state->info.master_key != master_key) {
      Reply(std::move(done), Unauthorized(ledger));
      return true;
    }
    if (state != nullptr && state->info.fenced && !recovery) {
      Reply(std::move(done), Status(StatusCode::kFenced, fmt::format("ledger {} is fenced", ledger)));
      return true;
    }
    if (!dir->TryPut(ledger, entry, payload, &flush_due)) {
      RequestFlush();
      return false;
    }
    Journal* journal = JournalFor(ledger);
    if (state == nullptr) {
      // Queued before the add under the same lock: replay meets the key first.
      ledgers_->Create(shard, ledger, master_key);
      journal->Append(JournalWrite(JournalRecordType::kMasterKey, ledger, 0,
                                   std::string(master_key), nullptr));
    }
    journal->Append(JournalWrite(JournalRecordType::kAdd, ledger, entry, payload,
                                 [this, size, done = std::move(done)](Status s) {
                                   if (s.ok()) {
                                     adds_.fetch_add(1, std::memory_order_relaxed);
                                     add_bytes_.fetch_add(size, std::memory_order_relaxed);
                                   } else {
                                     add_errors_.fetch_add(1, std::memory_order_relaxed);
                                     if (!s.Is(StatusCode::kAborted)) SetError(s);
                                   }
                                   done(s);
                                 }));
  }
  if (flush_due) RequestFlush();
  return true;
}

void StorageEngine::AddEntry(uint64_t ledger, uint64_t entry, std::string_view master_key,
                             Payload payload, bool recovery, Callback done) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(options_.write_cache_max_wait_ms);
  size_t size = payload.size();
  while (!TryAdd(ledger, entry, master_key, payload, recovery, done, /*may_load=*/true)) {
    write_cache_waits_.fetch_add(1, std::memory_order_relaxed);
    if (TestFaultEnabled(TestFault::kStallFlush)) RequestFlush();  // the stall is over
    flush_hurry_.fetch_add(1, std::memory_order_relaxed);
    Status room = DirectoryFor(ledger)->WaitForRoom(size, deadline);
    flush_hurry_.fetch_sub(1, std::memory_order_relaxed);
    if (!room.ok()) return Reply(std::move(done), room);
  }
}

void StorageEngine::Fence(uint64_t ledger, std::string_view master_key, Callback done) {
  JournalLedgerState(ledger, master_key, JournalRecordType::kFence, {}, std::move(done));
}

void StorageEngine::SetExplicitLac(uint64_t ledger, std::string_view master_key, std::string lac,
                                   Callback done) {
  JournalLedgerState(ledger, master_key, JournalRecordType::kExplicitLac, std::move(lac),
                     std::move(done));
}

void StorageEngine::JournalLedgerState(uint64_t ledger, std::string_view master_key,
                                       JournalRecordType type, std::string data, Callback done) {
  if (!writable_.load(std::memory_order_relaxed)) return Reply(std::move(done), NotWritable(health()));
  LedgerTable::Shard& shard = ledgers_->ShardFor(ledger);
  MutexLock lock(shard.mu);
  auto found = ledgers_->Find(shard, ledger, DirectoryFor(ledger));
  if (!found.ok()) return Reply(std::move(done), found.status());
  LedgerTable::State* state = *found;
  std::vector<JournalWrite> writes;
  if (state == nullptr) {
    // A fence (or LAC) may reach a bookie before any add of the ledger: it creates the ledger.
    state = ledgers_->Create(shard, ledger, master_key);
    writes.emplace_back(JournalRecordType::kMasterKey, ledger, 0, std::string(master_key), nullptr);
  } else if (state->info.master_key != master_key) {
    return Reply(std::move(done), Unauthorized(ledger));
  } else if (type == JournalRecordType::kExplicitLac && state->info.fenced) {
    return Reply(std::move(done),
                 Status(StatusCode::kFenced, fmt::format("ledger {} is fenced", ledger)));
  }
  // Changed before the record is even queued: from here on, normal adds see the fence.
  if (type == JournalRecordType::kFence) {
    state->info.fenced = true;
  } else {
    state->info.explicit_lac = data;
  }
  ledgers_->MarkDirty(shard, ledger, state);
  writes.emplace_back(type, ledger, 0, std::move(data), [this, done = std::move(done)](Status s) {
    if (!s.ok() && !s.Is(StatusCode::kAborted)) SetError(s);
    done(s);
  });
  JournalFor(ledger)->Append(std::move(writes));
}

void StorageEngine::ForceLedger(uint64_t ledger, Callback done) {
  if (!writable_.load(std::memory_order_relaxed)) return Reply(std::move(done), NotWritable(health()));
  // An empty padding record: written and synced in order with the ledger's other records.
  JournalFor(ledger)->Append(JournalWrite(JournalRecordType::kPadding, ledger, 0, std::string(),
                                          std::move(done)));
}

Result<std::vector<uint64_t>> StorageEngine::ListEntries(uint64_t ledger) {
  QUIRE_RETURN_IF_ERROR(GetLedgerInfo(ledger).status());
  return DirectoryFor(ledger)->ListEntries(ledger);
}

Result<LedgerInfo> StorageEngine::GetLedgerInfo(uint64_t ledger) {
  LedgerTable::Shard& shard = ledgers_->ShardFor(ledger);
  MutexLock lock(shard.mu);
  QUIRE_ASSIGN_OR_RETURN(LedgerTable::State * state,
                         ledgers_->Find(shard, ledger, DirectoryFor(ledger)));
  if (state == nullptr) {
    return Status(StatusCode::kNoSuchLedger, fmt::format("ledger {} is not stored here", ledger));
  }
  return state->info;
}

Result<std::string> StorageEngine::ReadEntry(uint64_t ledger, uint64_t entry) {
  Result<std::string> r = DirectoryFor(ledger)->Read(ledger, entry);
  if (r.ok()) {
    reads_.fetch_add(1, std::memory_order_relaxed);
    read_bytes_.fetch_add(r->size(), std::memory_order_relaxed);
    return r;
  }
  if (r.status().Is(StatusCode::kNoSuchEntry)) QUIRE_RETURN_IF_ERROR(GetLedgerInfo(ledger).status());
  return r;
}

Result<uint64_t> StorageEngine::LastEntryId(uint64_t ledger) {
  QUIRE_RETURN_IF_ERROR(GetLedgerInfo(ledger).status());
  QUIRE_ASSIGN_OR_RETURN(auto last, DirectoryFor(ledger)->LastEntry(ledger));
  if (!last) {
    return Status(StatusCode::kNoSuchEntry, fmt::format("ledger {} has no entries here", ledger));
  }
  return *last;
}

Status StorageEngine::ApplyReplayed(const JournalRecord& r) {
  LedgerDirectory* dir = DirectoryFor(r.ledger_id);
  {
    LedgerTable::Shard& shard = ledgers_->ShardFor(r.ledger_id);
    MutexLock lock(shard.mu);
    QUIRE_ASSIGN_OR_RETURN(LedgerTable::State * state, ledgers_->Find(shard, r.ledger_id, dir));
    if (state == nullptr) {
      if (r.type != JournalRecordType::kMasterKey) {
        // Its master key record should precede it; only a skipped corrupt region explains this.
        spdlog::warn("journal replay: ledger {} has no master key record; recording an empty key",
                     r.ledger_id);
      }
      state = ledgers_->Create(shard, r.ledger_id,
                               r.type == JournalRecordType::kMasterKey ? r.data : std::string_view());
    }
    switch (r.type) {
      case JournalRecordType::kMasterKey:
        if (state->info.master_key.empty() && !r.data.empty()) {
          state->info.master_key = r.data;
          ledgers_->MarkDirty(shard, r.ledger_id, state);
        }
        return Status::Ok();
      case JournalRecordType::kFence:
        state->info.fenced = true;
        ledgers_->MarkDirty(shard, r.ledger_id, state);
        return Status::Ok();
      case JournalRecordType::kExplicitLac:
        state->info.explicit_lac = r.data;
        ledgers_->MarkDirty(shard, r.ledger_id, state);
        return Status::Ok();
      case JournalRecordType::kAdd:
        break;
      default:
        return Status::Ok();
    }
  }
  bool flush_due = false;
  Payload payload = MakePayload(std::string(r.data));
  if (dir->TryPut(r.ledger_id, r.entry_id, payload, &flush_due)) return Status::Ok();
  // The journal holds more than the write cache: flush to the entry logs (the journal marks stay
  // where they are, so a crash now simply replays again).
  Status flushed = FlushOnce(false);
  if (!flushed.ok() && !IsDiskFull(flushed)) return flushed;
  if (!dir->TryPut(r.ledger_id, r.entry_id, payload, &flush_due)) {
    // A full disk: nothing can be flushed yet. The rest of the journal goes into the cache
    // anyway (it is about one write cache at most: adds stop when the cache is full), and the
    // flush thread writes it out once space is back.
    dir->ForcePut(r.ledger_id, r.entry_id, payload);
  }
  return Status::Ok();
}

void StorageEngine::RequestFlush() {
  {
    MutexLock lock(flush_wait_mu_);
    if (flush_requested_) return;
    flush_requested_ = true;
  }
  flush_cv_.NotifyOne();
}

uint64_t FlushWaitMs(uint64_t interval_ms, uint32_t random) {
  // interval * (0.75 + 0.5 * random / 2^32), in integers.
  uint64_t wait = interval_ms * 3 / 4 + ((interval_ms / 2) * random >> 32);
  return std::max<uint64_t>(wait, 1);
}

void StorageEngine::FlushLoop() {
  SetThreadName("q-flush");
  std::mt19937 random(std::random_device{}());
  MutexLock lock(flush_wait_mu_);
  while (!stopping_) {
    flush_cv_.WaitFor(flush_wait_mu_,
                      std::chrono::milliseconds(FlushWaitMs(options_.flush_interval_ms, random())),
                      [this]() QUIRE_REQUIRES(flush_wait_mu_) {
                        return stopping_ || flush_requested_;
                      });
    if (stopping_) break;
    flush_requested_ = false;
    if (TestFaultEnabled(TestFault::kStallFlush) &&
        write_cache_waits_.load(std::memory_order_relaxed) == 0) {
      continue;  // a test-only stalled disk
    }
    lock.Unlock();
    Status s = FlushOnce(true, options_.flush_pacing);
    lock.Lock();
    // A full disk is retried on the next round; any other failure made the engine read-only for
    // good, and reads are served from the caches.
    if (!s.ok() && !IsDiskFull(s)) break;
  }
}

Status StorageEngine::Flush() {
  flush_hurry_.fetch_add(1, std::memory_order_relaxed);  // a paced flush running ends at once
  Status s = FlushOnce(true);
  flush_hurry_.fetch_sub(1, std::memory_order_relaxed);
  return s;
}

Status StorageEngine::FlushDirectory(size_t i, std::vector<std::pair<uint64_t, LedgerInfo>> infos,
                                     const FlushPacing& pacing) {
  Status s = directories_[i]->FlushSwapped(infos, pacing);
  if (!s.ok()) {
    ledgers_->Requeue(infos);
    return s;
  }
  directories_[i]->FinishFlush();
  return Status::Ok();
}

Status StorageEngine::FlushOnce(bool checkpoint, bool paced) {
  MutexLock lock(flush_mu_);
  if (!health().ok()) return health();
  uint64_t start = MonotonicNanos();
  // The caches swapped below filled since the last swap: a paced flush takes half that long.
  const uint64_t fill_ns = paced && last_flush_start_ns_ > 0 ? start - last_flush_start_ns_ : 0;
  uint64_t paced_ns = 0;  // of it, waiting for the pace: not counted in the flush's latency
  FlushPacing pacing{.duration_ns = PacedFlushNs(fill_ns, directories_.size()),
                     .hurry = &flush_hurry_,
                     .waited_ns = &paced_ns};
  last_flush_start_ns_ = start;
  // Order matters: marks first, then the swap. Every record before a mark had its entry put in a
  // write cache before it was queued, so the swapped caches (or earlier flushes) hold it.
  std::vector<JournalPosition> marks;
  if (checkpoint) {
    for (auto& j : journals_) marks.push_back(j->SyncedPosition());
  }
  for (auto& j : journals_) j->SetFlushActive(true);
  // A cache whose last flush failed (a full disk) is flushed first, so that the swap below takes
  // every entry journaled before the marks.
  Status s;
  for (size_t i = 0; i < directories_.size() && s.ok(); ++i) {
    if (directories_[i]->HasPendingFlush()) s = FlushDirectory(i, {});
  }
  size_t entries = 0;
  if (s.ok()) {
    for (auto& dir : directories_) entries += dir->SwapCaches();
    auto infos = ledgers_->TakeDirty(directories_.size());
    for (size_t i = 0; i < directories_.size(); ++i) {
      // After a failure the other directories are still flushed (their caches must not wait for
      // the full one), but nothing is checkpointed.
      Status d = FlushDirectory(i, std::move(infos[i]), pacing);
      if (s.ok()) s = d;
    }
  }
  for (auto& j : journals_) j->SetFlushActive(false);
  if (!s.ok()) {
    if (IsDiskFull(s)) {
      SetDiskFull(s.WithContext("flushing ledger storage"));
      return disk_full();
    }
    SetError(s.WithContext("flushing ledger storage"));
    return health();
  }
  {
    MutexLock error_lock(error_mu_);
    if (!disk_full_.ok()) {
      spdlog::info("storage: flushes succeed again; the entries held back by the full disk are in "
                   "the entry logs");
      disk_full_ = Status::Ok();
    }
  }
  if (checkpoint) {
    for (size_t i = 0; i < journals_.size(); ++i) {
      if (marks[i] == checkpointed_[i]) continue;
      Status c = journals_[i]->Checkpoint(marks[i]);
      if (!c.ok()) {
        SetError(c.WithContext("checkpointing journal " + journals_[i]->directory()));
        return health();
      }
      checkpointed_[i] = marks[i];
    }
  }
  if (entries > 0) {
    flushes_.fetch_add(1, std::memory_order_relaxed);
    flushed_entries_.fetch_add(entries, std::memory_order_relaxed);
    flush_latency_.Record(MonotonicNanos() - start - paced_ns);
    flush_paced_ns_.fetch_add(paced_ns, std::memory_order_relaxed);
  }
  // Idle ledgers' states are in the index now; forget them (under the index-writer lock, so no
  // flush is between TakeDirty and its index write).
  uint64_t now = MonotonicNanos() / 1'000'000;
  if (now - last_sweep_ms_ >= kLedgerSweepIntervalMs) {
    last_sweep_ms_ = now;
    ledgers_->Sweep();
  }
  return Status::Ok();
}

Result<std::vector<uint64_t>> StorageEngine::HeldLedgers() {
  std::vector<uint64_t> held;
  for (auto& dir : directories_) {
    QUIRE_RETURN_IF_ERROR(dir->index()->ForEachLedger([&](uint64_t ledger, const LedgerInfo&) {
      held.push_back(ledger);
      return true;
    }));
  }
  std::sort(held.begin(), held.end());
  return held;
}

Result<std::vector<uint64_t>> StorageEngine::DeleteLedgers(const std::vector<uint64_t>& ledgers) {
  std::vector<uint64_t> deleted;
  // A bounded number per round: the shard locks (the ledgers' locks) are held across one synced
  // index write per directory.
  constexpr size_t kPerRound = 1024;
  MutexLock writer(flush_mu_);
  for (size_t begin = 0; begin < ledgers.size(); begin += kPerRound) {
    size_t end = std::min(ledgers.size(), begin + kPerRound);
    std::vector<uint64_t> round(ledgers.begin() + static_cast<std::ptrdiff_t>(begin),
                                ledgers.begin() + static_cast<std::ptrdiff_t>(end));
    // Lock the shards involved in index order (adds take one shard at a time, so no cycle).
    std::vector<LedgerTable::Shard*> shards;
    for (uint64_t ledger : round) shards.push_back(&ledgers_->ShardFor(ledger));
    std::sort(shards.begin(), shards.end());
    shards.erase(std::unique(shards.begin(), shards.end()), shards.end());
    LedgerTable::ShardLocks locks(std::move(shards));

    std::vector<std::vector<uint64_t>> by_dir(directories_.size());
    for (uint64_t ledger : round) by_dir[ledger % directories_.size()].push_back(ledger);
    for (size_t d = 0; d < directories_.size(); ++d) {
      QUIRE_ASSIGN_OR_RETURN(size_t dropped, directories_[d]->DeleteLedgers(by_dir[d]));
      if (dropped > 0) {
        // A writer still at work on a deleted ledger, or a full disk that held its flush back.
        spdlog::info("garbage collection: dropped {} unflushed entries of deleted ledgers",
                     dropped);
      }
      for (uint64_t ledger : by_dir[d]) {
        LedgerTable::Shard& shard = ledgers_->ShardFor(ledger);
        shard.mu.AssertHeld();  // one of `locks`
        ledgers_->Forget(shard, ledger);
        deleted.push_back(ledger);
      }
    }
  }
  return deleted;
}

Result<std::vector<LedgerDirectoryInventory>> StorageEngine::Inventory() const {
  std::vector<LedgerDirectoryInventory> out;
  for (const auto& d : directories_) {
    QUIRE_ASSIGN_OR_RETURN(LedgerDirectoryInventory inv, d->Inventory());
    out.push_back(inv);
  }
  return out;
}

StorageStats StorageEngine::stats() const {
  StorageStats s;
  for (const auto& j : journals_) s.journals.push_back(j->stats());
  for (const auto& d : directories_) s.directories.push_back(d->stats());
  s.adds = adds_.load(std::memory_order_relaxed);
  s.add_bytes = add_bytes_.load(std::memory_order_relaxed);
  s.add_errors = add_errors_.load(std::memory_order_relaxed);
  s.reads = reads_.load(std::memory_order_relaxed);
  s.read_bytes = read_bytes_.load(std::memory_order_relaxed);
  s.flushes = flushes_.load(std::memory_order_relaxed);
  s.flushed_entries = flushed_entries_.load(std::memory_order_relaxed);
  s.flush_latency_ns = flush_latency_.Take();
  s.flush_paced_ns = flush_paced_ns_.load(std::memory_order_relaxed);
  s.write_cache_waits = write_cache_waits_.load(std::memory_order_relaxed);
  s.callback_queue = callbacks_ ? callbacks_->QueueDepth() : 0;
  s.cached_ledgers = ledgers_->size();
  s.flush_failures = flush_failures_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace quire::storage
