#include "util/fault_injection_fs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <iterator>

namespace quire::testing {
namespace {

constexpr std::string_view kBackupMarker = ".fault-injection-backup-";
constexpr uint64_t kSector = FaultInjectionFileSystem::kSectorSize;

struct Range {
  uint64_t lo, hi;  // [lo, hi)
};

// A set of byte offsets, kept as disjoint, merged ranges.
class RangeSet {
 public:
  void Add(Range r) {
    if (r.lo >= r.hi) return;
    auto it = ranges_.upper_bound(r.lo);
    if (it != ranges_.begin() && std::prev(it)->second >= r.lo) {
      --it;
      r.lo = it->first;
    }
    while (it != ranges_.end() && it->first <= r.hi) {
      r.hi = std::max(r.hi, it->second);
      it = ranges_.erase(it);
    }
    ranges_[r.lo] = r.hi;
  }
  void AddAll(const RangeSet& other) {
    for (auto [lo, hi] : other.ranges_) Add({lo, hi});
  }
  // The parts of `r` not in the set, in order.
  std::vector<Range> Missing(Range r) const {
    std::vector<Range> out;
    auto it = ranges_.upper_bound(r.lo);
    if (it != ranges_.begin() && std::prev(it)->second > r.lo) --it;
    uint64_t pos = r.lo;
    for (; it != ranges_.end() && it->first < r.hi; ++it) {
      if (it->first > pos) out.push_back({pos, it->first});
      pos = std::max(pos, it->second);
    }
    if (pos < r.hi) out.push_back({pos, r.hi});
    return out;
  }
  uint64_t End() const { return ranges_.empty() ? 0 : ranges_.rbegin()->second; }

 private:
  std::map<uint64_t, uint64_t> ranges_;  // lo -> hi
};

Status Crashed() {
  return IOError("simulated crash: the file system is frozen or the file predates the crash");
}

bool Matches(const std::string& path, const std::string& substring) {
  return path.find(substring) != std::string::npos;
}

}  // namespace

struct FaultInjectionFileSystem::FileState {
  // One change not yet made durable: a write, truncate or allocate that touched [offset, end).
  struct Undo {
    uint64_t seq;
    uint64_t offset, end;
    uint64_t old_size;      // the file size before the change
    std::string old_bytes;  // old contents of [offset, min(end, old_size))
    bool is_write;          // false for Truncate/Allocate: always undone at a crash
    bool pinned;            // the lost part of a torn write: never becomes durable
  };

  std::string path;  // current name; guarded by FaultInjectionFileSystem::mu_
  std::mutex mu;
  uint64_t synced_size = 0;  // guarded by mu, as are the fields below
  uint64_t synced_seq = 0;   // changes before this sequence number are durable
  uint64_t next_seq = 0;
  std::vector<Undo> undo;  // oldest first
};

class FaultInjectionFile final : public File {
 public:
  using State = FaultInjectionFileSystem::FileState;
  using Undo = State::Undo;

  FaultInjectionFile(FaultInjectionFileSystem* fs, std::unique_ptr<File> base,
                     std::shared_ptr<State> state, uint64_t epoch, bool direct, std::string path)
      : fs_(fs),
        base_(std::move(base)),
        state_(std::move(state)),
        epoch_(epoch),
        direct_(direct),
        path_(std::move(path)) {}

  Status Write(uint64_t offset, std::string_view data) override {
    std::shared_lock<std::shared_mutex> lock;
    QUIRE_RETURN_IF_ERROR(fs_->Enter(lock, epoch_));
    return WriteLocked(offset, data);
  }

  Result<size_t> Read(uint64_t offset, char* buf, size_t n) override {
    std::shared_lock<std::shared_mutex> lock;
    QUIRE_RETURN_IF_ERROR(fs_->Enter(lock, epoch_));
    QUIRE_RETURN_IF_ERROR(CheckAlignment("read", offset, n, buf));
    return base_->Read(offset, buf, n);
  }

  Status Sync() override {
    fs_->RunSyncHook(path_);
    std::shared_lock<std::shared_mutex> lock;
    QUIRE_RETURN_IF_ERROR(fs_->Enter(lock, epoch_));
    return SyncLocked();
  }

  Status WriteAndSync(uint64_t offset, std::string_view data) override {
    fs_->RunSyncHook(path_);
    std::shared_lock<std::shared_mutex> lock;
    QUIRE_RETURN_IF_ERROR(fs_->Enter(lock, epoch_));
    QUIRE_RETURN_IF_ERROR(WriteLocked(offset, data));
    return SyncLocked();
  }

