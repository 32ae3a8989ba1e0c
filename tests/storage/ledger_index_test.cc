// The RocksDB index's bounds (ledger_index.h).
#include "storage/ledger_index.h"

#include <rocksdb/db.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <random>

#include <gtest/gtest.h>

#include "common/coding.h"

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

// ---- Runs of entries (index format 3) ----

using Model = std::map<uint64_t, EntryLocation>;  // entry -> where it is

Model Expand(const std::vector<EntryRun>& runs) {
  Model m;
  for (const EntryRun& r : runs) {
    for (uint64_t e = r.first_entry; e <= r.last_entry(); ++e) m[e] = r.At(e);
  }
  return m;
}

bool SameLocations(const Model& a, const Model& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [e, loc] : a) {
    auto it = b.find(e);
    if (it == b.end() || it->second.log_id != loc.log_id || it->second.offset != loc.offset ||
        it->second.size != loc.size) {
      return false;
    }
  }
  return true;
}

EntryRun RandomRun(std::mt19937_64& rng, uint64_t log) {
  EntryRun r;
  r.first_entry = rng() % 60;
  r.log_id = log;
  r.offset = 4096 + rng() % 100000;
  size_t n = 1 + rng() % 20;
  for (size_t i = 0; i < n; ++i) r.sizes.push_back(static_cast<uint32_t>(17 + rng() % 2000));
  return r;
}

// Laying runs over runs gives, entry by entry, what writing their entries one by one in the same
// order gives; and the result stays sorted and disjoint (what the index's lookups rely on).
TEST(EntryRunsTest, OverlayAgreesWithWritingEveryEntryInTurn) {
  std::mt19937_64 rng(20261207);
  for (int round = 0; round < 2000; ++round) {
    std::vector<EntryRun> existing;
    Model model;
    uint64_t log = 1;
    for (int step = 0; step < 6; ++step) {
      std::vector<EntryRun> added;
      for (size_t n = 1 + rng() % 3; n > 0; --n) added.push_back(RandomRun(rng, log++));
      for (const EntryRun& r : added) {
        for (uint64_t e = r.first_entry; e <= r.last_entry(); ++e) model[e] = r.At(e);
      }
      existing = OverlayRuns(existing, added);
      for (size_t i = 1; i < existing.size(); ++i) {
        ASSERT_GT(existing[i].first_entry, existing[i - 1].last_entry()) << "round " << round;
      }
      ASSERT_TRUE(SameLocations(Expand(existing), model)) << "round " << round;
    }
  }
}

TEST(EntryRunsTest, ASliceKeepsEachEntrysLocation) {
  EntryRun r{10, 4, 8192, {100, 200, 300, 400}};
  EntryRun s = r.Slice(11, 12);
  EXPECT_EQ(s, (EntryRun{11, 4, 8292, {200, 300}}));
  EXPECT_EQ(s.At(12).offset, r.At(12).offset);
  EXPECT_EQ(r.last_entry(), 13u);
  EXPECT_FALSE(r.Holds(14));
}

// The rows of the `entries` family, read with RocksDB itself (the index closed).
size_t EntryRows(const std::string& path) {
  rocksdb::Options options;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(options, path, &names).ok());
  for (const std::string& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  EXPECT_TRUE(rocksdb::DB::OpenForReadOnly(options, path, cfs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  size_t rows = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] != "entries") continue;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++rows;
  }
  for (auto* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  return rows;
}

// A flush's entries of one ledger, adjacent in one log, take one row per kMaxRunEntries.
TEST(LedgerIndexTest, AdjacentEntriesOfALedgerTakeOneRowPerRun) {
  quire::testing::TempDir dir("quire-index-runs");
  const std::string path = dir.path() + "/index";
  {
    auto index = LedgerIndex::Open(path);
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    LedgerIndex::Batch batch = (*index)->NewBatch();
    for (uint64_t e = 0; e < 1000; ++e) batch.PutLocation(7, e, {3, 4096 + e * 1040, 1040});
    ASSERT_TRUE((*index)->Write(batch).ok());
    for (uint64_t e : {0u, 255u, 256u, 999u}) {
      auto loc = (*index)->Find(7, e);
      ASSERT_TRUE(loc.ok() && loc->has_value()) << e;
      EXPECT_EQ((*loc)->offset, 4096 + e * 1040);
    }
    EXPECT_FALSE((*(*index)->Find(7, 1000)).has_value());
    EXPECT_FALSE((*(*index)->Find(8, 0)).has_value());
    EXPECT_EQ((*(*index)->LastEntry(7)).value_or(0), 999u);
  }
  EXPECT_EQ(EntryRows(path), (1000 + kMaxRunEntries - 1) / kMaxRunEntries);
}

