// The file backend of the embedded file:// store: one file per record under a root directory.
//
// Writers (in any process on the machine) take the store's lock (an flock on <root>/LOCK, behind
// a mutex shared by every backend of this process on the same root, so that threads queue on the
// mutex and only processes contend for the flock), read the current version, and replace the file
// by write-to-temp + fsync + rename + fsync of the directory. Readers take no lock: rename is
// atomic, so a reader sees the old or the new file, never a mix. A crash leaves at worst a "*.tmp"
// file, which listings skip and the next write of that record replaces.
//
// Each file is an envelope (docs/metadata.md, "File store"):
//   magic "QMD1" (4) | envelope version u32 = 1 | record version i64 | payload length u32 |
//   crc32c u32 of the 20 header bytes before it and the payload | payload
// all little-endian.
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/file_system.h"
#include "metadata/kv_backend.h"

namespace quire::metadata {
namespace {

constexpr uint32_t kEnvelopeMagic = 0x31444d51;  // "QMD1"
constexpr uint32_t kEnvelopeVersion = 1;
constexpr size_t kHeaderSize = 24;
constexpr size_t kCrcOffset = 20;
constexpr std::string_view kLockFileName = "LOCK";

std::string EncodeEnvelope(Version version, std::string_view payload) {
  std::string out;
  out.reserve(kHeaderSize + payload.size());
  PutFixed32(&out, kEnvelopeMagic);
  PutFixed32(&out, kEnvelopeVersion);
  PutFixed64(&out, static_cast<uint64_t>(version));
  PutFixed32(&out, static_cast<uint32_t>(payload.size()));
  uint32_t crc =
      crc32c::Extend(crc32c::Value(out.data(), kCrcOffset), payload.data(), payload.size());
  PutFixed32(&out, crc);
  out.append(payload);
  return out;
}

Result<KvRecord> DecodeEnvelope(std::string_view bytes, const std::string& path) {
  if (bytes.size() < kHeaderSize) {
    return Corruption(fmt::format("file {}: {} bytes, shorter than the {}-byte record header", path,
                                  bytes.size(), kHeaderSize));
  }
  const char* p = bytes.data();
  if (DecodeFixed32(p) != kEnvelopeMagic) {
    return Corruption(fmt::format("file {}: not a Quire metadata record (bad magic)", path));
  }
  uint32_t envelope_version = DecodeFixed32(p + 4);
  if (envelope_version != kEnvelopeVersion) {
    return Corruption(fmt::format("file {}: record envelope version {}, this build reads {}", path,
                                  envelope_version, kEnvelopeVersion));
  }
  auto version = static_cast<Version>(DecodeFixed64(p + 8));
  uint32_t length = DecodeFixed32(p + 16);
  if (bytes.size() != kHeaderSize + length) {
    return Corruption(
        fmt::format("file {}: {} bytes, header says {}", path, bytes.size(), kHeaderSize + length));
  }
  uint32_t crc = crc32c::Extend(crc32c::Value(p, kCrcOffset), p + kHeaderSize, length);
  if (crc != DecodeFixed32(p + kCrcOffset)) {
    return Corruption(fmt::format("file {}: CRC mismatch", path));
  }
  if (version < 0) return Corruption(fmt::format("file {}: negative version {}", path, version));
  return KvRecord{std::string(bytes.substr(kHeaderSize)), version};
}

// The in-process half of the store lock: one mutex per root directory, shared by every backend
// opened on it in this process.
std::shared_ptr<std::timed_mutex> ProcessLockFor(const std::string& root) {
  static std::mutex mu;
  static auto* locks = new std::map<std::string, std::weak_ptr<std::timed_mutex>>();  // leaked
  std::lock_guard<std::mutex> guard(mu);
  std::shared_ptr<std::timed_mutex> lock = (*locks)[root].lock();
  if (!lock) {
    lock = std::make_shared<std::timed_mutex>();
    (*locks)[root] = lock;
  }
  return lock;
}

bool IsTemporary(std::string_view name) {
  return name.empty() || name.front() == '.' ||
         (name.size() > 4 && name.substr(name.size() - 4) == ".tmp");
}

class FileBackend final : public KvBackend {
 public:
  FileBackend(std::string root, FileSystem* fs)
      : root_(std::move(root)), fs_(fs), process_lock_(ProcessLockFor(root_)) {}

