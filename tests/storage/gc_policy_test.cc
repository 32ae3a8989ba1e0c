// The garbage collector's decisions, on their own (storage/gc_policy.h).
#include "storage/gc_policy.h"

#include <gtest/gtest.h>

namespace quire::storage {
namespace {

using std::chrono::milliseconds;
using Ids = std::vector<uint64_t>;

TEST(GcPolicyTest, CandidatesAreTheHeldLedgersACompleteListingMissed) {
  auto c = GarbageCandidates({1, 2, 3, 5, 8}, Status::Ok(), {2, 3, 4, 8, 9});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, (Ids{1, 5}));
  // Nothing held: nothing to decide, whatever the listing says.
  EXPECT_EQ(*GarbageCandidates({}, Status::Ok(), {}), Ids{});
}

TEST(GcPolicyTest, AFailedOrEmptyListingDecidesNothing) {
  auto failed = GarbageCandidates({1, 2}, Status(StatusCode::kTimeout, "zk"), {2});
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(failed.status().message().find("zk"), std::string::npos);
  auto empty = GarbageCandidates({1, 2}, Status::Ok(), {});
  EXPECT_EQ(empty.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(empty.status().message().find("listed no ledger"), std::string::npos);
}

TEST(GcPolicyTest, OnlyAConfirmedAbsenceIsGarbage) {
  EXPECT_TRUE(IsConfirmedGarbage(LedgerExistence::kAbsent));
  EXPECT_FALSE(IsConfirmedGarbage(LedgerExistence::kExists));
  EXPECT_FALSE(IsConfirmedGarbage(LedgerExistence::kUnknown));
}

TEST(GcPolicyTest, CompactionIsDueByInterval) {
  using Clock = std::chrono::steady_clock;
  CompactionSchedule s{milliseconds(1000), milliseconds(10000)};
  Clock::time_point t0{};
  EXPECT_EQ(DueCompaction(t0 + milliseconds(500), t0, t0, s), CompactionKind::kNone);
  EXPECT_EQ(DueCompaction(t0 + milliseconds(1000), t0, t0, s), CompactionKind::kMinor);
  EXPECT_EQ(DueCompaction(t0 + milliseconds(10000), t0, t0, s), CompactionKind::kMajor);
  // A major compaction counts as a minor one too.
  EXPECT_EQ(DueCompaction(t0 + milliseconds(10500), t0, t0 + milliseconds(10000), s),
            CompactionKind::kNone);
  // Zero intervals disable.
  CompactionSchedule off{milliseconds(0), milliseconds(0)};
  EXPECT_EQ(DueCompaction(t0 + milliseconds(1'000'000), t0, t0, off), CompactionKind::kNone);
}

LogUsage Log(uint64_t id, uint64_t total, uint64_t live) { return {id, total, live}; }

TEST(GcPolicyTest, ASuspendedMajorCompactionBecomesMinorAndASuspendedMinorOneNone) {
  using K = CompactionKind;
  const CompactionSuspension none, major{true, false}, minor{false, true}, both{true, true};
  EXPECT_EQ(AllowedCompaction(K::kMajor, none), K::kMajor);
  EXPECT_EQ(AllowedCompaction(K::kMajor, major), K::kMinor);
  EXPECT_EQ(AllowedCompaction(K::kMajor, minor), K::kMajor);
  EXPECT_EQ(AllowedCompaction(K::kMajor, both), K::kNone);
  EXPECT_EQ(AllowedCompaction(K::kMinor, major), K::kMinor);
  EXPECT_EQ(AllowedCompaction(K::kMinor, minor), K::kNone);
  EXPECT_EQ(AllowedCompaction(K::kNone, none), K::kNone);
}

TEST(GcPolicyTest, EmptyLogsAreDeletedAndSparseOnesCompactedEmptiestFirst) {
  std::vector<LogUsage> logs = {Log(1, 100'000, 0), Log(2, 100'000, 50'000),
                                Log(3, 100'000, 10'000), Log(4, 100'000, 90'000)};
  LogPlan plan = PlanLogs(logs, /*threshold=*/0.8, /*free=*/1 << 30, 0);
  EXPECT_EQ(plan.delete_logs, (Ids{1}));
  EXPECT_EQ(plan.compact_logs, (Ids{3, 2}));
  EXPECT_EQ(plan.bytes_to_copy, 60'000u);
  // Minor: only the emptiest.
  EXPECT_EQ(PlanLogs(logs, 0.2, 1 << 30, 0).compact_logs, (Ids{3}));
  // No compaction asked for: deletion only.
  LogPlan none = PlanLogs(logs, 0, 1 << 30, 0);
  EXPECT_EQ(none.delete_logs, (Ids{1}));
  EXPECT_TRUE(none.compact_logs.empty());
}

TEST(GcPolicyTest, ALogIsCompactedOnlyIfTheDiskTakesItsCopy) {
  // 5,000 free plus the deleted log's 100,000; a margin of 1,000 stays free.
  std::vector<LogUsage> logs = {Log(1, 100'000, 0), Log(2, 200'000, 150'000),
                                Log(3, 200'000, 20'000), Log(4, 200'000, 100'000)};
  LogPlan plan = PlanLogs(logs, 0.8, 5'000, 1'000);
  // 3 fits (104,000 free); afterwards 104,000 - 20,000 + 200,000 = 284,000: 4 fits, then 2.
  EXPECT_EQ(plan.compact_logs, (Ids{3, 4, 2}));
  LogPlan tight = PlanLogs({Log(2, 200'000, 150'000)}, 0.8, 100'000, 1'000);
  EXPECT_TRUE(tight.compact_logs.empty());
  EXPECT_EQ(tight.no_room, (Ids{2}));
}

TEST(GcPolicyTest, ALogWithLessThanTwoBlocksDeadIsNotWorthRewriting) {
  // A small compaction output: its "dead" bytes are the padding of its last block.
  LogPlan plan = PlanLogs({Log(7, 4096, 1500), Log(8, 3 * 4096, 3 * 4096 - kMinReclaimBytes + 1)},
                          0.8, 1 << 30, 0);
  EXPECT_TRUE(plan.compact_logs.empty());
  EXPECT_EQ(PlanLogs({Log(9, 4 * 4096, 4096)}, 0.8, 1 << 30, 0).compact_logs, (Ids{9}));
}

}  // namespace
}  // namespace quire::storage
