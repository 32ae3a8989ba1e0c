// The bookie's table of known LACs and waiting long polls (lac_table.h), alone: the interleavings
// of loads, advances and waits that the request processor's threads can produce, one by one.
#include "bookie/lac_table.h"

#include <memory>
#include <vector>

#include <gtest/gtest.h>

namespace quire::bookie {
namespace {

struct TestWaiter {
  int64_t previous_lac;
};
using Table = LacTable<TestWaiter>;
using Registration = Table::Registration;

constexpr uint64_t kLedger = 7;

// Loads the ledger's LAC as the processor does, with `stored` as what storage held.
Result<int64_t> Load(Table& table, uint64_t ledger, int64_t stored) {
  if (std::optional<int64_t> known = table.FindOrStartLoad(ledger)) return *known;
  return table.FinishLoad(ledger, stored);
}

Registration Wait(Table& table, uint64_t ledger, const std::shared_ptr<TestWaiter>& w) {
  return table.Wait(ledger, w, [](const std::shared_ptr<TestWaiter>&) {});
}

// The CI failure of 2026-12-06: a long poll's load read storage before an add was stored, the
// add's advance found no LAC to raise, and the load then recorded the older LAC; the long poll
// registered against it was never woken.
TEST(LacTableTest, AnAdvanceWhileTheLacLoadsIsPartOfTheLoadedLac) {
  Table table;
  EXPECT_FALSE(table.FindOrStartLoad(kLedger).has_value());  // the load reads storage: LAC -1
  EXPECT_TRUE(table.Advance(kLedger, 0).empty());            // an add made durable meanwhile
  Result<int64_t> lac = table.FinishLoad(kLedger, -1);
  ASSERT_TRUE(lac.ok());
  EXPECT_EQ(*lac, 0);
  auto waiter = std::make_shared<TestWaiter>(TestWaiter{-1});
  Registration r = Wait(table, kLedger, waiter);
  EXPECT_EQ(r.state, Registration::kPassed);
  EXPECT_EQ(r.lac, 0);
}

TEST(LacTableTest, OverlappingLoadsKeepTheHighestLac) {
  Table table;
  EXPECT_FALSE(table.FindOrStartLoad(kLedger).has_value());
  EXPECT_FALSE(table.FindOrStartLoad(kLedger).has_value());
  table.Advance(kLedger, 4);
  EXPECT_EQ(*table.FinishLoad(kLedger, 5), 5);  // read after the add: storage has more
  EXPECT_EQ(*table.FinishLoad(kLedger, 3), 5);  // an older read lowers nothing
  EXPECT_EQ(*Load(table, kLedger, 0), 5);       // known now: storage is not read
}

TEST(LacTableTest, AnAdvanceAfterTheFirstOfTwoLoadsFinishedOutlivesTheSecond) {
  Table table;
  EXPECT_FALSE(table.FindOrStartLoad(kLedger).has_value());
  EXPECT_FALSE(table.FindOrStartLoad(kLedger).has_value());
  EXPECT_EQ(*table.FinishLoad(kLedger, 1), 1);
  table.Advance(kLedger, 4);                    // known now: raised there
  EXPECT_EQ(*table.FinishLoad(kLedger, 3), 4);  // the second load read before the add
}

TEST(LacTableTest, AnAdvanceOfALedgerNeitherKnownNorLoadingIsLeftToStorage) {
  Table table;
  EXPECT_TRUE(table.Advance(kLedger, 9).empty());
  EXPECT_EQ(table.known(), 0u);
  EXPECT_EQ(*Load(table, kLedger, 9), 9);
  // A finished load remembers nothing of advances made while it ran: the next one starts afresh.
  table.Forget({kLedger});
  EXPECT_EQ(*Load(table, kLedger, 2), 2);
}

TEST(LacTableTest, AFailedLoadReturnsItsErrorAndEnds) {
  Table table;
  EXPECT_FALSE(table.FindOrStartLoad(kLedger).has_value());
  Result<int64_t> lac = table.FinishLoad(kLedger, Status(StatusCode::kNoSuchLedger, "gone"));
  ASSERT_FALSE(lac.ok());
  EXPECT_TRUE(lac.status().Is(StatusCode::kNoSuchLedger));
  EXPECT_EQ(table.known(), 0u);
  table.Advance(kLedger, 3);  // not loading any more: not recorded for the next load
  EXPECT_EQ(*Load(table, kLedger, 1), 1);
}

TEST(LacTableTest, AWaiterIsWokenByTheFirstAdvancePastItsLacAndOnlyOnce) {
  Table table;
  ASSERT_EQ(*Load(table, kLedger, 2), 2);
  auto at2 = std::make_shared<TestWaiter>(TestWaiter{2});
  auto at3 = std::make_shared<TestWaiter>(TestWaiter{3});
  int armed = 0;
  auto arm = [&](const std::shared_ptr<TestWaiter>&) { ++armed; };
  EXPECT_EQ(table.Wait(kLedger, at2, arm).state, Registration::kWaiting);
  EXPECT_EQ(table.Wait(kLedger, at3, arm).state, Registration::kWaiting);
  EXPECT_EQ(armed, 2);
  EXPECT_EQ(table.waiters(), 2u);
  EXPECT_TRUE(table.Advance(kLedger, 2).empty());  // not past either
  std::vector<std::shared_ptr<TestWaiter>> woken = table.Advance(kLedger, 3);
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0], at2);
  EXPECT_TRUE(table.Advance(kLedger, 3).empty());
  EXPECT_EQ(table.Cancel(kLedger, at2), std::nullopt);  // its timer fires after the wake-up
  EXPECT_EQ(table.Cancel(kLedger, at3), 3);             // times out, told the LAC it saw
  EXPECT_EQ(table.waiters(), 0u);
  auto behind = std::make_shared<TestWaiter>(TestWaiter{1});
  Registration r = table.Wait(kLedger, behind, arm);
  EXPECT_EQ(r.state, Registration::kPassed);
  EXPECT_EQ(r.lac, 3);
  EXPECT_EQ(armed, 2);
}

