// When the journal thread spins before sleeping (storage/idle_spin.h), on its own.
#include "storage/idle_spin.h"

#include <gtest/gtest.h>

namespace quire::storage {
namespace {

constexpr uint64_t kShort = IdleSpin::kWindowNanos / 2;
constexpr uint64_t kLong = IdleSpin::kWindowNanos * 10;

TEST(IdleSpinTest, SpinsAtFirstAndWhileRecordsComeClose) {
  IdleSpin spin;
  EXPECT_TRUE(spin.ShouldSpin());
  uint64_t t = 1'000'000;
  for (int i = 0; i < 100; ++i, t += kShort) spin.OnGap(t, t + kShort);
  EXPECT_TRUE(spin.ShouldSpin());
}

TEST(IdleSpinTest, StopsSpinningWhenRecordsComeFarApart) {
  IdleSpin spin;
  uint64_t t = 1'000'000;
  int spun = 0;
  for (int i = 0; i < 100; ++i, t += kLong) {
    spun += spin.ShouldSpin() ? 1 : 0;
    spin.OnGap(t, t + kLong);
  }
  EXPECT_FALSE(spin.ShouldSpin());
  EXPECT_LE(spun, 5);  // it learns within a few gaps: 8 remembered, half decide
}

TEST(IdleSpinTest, AGapOfExactlyTheWindowIsLong) {
  IdleSpin spin;
  for (int i = 0; i < 8; ++i) spin.OnGap(0, IdleSpin::kWindowNanos);
  EXPECT_FALSE(spin.ShouldSpin());
}

TEST(IdleSpinTest, SpinsAgainOnceRecordsComeCloseAgain) {
  IdleSpin spin;
  for (int i = 0; i < 8; ++i) spin.OnGap(0, kLong);
  ASSERT_FALSE(spin.ShouldSpin());
  spin.OnGap(0, kShort);
  spin.OnGap(0, kShort);
  spin.OnGap(0, kShort);
  EXPECT_FALSE(spin.ShouldSpin());  // three of eight
  spin.OnGap(0, kShort);
  EXPECT_TRUE(spin.ShouldSpin());  // four of eight
}

TEST(IdleSpinTest, AnEvenMixKeepsSpinning) {
  // Half the gaps short: spinning catches half the records without a wake-up, worth the CPU.
  IdleSpin spin;
  for (int i = 0; i < 64; ++i) spin.OnGap(0, i % 2 == 0 ? kShort : kLong);
  EXPECT_TRUE(spin.ShouldSpin());
}

}  // namespace
}  // namespace quire::storage