  Status Allocate(uint64_t offset, uint64_t len) override {
    std::shared_lock<std::shared_mutex> lock;
    QUIRE_RETURN_IF_ERROR(fs_->Enter(lock, epoch_));
    QUIRE_RETURN_IF_ERROR(fs_->CountMutation(path_));
    std::lock_guard<std::mutex> l(state_->mu);
    QUIRE_ASSIGN_OR_RETURN(uint64_t size, base_->Size());
    if (offset + len > size) {
      QUIRE_RETURN_IF_ERROR(Record(size, offset + len, /*is_write=*/false, /*pinned=*/false));
    }
    return base_->Allocate(offset, len);
  }

  Status Truncate(uint64_t size) override {
    std::shared_lock<std::shared_mutex> lock;
    QUIRE_RETURN_IF_ERROR(fs_->Enter(lock, epoch_));
    return TruncateLocked(size);
  }

  Result<uint64_t> Size() override {
    std::shared_lock<std::shared_mutex> lock;
    QUIRE_RETURN_IF_ERROR(fs_->Enter(lock, epoch_));
    return base_->Size();
  }

  Status StartWriteback(uint64_t offset, uint64_t len) override {
    std::shared_lock<std::shared_mutex> lock;
    QUIRE_RETURN_IF_ERROR(fs_->Enter(lock, epoch_));
    return base_->StartWriteback(offset, len);
  }

  bool direct() const override { return direct_; }
  const std::string& path() const override { return path_; }

  // The caller holds the file system's shared lock.
  Status TruncateLocked(uint64_t new_size) {
    QUIRE_RETURN_IF_ERROR(fs_->CountMutation(path_));
    std::lock_guard<std::mutex> l(state_->mu);
    QUIRE_ASSIGN_OR_RETURN(uint64_t size, base_->Size());
    if (new_size != size) {
      QUIRE_RETURN_IF_ERROR(Record(std::min(size, new_size), std::max(size, new_size),
                                   /*is_write=*/false, /*pinned=*/false));
    }
    return base_->Truncate(new_size);
  }

 private:
  using Op = FaultInjectionFileSystem::Op;

  Status WriteLocked(uint64_t offset, std::string_view data) {
    QUIRE_RETURN_IF_ERROR(CheckAlignment("write", offset, data.size(), data.data()));
    QUIRE_RETURN_IF_ERROR(fs_->CountMutation(path_));
    fs_->Count(path_, 1, 0, data.size());
    size_t durable = data.size();  // the prefix that can become durable
    FaultRule rule;
    if (fs_->NextFault(Op::kWrite, path_, &rule)) {
      std::string what = fmt::format("write {} bytes at offset {} of {} (injected fault)",
                                     data.size(), offset, path_);
      switch (rule.kind) {
        case FaultKind::kFailWrite:
          return ErrnoStatus(what, rule.error);
        case FaultKind::kShortWrite: {
          size_t keep = static_cast<size_t>(std::min<uint64_t>(rule.keep_bytes, data.size()));
          QUIRE_RETURN_IF_ERROR(Apply(offset, data.substr(0, keep), /*pinned=*/false));
          return ErrnoStatus(fmt::format("{} after {} bytes", what, keep), rule.error);
        }
        case FaultKind::kTornWrite: {
          uint64_t end = AlignDown(offset + rule.keep_bytes, kSector);
          durable = static_cast<size_t>(std::clamp(end, offset, offset + data.size()) - offset);
          break;
        }
        case FaultKind::kFailSync:
          assert(false && "a sync rule matched a write");
          break;
      }
    }
    QUIRE_RETURN_IF_ERROR(Apply(offset, data.substr(0, durable), /*pinned=*/false));
    return Apply(offset + durable, data.substr(durable), /*pinned=*/true);
  }

  Status SyncLocked() {
    QUIRE_RETURN_IF_ERROR(fs_->CountMutation(path_));
    fs_->Count(path_, 0, 1, 0);
    FaultRule rule;
    if (fs_->NextFault(Op::kSync, path_, &rule)) {
      return ErrnoStatus(fmt::format("fdatasync {} (injected fault)", path_), rule.error);
    }
    uint64_t seq, size;
    {
      std::lock_guard<std::mutex> l(state_->mu);
      seq = state_->next_seq;
      QUIRE_ASSIGN_OR_RETURN(size, base_->Size());
    }
    QUIRE_RETURN_IF_ERROR(base_->Sync());
    std::lock_guard<std::mutex> l(state_->mu);
    if (seq >= state_->synced_seq) {
      state_->synced_seq = seq;
      state_->synced_size = size;
    }
    std::erase_if(state_->undo, [&](const Undo& u) { return u.seq < seq && !u.pinned; });
    return Status::Ok();
  }

