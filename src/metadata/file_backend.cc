// The file backend of the embedded file:// store: one file per record under a root directory.
//
// Every write runs on the process's writer thread for this directory (file_writer.h), which takes
// the store lock across processes (an flock on <root>/LOCK) for one record at a time, reads the
// current version, and replaces the file by write-to-temp + fsync + rename + fsync of the
// directory. Readers take no lock: rename is
// atomic, so a reader sees the old or the new file, never a mix. A crash leaves at worst a "*.tmp"
// file, which listings skip and the next write of that record replaces.
//
// Each file is an envelope (docs/metadata.md, "File store"):
//   magic "QMD1" (4) | envelope version u32 = 1 | record version i64 | payload length u32 |
//   crc32c u32 of the 20 header bytes before it and the payload | payload
// all little-endian.
//
// Records hold ledger passwords' digests and the cluster's layout, so the store is private to its
// user: files are created 0600 and directories 0700 (docs/security.md). Directories that exist
// already keep their mode.
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/file_system.h"
#include "metadata/file_writer.h"
#include "metadata/kv_backend.h"

namespace quire::metadata {
namespace {

constexpr uint32_t kFileMode = 0600;
constexpr uint32_t kDirMode = 0700;
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

bool IsTemporary(std::string_view name) {
  return name.empty() || name.front() == '.' ||
         (name.size() > 4 && name.substr(name.size() - 4) == ".tmp");
}

class FileBackend final : public KvBackend {
 public:
  FileBackend(std::string root, FileSystem* fs)
      : root_(std::move(root)), fs_(fs), writer_(FileStoreWriter::For(root_)) {}

  std::string Describe(std::string_view key) const override {
    return fmt::format("file {}", PathOf(key));
  }

  Result<std::optional<KvRecord>> Get(const std::string& key) override { return Read(PathOf(key)); }

  Result<Version> Put(const std::string& key, std::string_view value, Version expected,
                      Deadline deadline) override {
    Version next = 0;
    QUIRE_RETURN_IF_ERROR(Locked(deadline, [&] { return PutLocked(key, value, expected, &next); }));
    return next;
  }

  Result<Version> Update(const std::string& key,
                         const std::function<Result<std::string>(const KvRecord&)>& mutate,
                         Deadline deadline) override {
    Version next = 0;
    QUIRE_RETURN_IF_ERROR(Locked(deadline, [&]() -> Status {
      std::string path = PathOf(key);
      QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> current, Read(path));
      if (!current) return NotFound(fmt::format("file {}: no such record", path));
      QUIRE_ASSIGN_OR_RETURN(std::string value, mutate(*current));
      next = current->version + 1;
      return fs_->WriteFileAtomically(path, EncodeEnvelope(next, value), kFileMode)
          .WithContext("write metadata record");
    }));
    return next;
  }

  Status Delete(const std::string& key, Version expected, Deadline deadline) override {
    return Locked(deadline, [&]() -> Status {
      std::string path = PathOf(key);
      QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> current, Read(path));
      if (!current) return NotFound(fmt::format("file {}: no such record", path));
      if (expected != kAnyVersion && current->version != expected) {
        return Status(StatusCode::kBadVersion, fmt::format("file {}: version is {}, not {}", path,
                                                           current->version, expected));
      }
      QUIRE_RETURN_IF_ERROR(fs_->Unlink(path));
      return fs_->SyncDir(DirName(path));
    });
  }

