// The RocksDB index's bounds (ledger_index.h).
#include "storage/ledger_index.h"

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>

#include <gtest/gtest.h>

#include "util/temp_dir.h"

namespace quire::storage {
namespace {

uint64_t WalBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.path().extension() == ".log") total += f.file_size();
  }
  return total;
}

// The WAL is shared by the column families and kept until every family has flushed what it
// holds. Flushes write entry locations (a family whose memtable fills) and a ledger info row (a
// family that never fills its own): without max_wal_bytes the WAL kept everything written.
TEST(LedgerIndexTest, TheWalStaysNearItsBoundThoughSmallFamiliesNeverFillTheirMemtables) {
  quire::testing::TempDir dir("quire-index-wal");
  const std::string path = dir.path() + "/index";
  LedgerIndexOptions o;
  o.entries_write_buffer_bytes = 256 << 10;
  o.max_wal_bytes = 1 << 20;
  auto index = LedgerIndex::Open(path, o);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  uint64_t entry = 0;
  for (int flush = 0; flush < 400; ++flush) {
    LedgerIndex::Batch batch = (*index)->NewBatch();
    for (int i = 0; i < 1000; ++i, ++entry) batch.PutLocation(1, entry, {1, entry * 1024, 1024});
    batch.PutLedgerInfo(1, LedgerInfo{.master_key = "key"});
    ASSERT_TRUE((*index)->Write(batch, /*sync=*/false).ok());
  }
  // About 400,000 rows went through the WAL: tens of MB. RocksDB flushes in the background, so
  // the bound is loose; what it rules out is a WAL that holds everything.
  EXPECT_LT(WalBytes(path), uint64_t{8} << 20);
  EXPECT_EQ((*(*index)->LastEntry(1)).value_or(0), entry - 1);
}

// What the index's files take on disk: allocated blocks, which is what a preallocation would
// take (fallocate with FALLOC_FL_KEEP_SIZE does not show in the sizes).
uint64_t AllocatedBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    struct stat st {};
    if (stat(f.path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

// RocksDB would preallocate a new index's write-ahead log (1.1x the 16 MiB memtable) and its
// MANIFEST (4 MiB): ~22 MiB of a ledger disk from the start, and 17.6 MiB more whenever the log
// rolls over. The index preallocates nothing: a new one takes what it wrote, well under 1 MiB.
TEST(LedgerIndexTest, ANewIndexTakesOnlyWhatItWrote) {
  quire::testing::TempDir dir("quire-index-size");
  const std::string path = dir.path() + "/index";
  auto index = LedgerIndex::Open(path, LedgerIndexOptions{});
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_LT(AllocatedBytes(path), uint64_t{1} << 20);
}

}  // namespace
}  // namespace quire::storage
