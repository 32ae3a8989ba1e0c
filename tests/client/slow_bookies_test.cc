// The readers' memory of slow bookies alone (client/slow_bookies.h).
#include "client/slow_bookies.h"

#include <gtest/gtest.h>

namespace quire::client {
namespace {

const SlowBookies::TimePoint kT0{};

TEST(SlowBookiesTest, ASlowBookieIsAskedLastUntilItAnswers) {
  SlowBookies slow;
  EXPECT_EQ(slow.ReadOrder({"a", "b", "c"}, kT0), (std::vector<BookieId>{"a", "b", "c"}));
  slow.Slow("a", kT0);
  EXPECT_EQ(slow.ReadOrder({"a", "b", "c"}, kT0), (std::vector<BookieId>{"b", "c", "a"}));
  EXPECT_EQ(slow.ReadOrder({"c", "a", "b"}, kT0), (std::vector<BookieId>{"c", "b", "a"}));
  slow.Answered("a");
  EXPECT_EQ(slow.ReadOrder({"a", "b", "c"}, kT0), (std::vector<BookieId>{"a", "b", "c"}));
}

TEST(SlowBookiesTest, ItIsTriedFirstAgainAfterAWhile) {
  SlowBookies slow;
  slow.Slow("a", kT0);
  slow.Slow("a", kT0 + std::chrono::seconds(5));  // still the first time counts
  EXPECT_EQ(slow.ReadOrder({"a", "b"}, kT0 + SlowBookies::kForgetAfter - std::chrono::seconds(1))
                .front(),
            "b");
  EXPECT_EQ(slow.ReadOrder({"a", "b"}, kT0 + SlowBookies::kForgetAfter).front(), "a");
}

TEST(SlowBookiesTest, SpeculationFollowsTheReadsWithinItsBounds) {
  using std::chrono::milliseconds;
  using std::chrono::microseconds;
  SlowBookies slow;
  const milliseconds configured(400);
  EXPECT_EQ(slow.SpeculationAfter(configured), configured);  // nothing measured yet
  for (size_t i = 0; i < SlowBookies::kMinSamples; ++i) slow.ReadTook(milliseconds(2));
  EXPECT_EQ(slow.SpeculationAfter(configured), milliseconds(6));  // 3x the p99
  for (size_t i = 0; i < SlowBookies::kSamples; ++i) slow.ReadTook(microseconds(100));
  EXPECT_EQ(slow.SpeculationAfter(configured), SlowBookies::kMinSpeculation);
  for (size_t i = 0; i < SlowBookies::kSamples; ++i) slow.ReadTook(milliseconds(900));
  EXPECT_EQ(slow.SpeculationAfter(configured), configured);
}

}  // namespace
}  // namespace quire::client