  Result<std::vector<std::string>> List(const std::string& dir) override {
    QUIRE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->List(PathOf(dir)));
    std::erase_if(names, [](const std::string& n) { return IsTemporary(n); });
    return names;
  }

  Status CreateTopDir(const std::string& name) override {
    QUIRE_RETURN_IF_ERROR(fs_->CreateDirs(PathOf(name), kDirMode));
    return fs_->SyncDir(root_);
  }

  Status DeleteEverything(Deadline deadline) override {
    return Locked(deadline, [&]() -> Status {
      known_dirs_.clear();
      QUIRE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->List(root_));
      for (const std::string& name : names) {
        // The lock file stays: another process may be waiting on it, and a new file would let
        // two processes hold "the" lock at once.
        if (name == kLockFileName) continue;
        // FileSystem has no directory removal; nuking is rare and outside any hot path.
        std::error_code ec;
        std::filesystem::remove_all(JoinPath(root_, name), ec);
        if (ec) return IOError(fmt::format("remove {}: {}", JoinPath(root_, name), ec.message()));
      }
      return fs_->SyncDir(root_);
    });
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

  // Runs `body` on the writer thread while holding the store lock across processes.
  Status Locked(Deadline deadline, const std::function<Status()>& body) {
    return writer_->Run(deadline, [&]() -> Status {
      QUIRE_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, LockAcrossProcesses(deadline));
      return body();
    });
  }

  // The flock on <root>/LOCK, polled with a growing pause because flock has no timeout; another
  // process holds it only for one record write.
  Result<std::unique_ptr<FileLock>> LockAcrossProcesses(Deadline deadline) {
    const std::string path = PathOf(kLockFileName);
    auto pause = std::chrono::microseconds(20);
    while (true) {
      Result<std::unique_ptr<FileLock>> lock = fs_->Lock(path);
      if (lock.ok() || !lock.status().Is(StatusCode::kFailedPrecondition)) return lock;
      if (std::chrono::steady_clock::now() + pause > deadline) {
        return Status(StatusCode::kTimeout,
                      fmt::format("{} is held by another process for too long", path));
      }
      std::this_thread::sleep_for(pause);
      pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(2));
    }
  }

  Status PutLocked(const std::string& key, std::string_view value, Version expected,
                   Version* next) {
    std::string path = PathOf(key);
    QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> current, Read(path));
    *next = 0;
    if (expected == kNewRecord) {
      if (current) return Status(StatusCode::kAlreadyExists, fmt::format("file {} exists", path));
    } else {
      if (!current) return NotFound(fmt::format("file {}: no such record", path));
      if (current->version != expected) {
        return Status(StatusCode::kBadVersion, fmt::format("file {}: version is {}, not {}", path,
                                                           current->version, expected));
      }
      *next = expected + 1;
    }
    std::string bytes = EncodeEnvelope(*next, value);
    if (!current) QUIRE_RETURN_IF_ERROR(EnsureParents(key));
    Status written = fs_->WriteFileAtomically(path, bytes, kFileMode);
    if (written.Is(StatusCode::kNotFound)) {
      // A directory we remembered is gone (another process nuked the store): look again.
      known_dirs_.clear();
      QUIRE_RETURN_IF_ERROR(EnsureParents(key));
      written = fs_->WriteFileAtomically(path, bytes, kFileMode);
    }
    return written.WithContext("write metadata record");
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
        QUIRE_RETURN_IF_ERROR(fs_->CreateDirs(PathOf(sub), kDirMode));
        QUIRE_RETURN_IF_ERROR(fs_->SyncDir(DirName(PathOf(sub))));
      }
      known_dirs_.insert(sub);
    }
    known_dirs_.insert(dir_key);
    return Status::Ok();
  }

  const std::string root_;
  FileSystem* const fs_;
  const std::shared_ptr<FileStoreWriter> writer_;
  std::set<std::string> known_dirs_;  // directories known to exist (writer thread only)
};

}  // namespace

std::string EncodeFileRecordForTesting(Version version, std::string_view payload) {
  return EncodeEnvelope(version, payload);
}

Result<std::unique_ptr<KvBackend>> OpenFileBackend(const std::string& root, FileSystem* fs) {
  if (fs == nullptr) fs = DefaultFileSystem();
  QUIRE_RETURN_IF_ERROR(fs->CreateDirs(root, kDirMode).WithContext("create file metadata store"));
  return std::unique_ptr<KvBackend>(std::make_unique<FileBackend>(root, fs));
}

}  // namespace quire::metadata
