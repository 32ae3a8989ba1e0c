// The real file system: POSIX calls for metadata, and either plain pread/pwrite/fdatasync (the
// default) or io_uring for data. io_uring is used synchronously (submit, wait for the completion)
// from the calling thread's own ring; WriteAndSync links a write and an fdatasync in one system
// call. That looked like a gain for the journal's critical path but measured as a loss: the
// kernel runs an io_uring fdatasync on a worker thread, so each sync wakes one more thread, and
// a lone writer's adds/s fell 13-23 % against pwrite + fdatasync (docs/performance.md, "System
// calls for file I/O"). io_uring stays selectable (ioBackend) for kernels where that differs.
#include <dirent.h>
#include <fcntl.h>
#include <liburing.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/file_system.h"

namespace quire {
namespace {

// One ring per thread at a time: rings are not thread-safe and a thread does one operation at a
// time. Rings outlive their threads: a thread takes one from a process-wide pool on its first
// operation and gives it back when it exits, and a ring is never unmapped. That saves
// io_uring_setup for short-lived threads, and it keeps ThreadSanitizer right: liburing maps a
// ring with raw system calls TSan cannot see, so a ring unmapped at one thread's exit and mapped
// at the same address for another thread looked to TSan like two threads racing on the ring
// (CI, CrashTest under TSan). The pool's mutex orders the old owner's last use before the new
// owner's first.
class Ring {
 public:
  // This thread's ring, or nullptr if io_uring cannot be set up (then never retried).
  static Ring* ForThisThread() {
    thread_local Lease lease;
    return lease.ring;
  }

  // Runs the prepared SQEs (count of them) and returns the completion results in order.
  // Returns -errno of the submission itself if submitting failed.
  int Write(int fd, const char* buf, size_t n, uint64_t off) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return -EBUSY;
    io_uring_prep_write(sqe, fd, buf, static_cast<unsigned>(n), off);
    sqe->user_data = 0;
    return SubmitAndReap(1, nullptr);
  }
  int Read(int fd, char* buf, size_t n, uint64_t off) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return -EBUSY;
    io_uring_prep_read(sqe, fd, buf, static_cast<unsigned>(n), off);
    sqe->user_data = 0;
    return SubmitAndReap(1, nullptr);
  }
  int Fdatasync(int fd) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) return -EBUSY;
    io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    sqe->user_data = 0;
    return SubmitAndReap(1, nullptr);
  }
  // A write linked to an fdatasync. Returns the write's result; *sync_res gets the sync's (or
  // -ECANCELED when a short write broke the link).
  int WriteThenSync(int fd, const char* buf, size_t n, uint64_t off, int* sync_res) {
    // The ring has room for 8 and this thread never has more than 2 in flight.
    io_uring_sqe* w = io_uring_get_sqe(&ring_);
    if (w == nullptr) return -EBUSY;
    io_uring_prep_write(w, fd, buf, static_cast<unsigned>(n), off);
    w->flags |= IOSQE_IO_LINK;
    w->user_data = 0;
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    if (s == nullptr) return -EBUSY;
    io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC);
    s->user_data = 1;
    return SubmitAndReap(2, sync_res);
  }

 private:
  // A thread's hold on a pooled ring, returned when the thread exits.
  struct Lease {
    Lease() : ring(Take()) {}
    ~Lease() {
      if (ring != nullptr) Give(ring);
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Ring* ring;
  };

  struct Pool {
    std::mutex mu;
    std::vector<Ring*> idle;  // never freed: see the class comment
  };
  static Pool& ThePool() {
    static Pool* pool = new Pool;  // leaked on purpose: threads may exit after static destructors
    return *pool;
  }
  static Ring* Take() {
    Pool& pool = ThePool();
    {
      std::lock_guard<std::mutex> lock(pool.mu);
      if (!pool.idle.empty()) {
        Ring* ring = pool.idle.back();
        pool.idle.pop_back();
        return ring;
      }
    }
    auto* ring = new Ring;
    if (io_uring_queue_init(8, &ring->ring_, 0) != 0) {
      delete ring;
      return nullptr;
    }
    return ring;
  }
  static void Give(Ring* ring) {
    Pool& pool = ThePool();
    std::lock_guard<std::mutex> lock(pool.mu);
    pool.idle.push_back(ring);
  }

  Ring() = default;

  // Submits and waits for `count` completions; user_data 0 is the primary result, 1 the second.
  int SubmitAndReap(unsigned count, int* second) {
    int rc = io_uring_submit_and_wait(&ring_, count);
    while (rc == -EINTR) rc = io_uring_submit_and_wait(&ring_, count);
    if (rc < 0) return rc;
    int first = -EIO;
    for (unsigned i = 0; i < count; ++i) {
      io_uring_cqe* cqe = nullptr;
      // A signal must not end the wait: the kernel still owns the buffer until the completion.
      int w = io_uring_wait_cqe(&ring_, &cqe);
      while (w == -EINTR) w = io_uring_wait_cqe(&ring_, &cqe);
      if (w < 0) return w;
      if (cqe->user_data == 0) {
        first = cqe->res;
      } else if (second != nullptr) {
        *second = cqe->res;
      }
      io_uring_cqe_seen(&ring_, cqe);
    }
    return first;
  }

  io_uring ring_{};
};

