#include "cli/pipe_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace quire::cli {

Result<std::optional<std::string>> LineReader::Next() {
  // Bounded: each pass either returns or reads more (or reaches the end).
  for (;;) {
    size_t newline = buffer_.find('\n', pos_);
    if (newline != std::string::npos) {
      std::string line = buffer_.substr(pos_, newline - pos_);
      pos_ = newline + 1;
      return std::optional<std::string>(std::move(line));
    }
    if (eof_) {
      if (pos_ == buffer_.size()) return std::optional<std::string>();
      std::string line = buffer_.substr(pos_);
      pos_ = buffer_.size();
      return std::optional<std::string>(std::move(line));
    }
    // Keep the partial line, drop what was consumed, read the next block after it.
    buffer_.erase(0, pos_);
    pos_ = 0;
    const size_t had = buffer_.size();
    buffer_.resize(had + block_);
    ssize_t n = ::read(fd_, buffer_.data() + had, block_);
    if (n < 0 && errno == EINTR) {
      buffer_.resize(had);
      continue;
    }
    if (n < 0) {
      int err = errno;
      buffer_.resize(had);
      return IOError(fmt::format("reading standard input: {}", std::strerror(err)), err);
    }
    buffer_.resize(had + static_cast<size_t>(n));
    if (n == 0) eof_ = true;
  }
}

LinePrinter::LinePrinter(int fd) : fd_(fd), thread_([this] { Run(); }) {}

Status LinePrinter::Finish() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyOne();
  if (thread_.joinable()) thread_.join();
  MutexLock lock(mu_);
  return status_;
}

void LinePrinter::Print(std::string_view line) {
  bool wake;
  {
    MutexLock lock(mu_);
    wake = queued_.empty() && !writing_;
    queued_.append(line);
  }
  if (wake) cv_.NotifyOne();
}

void LinePrinter::Run() {
  std::string out;
  MutexLock lock(mu_);
  for (;;) {
    cv_.Wait(mu_, [&]() QUIRE_REQUIRES(mu_) { return stopping_ || !queued_.empty(); });
    if (queued_.empty()) return;  // stopping, and everything is written
    out.clear();
    out.swap(queued_);
    writing_ = true;
    const bool broken = !status_.ok();
    lock.Unlock();
    // After a failed write (the reader is gone) what follows is dropped; the first error stays.
    Status failed;
    for (size_t done = 0; !broken && done < out.size();) {
      ssize_t n = ::write(fd_, out.data() + done, out.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        failed = IOError(fmt::format("writing standard output: {}", std::strerror(err)), err);
        break;
      }
      done += static_cast<size_t>(n);
    }
    lock.Lock();
    writing_ = false;
    if (!failed.ok() && status_.ok()) status_ = failed;
  }
}

}  // namespace quire::cli
