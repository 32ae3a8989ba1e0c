#include "client/slow_bookies.h"

#include <algorithm>

namespace quire::client {

void SlowBookies::Slow(const BookieId& bookie, TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  slow_since_.try_emplace(bookie, now);
}

void SlowBookies::Answered(const BookieId& bookie) {
  std::lock_guard<std::mutex> lock(mu_);
  slow_since_.erase(bookie);
}

bool SlowBookies::IsSlow(const BookieId& bookie, TimePoint now) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = slow_since_.find(bookie);
  return it != slow_since_.end() && now - it->second < kForgetAfter;
}

std::vector<BookieId> SlowBookies::ReadOrder(std::vector<BookieId> write_set,
                                             TimePoint now) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (slow_since_.empty()) return write_set;
  auto slow = [&](const BookieId& b) {
    auto it = slow_since_.find(b);
    return it != slow_since_.end() && now - it->second < kForgetAfter;
  };
  std::stable_partition(write_set.begin(), write_set.end(),
                        [&](const BookieId& b) { return !slow(b); });
  return write_set;
}

}  // namespace quire::client
