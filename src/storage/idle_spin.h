// Whether the journal thread spins before it sleeps when its queue runs dry.
//
// Spinning saves a futex wake-up (tens of microseconds on a VM) when the next record arrives
// within the window: a writer that waits for each add before the next one. It burns the core for
// nothing when the next record comes later: evenly spaced adds at 1,000/s made each of three
// bookies on a two-core machine spin 100 µs per add (a third of a core together), and every
// other thread of the machine waited behind the spinning ones (docs/performance.md, "Evenly
// spaced adds: fewer threads woken, no spinning for nothing"). So the journal spins only while
// most of the recent gaps were short.
#pragma once

#include <bit>
#include <cstdint>

namespace quire::storage {

class IdleSpin {
 public:
  static constexpr uint64_t kWindowNanos = 100'000;  // how long one spin lasts at most

  // Spin at the next dry queue? Yes while at least half of the last 8 gaps were within the window
  // (at first: yes, as if they all were).
  bool ShouldSpin() const { return std::popcount(history_) >= 4; }

  // The queue ran dry at `idle_ns`; the next record arrived at `arrival_ns` (same clock).
  void OnGap(uint64_t idle_ns, uint64_t arrival_ns) {
    bool short_gap = arrival_ns < idle_ns + kWindowNanos;
    history_ = static_cast<uint8_t>((history_ << 1) | (short_gap ? 1 : 0));
  }

 private:
  uint8_t history_ = 0xff;  // bit i: gap i+1 ago was short
};

}  // namespace quire::storage
