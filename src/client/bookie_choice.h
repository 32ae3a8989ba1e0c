// Which bookies a writer may use for the ensemble positions whose bookie failed, and when: the
// decisions of an ensemble change (semantics.md, writing step 5), without I/O, so that they can be
// tested alone. The writer (write_handle.cc) does the I/O: it lists the registered bookies afresh
// for every decision, updates the metadata and sends the adds.
//
// A bookie that failed a request is not chosen again until its back-off has passed: the back-off
// starts at `min_backoff` and doubles with each failure of that bookie, up to `max_backoff`.
// After that it may be chosen again. So a bookie restarted by an operator (a rolling
// restart) comes back into use within a back-off, while one that keeps failing is tried at most
// once every `max_backoff`, without flooding the metadata with ensemble changes.
//
// For each position without a working bookie, Decide chooses, in this order:
//  - a spare that never failed this writer: a writable bookie, not in the ensemble, at random
//    (placement.h). A bookie that failed and is listed again may be back, or may only still be
//    registered (killed: its registration lasts until its session expires), so it comes after;
//  - in place: the position's own bookie is listed writable again and its back-off has passed.
//    The writer sends to it again; it is still in the ensemble, so the metadata does not change;
//  - a spare that failed before and whose back-off has passed;
//  - none: the position stays without a bookie for now (the writer writes around it while every
//    write set keeps Qa live bookies), and `look_again` says when the choice may differ.
//
// Not thread-safe (the writer calls it under its lock). Time is a parameter, never read here.
#pragma once

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "metadata/metadata_store.h"

namespace quire::client {

class BookieChoice {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // Spares are drawn at random from a generator seeded with `seed` (by default, by the system).
  BookieChoice(std::chrono::milliseconds min_backoff, std::chrono::milliseconds max_backoff,
               uint64_t seed = std::random_device{}());

  // `bookie` failed a request at `now`: not chosen again before its back-off has passed.
  void Failed(const BookieId& bookie, TimePoint now);
  // Whether `bookie` may be chosen at `now`: it never failed, or its back-off has passed.
  bool Eligible(const BookieId& bookie, TimePoint now) const;

  struct Decision {
    std::set<int> in_place;                 // positions whose own bookie is back
    std::map<int, BookieId> replacements;   // positions given a spare
    std::set<int> without;                  // positions left without a bookie for now
    TimePoint look_again{};                 // when to decide again for `without` (if any)
  };

  // Decides for `positions` of `ensemble`, given the bookies the registry lists now (`listed`;
  // if it could not be read, no position gets a bookie and look_again is a minimum back-off
  // away). A position's own bookie that is eligible but not listed (still restarting) counts as
  // failing again, so that a bookie that stays away is looked for less and less often.
  Decision Decide(const std::vector<BookieId>& ensemble, const std::set<int>& positions,
                  const Result<metadata::BookieList>& listed, TimePoint now);

 private:
  struct Backoff {
    int failures = 0;
    TimePoint until{};
  };

  const std::chrono::milliseconds min_backoff_;
  const std::chrono::milliseconds max_backoff_;
  std::map<BookieId, Backoff> backoff_;  // bookies that failed, by id
  std::mt19937_64 rng_;
};

}  // namespace quire::client
