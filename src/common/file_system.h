// The file-system interface: every byte Quire puts on disk goes through it.
//
// Three implementations: the real one (NewPosixFileSystem: io_uring via liburing where the kernel
// allows it, plain syscalls otherwise), and, for tests, a fault-injecting wrapper
// (tests/util/fault_injection_fs.h) that fails chosen writes or syncs, tears writes, and simulates
// a crash by dropping everything not made durable.
//
// Durability contract, which every caller relies on and the fault-injecting file system enforces:
//  - File::Write puts bytes in the page cache (or, with direct I/O, in the device's volatile
//    cache). Nothing written is durable until File::Sync returns OK; after a crash, any subset of
//    unsynced writes may survive, possibly torn at sector granularity.
//  - Creating, renaming or unlinking a name is durable only after SyncDir on its directory.
//  - After a failed Sync the state of the file is unknown: callers must not retry and trust it
//    (the kernel may already have dropped the dirty pages).
//
// Thread safety: a FileSystem may be used from any thread. A File may be used from several threads
// for Read; Write/Sync/Truncate/Allocate must not race with each other on the same range.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quire/status.h"

namespace quire {

// Buffers, offsets and lengths for direct I/O are multiples of this.
inline constexpr size_t kDirectIoAlignment = 4096;

struct OpenOptions {
  bool read_only = false;
  bool create = false;     // create the file if it does not exist
  bool exclusive = false;  // with create: fail with kAlreadyExists if it exists
  bool truncate = false;   // truncate to zero length on open
  bool direct = false;     // ask for O_DIRECT; File::direct() says whether it was granted
  uint32_t mode = 0644;    // with create: the permission bits of a new file (the umask applies)
};

class File {
 public:
  virtual ~File() = default;

  // Writes all of `data` at `offset` (short writes are continued internally).
  virtual Status Write(uint64_t offset, std::string_view data) = 0;
  // Reads up to `n` bytes at `offset` into `buf`; fewer only at end of file.
  virtual Result<size_t> Read(uint64_t offset, char* buf, size_t n) = 0;
  // fdatasync: everything written before the call is durable when it returns OK.
  virtual Status Sync() = 0;
  // Write followed by Sync; the io_uring implementation submits both in one system call.
  virtual Status WriteAndSync(uint64_t offset, std::string_view data);
  // Reserves blocks for [offset, offset + len) and extends the file size to cover them.
  virtual Status Allocate(uint64_t offset, uint64_t len) = 0;
  virtual Status Truncate(uint64_t size) = 0;
  virtual Result<uint64_t> Size() = 0;
  // Starts write-back of a range without waiting (sync_file_range); no durability promise. Used to
  // pace large buffered writes so that the page cache never holds a storm of dirty pages.
  virtual Status StartWriteback(uint64_t offset, uint64_t len);

  // True when the file was opened with O_DIRECT: offsets, lengths and buffer addresses of Write
  // and Read must then be multiples of kDirectIoAlignment.
  virtual bool direct() const = 0;
  virtual const std::string& path() const = 0;
};

struct SpaceInfo {
  uint64_t total_bytes = 0;
  uint64_t available_bytes = 0;  // to an unprivileged writer
  // What an unprivileged writer can no longer use (blocks reserved for root count as used): the
  // bookie's disk thresholds compare used / total.
  uint64_t used_bytes() const { return total_bytes - available_bytes; }
};

// An advisory, exclusive lock on a file; released when destroyed (or when the process dies).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual Result<std::unique_ptr<File>> Open(const std::string& path,
                                             const OpenOptions& options) = 0;
  // Atomically replaces `to` with `from`.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Unlink(const std::string& path) = 0;
  // mkdir -p; existing directories are fine (and keep their mode). Each directory it creates gets
  // `mode` (the umask applies).
  virtual Status CreateDirs(const std::string& path, uint32_t mode = 0755) = 0;
  virtual Status SyncDir(const std::string& path) = 0;
  // Names in `dir`, without "." and "..", in no particular order.
  virtual Result<std::vector<std::string>> List(const std::string& dir) = 0;
  virtual Result<bool> Exists(const std::string& path) = 0;
  virtual Result<SpaceInfo> Space(const std::string& path) = 0;
  // Takes an exclusive lock on `path` (created 0600 if missing) or fails with kFailedPrecondition if
  // another process (or another FileLock in this one) holds it.
  virtual Result<std::unique_ptr<FileLock>> Lock(const std::string& path) = 0;

  // Name of the I/O back end, for logs ("io_uring", "syscalls", "fault-injection(...)").
  virtual std::string Describe() const = 0;

  // Helpers built on the above.
  // Writes `contents` to `path` so that after a crash either the old or the new contents are
  // there: temp file, write, sync, rename, sync directory. A new file gets `mode`.
  Status WriteFileAtomically(const std::string& path, std::string_view contents,
                             uint32_t mode = 0644);
  Result<std::string> ReadFile(const std::string& path);
};

enum class IoBackend { kAuto, kIoUring, kSyscalls };

// The real file system. kSyscalls (the default) uses pwrite/pread/fdatasync; kIoUring uses a
// ring per thread, synchronously; kAuto probes io_uring once and falls back to syscalls if the
// kernel (or a seccomp profile) refuses it. The choice is logged. docs/performance.md ("System
// calls for file I/O") measures why syscalls is the default.
std::unique_ptr<FileSystem> NewPosixFileSystem(IoBackend backend = IoBackend::kSyscalls);

// A process-wide real file system with the default back end.
FileSystem* DefaultFileSystem();

// Parses "auto", "io_uring" or "syscalls".
Result<IoBackend> ParseIoBackend(std::string_view name);

// Directory part and file part of a path ("a/b/c" -> "a/b", "c").
std::string DirName(const std::string& path);
std::string JoinPath(std::string_view dir, std::string_view name);

// An owned buffer aligned for direct I/O.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t capacity) { Reserve(capacity); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  AlignedBuffer(AlignedBuffer&& o) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& o) noexcept;
  ~AlignedBuffer();

  // Grows capacity (to a multiple of kDirectIoAlignment), keeping contents.
  void Reserve(size_t capacity);
  void Append(const void* data, size_t n);
  // Appends `n` zero bytes.
  void AppendZeros(size_t n);
  void Clear() { size_ = 0; }
  void Resize(size_t n);  // n <= capacity; new bytes are unspecified

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  std::string_view view() const { return {data_, size_}; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

inline uint64_t AlignUp(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }
inline uint64_t AlignDown(uint64_t n, uint64_t a) { return n / a * a; }

}  // namespace quire
