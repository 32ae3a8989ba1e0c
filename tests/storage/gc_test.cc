// Garbage collection and compaction on a real storage engine (real files, the fault-injecting file
// system around them), with a catalog that plays the metadata store: it can list, fail, time out,
// answer empty, or fail the confirming re-reads.
#include "storage/garbage_collector.h"

#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "storage/engine_test_util.h"
#include "storage/ledger_directory.h"
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


// A flush that rolls over from one entry log to the next leaves the first complete on disk, but its
// usage is recorded only with the flush's index batch, and garbage collection does not wait for
// flushes. Judged in between, a log whose old usage counted nothing would be deleted with the
// flush's acknowledged entries in it, and a log scanned then would have its usage recorded without
// them (the batch overwrites the scan's rows, or the scan the batch's).
TEST(GcUnsettledLogsTest, LogsAFlushIsStillWritingAreNeitherJudgedNorScanned) {
  quire::testing::TempDir dir("quire-gc-unsettled");
  auto real = NewPosixFileSystem();
  FaultInjectionFileSystem fs(real.get());
  LedgerDirectoryOptions o;
  o.directory = dir.Sub("ledgers");
  o.fs = &fs;
  o.write_cache_bytes = 8 << 20;
  o.entry_log_size_limit = 64 << 10;
  auto opened = LedgerDirectory::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  LedgerDirectory& d = **opened;
  auto flush = [&d](uint64_t ledger, uint64_t entries) {
    for (uint64_t e = 0; e < entries; ++e) d.ForcePut(ledger, e, MakePayload(TestPayload(ledger, e, 1000)));
    d.SwapCaches();
    Status s = d.FlushSwapped({});
    d.FinishFlush();
    return s;
  };
  auto has = [](const std::vector<uint64_t>& ids, uint64_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  auto ids = [](const std::vector<LogUsage>& logs) {
    std::vector<uint64_t> out;
    for (const LogUsage& u : logs) out.push_back(u.log_id);
    return out;
  };

  // The first log gets ledger 1, which is then deleted: by its usage, the log holds nothing.
  ASSERT_TRUE(flush(1, 10).ok());
  std::vector<LogUsage> known = d.usage()->Logs();
  ASSERT_EQ(known.size(), 1u);
  const uint64_t first = known[0].log_id;
  ASSERT_TRUE(d.DeleteLedgers({1}).ok());
  EXPECT_FALSE(has(ids(d.SettledUsage()), first)) << "the current log is judged";

  // Ledger 2's 150 KB fill the first log, a second one and part of a third: the flush is stopped
  // at the third's sync, with the first two complete on disk and not yet indexed.
  std::promise<void> paused, resume;
  std::shared_future<void> go = resume.get_future().share();
  fs.BeforeNextSync(EntryLogFileName(first + 2), [&paused, go] {
    paused.set_value();
    go.wait();
  });
  std::future<Status> flushed = std::async(std::launch::async, [&] { return flush(2, 150); });
  ASSERT_EQ(paused.get_future().wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "the flush did not reach its third log";
  std::vector<uint64_t> settled = ids(d.SettledUsage());
  auto unknown = d.UnknownLogs();
  resume.set_value();
  ASSERT_TRUE(flushed.get().ok());
  ASSERT_TRUE(unknown.ok()) << unknown.status().ToString();
  EXPECT_FALSE(has(settled, first))
      << "garbage collection would delete a log that holds the flush's acknowledged entries";
  EXPECT_FALSE(has(*unknown, first + 1))
      << "garbage collection would scan a log before the flush's index batch points into it";
  EXPECT_FALSE(has(*unknown, first + 2));

  // Once the batch is in, the logs the flush left are judged by their whole usage.
  std::vector<LogUsage> after = d.SettledUsage();
  EXPECT_EQ(ids(after), (std::vector<uint64_t>{first, first + 1}));
  for (const LogUsage& u : after) EXPECT_GT(u.live_bytes, 0u) << "log " << u.log_id;
  EXPECT_EQ(d.usage()->Bytes(first, 1), 0u);
  auto none = d.UnknownLogs();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  for (uint64_t e = 0; e < 150; ++e) {
    auto r = d.Read(2, e);
    ASSERT_TRUE(r.ok()) << e << ": " << r.status().ToString();
    ASSERT_EQ(*r, TestPayload(2, e, 1000)) << e;
  }
}

}  // namespace
}  // namespace quire::storage