  std::string Describe(std::string_view key) const override {
    return fmt::format("file {}", PathOf(key));
  }

  Result<std::optional<KvRecord>> Get(const std::string& key) override { return Read(PathOf(key)); }

  Result<Version> Put(const std::string& key, std::string_view value, Version expected,
                      Deadline deadline) override {
    std::string path = PathOf(key);
    QUIRE_ASSIGN_OR_RETURN(StoreLock lock, LockStore(deadline));
    QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> current, Read(path));
    Version next = 0;
    if (expected == kNewRecord) {
      if (current) return Status(StatusCode::kAlreadyExists, fmt::format("file {} exists", path));
    } else {
      if (!current) return NotFound(fmt::format("file {}: no such record", path));
      if (current->version != expected) {
        return Status(StatusCode::kBadVersion, fmt::format("file {}: version is {}, not {}", path,
                                                           current->version, expected));
      }
      next = expected + 1;
    }
    std::string bytes = EncodeEnvelope(next, value);
    if (!current) QUIRE_RETURN_IF_ERROR(EnsureParents(key));
    Status written = fs_->WriteFileAtomically(path, bytes);
    if (written.Is(StatusCode::kNotFound)) {
      // A directory we remembered is gone (another process nuked the store): look again.
      known_dirs_.clear();
      QUIRE_RETURN_IF_ERROR(EnsureParents(key));
      written = fs_->WriteFileAtomically(path, bytes);
    }
    QUIRE_RETURN_IF_ERROR(written.WithContext("write metadata record"));
    return next;
  }

  Result<Version> Update(const std::string& key,
                         const std::function<Result<std::string>(const KvRecord&)>& mutate,
                         Deadline deadline) override {
    std::string path = PathOf(key);
    QUIRE_ASSIGN_OR_RETURN(StoreLock lock, LockStore(deadline));
    QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> current, Read(path));
    if (!current) return NotFound(fmt::format("file {}: no such record", path));
    QUIRE_ASSIGN_OR_RETURN(std::string value, mutate(*current));
    QUIRE_RETURN_IF_ERROR(
        fs_->WriteFileAtomically(path, EncodeEnvelope(current->version + 1, value))
            .WithContext("write metadata record"));
    return current->version + 1;
  }

