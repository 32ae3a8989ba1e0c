// A ledger directory's own decisions (ledger_directory.h).
#include "storage/ledger_directory.h"

#include <cstdint>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/mutex.h"
#include "storage/ledger_index.h"
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

// A log whose usage the index does not record (written before index format 2, or indexed by
// `quire index rebuild`) is scanned, and counts only the records the index still points at: here
// ledger 1's entries 10-19, written again in a later flush into the same log, count once.
TEST(LedgerDirectoryScanTest, AScannedLogCountsOnlyTheRecordsTheIndexPointsAt) {
  quire::testing::TempDir dir("quire-scan-usage");
  auto real = NewPosixFileSystem();
  LedgerDirectoryOptions o;
  o.directory = dir.Sub("ledgers");
  o.fs = real.get();
  uint64_t log = 0;
  {
    auto opened = LedgerDirectory::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    LedgerDirectory& d = **opened;
    auto flush = [&d](uint64_t ledger, uint64_t first, uint64_t end) {
      for (uint64_t e = first; e < end; ++e) {
        d.ForcePut(ledger, e, MakePayload(std::string(1000, 'x')));
      }
      d.SwapCaches();
      Status s = d.FlushSwapped({});
      d.FinishFlush();
      return s;
    };
    ASSERT_TRUE(flush(1, 0, 6000).ok());  // more than one FindMany chunk of records
    ASSERT_TRUE(flush(2, 0, 50).ok());
    ASSERT_TRUE(flush(1, 10, 20).ok());
    std::vector<LogUsage> logs = d.usage()->Logs();
    ASSERT_EQ(logs.size(), 1u);
    log = logs[0].log_id;
    LedgerIndex::Batch forget = d.index()->NewBatch();
    forget.DeleteLog(log);  // as if the log predated usage rows
    ASSERT_TRUE(d.index()->Write(forget).ok());
  }
  auto opened = LedgerDirectory::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  LedgerDirectory& d = **opened;
  auto unknown = d.UnknownLogs();
  ASSERT_TRUE(unknown.ok());
  ASSERT_EQ(*unknown, std::vector<uint64_t>{log});
  Mutex index_writer;
  ASSERT_TRUE(d.RecordScannedUsage(log, &index_writer).ok());
  const uint64_t record = kEntryLogRecordHeader + 1000;
  EXPECT_EQ(d.usage()->Bytes(log, 1), 6000 * record);
  EXPECT_EQ(d.usage()->Bytes(log, 2), 50 * record);
}

}  // namespace
}  // namespace quire::storage
