#include "util/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace quire::testing {

Result<Subprocess> Subprocess::Start(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    return ErrnoStatus("fork", e);
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec. The child dies with the test: a test that
    // crashes must not leave bookies behind holding ctest's output pipe open (ctest would wait
    // for its timeout). The death signal follows the forking *thread*; tests start processes
    // from their main thread.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the test already died
    dup2(fds[1], STDOUT_FILENO);
    execv(args[0], args.data());
    fmt::print(stderr, "exec {} failed: {}\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  return Subprocess(pid, fds[0]);
}

Subprocess::Subprocess(Subprocess&& o) noexcept
    : pid_(o.pid_), fd_(o.fd_), buffer_(std::move(o.buffer_)), status_(o.status_) {
  o.pid_ = -1;
  o.fd_ = -1;
}

Subprocess::~Subprocess() {
  if (pid_ > 0 && !status_) Kill(SIGKILL);
  if (fd_ >= 0) close(fd_);
}

std::optional<std::string> Subprocess::ReadLine(std::chrono::milliseconds timeout) {
  timed_out_ = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out_ = true;
      return std::nullopt;
    }
    pollfd p{fd_, POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) continue;  // loop re-checks the deadline
    char buf[4096];
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;  // end of output
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

int Subprocess::Kill(int signal) {
  if (status_) return *status_;
  kill(pid_, signal);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  status_ = status;
  return status;
}

int Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (status_) return *status_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = status;
      return status;
    }
    // Bounded polling for exit; there is no portable way to wait on a pid with a timeout.
    usleep(10000);
  }
  return Kill(SIGKILL);
}

}  // namespace quire::testing
