// BookieChoice alone: which bookie fills a failed ensemble position, and when, on a clock the
// test moves by hand.
#include "client/bookie_choice.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace quire::client {
namespace {

using std::chrono::milliseconds;
using TimePoint = BookieChoice::TimePoint;

constexpr milliseconds kMin{100};
constexpr milliseconds kMax{800};

metadata::BookieList Listed(std::vector<BookieId> writable, std::vector<BookieId> read_only = {}) {
  return {.writable = std::move(writable), .read_only = std::move(read_only)};
}

class BookieChoiceTest : public ::testing::Test {
 protected:
  const TimePoint t0_ = TimePoint{} + std::chrono::hours(1);
  BookieChoice choice_{kMin, kMax};
  const std::vector<BookieId> ensemble_ = {"a", "b", "c"};
};

TEST_F(BookieChoiceTest, AFailedBookieIsNotChosenDuringItsBackoffAndIsAfterIt) {
  choice_.Failed("d", t0_);
  EXPECT_FALSE(choice_.Eligible("d", t0_));
  EXPECT_FALSE(choice_.Eligible("d", t0_ + kMin - milliseconds(1)));
  EXPECT_TRUE(choice_.Eligible("d", t0_ + kMin));
  EXPECT_TRUE(choice_.Eligible("never-failed", t0_));

  // "a" failed; the only spare, "d", is backing off: nothing yet, look again when it is done.
  choice_.Failed("a", t0_);
  auto d = choice_.Decide(ensemble_, {0}, Listed({"a", "b", "c", "d"}), t0_);
  EXPECT_TRUE(d.replacements.empty());
  EXPECT_TRUE(d.in_place.empty());
  EXPECT_EQ(d.without, std::set<int>{0});
  EXPECT_EQ(d.look_again, t0_ + kMin);

  // After the back-off "a" itself is back and listed: written to in place, not replaced.
  d = choice_.Decide(ensemble_, {0}, Listed({"a", "b", "c", "d"}), t0_ + kMin);
  EXPECT_EQ(d.in_place, std::set<int>{0});
  EXPECT_TRUE(d.replacements.empty());
  EXPECT_TRUE(d.without.empty());
}

TEST_F(BookieChoiceTest, ASpareIsAListedWritableBookieOutsideTheEnsemble) {
  choice_.Failed("b", t0_);
  // Read-only and unlisted bookies never fill a position; ensemble members neither.
  for (int i = 0; i < 20; ++i) {
    auto d = choice_.Decide(ensemble_, {1}, Listed({"a", "b", "c", "e"}, {"d"}), t0_);
    ASSERT_EQ(d.replacements.size(), 1u);
    EXPECT_EQ(d.replacements.at(1), "e");
    EXPECT_TRUE(d.without.empty());
  }
  // Two positions, one spare: one replaced, the other written around.
  choice_.Failed("c", t0_);
  auto d = choice_.Decide(ensemble_, {1, 2}, Listed({"a", "b", "c", "e"}), t0_);
  EXPECT_EQ(d.replacements.size(), 1u);
  EXPECT_EQ(d.without.size(), 1u);
}

// A bookie killed a moment ago stays registered until its session expires: a spare that never
// failed is taken before it, and before the failed position's own bookie.
TEST_F(BookieChoiceTest, ASpareThatNeverFailedComesBeforeOnesThatFailed) {
  choice_.Failed("a", t0_);
  choice_.Failed("d", t0_);
  const TimePoint later = t0_ + kMin;  // both back-offs have passed; both still listed
  for (int i = 0; i < 20; ++i) {
    auto d = choice_.Decide(ensemble_, {0}, Listed({"a", "b", "c", "d", "e"}), later);
    ASSERT_EQ(d.replacements.size(), 1u);
    EXPECT_EQ(d.replacements.at(0), "e");
  }
  // With no such spare: in place first, then a spare that failed before.
  auto d = choice_.Decide(ensemble_, {0}, Listed({"a", "b", "c", "d"}), later);
  EXPECT_EQ(d.in_place, std::set<int>{0});
  d = choice_.Decide(ensemble_, {0}, Listed({"b", "c", "d"}), later);
  ASSERT_EQ(d.replacements.size(), 1u);
  EXPECT_EQ(d.replacements.at(0), "d");
}

TEST_F(BookieChoiceTest, TheListingIsTheOneGivenNotARememberedOne) {
  choice_.Failed("a", t0_);
  auto d = choice_.Decide(ensemble_, {0}, Listed({"b", "c"}), t0_);
  EXPECT_EQ(d.without, std::set<int>{0});
  // A bookie registered since (a new or restarted one) is a spare at once.
  d = choice_.Decide(ensemble_, {0}, Listed({"b", "c", "f"}), t0_);
  ASSERT_EQ(d.replacements.size(), 1u);
  EXPECT_EQ(d.replacements.at(0), "f");
}

TEST_F(BookieChoiceTest, BackoffDoublesPerFailureUpToTheMaximum) {
  TimePoint now = t0_;
  for (milliseconds expected : {kMin, 2 * kMin, 4 * kMin, kMax, kMax, kMax}) {
    choice_.Failed("a", now);
    EXPECT_FALSE(choice_.Eligible("a", now + expected - milliseconds(1))) << expected.count();
    EXPECT_TRUE(choice_.Eligible("a", now + expected)) << expected.count();
    now += expected;
  }
  // Many failures later the pause is still bounded by the maximum (no overflow).
  for (int i = 0; i < 100; ++i) choice_.Failed("a", now);
  EXPECT_TRUE(choice_.Eligible("a", now + kMax));
}

TEST_F(BookieChoiceTest, AnOwnBookieStillAwayIsLookedForLessAndLessOften) {
  choice_.Failed("a", t0_);
  TimePoint now = t0_ + kMin;  // its back-off passed, but it is not listed (still restarting)
  auto d = choice_.Decide(ensemble_, {0}, Listed({"b", "c"}), now);
  EXPECT_EQ(d.without, std::set<int>{0});
  EXPECT_EQ(d.look_again, now + 2 * kMin);
  now = d.look_again;
  d = choice_.Decide(ensemble_, {0}, Listed({"b", "c"}), now);
  EXPECT_EQ(d.look_again, now + 4 * kMin);
  // It registers again: in place at the next look.
  now = d.look_again;
  d = choice_.Decide(ensemble_, {0}, Listed({"a", "b", "c"}), now);
  EXPECT_EQ(d.in_place, std::set<int>{0});
}

TEST_F(BookieChoiceTest, AnUnreadableListingGivesNoBookieAndALookAgainSoon) {
  auto d = choice_.Decide(ensemble_, {0, 2}, Status(StatusCode::kTimeout, "zk"), t0_);
  EXPECT_EQ(d.without, (std::set<int>{0, 2}));
  EXPECT_TRUE(d.replacements.empty());
  EXPECT_EQ(d.look_again, t0_ + kMin);
  // Not a failure of the bookies: they stay eligible.
  EXPECT_TRUE(choice_.Eligible("a", t0_));
}

// The finding of issue 15: 5 bookies, E = 3, each restarted in turn; every restarted bookie must
// be usable again once its back-off has passed, so that every failure finds a bookie.
TEST_F(BookieChoiceTest, RollingRestartOfFiveBookiesAlwaysFindsABookie) {
  const std::vector<BookieId> all = {"a", "b", "c", "d", "e"};
  std::vector<BookieId> ensemble = ensemble_;
  TimePoint now = t0_;
  const milliseconds restart_takes{200};
  for (int round = 0; round < 3; ++round) {
    for (const BookieId& restarting : all) {
      auto it = std::find(ensemble.begin(), ensemble.end(), restarting);
      if (it != ensemble.end()) {
        int pos = static_cast<int>(it - ensemble.begin());
        choice_.Failed(restarting, now);
        std::vector<BookieId> listed;
        for (const BookieId& b : all) {
          if (b != restarting) listed.push_back(b);
        }
        auto d = choice_.Decide(ensemble, {pos}, Listed(listed), now);
        ASSERT_EQ(d.replacements.size(), 1u) << "round " << round << ", " << restarting;
        ensemble[static_cast<size_t>(pos)] = d.replacements.at(pos);
      }
      now += restart_takes;
    }
  }
}

}  // namespace
}  // namespace quire::client
