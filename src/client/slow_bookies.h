// Which bookies a reader should ask last, and recovery should not wait for: those that recently
// let a read wait past the speculative timeout, or recovery past its grace, or timed out (a
// paused or overloaded bookie keeps its TCP connection open, so nothing else says it is in
// trouble). Without this memory every read whose
// write set starts with such a bookie pays the speculative timeout again (issue 15: 9.2 s to read
// a closed ledger of 3,800 entries with 1 of 3 bookies paused).
//
// A bookie is slow from the moment a read gave up waiting on it until it answers anything or
// kForgetAfter passes (then it is tried first again, once: a bookie that recovered gets its
// share of reads back). Thread-safe; time is a parameter.
#pragma once

#include <chrono>
#include <map>
#include <vector>

#include "common/mutex.h"
#include "quire/ledger_metadata.h"

namespace quire::client {

class SlowBookies {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr std::chrono::seconds kForgetAfter{10};

  // A read gave up waiting on `bookie` at `now` (speculative timeout or timeout).
  void Slow(const BookieId& bookie, TimePoint now);
  // `bookie` answered a request (any answer: it is not hung).
  void Answered(const BookieId& bookie);
  // Whether `bookie` counts as slow at `now`.
  bool IsSlow(const BookieId& bookie, TimePoint now) const;
  // `write_set` in the order to ask: bookies not slow first, in their write-set order, then the
  // slow ones.
  std::vector<BookieId> ReadOrder(std::vector<BookieId> write_set, TimePoint now) const;

  // Speculation: how long a read waits for one replica before asking the next as well. A fixed
  // timeout is either long (a hung bookie costs every read that starts with it that long: 400 ms
  // by default, five times what reading 3,800 entries takes) or short (a busy cluster doubles its
  // reads). So it follows the reads: 3x the p99 of the last kSamples reads that a bookie answered
  // with the entry, at least kMinSpeculation, at most `configured` (ClientOptions::
  // speculative_read_timeout), which it is until kMinSamples reads were answered.
  static constexpr std::chrono::milliseconds kMinSpeculation{5};
  static constexpr size_t kSamples = 128;
  static constexpr size_t kMinSamples = 16;
  // A read that a bookie answered with the entry took `took`, from its request to the answer.
  void ReadTook(std::chrono::nanoseconds took);
  std::chrono::nanoseconds SpeculationAfter(std::chrono::milliseconds configured) const;

 private:
  bool SlowLocked(const BookieId& bookie, TimePoint now) const QUIRE_REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<BookieId, TimePoint> slow_since_ QUIRE_GUARDED_BY(mu_);
  std::vector<int64_t> samples_ QUIRE_GUARDED_BY(mu_);  // nanoseconds, a ring
  size_t next_sample_ QUIRE_GUARDED_BY(mu_) = 0;
  int64_t p99_ QUIRE_GUARDED_BY(mu_) = 0;  // of samples_, when last computed
};

}  // namespace quire::client
