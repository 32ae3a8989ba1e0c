// Standard input and output of `quire ledger write`, at the library's speed: a pipe of lines in,
// one acknowledgement line out per entry (docs/cli.md). iostreams' getline and a printf plus
// fflush per acknowledgement cost more than the cluster's work on each entry (issue 19), and the
// fflush ran on the client's callback thread, delaying every later acknowledgement.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/mutex.h"
#include "quire/status.h"

namespace quire::cli {

// Lines of a file descriptor, read in large blocks. A line is what std::getline returns: the
// bytes up to '\n' (not included); a last line without '\n' counts too.
class LineReader {
 public:
  explicit LineReader(int fd, size_t block = 1 << 20) : fd_(fd), block_(block) {}

  // The next line; std::nullopt at end of input. A read error is returned as a Status.
  Result<std::optional<std::string>> Next();

 private:
  const int fd_;
  const size_t block_;
  std::string buffer_;
  size_t pos_ = 0;  // start of the unread part of buffer_
  bool eof_ = false;
};

// Writes lines to a file descriptor from any thread, in the order Print is called, without
// making the caller wait for the write: a thread of its own writes whatever has accumulated
// since its last write with one write(2). With nothing queued it sleeps, and a Print wakes it,
// so a lone line reaches the pipe at once; under load lines go out many per system call.
class LinePrinter {
 public:
  explicit LinePrinter(int fd);
  ~LinePrinter() { Finish().IgnoreError(); }
  LinePrinter(const LinePrinter&) = delete;
  LinePrinter& operator=(const LinePrinter&) = delete;

  // `line` must end with '\n'. Not after Finish.
  void Print(std::string_view line);
  // Writes what is queued and stops the thread. The first write error, if any (after one, later
  // lines are dropped: the reader is gone).
  Status Finish();

 private:
  void Run();

  const int fd_;
  Mutex mu_;
  CondVar cv_;
  std::string queued_ QUIRE_GUARDED_BY(mu_);
  bool stopping_ QUIRE_GUARDED_BY(mu_) = false;
  bool writing_ QUIRE_GUARDED_BY(mu_) = false;  // Run is writing: no need to wake it
  Status status_ QUIRE_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace quire::cli
