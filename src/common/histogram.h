// A lock-free latency histogram with ~3% relative precision, for metrics and benchmarks.
//
// Values (e.g. nanoseconds) fall in log-linear buckets: each power of two is split into 32
// sub-buckets. Record() is wait-free (one relaxed atomic increment); readers take a snapshot.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

namespace quire {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 5;
  static constexpr int kSubBuckets = 1 << kSubBucketBits;
  static constexpr int kBuckets = (64 - kSubBucketBits + 1) * kSubBuckets;

  void Record(uint64_t value);

  struct Snapshot {
    std::vector<uint64_t> counts;  // per bucket
    uint64_t count = 0;
    uint64_t sum = 0;
    uint64_t max = 0;

    // The value at quantile q in [0, 1] (upper bound of its bucket, capped at max); 0 if empty.
    uint64_t Quantile(double q) const;
    double Mean() const { return count ? static_cast<double>(sum) / static_cast<double>(count) : 0; }
    // Adds another snapshot (for merging per-thread histograms).
    void Merge(const Snapshot& other);
  };
  Snapshot Take() const;
  void Reset();

  // Bucket index of a value and the largest value in a bucket; public for tests.
  static int BucketOf(uint64_t value);
  static uint64_t BucketUpperBound(int bucket);

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> max_{0};
};

}  // namespace quire
