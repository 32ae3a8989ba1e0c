#include "client/slow_bookies.h"

#include <algorithm>

namespace quire::client {

void SlowBookies::Slow(const BookieId& bookie, TimePoint now) {
  MutexLock lock(mu_);
  slow_since_.try_emplace(bookie, now);
}

void SlowBookies::Answered(const BookieId& bookie) {
  MutexLock lock(mu_);
  slow_since_.erase(bookie);
}

bool SlowBookies::IsSlow(const BookieId& bookie, TimePoint now) const {
  MutexLock lock(mu_);
  return SlowLocked(bookie, now);
}

bool SlowBookies::SlowLocked(const BookieId& bookie, TimePoint now) const {
  auto it = slow_since_.find(bookie);
  return it != slow_since_.end() && now - it->second < kForgetAfter;
}

std::vector<BookieId> SlowBookies::ReadOrder(std::vector<BookieId> write_set,
                                             TimePoint now) const {
  MutexLock lock(mu_);
  if (slow_since_.empty()) return write_set;
  std::stable_partition(write_set.begin(), write_set.end(),
                        [&](const BookieId& b) QUIRE_REQUIRES(mu_) { return !SlowLocked(b, now); });
  return write_set;
}

void SlowBookies::ReadTook(std::chrono::nanoseconds took) {
  MutexLock lock(mu_);
  if (samples_.size() < kSamples) {
    samples_.push_back(took.count());
  } else {
    samples_[next_sample_] = took.count();
  }
  next_sample_ = (next_sample_ + 1) % kSamples;
  // Recomputed every 8 samples (and at first): a selection over 128 numbers.
  if (samples_.size() >= kMinSamples && (samples_.size() == kMinSamples || next_sample_ % 8 == 0)) {
    std::vector<int64_t> sorted = samples_;
    size_t k = (sorted.size() * 99) / 100;
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(k), sorted.end());
    p99_ = sorted[k];
  }
}

std::chrono::nanoseconds SlowBookies::SpeculationAfter(std::chrono::milliseconds configured) const {
  MutexLock lock(mu_);
  if (samples_.size() < kMinSamples) return configured;
  std::chrono::nanoseconds adaptive(3 * p99_);
  return std::min<std::chrono::nanoseconds>(configured, std::max<std::chrono::nanoseconds>(
                                                            kMinSpeculation, adaptive));
}

}  // namespace quire::client