bool ProbeIoUring() {
  Ring* ring = Ring::ForThisThread();
  if (ring == nullptr) return false;
  // Some sandboxes let io_uring_setup succeed but refuse operations; try a real fdatasync.
  char tmpl[] = "/tmp/quire-uring-probe-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return true;  // cannot probe further; the ring itself works
  unlink(tmpl);
  int rc = ring->Fdatasync(fd);
  close(fd);
  return rc == 0;
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path, bool direct, bool uring)
      : fd_(fd), path_(std::move(path)), direct_(direct), uring_(uring) {}
  ~PosixFile() override { close(fd_); }

  Status Write(uint64_t offset, std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = DoWrite(p, left, offset);
      if (n < 0) {
        return ErrnoStatus(fmt::format("write {} bytes at offset {} of {}", left, offset, path_),
                           static_cast<int>(-n));
      }
      if (n == 0) return IOError(fmt::format("write to {} at offset {} made no progress", path_, offset));
      p += n;
      left -= static_cast<size_t>(n);
      offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Result<size_t> Read(uint64_t offset, char* buf, size_t n) override {
    size_t done = 0;
    while (done < n) {
      ssize_t r = DoRead(buf + done, n - done, offset + done);
      if (r < 0) {
        return ErrnoStatus(fmt::format("read {} bytes at offset {} of {}", n, offset, path_),
                           static_cast<int>(-r));
      }
      if (r == 0) break;  // end of file
      done += static_cast<size_t>(r);
    }
    return done;
  }

  Status Sync() override {
    int rc;
    if (Ring* ring = uring_ ? Ring::ForThisThread() : nullptr) {
      rc = ring->Fdatasync(fd_);
    } else {
      rc = fdatasync(fd_) == 0 ? 0 : -errno;
    }
    if (rc < 0) return ErrnoStatus(fmt::format("fdatasync {}", path_), -rc);
    return Status::Ok();
  }

  Status WriteAndSync(uint64_t offset, std::string_view data) override {
    Ring* ring = uring_ ? Ring::ForThisThread() : nullptr;
    if (ring == nullptr || data.empty()) return File::WriteAndSync(offset, data);
    int sync_rc = -ECANCELED;
    int rc = ring->WriteThenSync(fd_, data.data(), data.size(), offset, &sync_rc);
    if (rc < 0) {
      return ErrnoStatus(fmt::format("write {} bytes at offset {} of {}", data.size(), offset, path_),
                         -rc);
    }
    if (static_cast<size_t>(rc) < data.size()) {
      // A short write cancels the linked sync: finish the write, then sync.
      QUIRE_RETURN_IF_ERROR(Write(offset + static_cast<uint64_t>(rc), data.substr(static_cast<size_t>(rc))));
      return Sync();
    }
    if (sync_rc < 0) return ErrnoStatus(fmt::format("fdatasync {}", path_), -sync_rc);
    return Status::Ok();
  }

  Status Allocate(uint64_t offset, uint64_t len) override {
    int rc = posix_fallocate(fd_, static_cast<off_t>(offset), static_cast<off_t>(len));
    if (rc != 0) {
      return ErrnoStatus(fmt::format("fallocate {} bytes at offset {} of {}", len, offset, path_), rc);
    }
    return Status::Ok();
  }

  Status Truncate(uint64_t size) override {
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
      return ErrnoStatus(fmt::format("truncate {} to {} bytes", path_, size), errno);
    }
    return Status::Ok();
  }

  Result<uint64_t> Size() override {
    struct stat st{};
    if (fstat(fd_, &st) != 0) return ErrnoStatus(fmt::format("stat {}", path_), errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Status StartWriteback(uint64_t offset, uint64_t len) override {
    if (sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(len),
                        SYNC_FILE_RANGE_WRITE) != 0) {
      return ErrnoStatus(fmt::format("sync_file_range {}", path_), errno);
    }
    return Status::Ok();
  }

  bool direct() const override { return direct_; }
  const std::string& path() const override { return path_; }

 private:
  ssize_t DoWrite(const char* p, size_t n, uint64_t off) {
    if (Ring* ring = uring_ ? Ring::ForThisThread() : nullptr) return ring->Write(fd_, p, n, off);
    ssize_t r;
    do {
      r = pwrite(fd_, p, n, static_cast<off_t>(off));
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
  }
  ssize_t DoRead(char* p, size_t n, uint64_t off) {
    if (Ring* ring = uring_ ? Ring::ForThisThread() : nullptr) return ring->Read(fd_, p, n, off);
    ssize_t r;
    do {
      r = pread(fd_, p, n, static_cast<off_t>(off));
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : r;
  }

  int fd_;
  std::string path_;
  bool direct_;
  bool uring_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    flock(fd_, LOCK_UN);
    close(fd_);
  }

 private:
  int fd_;
};

class PosixFileSystem final : public FileSystem {
 public:
  explicit PosixFileSystem(bool uring) : uring_(uring) {}

  Result<std::unique_ptr<File>> Open(const std::string& path, const OpenOptions& o) override {
    int flags = O_CLOEXEC | (o.read_only ? O_RDONLY : O_RDWR);
    if (o.create) flags |= O_CREAT;
    if (o.create && o.exclusive) flags |= O_EXCL;
    if (o.truncate) flags |= O_TRUNC;
    bool direct = o.direct;
    int fd = open(path.c_str(), flags | (direct ? O_DIRECT : 0), static_cast<mode_t>(o.mode));
    if (fd < 0 && direct && errno == EINVAL) {
      // The file system (tmpfs, some FUSE) has no direct I/O; buffered it is.
      direct = false;
      fd = open(path.c_str(), flags, static_cast<mode_t>(o.mode));
    }
    if (fd < 0) {
      int e = errno;
      if (e == ENOENT) return Status(StatusCode::kNotFound, fmt::format("{}: no such file", path), e);
      if (e == EEXIST) return Status(StatusCode::kAlreadyExists, fmt::format("{}: exists", path), e);
      return ErrnoStatus(fmt::format("open {}", path), e);
    }
    return std::unique_ptr<File>(std::make_unique<PosixFile>(fd, path, direct, uring_));
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) {
      return ErrnoStatus(fmt::format("rename {} to {}", from, to), errno);
    }
    return Status::Ok();
  }

  Status Unlink(const std::string& path) override {
    if (unlink(path.c_str()) != 0) {
      int e = errno;
      if (e == ENOENT) return Status(StatusCode::kNotFound, fmt::format("{}: no such file", path), e);
      return ErrnoStatus(fmt::format("unlink {}", path), e);
    }
    return Status::Ok();
  }

  Status CreateDirs(const std::string& path, uint32_t mode) override {
    if (path.empty()) return Status::Ok();
    std::string prefix;
    size_t pos = 0;
    while (pos != std::string::npos) {
      pos = path.find('/', pos + 1);
      prefix = path.substr(0, pos);
      if (prefix.empty()) continue;
      if (mkdir(prefix.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
        return ErrnoStatus(fmt::format("mkdir {}", prefix), errno);
      }
    }
    struct stat st{};
    if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return IOError(fmt::format("{} exists and is not a directory", path), ENOTDIR);
    }
    return Status::Ok();
  }

  Status SyncDir(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(fmt::format("open directory {}", path), errno);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0) return ErrnoStatus(fmt::format("fsync directory {}", path), e);
    return Status::Ok();
  }

  Result<std::vector<std::string>> List(const std::string& dir) override {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
      int e = errno;
      if (e == ENOENT) return Status(StatusCode::kNotFound, fmt::format("{}: no such directory", dir), e);
      return ErrnoStatus(fmt::format("list {}", dir), e);
    }
    std::vector<std::string> names;
    while (dirent* ent = readdir(d)) {
      std::string_view n(ent->d_name);
      if (n != "." && n != "..") names.emplace_back(n);
    }
    closedir(d);
    return names;
  }

  Result<bool> Exists(const std::string& path) override {
    struct stat st{};
    if (stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return ErrnoStatus(fmt::format("stat {}", path), errno);
  }

  Result<SpaceInfo> Space(const std::string& path) override {
    struct statvfs s{};
    if (statvfs(path.c_str(), &s) != 0) return ErrnoStatus(fmt::format("statvfs {}", path), errno);
    return SpaceInfo{static_cast<uint64_t>(s.f_blocks) * s.f_frsize,
                     static_cast<uint64_t>(s.f_bavail) * s.f_frsize};
  }

  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override {
    // Only its owner ever needs it (flock takes a descriptor opened for writing).
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus(fmt::format("open lock file {}", path), errno);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      close(fd);
      if (e == EWOULDBLOCK) {
        return Status(StatusCode::kFailedPrecondition,
                      fmt::format("{} is locked by another process", path), e);
      }
      return ErrnoStatus(fmt::format("lock {}", path), e);
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd));
  }

  std::string Describe() const override { return uring_ ? "io_uring" : "syscalls"; }

 private:
  bool uring_;
};

}  // namespace

