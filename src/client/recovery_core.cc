#include "client/recovery_core.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/check.h"

namespace quire::client {

FenceTally::FenceTally(Quorums quorums, int positions)
    : quorums_(quorums),
      answered_(static_cast<size_t>(positions), false),
      ended_(static_cast<size_t>(positions), false),
      outstanding_(positions) {
  QUIRE_CHECK_EQ(positions, quorums.ensemble_size);
}

void FenceTally::Fenced(int pos, EntryId proven_lac) {
  QUIRE_CHECK(!ended_[static_cast<size_t>(pos)]);
  ended_[static_cast<size_t>(pos)] = true;
  answered_[static_cast<size_t>(pos)] = true;
  --outstanding_;
  lac_ = std::max(lac_, proven_lac);
}

void FenceTally::Failed(int pos, std::string why) {
  QUIRE_CHECK(!ended_[static_cast<size_t>(pos)]);
  ended_[static_cast<size_t>(pos)] = true;
  --outstanding_;
  errors_.push_back(std::move(why));
}

bool FenceTally::Enough() const {
  return quorums_.FencedEnough([&](int pos) { return answered_[static_cast<size_t>(pos)]; });
}

std::string FenceTally::Errors() const { return fmt::format("{}", fmt::join(errors_, "; ")); }

EntryVerdict::EntryVerdict(Quorums quorums, int write_set_size)
    : quorums_(quorums), outstanding_(write_set_size) {}

void EntryVerdict::Found(std::string body) {
  if (settled()) return;
  QUIRE_CHECK_GT(outstanding_, 0);
  --outstanding_;
  if (!body_) body_ = std::move(body);
}

void EntryVerdict::Missing() {
  if (settled()) return;
  QUIRE_CHECK_GT(outstanding_, 0);
  --outstanding_;
  ++missing_;
}

void EntryVerdict::Failed(std::string why) {
  if (settled()) return;
  QUIRE_CHECK_GT(outstanding_, 0);
  --outstanding_;
  errors_.push_back(std::move(why));
}

EntryVerdict::Fate EntryVerdict::fate() const {
  // Any good copy was written by the writer: it is kept, whatever the other bookies say (it may
  // have been acknowledged; if not, keeping it is harmless).
  if (body_) return Fate::kExists;
  // At most Qa - 1 of the rest could hold it: it was never acknowledged.
  if (missing_ >= quorums_.NoSuchEntryToEnd()) return Fate::kNeverAcknowledged;
  return outstanding_ == 0 ? Fate::kUnknowable : Fate::kUndecided;
}

bool EntryVerdict::settled() const {
  switch (fate()) {
    case Fate::kExists:
    case Fate::kUnknowable:
      return true;
    case Fate::kNeverAcknowledged:
      return outstanding_ == 0;
    case Fate::kUndecided:
      return false;
  }
  return false;
}

std::string EntryVerdict::Errors() const { return fmt::format("{}", fmt::join(errors_, "; ")); }

RewriteTally::RewriteTally(Quorums quorums, int write_set_size)
    : quorums_(quorums), outstanding_(write_set_size) {}

void RewriteTally::Failed(std::string why) {
  --outstanding_;
  errors_.push_back(std::move(why));
}

std::string RewriteTally::Errors() const { return fmt::format("{}", fmt::join(errors_, "; ")); }

}  // namespace quire::client
