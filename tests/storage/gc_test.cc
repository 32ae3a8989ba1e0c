// Garbage collection and compaction on a real storage engine (real files, the fault-injecting file
// system around them), with a catalog that plays the metadata store: it can list, fail, time out,
// answer empty, or fail the confirming re-reads.
#include "storage/garbage_collector.h"

#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "storage/engine_test_util.h"
#include "storage/test_catalog.h"
#include "util/fault_injection_fs.h"
#include "util/temp_dir.h"

namespace quire::storage {
namespace {

using quire::testing::FaultInjectionFileSystem;
using testing::AddSync;
using testing::TestCatalog;
using testing::TestPayload;

class GcTest : public ::testing::Test {
 protected:
  GcTest() {
    options_.entry_log_size_limit = 256 << 10;  // many small logs
    options_.gc.wait_time_ms = 3600 * 1000;     // passes only on demand
    options_.gc.compaction_rate_bytes = 0;
    options_.gc.metadata_op_rate = 0;
    options_.ledger_dir_reserved_bytes = 0;
  }
  void Open() {
    auto e = StorageEngine::Open(options_);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(*e);
    gc_ = GarbageCollector::Start(engine_.get(), &catalog_, options_.gc);
  }
  void Close() {
    gc_.reset();
    engine_.reset();
  }
  // Writes `entries` entries to each ledger, interleaved and flushed every 10 rounds so that
  // every log holds several ledgers (a flush sorts its entries by ledger).
  void Write(const std::vector<uint64_t>& ledgers, uint64_t entries, size_t size = 1000) {
    for (uint64_t l : ledgers) catalog_.Create(l);
    for (uint64_t e = 0; e < entries; ++e) {
      for (uint64_t l : ledgers) {
        ASSERT_TRUE(AddSync(engine_.get(), l, e, "k", TestPayload(l, e, size)).ok());
        written_[l] = e + 1;
        sizes_[l] = size;
      }
      if (e % 10 == 9) {
        ASSERT_TRUE(engine_->Flush().ok());
      }
    }
    ASSERT_TRUE(engine_->Flush().ok());
  }
  GcPassReport Pass(CompactionKind kind) {
    uint64_t id = gc_->Trigger(kind);
    EXPECT_TRUE(gc_->WaitFor(id, std::chrono::seconds(60)));
    for (const GcPassReport& r : gc_->status().recent) {
      if (r.id == id) return r;
    }
    ADD_FAILURE() << "no report for pass " << id;
    return {};
  }
  void ExpectLedger(uint64_t l) {
    for (uint64_t e = 0; e < written_[l]; ++e) {
      auto r = engine_->ReadEntry(l, e);
      ASSERT_TRUE(r.ok()) << l << "/" << e << ": " << r.status().ToString();
      ASSERT_EQ(*r, TestPayload(l, e, sizes_[l])) << l << "/" << e;
    }
  }
  void ExpectGone(uint64_t l) {
    EXPECT_EQ(engine_->ReadEntry(l, 0).status().code(), StatusCode::kNoSuchLedger) << l;
    EXPECT_EQ(engine_->GetLedgerInfo(l).status().code(), StatusCode::kNoSuchLedger) << l;
  }
  uint64_t LogBytes() {
    uint64_t total = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.Sub("ledgers/current"))) {
      if (e.path().extension() == ".log") total += e.file_size();
    }
    return total;
  }

  quire::testing::TempDir dir_{"quire-gc"};
  std::unique_ptr<FileSystem> real_ = NewPosixFileSystem();
  FaultInjectionFileSystem faults_{real_.get()};
  StorageOptions options_ = testing::TestStorageOptions(dir_.path(), &faults_);
  TestCatalog catalog_;
  std::unique_ptr<StorageEngine> engine_;
  std::unique_ptr<GarbageCollector> gc_;
  std::map<uint64_t, uint64_t> written_, sizes_;
};

TEST_F(GcTest, DeletedLedgersAreCollectedAndTheirSpaceComesBack) {
  Open();
  std::vector<uint64_t> all;
  for (uint64_t l = 1; l <= 10; ++l) all.push_back(l);
  Write(all, 100);
  uint64_t before = LogBytes();
  for (uint64_t l = 1; l <= 8; ++l) catalog_.Delete(l);

  GcPassReport r = Pass(CompactionKind::kMajor);
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.ledgers_deleted, 8u);
  EXPECT_GT(r.logs_compacted, 0u);
  EXPECT_GT(r.entries_moved, 0u);
  for (uint64_t l = 1; l <= 8; ++l) ExpectGone(l);
  ExpectLedger(9);
  ExpectLedger(10);
  uint64_t after = LogBytes();
  // The flush thread's current log is never compacted; the rest shrank to the live fifth.
  EXPECT_LT(after, before / 2) << "before " << before << " after " << after;

  Close();
  Open();
  ExpectLedger(9);
  ExpectLedger(10);
  for (uint64_t l = 1; l <= 8; ++l) ExpectGone(l);
  // After the restart the old current log is an ordinary log: compacted too.
  GcPassReport second = Pass(CompactionKind::kMajor);
  EXPECT_EQ(second.ledgers_deleted, 0u);
  EXPECT_EQ(second.logs_scanned, 0u) << "the usage of every log was persisted";
  const uint64_t live = 2 * 100 * (1000 + kEntryLogRecordHeader);
  uint64_t compacted = LogBytes();
  EXPECT_LT(compacted, live * 13 / 10 + kEntryLogHeaderSize) << "live " << live;
  ExpectLedger(9);
  ExpectLedger(10);
  // Nothing more to do.
  GcPassReport third = Pass(CompactionKind::kMajor);
  EXPECT_EQ(third.logs_compacted + third.logs_deleted + third.ledgers_deleted, 0u);
}