  Status Delete(const std::string& key, Version expected, Deadline deadline) override {
    std::string path = PathOf(key);
    QUIRE_ASSIGN_OR_RETURN(StoreLock lock, LockStore(deadline));
    QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> current, Read(path));
    if (!current) return NotFound(fmt::format("file {}: no such record", path));
    if (expected != kAnyVersion && current->version != expected) {
      return Status(StatusCode::kBadVersion, fmt::format("file {}: version is {}, not {}", path,
                                                         current->version, expected));
    }
    QUIRE_RETURN_IF_ERROR(fs_->Unlink(path));
    return fs_->SyncDir(DirName(path));
  }

  Result<std::vector<std::string>> List(const std::string& dir) override {
    QUIRE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->List(PathOf(dir)));
    std::erase_if(names, [](const std::string& n) { return IsTemporary(n); });
    return names;
  }

  Status CreateTopDir(const std::string& name) override {
    QUIRE_RETURN_IF_ERROR(fs_->CreateDirs(PathOf(name)));
    return fs_->SyncDir(root_);
  }

  Status DeleteEverything(Deadline deadline) override {
    QUIRE_ASSIGN_OR_RETURN(StoreLock lock, LockStore(deadline));
    known_dirs_.clear();
    QUIRE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->List(root_));
    for (const std::string& name : names) {
      // The lock file stays: another process may be waiting on it, and a new file would let two
      // processes hold "the" lock at once.
      if (name == kLockFileName) continue;
      // FileSystem has no directory removal; nuking is rare and outside any hot path.
      std::error_code ec;
      std::filesystem::remove_all(JoinPath(root_, name), ec);
      if (ec) return IOError(fmt::format("remove {}: {}", JoinPath(root_, name), ec.message()));
    }
    return fs_->SyncDir(root_);
  }

 private:
  std::string PathOf(std::string_view key) const { return JoinPath(root_, key); }

  Result<std::optional<KvRecord>> Read(const std::string& path) {
    Result<std::string> bytes = fs_->ReadFile(path);
    if (!bytes.ok()) {
      if (bytes.status().Is(StatusCode::kNotFound)) return std::optional<KvRecord>();
      return bytes.status();
    }
    QUIRE_ASSIGN_OR_RETURN(KvRecord record, DecodeEnvelope(*bytes, path));
    return std::optional<KvRecord>(std::move(record));
  }

  // Both halves of the store-wide lock, released in reverse order.
  struct StoreLock {
    std::unique_lock<std::timed_mutex> in_process;
    std::unique_ptr<FileLock> across_processes;
  };

  // Takes the store-wide lock: the process mutex (waiting until `deadline`), then the flock,
  // polling with a growing pause because flock has no timeout; another process holds it only for
  // one record write.
  Result<StoreLock> LockStore(Deadline deadline) {
    StoreLock lock{std::unique_lock<std::timed_mutex>(*process_lock_, std::defer_lock), nullptr};
    const std::string path = PathOf(kLockFileName);
    if (!lock.in_process.try_lock_until(deadline)) {
      return Status(StatusCode::kTimeout,
                    fmt::format("{}: other threads of this process held it for too long", path));
    }
    auto pause = std::chrono::microseconds(20);
    while (true) {
      Result<std::unique_ptr<FileLock>> flock = fs_->Lock(path);
      if (flock.ok()) {
        lock.across_processes = std::move(flock).value();
        return lock;
      }
      if (!flock.status().Is(StatusCode::kFailedPrecondition)) return flock.status();
      if (std::chrono::steady_clock::now() + pause > deadline) {
        return Status(StatusCode::kTimeout,
                      fmt::format("{} is held by another process for too long", path));
      }
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(2));
    }
  }

  // Creates the directories above `key`, syncing each new one into its parent. The top-level
  // directory must exist already (InitCluster made it).
  Status EnsureParents(const std::string& key) {
    size_t slash = key.find('/');
    if (slash == std::string::npos) return Status::Ok();
    std::string dir_key = key.substr(0, key.rfind('/'));
    if (known_dirs_.count(dir_key) > 0) return Status::Ok();
    std::string top = key.substr(0, slash);
    QUIRE_ASSIGN_OR_RETURN(bool top_exists, fs_->Exists(PathOf(top)));
    if (!top_exists) {
      return FailedPrecondition(
          fmt::format("file store {} is not initialised (no {} directory)", root_, top));
    }
    for (size_t pos = key.find('/', slash + 1); pos != std::string::npos;
         pos = key.find('/', pos + 1)) {
      std::string sub = key.substr(0, pos);
      if (known_dirs_.count(sub) > 0) continue;
      QUIRE_ASSIGN_OR_RETURN(bool exists, fs_->Exists(PathOf(sub)));
      if (!exists) {
        QUIRE_RETURN_IF_ERROR(fs_->CreateDirs(PathOf(sub)));
        QUIRE_RETURN_IF_ERROR(fs_->SyncDir(DirName(PathOf(sub))));
      }
      known_dirs_.insert(sub);
    }
    known_dirs_.insert(dir_key);
    return Status::Ok();
  }

  const std::string root_;
  FileSystem* const fs_;
  const std::shared_ptr<std::timed_mutex> process_lock_;
  std::set<std::string> known_dirs_;  // directories known to exist (guarded by the store lock)
};

}  // namespace

std::string EncodeFileRecordForTesting(Version version, std::string_view payload) {
  return EncodeEnvelope(version, payload);
}

Result<std::unique_ptr<KvBackend>> OpenFileBackend(const std::string& root, FileSystem* fs) {
  if (fs == nullptr) fs = DefaultFileSystem();
  QUIRE_RETURN_IF_ERROR(fs->CreateDirs(root).WithContext("create file metadata store"));
  return std::unique_ptr<KvBackend>(std::make_unique<FileBackend>(root, fs));
}

}  // namespace quire::metadata
