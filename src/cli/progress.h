// Progress of a long command (`bookie decommission`, `index rebuild`) on standard error, for the
// operator watching it: a line at most every `interval` while it runs, and the totals at the end.
//
//   decommission of 10.0.0.1:3181: 3/10 ledgers, 1200 entries, 4.7 MiB, 1.2 MiB/s, 4 s
//   decommission of 10.0.0.1:3181: done: 10/10 ledgers, 4000 entries, 15.6 MiB in 12 s (1.3 MiB/s)
//
// Data stays on standard output; these lines are for people (and logs), not for parsing.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace quire::cli {

class Progress {
 public:
  // `unit` names what `total` counts ("ledgers", "entry logs"). Lines go to `out`.
  Progress(std::ostream& out, std::string what, std::string unit, int64_t total,
           std::chrono::milliseconds interval = std::chrono::seconds(1));

  // `units` more of the total are done, with `entries` entries and `bytes` bytes among them.
  // Prints a line if `interval` has passed since the last one.
  void Add(int64_t units, int64_t entries, int64_t bytes);
  // The totals line. Call once, at the end.
  void Finish();

 private:
  std::string Counts() const;
  double ElapsedSeconds() const;

  std::ostream& out_;
  const std::string what_;
  const std::string unit_;
  const int64_t total_;
  const std::chrono::steady_clock::duration interval_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_line_;
  int64_t units_ = 0, entries_ = 0, bytes_ = 0;
};

}  // namespace quire::cli
