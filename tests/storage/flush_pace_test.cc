// A periodic flush's entry-log writes, spread out (storage/flush_pace.h), and the ledger
// directory's use of it.
#include "storage/flush_pace.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "storage/ledger_directory.h"
#include "util/temp_dir.h"

namespace quire::storage {
namespace {

constexpr uint64_t kMs = 1'000'000;

TEST(FlushPaceTest, AFlushIsDueToEndWhenHalfItsCacheFillTimeHasPassed) {
  const uint64_t start = 5'000 * kMs;
  const uint64_t bytes = 100 << 20;
  FlushPace pace(bytes, PacedFlushNs(/*fill_ns=*/1'000 * kMs, /*directories=*/1), start);
  ASSERT_TRUE(pace.paced());
  EXPECT_EQ(pace.WaitNs(0, start), 0u);
  EXPECT_EQ(pace.WaitNs(bytes / 2, start), 250 * kMs);
  EXPECT_EQ(pace.WaitNs(bytes, start), 500 * kMs);
  EXPECT_EQ(pace.WaitNs(bytes, start + 400 * kMs), 100 * kMs);
  // At half the fill time everything is due.
  EXPECT_EQ(pace.WaitNs(bytes, start + 500 * kMs), 0u);
}

// Ledger directories are flushed one after another: each gets an equal share of the half fill
// time, so that the whole flush still ends within it.
TEST(FlushPaceTest, LedgerDirectoriesShareTheHalfFillTime) {
  EXPECT_EQ(PacedFlushNs(1'000 * kMs, 1), 500 * kMs);
  EXPECT_EQ(PacedFlushNs(1'000 * kMs, 2), 250 * kMs);
  EXPECT_EQ(PacedFlushNs(1'000 * kMs, 4), 125 * kMs);
  EXPECT_EQ(PacedFlushNs(0, 2), 0u);
}

TEST(FlushPaceTest, AFlushBehindItsScheduleDoesNotWait) {
  const uint64_t start = 5'000 * kMs;
  FlushPace pace(10 << 20, PacedFlushNs(1'000 * kMs, 1), start);
  EXPECT_EQ(pace.WaitNs(1 << 20, start + 300 * kMs), 0u);  // due at 50 ms
}

TEST(FlushPaceTest, WithoutAFillTimeOrBytesAFlushWritesAtOnce) {
  EXPECT_FALSE(FlushPace().paced());
  EXPECT_EQ(FlushPace().WaitNs(1 << 30, 0), 0u);
  // The first flush, or a forced one: no fill time.
  FlushPace first(10 << 20, PacedFlushNs(/*fill_ns=*/0, 1), 0);
  EXPECT_FALSE(first.paced());
  EXPECT_EQ(first.WaitNs(10 << 20, 0), 0u);
  EXPECT_FALSE(FlushPace(0, 500 * kMs, 0).paced());
}

// Something waiting for the flush (an add for room, Flush(), the stop) makes a paced flush write
// the rest at once: here a flush paced over half an hour ends once the hurry is raised (without
// it, the test would time out), with every entry in the index.
TEST(FlushPaceTest, AHurryEndsAPacedFlush) {
  quire::testing::TempDir dir("quire-flush-pace");
  auto real = NewPosixFileSystem();
  LedgerDirectoryOptions o;
  o.directory = dir.Sub("ledgers");
  o.fs = real.get();
  o.write_cache_bytes = 64 << 20;
  auto opened = LedgerDirectory::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  LedgerDirectory& d = **opened;
  constexpr uint64_t kEntries = 4'000;  // ~4 MB: several paced steps
  for (uint64_t e = 0; e < kEntries; ++e) {
    d.ForcePut(1, e, MakePayload(fmt::format("{:>1000}", e)));
  }
  d.SwapCaches();
  std::atomic<int> hurry{0};
  Status flushed;
  std::thread flush([&] {
    flushed = d.FlushSwapped({}, {.duration_ns = 1'800'000 * kMs, .hurry = &hurry});
  });
  hurry.store(1);
  flush.join();
  ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  d.FinishFlush();
  for (uint64_t e : {uint64_t{0}, kEntries / 2, kEntries - 1}) {
    auto read = d.Read(1, e);
    ASSERT_TRUE(read.ok()) << read.status().ToString();
    EXPECT_EQ(*read, fmt::format("{:>1000}", e));
  }
}

}  // namespace
}  // namespace quire::storage
