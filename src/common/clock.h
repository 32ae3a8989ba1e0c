// Time, in the two forms Quire uses: a monotonic clock for durations and latencies, the wall clock
// (Unix milliseconds) for timestamps written into files and records.
#pragma once

#include <chrono>
#include <cstdint>

namespace quire {

inline uint64_t MonotonicNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

inline uint64_t UnixMillis() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace quire