  // Writes `data` at `offset` after logging how to undo it.
  Status Apply(uint64_t offset, std::string_view data, bool pinned) {
    if (data.empty()) return Status::Ok();
    std::lock_guard<std::mutex> l(state_->mu);
    QUIRE_RETURN_IF_ERROR(Record(offset, offset + data.size(), /*is_write=*/true, pinned));
    return base_->Write(offset, data);
  }

  // Logs the undo record of a change to [offset, end) that is about to happen; holds state_->mu.
  Status Record(uint64_t offset, uint64_t end, bool is_write, bool pinned) {
    QUIRE_ASSIGN_OR_RETURN(uint64_t size, base_->Size());
    Undo u{state_->next_seq++, offset, end, size, {}, is_write, pinned};
    if (offset < size) {
      u.old_bytes.resize(static_cast<size_t>(std::min(end, size) - offset));
      QUIRE_ASSIGN_OR_RETURN(size_t n, base_->Read(offset, u.old_bytes.data(), u.old_bytes.size()));
      if (n != u.old_bytes.size()) {
        return IOError(fmt::format("{}: short read of old contents at offset {}", path_, offset));
      }
    }
    state_->undo.push_back(std::move(u));
    return Status::Ok();
  }

  // The kernel refuses misaligned direct I/O; so do we, although the base file is buffered.
  Status CheckAlignment(std::string_view op, uint64_t offset, size_t n, const void* buf) const {
    if (!direct_) return Status::Ok();
    if (offset % kDirectIoAlignment != 0 || n % kDirectIoAlignment != 0 ||
        reinterpret_cast<uintptr_t>(buf) % kDirectIoAlignment != 0) {
      return ErrnoStatus(
          fmt::format("misaligned direct {} of {} bytes at offset {} of {}", op, n, offset, path_),
          EINVAL);
    }
    return Status::Ok();
  }

  FaultInjectionFileSystem* const fs_;
  const std::unique_ptr<File> base_;
  const std::shared_ptr<State> state_;
  const uint64_t epoch_;
  const bool direct_;
  const std::string path_;
};

FaultInjectionFileSystem::FaultInjectionFileSystem(FileSystem* base) : base_(base) {}
FaultInjectionFileSystem::~FaultInjectionFileSystem() = default;

Status FaultInjectionFileSystem::Enter(std::shared_lock<std::shared_mutex>& lock,
                                       uint64_t file_epoch) const {
  // Without waiting for a crash in progress.
  if (frozen_.load() || halted_.load()) return Crashed();
  lock = std::shared_lock<std::shared_mutex>(crash_mu_);
  if (frozen_.load() || (file_epoch != kAnyEpoch && file_epoch != epoch_)) {
    lock.unlock();
    return Crashed();
  }
  return Status::Ok();
}

IoCounts FaultInjectionFileSystem::counts() const {
  return {writes_.load(), syncs_.load(), bytes_written_.load()};
}

void FaultInjectionFileSystem::ResetCounts(std::string path_contains) {
  std::unique_lock<std::shared_mutex> lock(crash_mu_);
  count_filter_ = std::move(path_contains);
  writes_ = syncs_ = bytes_written_ = 0;
}

void FaultInjectionFileSystem::Count(const std::string& path, uint64_t writes, uint64_t syncs,
                                     uint64_t bytes) {
  if (!Matches(path, count_filter_)) return;
  writes_ += writes;
  syncs_ += syncs;
  bytes_written_ += bytes;
}

void FaultInjectionFileSystem::AddFault(FaultRule rule) {
  assert(rule.nth >= 1);
  std::lock_guard<std::mutex> l(mu_);
  rules_.push_back({std::move(rule)});
}

void FaultInjectionFileSystem::HaltAt(uint64_t nth, std::string path_contains) {
  assert(nth >= 1);
  std::lock_guard<std::mutex> l(halt_mu_);
  halt_path_ = std::move(path_contains);
  halt_seen_ = 0;
  halt_at_ = nth;
}

void FaultInjectionFileSystem::BeforeNextSync(std::string path_contains,
                                              std::function<void()> hook) {
  std::lock_guard<std::mutex> l(hook_mu_);
  sync_hook_path_ = std::move(path_contains);
  sync_hook_ = std::move(hook);
}

void FaultInjectionFileSystem::RunSyncHook(const std::string& path) {
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> l(hook_mu_);
    if (!sync_hook_ || !Matches(path, sync_hook_path_)) return;
    hook = std::exchange(sync_hook_, nullptr);
  }
  hook();
}