TEST_F(GcTest, SuspendedCompactionCopiesNothingUntilResumed) {
  Open();
  std::vector<uint64_t> all;
  for (uint64_t l = 1; l <= 10; ++l) all.push_back(l);
  Write(all, 100);
  for (uint64_t l = 1; l <= 8; ++l) catalog_.Delete(l);

  gc_->SuspendCompaction({.major = true, .minor = true});
  GcPassReport suspended = Pass(CompactionKind::kMajor);
  EXPECT_TRUE(suspended.status.ok()) << suspended.status.ToString();
  EXPECT_EQ(suspended.ledgers_deleted, 8u) << "ledgers are still collected";
  EXPECT_EQ(suspended.compaction, CompactionKind::kNone);
  EXPECT_EQ(suspended.compaction_suspended, "major compaction suspended");
  EXPECT_EQ(suspended.entries_moved + suspended.logs_compacted, 0u);

  // Major suspended alone: the pass runs a minor compaction instead.
  gc_->ResumeCompaction({.major = false, .minor = true});
  EXPECT_EQ(Pass(CompactionKind::kMajor).compaction, CompactionKind::kMinor);

  gc_->ResumeCompaction({.major = true, .minor = true});
  GcPassReport resumed = Pass(CompactionKind::kMajor);
  EXPECT_EQ(resumed.compaction, CompactionKind::kMajor);
  EXPECT_TRUE(resumed.compaction_suspended.empty());
  EXPECT_GT(resumed.logs_compacted, 0u);
  ExpectLedger(9);
  ExpectLedger(10);
}

TEST_F(GcTest, ASuspensionStopsAThrottledCompactionAndTheNextPassFinishesIt) {
  options_.gc.compaction_rate_bytes = 16 << 10;  // the live fifth (200 KB) would take 12 s
  Open();
  std::vector<uint64_t> all;
  for (uint64_t l = 1; l <= 10; ++l) all.push_back(l);
  Write(all, 100);
  for (uint64_t l = 1; l <= 8; ++l) catalog_.Delete(l);

  uint64_t id = gc_->Trigger(CompactionKind::kMajor);
  gc_->SuspendCompaction({.major = true, .minor = true});
  // Whether the pass began before or after the suspension, it ends without finishing the
  // compaction, and says so.
  ASSERT_TRUE(gc_->WaitFor(id, std::chrono::seconds(60)));
  GcPassReport stopped = gc_->status().recent.front();
  ASSERT_EQ(stopped.id, id);
  EXPECT_TRUE(stopped.status.ok()) << stopped.status.ToString();
  EXPECT_FALSE(stopped.compaction_suspended.empty());
  ExpectLedger(9);
  ExpectLedger(10);

  Close();
  options_.gc.compaction_rate_bytes = 0;
  Open();  // a suspension is not persisted
  GcPassReport finished = Pass(CompactionKind::kMajor);
  EXPECT_TRUE(finished.compaction_suspended.empty());
  EXPECT_GT(finished.logs_compacted, 0u);
  EXPECT_EQ(Pass(CompactionKind::kMajor).logs_compacted, 0u) << "nothing left to compact";
  ExpectLedger(9);
  ExpectLedger(10);
}

TEST_F(GcTest, AnUntrustedListingDeletesNothing) {
  Open();
  Write({1, 2, 3, 4}, 50);
  for (uint64_t l = 1; l <= 3; ++l) catalog_.Delete(l);
  for (auto listing : {TestCatalog::Listing::kFail, TestCatalog::Listing::kTimeoutHalfway}) {
    catalog_.SetListing(listing);
    GcPassReport r = Pass(CompactionKind::kMajor);
    EXPECT_EQ(r.ledgers_deleted, 0u);
    EXPECT_FALSE(r.ledger_gc_skipped.empty());
    for (uint64_t l = 1; l <= 4; ++l) ExpectLedger(l);
  }
  // Every ledger deleted, and the store lists none: still not trusted.
  catalog_.Delete(4);
  catalog_.SetListing(TestCatalog::Listing::kEmpty);
  GcPassReport r = Pass(CompactionKind::kMajor);
  EXPECT_EQ(r.ledgers_deleted, 0u);
  EXPECT_NE(r.ledger_gc_skipped.find("listed no ledger"), std::string::npos)
      << r.ledger_gc_skipped;
  for (uint64_t l = 1; l <= 4; ++l) ExpectLedger(l);
}

TEST_F(GcTest, ACandidateIsDeletedOnlyWhenTheReReadConfirmsIt) {
  Open();
  Write({1, 2, 3}, 20);
  catalog_.Delete(2);
  catalog_.SetRereadFails(true);
  GcPassReport r = Pass(CompactionKind::kNone);
  EXPECT_EQ(r.ledgers_deleted, 0u);
  EXPECT_EQ(r.ledgers_kept_unconfirmed, 1u);
  EXPECT_GE(catalog_.rereads(), 1u);
  ExpectLedger(2);
  catalog_.SetRereadFails(false);
  r = Pass(CompactionKind::kNone);
  EXPECT_EQ(r.ledgers_deleted, 1u);
  ExpectGone(2);
  ExpectLedger(1);
  ExpectLedger(3);
}

}  // namespace
}  // namespace quire::storage
