// Autorecovery's decisions alone (src/autorecovery/policy.h): no bookie, no metadata store.
#include "autorecovery/policy.h"

#include <gtest/gtest.h>

namespace quire::autorecovery {
namespace {

using std::chrono::milliseconds;

TEST(MissingBookieTrackerTest, BookieIsLostOnlyAfterTheDelay) {
  MissingBookieTracker t(milliseconds(5'000));
  const std::vector<BookieId> expected = {"a:1", "b:1", "c:1"};
  EXPECT_FALSE(t.Observe(expected, {"a:1", "b:1", "c:1"}, 1'000));
  EXPECT_TRUE(t.missing().empty());
  EXPECT_TRUE(t.Observe(expected, {"a:1", "c:1"}, 2'000));  // b goes
  ASSERT_EQ(t.missing().size(), 1u);
  EXPECT_EQ(t.missing()[0].bookie_id, "b:1");
  EXPECT_EQ(t.missing()[0].missing_since_ms, 2'000);
  EXPECT_TRUE(t.Lost(6'999).empty());
  EXPECT_EQ(t.UntilNextLost(6'000), milliseconds(1'000));
  EXPECT_FALSE(t.Observe(expected, {"a:1", "c:1"}, 7'000));  // still gone: the clock keeps running
  EXPECT_EQ(t.Lost(7'000), (std::set<BookieId>{"b:1"}));
  EXPECT_EQ(t.UntilNextLost(7'000), std::nullopt);
}

TEST(MissingBookieTrackerTest, RestartWithinTheDelayIsForgotten) {
  MissingBookieTracker t(milliseconds(5'000));
  const std::vector<BookieId> expected = {"a:1", "b:1"};
  t.Observe(expected, {"a:1"}, 0);
  EXPECT_TRUE(t.Observe(expected, {"a:1", "b:1"}, 4'000));  // back in time
  EXPECT_TRUE(t.missing().empty());
  EXPECT_TRUE(t.Lost(100'000).empty());
  t.Observe(expected, {"a:1"}, 10'000);  // gone again: a new clock
  EXPECT_TRUE(t.Lost(14'999).empty());
  EXPECT_EQ(t.Lost(15'000), (std::set<BookieId>{"b:1"}));
}

TEST(MissingBookieTrackerTest, DecommissionedBookieIsNotMissing) {
  MissingBookieTracker t(milliseconds(0));
  t.Observe({"a:1", "b:1"}, {"a:1"}, 0);
  EXPECT_EQ(t.Lost(0), (std::set<BookieId>{"b:1"}));
  EXPECT_TRUE(t.Observe({"a:1"}, {"a:1"}, 1));  // its cookie is gone
  EXPECT_TRUE(t.Lost(1).empty());
}

TEST(MissingBookieTrackerTest, NewAuditorContinuesThePreviousClocks) {
  MissingBookieTracker t(milliseconds(5'000));
  t.Restore({{"b:1", 1'000}});
  // The new auditor first looks at 4,000: b has been missing since 1,000, not since 4,000.
  EXPECT_FALSE(t.Observe({"a:1", "b:1"}, {"a:1"}, 4'000));
  EXPECT_EQ(t.Lost(6'000), (std::set<BookieId>{"b:1"}));
  // A restored bookie that is back is dropped at the first look.
  MissingBookieTracker u(milliseconds(5'000));
  u.Restore({{"b:1", 1'000}});
  EXPECT_TRUE(u.Observe({"a:1", "b:1"}, {"a:1", "b:1"}, 4'000));
  EXPECT_TRUE(u.missing().empty());
}

LedgerMetadata Ledger(LedgerState state, std::vector<Ensemble> ensembles) {
  LedgerMetadata md;
  md.state = state;
  md.ensemble_size = 3;
  md.write_quorum_size = 3;
  md.ack_quorum_size = 2;
  md.ensembles = std::move(ensembles);
  md.last_entry_id = state == LedgerState::kClosed ? 99 : kNoEntry;
  return md;
}

TEST(PolicyTest, LostBookiesOfLooksAtEveryEnsemble) {
  LedgerMetadata md = Ledger(LedgerState::kClosed,
                             {{0, {"a:1", "b:1", "c:1"}}, {50, {"a:1", "d:1", "c:1"}}});
  EXPECT_EQ(LostBookiesOf(md, {"b:1", "e:1"}), (std::vector<BookieId>{"b:1"}));
  EXPECT_EQ(LostBookiesOf(md, {"d:1", "b:1"}), (std::vector<BookieId>{"b:1", "d:1"}));
  EXPECT_TRUE(LostBookiesOf(md, {"e:1"}).empty());
}

TEST(PolicyTest, DecideLeavesOpenLedgersToTheirWritersAndClearsStaleMarkers) {
  metadata::UnderReplicatedLedger marker{.ledger_id = 7, .lost_bookies = {"b:1"}};
  EXPECT_EQ(Decide(Ledger(LedgerState::kClosed, {{0, {"a:1", "b:1", "c:1"}}}), marker),
            Action::kReplicate);
  EXPECT_EQ(Decide(Ledger(LedgerState::kOpen, {{0, {"a:1", "b:1", "c:1"}}}), marker),
            Action::kCheckWriter);
  EXPECT_EQ(Decide(Ledger(LedgerState::kInRecovery, {{0, {"a:1", "b:1", "c:1"}}}), marker),
            Action::kCheckWriter);
  // Already replaced (by a worker that died before clearing, or by decommission).
  EXPECT_EQ(Decide(Ledger(LedgerState::kClosed, {{0, {"a:1", "d:1", "c:1"}}}), marker),
            Action::kClearMarker);
}

TEST(PolicyTest, WriterIsQuietOnlyWhenItsLacStaysForTheGracePeriod) {
  WriterActivity w(milliseconds(1'000));
  EXPECT_FALSE(w.Quiet(7, 10, 0));      // first look starts the clock
  EXPECT_FALSE(w.Quiet(7, 10, 999));
  EXPECT_FALSE(w.Quiet(7, 11, 1'500));  // it wrote: the clock starts again
  EXPECT_FALSE(w.Quiet(7, 11, 2'499));
  EXPECT_TRUE(w.Quiet(7, 11, 2'500));
  w.Forget(7);
  EXPECT_FALSE(w.Quiet(7, 11, 2'600));
  WriterActivity none(milliseconds(0));
  EXPECT_TRUE(none.Quiet(8, kNoEntry, 0));
}

TEST(PolicyTest, ByteRateSpacesBatchesAfterASecondOfCredit) {
  using Clock = ByteRate::Clock;
  const Clock::time_point t0{};
  ByteRate unlimited(-1);
  EXPECT_FALSE(unlimited.limited());
  EXPECT_EQ(unlimited.After(1 << 30, t0), t0);
  ByteRate r(1000);  // bytes/s
  ASSERT_TRUE(r.limited());
  // After a pause, up to a second's worth goes at once...
  const Clock::time_point later = t0 + std::chrono::seconds(100);
  EXPECT_EQ(r.After(500, later), later);
  EXPECT_EQ(r.After(500, later), later);
  // ...then each batch waits for its own cost.
  EXPECT_EQ(r.After(500, later), later + milliseconds(500));
  EXPECT_EQ(r.After(1000, later), later + milliseconds(1500));
}

TEST(PolicyTest, ClosedLedgersComeFirst) {
  std::vector<std::pair<LedgerId, LedgerState>> s = {{5, LedgerState::kOpen},
                                                     {9, LedgerState::kClosed},
                                                     {2, LedgerState::kInRecovery},
                                                     {3, LedgerState::kClosed}};
  EXPECT_EQ(WorkOrder(s), (std::vector<size_t>{3, 1, 2, 0}));
}

}  // namespace
}  // namespace quire::autorecovery
