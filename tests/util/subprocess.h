// Child processes for tests: start a program with its stdout on a pipe, read lines from it with a
// deadline, kill it. The destructor kills (SIGKILL) and reaps a child that is still running, so a
// failing test never leaves processes behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "quire/status.h"

namespace quire::testing {

class Subprocess {
 public:
  // Starts argv[0] (a path) with the given arguments; its stdout is readable with ReadLine(),
  // its stderr goes to ours. The child is killed (SIGKILL) if the calling thread exits first, so
  // call it from the test's main thread.
  static Result<Subprocess> Start(const std::vector<std::string>& argv);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&&) = delete;
  Subprocess(const Subprocess&) = delete;
  ~Subprocess();

  // The next line of the child's stdout (without '\n'); nullopt at end of output or when
  // `timeout` passes first (timed_out() then says so).
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);
  bool timed_out() const { return timed_out_; }

  // Sends a signal (default SIGKILL) and waits for the child to exit; returns its wait status.
  int Kill(int signal = 9);
  // Waits for the child to exit on its own (bounded by `timeout`; then kills it).
  int Wait(std::chrono::milliseconds timeout);

  pid_t pid() const { return pid_; }

 private:
  Subprocess(pid_t pid, int stdout_fd) : pid_(pid), fd_(stdout_fd) {}

  pid_t pid_ = -1;
  int fd_ = -1;
  std::string buffer_;
  bool timed_out_ = false;
  std::optional<int> status_;
};

}  // namespace quire::testing