Status FaultInjectionFileSystem::CountMutation(const std::string& path) {
  if (halt_at_.load() == 0) return Status::Ok();
  {
    std::lock_guard<std::mutex> l(halt_mu_);
    if (!Matches(path, halt_path_)) return Status::Ok();
  }
  if (halt_seen_.fetch_add(1) + 1 == halt_at_.load()) halted_ = true;
  return halted_.load() ? Crashed() : Status::Ok();
}

void FaultInjectionFileSystem::ClearFaults() {
  std::lock_guard<std::mutex> l(mu_);
  rules_.clear();
}

bool FaultInjectionFileSystem::NextFault(Op op, const std::string& path, FaultRule* fired) {
  std::lock_guard<std::mutex> l(mu_);
  bool any = false;
  for (ActiveRule& r : rules_) {
    bool is_sync_rule = r.rule.kind == FaultKind::kFailSync;
    if (r.done || is_sync_rule != (op == Op::kSync) || !Matches(path, r.rule.path_contains)) {
      continue;
    }
    ++r.seen;  // every matching rule counts the operation, even if another one fires
    if (any || r.seen < r.rule.nth) continue;
    *fired = r.rule;
    any = true;
    if (!r.rule.sticky) r.done = true;
  }
  if (any) ++faults_fired_;
  return any;
}

Result<std::unique_ptr<File>> FaultInjectionFileSystem::Open(const std::string& path,
                                                             const OpenOptions& options) {
  std::shared_lock<std::shared_mutex> lock;
  QUIRE_RETURN_IF_ERROR(Enter(lock, kAnyEpoch));
  OpenOptions base_options = options;
  base_options.direct = false;    // so that the undo log can read old contents at any offset
  base_options.truncate = false;  // done below, with an undo record
  if (options.create) {
    QUIRE_ASSIGN_OR_RETURN(bool exists, base_->Exists(path));
    if (!exists) QUIRE_RETURN_IF_ERROR(CountMutation(path));
  }
  std::lock_guard<std::mutex> l(mu_);
  bool existed = true;
  if (options.create) {
    QUIRE_ASSIGN_OR_RETURN(existed, base_->Exists(path));
  }
  QUIRE_ASSIGN_OR_RETURN(std::unique_ptr<File> base_file, base_->Open(path, base_options));
  if (!existed) name_changes_.push_back({"", path, ""});
  std::shared_ptr<FileState>& state = files_[path];
  if (state == nullptr) {
    state = std::make_shared<FileState>();
    state->path = path;
    if (existed) {
      // A file this object has not seen before counts as durable.
      QUIRE_ASSIGN_OR_RETURN(state->synced_size, base_file->Size());
    }
  }
  auto file = std::make_unique<FaultInjectionFile>(this, std::move(base_file), state, epoch_,
                                                   options.direct, path);
  if (options.truncate) QUIRE_RETURN_IF_ERROR(file->TruncateLocked(0));
  return std::unique_ptr<File>(std::move(file));
}

Status FaultInjectionFileSystem::CopyFile(const std::string& from, const std::string& to) {
  QUIRE_ASSIGN_OR_RETURN(std::string contents, base_->ReadFile(from));
  QUIRE_ASSIGN_OR_RETURN(auto file, base_->Open(to, {.create = true, .truncate = true}));
  return file->Write(0, contents);
}

