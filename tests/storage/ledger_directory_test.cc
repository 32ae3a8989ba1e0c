// A ledger directory's own decisions (ledger_directory.h).
#include "storage/ledger_directory.h"

#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "util/temp_dir.h"

namespace quire::storage {
namespace {

// Under load a flush must not wait for flushIntervalMs: a cache holding flushThresholdKB asks
// for one at once, so that flushes stay small (docs/performance.md, "Smaller flushes"); without
// a threshold, half a cache half does.
TEST(LedgerDirectoryFlushTest, TheFlushThresholdOrAHalfFullCacheMakesAFlushDue) {
  quire::testing::TempDir dir("quire-flush-due");
  auto real = NewPosixFileSystem();
  for (uint64_t threshold : {uint64_t{16} << 10, uint64_t{0}}) {
    LedgerDirectoryOptions o;
    o.directory = dir.Sub(fmt::format("ledgers-{}", threshold));
    o.fs = real.get();
    o.write_cache_bytes = 256 << 10;  // 128 KiB halves: half full at 64 KiB
    o.flush_threshold_bytes = threshold;
    auto opened = LedgerDirectory::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    const uint64_t due_at = threshold > 0 ? threshold : 64 << 10;
    uint64_t stored = 0;
    for (uint64_t e = 0;; ++e) {
      bool due = false;
      Payload p = MakePayload(std::string(1000, 'x'));
      ASSERT_TRUE((*opened)->TryPut(1, e, p, &due));
      stored += 1000;
      if (due) break;
      ASSERT_LT(stored, due_at + 1000) << "threshold " << threshold;
    }
    // The cache counts a little per entry on top of its payload.
    EXPECT_GE(stored, due_at / 2) << "threshold " << threshold;
  }
}

}  // namespace
}  // namespace quire::storage
