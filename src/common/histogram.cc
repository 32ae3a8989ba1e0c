#include "common/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace quire {

int Histogram::BucketOf(uint64_t value) {
  if (value < kSubBuckets) return static_cast<int>(value);
  int msb = 63 - std::countl_zero(value);           // >= kSubBucketBits
  int shift = msb - kSubBucketBits;                 // bits below the sub-bucket bits
  int sub = static_cast<int>((value >> shift) & (kSubBuckets - 1));
  return (shift + 1) * kSubBuckets + sub;
}

uint64_t Histogram::BucketUpperBound(int bucket) {
  if (bucket < kSubBuckets) return static_cast<uint64_t>(bucket);
  int shift = bucket / kSubBuckets - 1;
  uint64_t sub = static_cast<uint64_t>(bucket % kSubBuckets);
  uint64_t base = (uint64_t{kSubBuckets} | sub) << shift;
  return base + ((uint64_t{1} << shift) - 1);
}

void Histogram::Record(uint64_t value) {
  counts_[static_cast<size_t>(BucketOf(value))].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
  uint64_t prev = max_.load(std::memory_order_relaxed);
  while (value > prev && !max_.compare_exchange_weak(prev, value, std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.counts.resize(kBuckets);
  for (int i = 0; i < kBuckets; ++i) {
    s.counts[static_cast<size_t>(i)] = counts_[static_cast<size_t>(i)].load(std::memory_order_relaxed);
    s.count += s.counts[static_cast<size_t>(i)];
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  s.max = max_.load(std::memory_order_relaxed);
  return s;
}

void Histogram::Reset() {
  for (auto& c : counts_) c.store(0, std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
}

uint64_t Histogram::Snapshot::Quantile(double q) const {
  if (count == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    seen += counts[i];
    if (seen >= rank) return std::min(BucketUpperBound(static_cast<int>(i)), max);
  }
  return max;
}

void Histogram::Snapshot::Merge(const Snapshot& other) {
  if (counts.empty()) counts.resize(kBuckets);
  for (size_t i = 0; i < other.counts.size(); ++i) counts[i] += other.counts[i];
  count += other.count;
  sum += other.sum;
  max = std::max(max, other.max);
}

}  // namespace quire