// The index against an entry-by-entry model, through batches of the shapes its writers make: a
// flush's adjacent entries, a compaction's moves of some entries into a new log, rewrites in the
// middle of a run, a ledger deleted and written again in one batch.
TEST(LedgerIndexTest, LookupsAgreeWithAnEntryByEntryModel) {
  quire::testing::TempDir dir("quire-index-model");
  auto opened = LedgerIndex::Open(dir.path() + "/index");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  LedgerIndex& index = **opened;
  std::mt19937_64 rng(7);
  std::map<uint64_t, Model> model;  // ledger -> entries
  uint64_t log = 1;
  // Not more rounds: every rewrite leaves a version of its row in the memtable, and a lookup
  // steps back over the versions of the row before it (a run's row is rewritten only when an
  // entry of it is written again, rare outside this test).
  for (int round = 0; round < 60; ++round) {
    LedgerIndex::Batch batch = index.NewBatch();
    for (int op = 0; op < 4; ++op) {
      uint64_t ledger = rng() % 3;
      if (rng() % 25 == 0) {
        batch.DeleteLedger(ledger);
        model.erase(ledger);
        continue;
      }
      uint64_t first = rng() % 700;
      uint64_t n = 1 + rng() % 400;
      uint64_t offset = 4096 + rng() % 1000;
      for (uint64_t e = first; e < first + n; ++e) {
        if (rng() % 10 == 0) continue;  // a gap: the run ends
        uint32_t size = static_cast<uint32_t>(20 + rng() % 3000);
        if (rng() % 50 == 0) offset += 4096;  // not adjacent: the run ends
        EntryLocation loc{log, offset, size};
        batch.PutLocation(ledger, e, loc);
        model[ledger][e] = loc;
        offset += size;
      }
      if (rng() % 3 == 0) ++log;
    }
    ASSERT_TRUE(index.Write(batch, /*sync=*/false).ok());
    ++log;

    for (uint64_t ledger = 0; ledger < 3; ++ledger) {
      const Model& want = model[ledger];
      Model got;
      ASSERT_TRUE(index.ForEachEntry(ledger, [&](uint64_t e, const EntryLocation& loc) {
        got[e] = loc;
        return true;
      }).ok());
      ASSERT_TRUE(SameLocations(got, want)) << "round " << round << " ledger " << ledger;
      auto last = index.LastEntry(ledger);
      ASSERT_TRUE(last.ok());
      EXPECT_EQ(*last, want.empty() ? std::nullopt : std::optional(want.rbegin()->first));
      std::vector<std::pair<uint64_t, uint64_t>> keys;
      for (uint64_t e = 0; e < 1200; e += 1 + rng() % 40) keys.emplace_back(ledger, e);
      auto many = index.FindMany(keys);
      ASSERT_TRUE(many.ok());
      for (size_t i = 0; i < keys.size(); ++i) {
        auto it = want.find(keys[i].second);
        ASSERT_EQ((*many)[i].has_value(), it != want.end()) << keys[i].second;
        if (it != want.end()) {
          EXPECT_EQ((*many)[i]->offset, it->second.offset);
        }
        auto one = index.Find(ledger, keys[i].second);
        ASSERT_TRUE(one.ok());
        EXPECT_EQ(one->has_value(), it != want.end());
      }
    }
  }
}

// Opens the index at `path` with RocksDB itself (creating it and its five column families if
// needed) and hands `fn` the handles in the order default, entries, ledgers, logs, log_ledgers.
void WithRocksDB(const std::string& path,
                 const std::function<void(rocksdb::DB*,
                                          const std::vector<rocksdb::ColumnFamilyHandle*>&)>& fn) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* n : {"default", "entries", "ledgers", "logs", "log_ledgers"}) {
    cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, path, cfs, &handles, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  fn(db.get(), handles);
  for (auto* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
}

// An index of format 2 (a row per entry) is read as it is, and opening it for writing records
// format 3 and changes no row: each old row is a run of one.
TEST(LedgerIndexTest, AFormat2IndexIsReadAsRunsOfOneAndUpgradedInPlace) {
  quire::testing::TempDir dir("quire-index-v2");
  const std::string path = dir.path() + "/index";
  WithRocksDB(path, [](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& h) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), h[0], "format", "2").ok());
    for (uint64_t e = 0; e < 10; ++e) {
      std::string key;
      PutBigEndian64(&key, 5);
      PutBigEndian64(&key, e);
      std::string value(1, '\1');  // version 1: log, offset, size
      PutFixed64(&value, 2);
      PutFixed64(&value, 4096 + e * 100);
      PutFixed32(&value, 100);
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), h[1], key, value).ok());
    }
  });
  {
    auto ro = LedgerIndex::OpenReadOnly(path);
    ASSERT_TRUE(ro.ok()) << ro.status().ToString();
    auto loc = (*ro)->Find(5, 3);
    ASSERT_TRUE(loc.ok() && loc->has_value());
    EXPECT_EQ((*loc)->offset, 4396u);
  }
  auto index = LedgerIndex::Open(path);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ((*(*index)->LastEntry(5)).value_or(0), 9u);
  // Entries 4..5 written again, adjacent in another log: one run among the runs of one.
  LedgerIndex::Batch batch = (*index)->NewBatch();
  batch.PutLocation(5, 4, {9, 4096, 50});
  batch.PutLocation(5, 5, {9, 4146, 50});
  ASSERT_TRUE((*index)->Write(batch).ok());
  Model got;
  ASSERT_TRUE((*index)->ForEachEntry(5, [&](uint64_t e, const EntryLocation& loc) {
    got[e] = loc;
    return true;
  }).ok());
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got[3].log_id, 2u);
  EXPECT_EQ(got[5].log_id, 9u);
  EXPECT_EQ(got[5].offset, 4146u);
  EXPECT_EQ(got[6].offset, 4696u);
  index->reset();
  EXPECT_EQ(EntryRows(path), 9u);  // 0-3, 4-5, 6-9
}

// A build of format 2 would read a run's row as garbage: a format it does not know is refused,
// and so this build refuses a newer one.
TEST(LedgerIndexTest, ANewerFormatIsRefused) {
  quire::testing::TempDir dir("quire-index-v4");
  const std::string path = dir.path() + "/index";
  {
    auto index = LedgerIndex::Open(path);
    ASSERT_TRUE(index.ok());
  }
  WithRocksDB(path, [](rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& h) {
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), h[0], "format", "4").ok());
  });
  auto index = LedgerIndex::Open(path);
  EXPECT_EQ(index.status().code(), StatusCode::kUnimplemented) << index.status().ToString();
}

}  // namespace
}  // namespace quire::storage
