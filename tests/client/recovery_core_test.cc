// Recovery's tallies alone (client/recovery_core.h).
#include "client/recovery_core.h"

#include <gtest/gtest.h>

namespace quire::client {
namespace {

using Fate = EntryVerdict::Fate;

TEST(FenceTallyTest, EnoughOnceNoWriteSetCanGatherQaUnfencedBookies) {
  FenceTally fence({3, 3, 2}, 3);
  fence.Fenced(0, 4);
  EXPECT_FALSE(fence.Enough());
  EXPECT_FALSE(fence.Decided());
  fence.Fenced(2, 7);
  EXPECT_TRUE(fence.Enough());  // bookie 1 alone can no longer acknowledge: no need to wait
  EXPECT_TRUE(fence.Decided());
  EXPECT_EQ(fence.lac(), 7);
}

TEST(FenceTallyTest, DecidedButNotEnoughWhenTooManyFail) {
  FenceTally fence({3, 3, 2}, 3);
  fence.Failed(0, "timed out");
  fence.Fenced(1, kNoEntry);
  EXPECT_FALSE(fence.Decided());
  fence.Failed(2, "connection refused");
  EXPECT_TRUE(fence.Decided());
  EXPECT_FALSE(fence.Enough());
  EXPECT_EQ(fence.Errors(), "timed out; connection refused");
}

TEST(EntryVerdictTest, OneGoodCopyIsEnoughToKeepAnEntry) {
  EntryVerdict v({3, 3, 2}, 3);
  v.Missing();
  EXPECT_EQ(v.fate(), Fate::kUndecided);
  v.Found("body");
  EXPECT_EQ(v.fate(), Fate::kExists);
  EXPECT_EQ(v.body(), "body");
}

TEST(EntryVerdictTest, QwMinusQaPlusOneMissingEndsTheLedgerUnlessALaterAnswerHasIt) {
  EntryVerdict v({3, 3, 2}, 3);
  v.Missing();
  v.Missing();
  EXPECT_EQ(v.fate(), Fate::kNeverAcknowledged);
  EXPECT_FALSE(v.settled());  // the third bookie may still have it
  v.Found("late");  // on one bookie only: never acknowledged, but kept when it comes in time
  EXPECT_EQ(v.fate(), Fate::kExists);
  EXPECT_TRUE(v.settled());
  EXPECT_EQ(v.body(), "late");

  EntryVerdict all({3, 3, 2}, 3);
  all.Missing();
  all.Failed("timed out");
  all.Missing();
  EXPECT_EQ(all.fate(), Fate::kNeverAcknowledged);
  EXPECT_TRUE(all.settled());
}

TEST(EntryVerdictTest, UnknowableWhenEveryoneAnsweredWithoutDeciding) {
  EntryVerdict v({3, 3, 2}, 3);
  v.Missing();
  v.Failed("timed out");
  EXPECT_EQ(v.fate(), Fate::kUndecided);
  v.Failed("digest mismatch");
  EXPECT_EQ(v.fate(), Fate::kUnknowable);
  EXPECT_EQ(v.missing(), 1);
}

TEST(EntryVerdictTest, QaOfOneNeedsEveryBookieOfTheWriteSetToLackIt) {
  EntryVerdict v({3, 3, 1}, 3);
  v.Missing();
  v.Missing();
  EXPECT_EQ(v.fate(), Fate::kUndecided);
  v.Missing();
  EXPECT_EQ(v.fate(), Fate::kNeverAcknowledged);
}

TEST(RewriteTallyTest, SafeAtQaAndDecidedWhenQaIsOutOfReach) {
  RewriteTally ok({3, 3, 2}, 3);
  ok.Stored();
  EXPECT_FALSE(ok.Decided());
  ok.Stored();
  EXPECT_TRUE(ok.Safe());
  RewriteTally lost({3, 3, 2}, 3);
  lost.Failed("timed out");
  EXPECT_FALSE(lost.Decided());
  lost.Failed("timed out");
  EXPECT_TRUE(lost.Decided());
  EXPECT_FALSE(lost.Safe());
}

}  // namespace
}  // namespace quire::client
