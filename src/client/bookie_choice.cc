#include "client/bookie_choice.h"

#include <algorithm>

#include "client/placement.h"
#include "common/check.h"

namespace quire::client {

BookieChoice::BookieChoice(std::chrono::milliseconds min_backoff,
                           std::chrono::milliseconds max_backoff, uint64_t seed)
    : min_backoff_(std::max(min_backoff, std::chrono::milliseconds(1))),
      max_backoff_(std::max(max_backoff, min_backoff_)),
      rng_(seed) {}

void BookieChoice::Failed(const BookieId& bookie, TimePoint now) {
  Backoff& b = backoff_[bookie];
  // Doubling stops at the maximum; the shift is bounded so that it cannot overflow.
  auto pause = std::min(min_backoff_ * (int64_t{1} << std::min(b.failures, 20)), max_backoff_);
  b.until = now + pause;
  b.failures = std::min(b.failures + 1, 20);
}

bool BookieChoice::Eligible(const BookieId& bookie, TimePoint now) const {
  auto it = backoff_.find(bookie);
  return it == backoff_.end() || it->second.until <= now;
}

BookieChoice::Decision BookieChoice::Decide(const std::vector<BookieId>& ensemble,
                                            const std::set<int>& positions,
                                            const Result<metadata::BookieList>& listing,
                                            TimePoint now) {
  Decision d;
  if (!listing.ok()) {
    d.without = positions;
    d.look_again = now + min_backoff_;
    return d;
  }
  const metadata::BookieList& listed = *listing;
  auto is_listed = [&](const BookieId& b) {
    return std::find(listed.writable.begin(), listed.writable.end(), b) != listed.writable.end();
  };
  // Spares: not in the ensemble (a bookie holds one position) and not backing off. Those that
  // never failed this writer come first: one that failed and is listed again may be back (a
  // restart), or only still registered (killed; its registration lasts until its session
  // expires).
  std::set<BookieId> exclude(ensemble.begin(), ensemble.end());
  std::set<BookieId> failed_before, never_failed;
  for (const BookieId& b : listed.writable) {
    if (exclude.count(b)) continue;
    if (!Eligible(b, now)) {
      exclude.insert(b);
    } else if (backoff_.count(b)) {
      failed_before.insert(b);
    } else {
      never_failed.insert(b);
    }
  }
  auto pick_excluding = [&](const std::set<BookieId>& also) {
    std::set<BookieId> out = exclude;
    out.insert(also.begin(), also.end());
    return PickBookies(listed, static_cast<int>(positions.size()), out, rng_);
  };
  std::vector<BookieId> fresh = pick_excluding(failed_before);
  std::vector<BookieId> again = pick_excluding(never_failed);
  auto next_fresh = fresh.begin(), next_again = again.begin();
  for (int pos : positions) {
    QUIRE_CHECK_GE(pos, 0);
    QUIRE_CHECK_LT(static_cast<size_t>(pos), ensemble.size());
    const BookieId& own = ensemble[static_cast<size_t>(pos)];
    if (next_fresh != fresh.end()) {
      d.replacements[pos] = *next_fresh++;
    } else if (Eligible(own, now) && is_listed(own)) {
      d.in_place.insert(pos);
    } else if (next_again != again.end()) {
      d.replacements[pos] = *next_again++;
    } else {
      if (Eligible(own, now)) Failed(own, now);  // still away: look for it less often
      d.without.insert(pos);
    }
  }
  if (!d.without.empty()) {
    // The choice can change when a position's own bookie or a listed spare ends its back-off.
    d.look_again = TimePoint::max();
    for (int pos : d.without) {
      d.look_again = std::min(d.look_again, backoff_[ensemble[static_cast<size_t>(pos)]].until);
    }
    for (const BookieId& b : listed.writable) {
      if (!exclude.count(b) || std::count(ensemble.begin(), ensemble.end(), b)) continue;
      d.look_again = std::min(d.look_again, backoff_[b].until);
    }
    d.look_again = std::max(d.look_again, now + min_backoff_);
  }
  return d;
}

}  // namespace quire::client