TEST(LacTableTest, ASweepForgetsLacsIdleSinceThePreviousSweepButNotThoseWithWaiters) {
  Table table;
  ASSERT_EQ(*Load(table, 1, 0), 0);
  ASSERT_EQ(*Load(table, 2, 0), 0);
  auto waiter = std::make_shared<TestWaiter>(TestWaiter{0});
  ASSERT_EQ(Wait(table, 2, waiter).state, Registration::kWaiting);
  table.SweepIdle();  // both were used since the previous sweep
  EXPECT_EQ(table.known(), 2u);
  table.SweepIdle();
  EXPECT_EQ(table.known(), 1u);  // ledger 2 keeps its LAC for its waiter
  EXPECT_EQ(Wait(table, 1, std::make_shared<TestWaiter>(TestWaiter{0})).state,
            Registration::kUnknown);
  EXPECT_EQ(table.Advance(2, 1).size(), 1u);
  table.Forget({2});
  EXPECT_EQ(table.known(), 0u);
}

TEST(LacTableTest, TakeAllWaitersEmptiesTheTable) {
  Table table;
  ASSERT_EQ(*Load(table, kLedger, 0), 0);
  auto waiter = std::make_shared<TestWaiter>(TestWaiter{0});
  ASSERT_EQ(Wait(table, kLedger, waiter).state, Registration::kWaiting);
  std::vector<std::shared_ptr<TestWaiter>> all = table.TakeAllWaiters();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0], waiter);
  EXPECT_EQ(table.Cancel(kLedger, waiter), std::nullopt);
  EXPECT_TRUE(table.Advance(kLedger, 5).empty());
}

}  // namespace
}  // namespace quire::bookie