Status File::WriteAndSync(uint64_t offset, std::string_view data) {
  QUIRE_RETURN_IF_ERROR(Write(offset, data));
  return Sync();
}

Status File::StartWriteback(uint64_t, uint64_t) { return Status::Ok(); }

std::unique_ptr<FileSystem> NewPosixFileSystem(IoBackend backend) {
  bool uring = false;
  switch (backend) {
    case IoBackend::kSyscalls:
      break;
    case IoBackend::kIoUring:
      uring = ProbeIoUring();
      if (!uring) spdlog::warn("io_uring was requested but the kernel refuses it; using syscalls");
      break;
    case IoBackend::kAuto:
      uring = ProbeIoUring();
      break;
  }
  spdlog::debug("file I/O back end: {}", uring ? "io_uring" : "syscalls");
  return std::make_unique<PosixFileSystem>(uring);
}

FileSystem* DefaultFileSystem() {
  static std::unique_ptr<FileSystem> fs = NewPosixFileSystem();
  return fs.get();
}

Result<IoBackend> ParseIoBackend(std::string_view name) {
  if (name == "auto") return IoBackend::kAuto;
  if (name == "io_uring") return IoBackend::kIoUring;
  if (name == "syscalls") return IoBackend::kSyscalls;
  return InvalidArgument(fmt::format("unknown I/O back end '{}' (auto, io_uring, syscalls)", name));
}

}  // namespace quire
