#include "autorecovery/policy.h"

#include <algorithm>
#include <numeric>

namespace quire::autorecovery {

void MissingBookieTracker::Restore(const std::vector<metadata::MissingBookie>& missing) {
  for (const metadata::MissingBookie& m : missing) {
    auto [it, inserted] = missing_since_ms_.emplace(m.bookie_id, m.missing_since_ms);
    if (!inserted) it->second = std::min(it->second, m.missing_since_ms);
  }
}

bool MissingBookieTracker::Observe(const std::vector<BookieId>& expected,
                                   const std::set<BookieId>& live, int64_t now_ms) {
  bool changed = false;
  std::set<BookieId> expected_set(expected.begin(), expected.end());
  for (auto it = missing_since_ms_.begin(); it != missing_since_ms_.end();) {
    // Back (registered again), or no longer expected (decommissioned: its cookie is gone).
    if (live.count(it->first) || !expected_set.count(it->first)) {
      it = missing_since_ms_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  for (const BookieId& b : expected_set) {
    if (!live.count(b) && missing_since_ms_.emplace(b, now_ms).second) changed = true;
  }
  return changed;
}

std::vector<metadata::MissingBookie> MissingBookieTracker::missing() const {
  std::vector<metadata::MissingBookie> out;
  for (const auto& [b, since] : missing_since_ms_) out.push_back({b, since});
  return out;
}

std::set<BookieId> MissingBookieTracker::Lost(int64_t now_ms) const {
  std::set<BookieId> lost;
  for (const auto& [b, since] : missing_since_ms_) {
    if (now_ms - since >= lost_delay_.count()) lost.insert(b);
  }
  return lost;
}

std::optional<std::chrono::milliseconds> MissingBookieTracker::UntilNextLost(int64_t now_ms) const {
  std::optional<std::chrono::milliseconds> next;
  for (const auto& [b, since] : missing_since_ms_) {
    int64_t left = since + lost_delay_.count() - now_ms;
    if (left <= 0) continue;  // lost already
    if (!next || left < next->count()) next = std::chrono::milliseconds(left);
  }
  return next;
}

std::vector<BookieId> LostBookiesOf(const LedgerMetadata& metadata,
                                    const std::set<BookieId>& lost) {
  std::set<BookieId> found;
  for (const Ensemble& ensemble : metadata.ensembles) {
    for (const BookieId& b : ensemble.bookies) {
      if (lost.count(b)) found.insert(b);
    }
  }
  return {found.begin(), found.end()};
}

bool WriterActivity::Quiet(LedgerId ledger, EntryId lac, int64_t now_ms) {
  auto [it, inserted] = seen_.emplace(ledger, Seen{lac, now_ms});
  if (!inserted && it->second.lac != lac) it->second = Seen{lac, now_ms};  // the writer moved on
  return now_ms - it->second.since_ms >= grace_.count();
}

Action Decide(const LedgerMetadata& metadata, const metadata::UnderReplicatedLedger& marker) {
  bool named = std::any_of(marker.lost_bookies.begin(), marker.lost_bookies.end(),
                           [&](const BookieId& b) { return metadata.UsesBookie(b); });
  if (!named) return Action::kClearMarker;
  // An open ledger's ensembles belong to its writer (or to the recovery under way): copying
  // under it would race its compare-and-set. Its writer fixes the last ensemble itself on its next
  // add; whether the writer is still there decides between waiting and recovering.
  if (!metadata.closed()) return Action::kCheckWriter;
  return Action::kReplicate;
}

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kClearMarker:
      return "clear-marker";
    case Action::kReplicate:
      return "replicate";
    case Action::kCheckWriter:
      return "check-writer";
  }
  return "?";
}

ByteRate::Clock::time_point ByteRate::After(int64_t bytes, Clock::time_point now) {
  if (!limited()) return now;
  auto cost = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
      static_cast<double>(bytes) / static_cast<double>(bytes_per_second_)));
  next_ = std::max(next_, now - std::chrono::seconds(1)) + cost;
  return std::max(next_, now);
}

std::vector<size_t> WorkOrder(const std::vector<std::pair<LedgerId, LedgerState>>& states) {
  std::vector<size_t> order(states.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    bool ca = states[a].second == LedgerState::kClosed;
    bool cb = states[b].second == LedgerState::kClosed;
    if (ca != cb) return ca;
    return states[a].first < states[b].first;
  });
  return order;
}

}  // namespace quire::autorecovery