Status FaultInjectionFileSystem::Rename(const std::string& from, const std::string& to) {
  std::shared_lock<std::shared_mutex> lock;
  QUIRE_RETURN_IF_ERROR(Enter(lock, kAnyEpoch));
  QUIRE_RETURN_IF_ERROR(CountMutation(to));
  if (from == to) return base_->Rename(from, to);
  std::lock_guard<std::mutex> l(mu_);
  // A target created since the last SyncDir was never durable: undoing the rename leaves no
  // target, so it needs no backup and its create needs no undoing.
  auto created = std::find_if(name_changes_.begin(), name_changes_.end(),
                              [&](const NameChange& c) { return c.from.empty() && c.to == to; });
  bool target_is_new = created != name_changes_.end();
  std::string backup;
  if (!target_is_new) {
    QUIRE_ASSIGN_OR_RETURN(bool exists, base_->Exists(to));
    if (exists) {
      backup = fmt::format("{}{}{}", to, kBackupMarker, next_backup_id_++);
      QUIRE_RETURN_IF_ERROR(CopyFile(to, backup));
    }
  }
  if (Status st = base_->Rename(from, to); !st.ok()) {
    if (!backup.empty()) base_->Unlink(backup).IgnoreError();
    return st;
  }
  if (target_is_new) name_changes_.erase(created);
  if (auto it = files_.find(to); it != files_.end()) {
    // The replaced file is unlinked; its undo log now describes the backup copy.
    if (!backup.empty()) {
      auto copy = std::make_shared<FileState>();
      std::lock_guard<std::mutex> sl(it->second->mu);
      copy->path = backup;
      copy->synced_size = it->second->synced_size;
      copy->synced_seq = it->second->synced_seq;
      copy->next_seq = it->second->next_seq;
      copy->undo = it->second->undo;
      files_[backup] = std::move(copy);
    }
    files_.erase(it);
  }
  if (auto it = files_.find(from); it != files_.end()) {
    std::shared_ptr<FileState> state = std::move(it->second);
    files_.erase(it);
    state->path = to;
    files_[to] = std::move(state);
  }
  name_changes_.push_back({from, to, backup});
  return Status::Ok();
}

Status FaultInjectionFileSystem::Unlink(const std::string& path) {
  std::shared_lock<std::shared_mutex> lock;
  QUIRE_RETURN_IF_ERROR(Enter(lock, kAnyEpoch));
  QUIRE_RETURN_IF_ERROR(CountMutation(path));
  std::lock_guard<std::mutex> l(mu_);
  QUIRE_RETURN_IF_ERROR(base_->Unlink(path));
  // Durable at once: nothing a crash could bring back under this name.
  files_.erase(path);
  std::erase_if(name_changes_, [&](const NameChange& c) {
    if (c.to != path) return false;
    if (!c.backup.empty()) {
      base_->Unlink(c.backup).IgnoreError();
      files_.erase(c.backup);
    }
    return true;
  });
  return Status::Ok();
}

Status FaultInjectionFileSystem::SyncDir(const std::string& path) {
  std::shared_lock<std::shared_mutex> lock;
  QUIRE_RETURN_IF_ERROR(Enter(lock, kAnyEpoch));
  QUIRE_RETURN_IF_ERROR(CountMutation(path));
  QUIRE_RETURN_IF_ERROR(base_->SyncDir(path));
  std::string dir = path;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::lock_guard<std::mutex> l(mu_);
  std::erase_if(name_changes_, [&](const NameChange& c) {
    if (DirName(c.to) != dir) return false;
    if (!c.backup.empty()) {
      base_->Unlink(c.backup).IgnoreError();
      files_.erase(c.backup);
    }
    return true;
  });
  return Status::Ok();
}

Status FaultInjectionFileSystem::CreateDirs(const std::string& path, uint32_t mode) {
  std::shared_lock<std::shared_mutex> lock;
  QUIRE_RETURN_IF_ERROR(Enter(lock, kAnyEpoch));
  return base_->CreateDirs(path, mode);
}

Result<std::vector<std::string>> FaultInjectionFileSystem::List(const std::string& dir) {
  std::shared_lock<std::shared_mutex> lock;
  QUIRE_RETURN_IF_ERROR(Enter(lock, kAnyEpoch));
  QUIRE_ASSIGN_OR_RETURN(std::vector<std::string> names, base_->List(dir));
  std::erase_if(names, [](const std::string& n) { return n.find(kBackupMarker) != n.npos; });
  return names;
}

Result<bool> FaultInjectionFileSystem::Exists(const std::string& path) {
  std::shared_lock<std::shared_mutex> lock;
  QUIRE_RETURN_IF_ERROR(Enter(lock, kAnyEpoch));
  return base_->Exists(path);
}

Result<SpaceInfo> FaultInjectionFileSystem::Space(const std::string& path) {
  std::shared_lock<std::shared_mutex> lock;
  QUIRE_RETURN_IF_ERROR(Enter(lock, kAnyEpoch));
  return base_->Space(path);
}

