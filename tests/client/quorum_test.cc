// The quorum arithmetic alone (client/quorum.h).
#include "client/quorum.h"

#include <gtest/gtest.h>

#include <set>

namespace quire::client {
namespace {

std::function<bool(int)> In(std::set<int> positions) {
  return [positions = std::move(positions)](int pos) { return positions.count(pos) > 0; };
}
std::function<bool(int)> NotIn(std::set<int> positions) {
  return [positions = std::move(positions)](int pos) { return positions.count(pos) == 0; };
}

TEST(QuorumTest, FencingNeedsFewerThanQaSilentBookiesInEveryWriteSet) {
  const Quorums e3{3, 3, 2};
  EXPECT_TRUE(e3.FencedEnough(In({0, 1, 2})));
  EXPECT_TRUE(e3.FencedEnough(In({0, 2})));   // one silent: it alone cannot acknowledge
  EXPECT_FALSE(e3.FencedEnough(In({1})));     // two silent: the old writer could still get Qa
  // E5/Qw3/Qa2: write sets {0,1,2} {1,2,3} {2,3,4} {3,4,0} {4,0,1}.
  const Quorums e5{5, 3, 2};
  EXPECT_TRUE(e5.FencedEnough(NotIn({4})));
  EXPECT_FALSE(e5.FencedEnough(NotIn({0, 3})));  // {3,4,0}: 3 and 0 silent
  EXPECT_FALSE(e5.FencedEnough(NotIn({1, 2})));           // {0,1,2}: two silent
  EXPECT_TRUE(e5.FencedEnough(NotIn({})));
  // Qa = 1: every bookie of every write set must be fenced.
  EXPECT_FALSE((Quorums{3, 2, 1}).FencedEnough(NotIn({2})));
}

TEST(QuorumTest, AWriterCanAckWhileEveryWriteSetKeepsQaLiveBookies) {
  const Quorums e5{5, 3, 2};
  EXPECT_TRUE(e5.EveryWriteSetCanAck(NotIn({1})));
  EXPECT_FALSE(e5.EveryWriteSetCanAck(NotIn({0, 3})));  // {3,4,0} keeps only 4
  EXPECT_FALSE(e5.EveryWriteSetCanAck(NotIn({1, 2})));
  EXPECT_TRUE((Quorums{3, 3, 1}).EveryWriteSetCanAck(NotIn({0, 1})));
  EXPECT_FALSE((Quorums{3, 3, 3}).EveryWriteSetCanAck(NotIn({2})));
}

TEST(QuorumTest, TheEndRuleNeedsQwMinusQaPlusOneNoSuchEntryAnswers) {
  EXPECT_EQ((Quorums{3, 3, 2}).NoSuchEntryToEnd(), 2);
  EXPECT_EQ((Quorums{5, 3, 3}).NoSuchEntryToEnd(), 1);
  EXPECT_EQ((Quorums{3, 3, 1}).NoSuchEntryToEnd(), 3);
  EXPECT_EQ((Quorums{5, 3, 2}).FewestInAnyWriteSet(In({0, 1, 2, 3, 4})), 3);
  EXPECT_EQ((Quorums{5, 3, 2}).FewestInAnyWriteSet(In({0})), 0);
}

}  // namespace
}  // namespace quire::client