Result<std::unique_ptr<FileLock>> FaultInjectionFileSystem::Lock(const std::string& path) {
  std::shared_lock<std::shared_mutex> lock;
  QUIRE_RETURN_IF_ERROR(Enter(lock, kAnyEpoch));
  return base_->Lock(path);
}

std::string FaultInjectionFileSystem::Describe() const {
  return fmt::format("fault-injection({})", base_->Describe());
}

Status FaultInjectionFileSystem::Crash(CrashMode mode, uint64_t seed) {
  if (frozen_.exchange(true)) return Status::Ok();
  std::unique_lock<std::shared_mutex> lock(crash_mu_);  // waits for operations in flight
  ++epoch_;
  std::lock_guard<std::mutex> l(mu_);
  std::mt19937_64 rng(seed);
  Status result;
  auto note = [&](const Status& st) {
    if (result.ok() && !st.ok() && !st.Is(StatusCode::kNotFound)) result = st;
  };
  // Contents first, at the files' current names (files_ is ordered: reproducible)...
  for (auto& [path, state] : files_) note(RevertFile(*state, mode, rng));
  // ...then names, newest change first.
  for (auto c = name_changes_.rbegin(); c != name_changes_.rend(); ++c) {
    if (c->from.empty()) {
      note(base_->Unlink(c->to));
    } else if (rng() % 2 == 0) {  // the rename reached the disk
      if (!c->backup.empty()) note(base_->Unlink(c->backup));
    } else {
      note(base_->Rename(c->to, c->from));
      if (!c->backup.empty()) note(base_->Rename(c->backup, c->to));
    }
  }
  files_.clear();
  name_changes_.clear();
  rules_.clear();
  return result;
}

void FaultInjectionFileSystem::Restart() {
  std::unique_lock<std::shared_mutex> lock(crash_mu_);
  frozen_ = false;
  halted_ = false;
  halt_at_ = 0;
}

Status FaultInjectionFileSystem::RevertFile(FileState& state, CrashMode mode,
                                            std::mt19937_64& rng) {
  using Undo = FileState::Undo;
  const std::vector<Undo>& undo = state.undo;
  if (undo.empty()) return Status::Ok();
  // Which parts of each change survive; the file ends after the last surviving byte, or where
  // the last successful Sync left it.
  std::vector<RangeSet> kept(undo.size());
  uint64_t final_size = state.synced_size;
  for (size_t i = 0; i < undo.size(); ++i) {
    const Undo& u = undo[i];
    if (mode == CrashMode::kDropUnsynced || !u.is_write || u.pinned) continue;
    switch (rng() % 3) {
      case 0:
        kept[i].Add({u.offset, u.end});
        break;
      case 1:
        break;
      default:
        for (uint64_t lo = u.offset; lo < u.end;) {
          uint64_t hi = std::min(AlignDown(lo, kSector) + kSector, u.end);
          if (rng() % 2 == 0) kept[i].Add({lo, hi});
          lo = hi;
        }
    }
    final_size = std::max(final_size, kept[i].End());
  }

  auto file = base_->Open(state.path, {});
  if (!file.ok()) return file.status();
  // Undo the lost parts, newest change first, except bytes that a newer surviving change wrote:
  // each byte ends up as the newest surviving change left it, or as the last Sync did.
  static const std::string kZeros(1 << 20, '\0');
  RangeSet decided;
  for (size_t i = undo.size(); i-- > 0;) {
    const Undo& u = undo[i];
    for (Range lost : kept[i].Missing({u.offset, std::min(u.end, final_size)})) {
      for (Range r : decided.Missing(lost)) {
        // Old bytes where the file had them, zeros past its old end.
        uint64_t old_end = std::clamp(u.old_size, r.lo, r.hi);
        if (old_end > r.lo) {
          assert(old_end - u.offset <= u.old_bytes.size());
          std::string_view old(u.old_bytes.data() + (r.lo - u.offset), old_end - r.lo);
          QUIRE_RETURN_IF_ERROR((*file)->Write(r.lo, old));
        }
        for (uint64_t pos = old_end; pos < r.hi;) {
          size_t n = static_cast<size_t>(std::min<uint64_t>(r.hi - pos, kZeros.size()));
          QUIRE_RETURN_IF_ERROR((*file)->Write(pos, std::string_view(kZeros.data(), n)));
          pos += n;
        }
      }
    }
    decided.AddAll(kept[i]);
  }
  return (*file)->Truncate(final_size);
}

}  // namespace quire::testing
