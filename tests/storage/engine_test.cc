#include "storage/storage_engine.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "storage/engine_test_util.h"
#include "util/fault_injection_fs.h"
#include "util/temp_dir.h"

namespace quire::storage {
namespace {

using quire::testing::FaultInjectionFileSystem;
using quire::testing::FaultKind;
using quire::testing::FaultRule;
using testing::AddSync;
using testing::Await;
using testing::FenceSync;
using testing::TestPayload;

class EngineTest : public ::testing::Test {
 protected:
  // Every test needs the engine; if it cannot open, stop here rather than crash later.
  void Open() {
    auto e = StorageEngine::Open(options_);
    if (!e.ok()) {
      ADD_FAILURE() << "cannot open the engine: " << e.status().ToString();
      std::abort();
    }
    engine_ = std::move(*e);
  }
  void Restart() {
    engine_.reset();
    Open();
  }
  void ExpectEntry(uint64_t ledger, uint64_t entry) {
    auto r = engine_->ReadEntry(ledger, entry);
    ASSERT_TRUE(r.ok()) << ledger << "/" << entry << ": " << r.status().ToString();
    EXPECT_EQ(*r, TestPayload(ledger, entry)) << ledger << "/" << entry;
  }

  quire::testing::TempDir dir_;
  std::unique_ptr<FileSystem> real_ = NewPosixFileSystem();
  FaultInjectionFileSystem faults_{real_.get()};
  StorageOptions options_ = testing::TestStorageOptions(dir_.path(), &faults_);
  std::unique_ptr<StorageEngine> engine_;
};

TEST_F(EngineTest, AddsReadBackFromCacheEntryLogAndAfterRestart) {
  Open();
  for (uint64_t l = 1; l <= 3; ++l) {
    for (uint64_t e = 0; e < 50; ++e) {
      ASSERT_TRUE(AddSync(engine_.get(), l, e, "key", TestPayload(l, e)).ok());
    }
  }
  ExpectEntry(2, 17);  // from the write cache
  ASSERT_TRUE(engine_->Flush().ok());
  for (uint64_t e = 0; e < 50; ++e) ExpectEntry(1, e);  // entry log + read-ahead
  EXPECT_GT(engine_->stats().directories[0].read_cache_hits, 0u);
  EXPECT_EQ(*engine_->LastEntryId(3), 49u);
  Restart();
  for (uint64_t l = 1; l <= 3; ++l) {
    for (uint64_t e = 0; e < 50; ++e) ExpectEntry(l, e);
  }
  EXPECT_EQ(*engine_->LastEntryId(1), 49u);
  EXPECT_EQ(engine_->recovery().records, 0u) << "a clean shutdown checkpoints everything";
}

TEST_F(EngineTest, UnflushedAddsComeBackFromTheJournal) {
  Open();
  for (uint64_t e = 0; e < 100; ++e) {
    ASSERT_TRUE(AddSync(engine_.get(), 7, e, "k", TestPayload(7, e)).ok());
  }
  ASSERT_TRUE(faults_.Crash(quire::testing::CrashMode::kDropUnsynced, 1).ok());
  engine_.reset();
  faults_.Restart();
  Open();
  EXPECT_GE(engine_->recovery().records, 100u);
  for (uint64_t e = 0; e < 100; ++e) ExpectEntry(7, e);
}

TEST_F(EngineTest, MasterKeyIsCheckedAndNothingIsStoredOnMismatch) {
  Open();
  ASSERT_TRUE(AddSync(engine_.get(), 5, 0, "right", TestPayload(5, 0)).ok());
  EXPECT_EQ(AddSync(engine_.get(), 5, 1, "wrong", TestPayload(5, 1)).code(),
            StatusCode::kUnauthorized);
  EXPECT_EQ(engine_->ReadEntry(5, 1).status().code(), StatusCode::kNoSuchEntry);
  EXPECT_EQ(FenceSync(engine_.get(), 5, "wrong").code(), StatusCode::kUnauthorized);
  EXPECT_FALSE(engine_->GetLedgerInfo(5)->fenced);
  EXPECT_EQ(Await([&](auto cb) { engine_->SetExplicitLac(5, "wrong", "lac", cb); }).code(),
            StatusCode::kUnauthorized);
  Restart();
  EXPECT_EQ(AddSync(engine_.get(), 5, 1, "wrong", TestPayload(5, 1)).code(),
            StatusCode::kUnauthorized);
  EXPECT_EQ(engine_->GetLedgerInfo(5)->master_key, "right");
}

TEST_F(EngineTest, FenceRefusesNormalAddsAcceptsRecoveryAddsAndSurvivesRestart) {
  Open();
  ASSERT_TRUE(AddSync(engine_.get(), 9, 0, "k", TestPayload(9, 0)).ok());
  ASSERT_TRUE(FenceSync(engine_.get(), 9, "k").ok());
  EXPECT_EQ(AddSync(engine_.get(), 9, 1, "k", TestPayload(9, 1)).code(), StatusCode::kFenced);
  ASSERT_TRUE(AddSync(engine_.get(), 9, 1, "k", TestPayload(9, 1), /*recovery=*/true).ok());
  ExpectEntry(9, 1);
  // Fencing a ledger the bookie never saw creates it, fenced.
  ASSERT_TRUE(FenceSync(engine_.get(), 10, "k10").ok());
  EXPECT_EQ(AddSync(engine_.get(), 10, 0, "k10", "x").code(), StatusCode::kFenced);
  EXPECT_EQ(engine_->ReadEntry(10, 0).status().code(), StatusCode::kNoSuchEntry);
  ASSERT_TRUE(faults_.Crash(quire::testing::CrashMode::kDropUnsynced, 2).ok());
  engine_.reset();
  faults_.Restart();
  Open();
  EXPECT_TRUE(engine_->GetLedgerInfo(9)->fenced);
  EXPECT_TRUE(engine_->GetLedgerInfo(10)->fenced);
  EXPECT_EQ(AddSync(engine_.get(), 9, 2, "k", "x").code(), StatusCode::kFenced);
  ExpectEntry(9, 1);
}

TEST_F(EngineTest, ExplicitLacPersists) {
  Open();
  ASSERT_TRUE(AddSync(engine_.get(), 4, 0, "k", TestPayload(4, 0)).ok());
  ASSERT_TRUE(Await([&](auto cb) { engine_->SetExplicitLac(4, "k", "lac-bytes-0", cb); }).ok());
  EXPECT_EQ(engine_->GetLedgerInfo(4)->explicit_lac, "lac-bytes-0");
  Restart();
  EXPECT_EQ(engine_->GetLedgerInfo(4)->explicit_lac, "lac-bytes-0");
}

TEST_F(EngineTest, MissingLedgersAndEntries) {
  Open();
  EXPECT_EQ(engine_->ReadEntry(404, 0).status().code(), StatusCode::kNoSuchLedger);
  EXPECT_EQ(engine_->LastEntryId(404).status().code(), StatusCode::kNoSuchLedger);
  ASSERT_TRUE(AddSync(engine_.get(), 1, 5, "k", TestPayload(1, 5)).ok());
  EXPECT_EQ(engine_->ReadEntry(1, 4).status().code(), StatusCode::kNoSuchEntry);
  EXPECT_EQ(*engine_->LastEntryId(1), 5u);
}

TEST_F(EngineTest, AddsAreIdempotent) {
  Open();
  ASSERT_TRUE(AddSync(engine_.get(), 1, 0, "k", TestPayload(1, 0)).ok());
  ASSERT_TRUE(AddSync(engine_.get(), 1, 0, "k", TestPayload(1, 0)).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  ASSERT_TRUE(AddSync(engine_.get(), 1, 0, "k", TestPayload(1, 0)).ok());
  ExpectEntry(1, 0);
}

TEST_F(EngineTest, SmallWriteCacheAndSmallLogsStillKeepEverything) {
  options_.write_cache_bytes = 2 << 20;  // 1 MiB halves: flushes are forced by size
  options_.entry_log_size_limit = 256 << 10;
  options_.journal_max_file_bytes = 512 << 10;
  Open();
  constexpr uint64_t kEntries = 3000;  // ~3 MB
  std::vector<std::shared_ptr<std::promise<Status>>> acks;
  for (uint64_t e = 0; e < kEntries; ++e) {
    auto p = std::make_shared<std::promise<Status>>();
    acks.push_back(p);
    engine_->AddEntry(e % 4, e / 4, "k", TestPayload(e % 4, e / 4), false,
                      [p](Status s) { p->set_value(s); });
  }
  for (auto& p : acks) {
    auto f = p->get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(60)), std::future_status::ready);
    ASSERT_TRUE(f.get().ok());
  }
  EXPECT_GT(engine_->stats().flushes, 1u);
  Restart();
  for (uint64_t e = 0; e < kEntries; ++e) ExpectEntry(e % 4, e / 4);
  auto logs = EntryLogger::ListLogs(real_.get(), dir_.Sub("ledgers/current"));
  ASSERT_TRUE(logs.ok());
  EXPECT_GT(logs->size(), 3u);
}

TEST_F(EngineTest, FailedJournalSyncFailsPendingRefusesLaterLosesNothingAcked) {
  Open();
  for (uint64_t e = 0; e < 20; ++e) {
    ASSERT_TRUE(AddSync(engine_.get(), 3, e, "k", TestPayload(3, e)).ok());
  }
  faults_.AddFault(FaultRule{.kind = FaultKind::kFailSync, .nth = 1, .path_contains = ".jnl"});
  Status failed = AddSync(engine_.get(), 3, 20, "k", TestPayload(3, 20));
  EXPECT_EQ(failed.code(), StatusCode::kIOError);
  EXPECT_FALSE(engine_->health().ok());
  EXPECT_EQ(AddSync(engine_.get(), 3, 21, "k", TestPayload(3, 21)).code(), StatusCode::kReadOnly);
  EXPECT_EQ(FenceSync(engine_.get(), 3, "k").code(), StatusCode::kReadOnly);
  ExpectEntry(3, 5);  // reads go on
  // The page cache may have dropped the failed write: what survives is what was synced.
  ASSERT_TRUE(faults_.Crash(quire::testing::CrashMode::kDropUnsynced, 3).ok());
  engine_.reset();
  faults_.Restart();
  Open();
  EXPECT_TRUE(engine_->health().ok());
  for (uint64_t e = 0; e < 20; ++e) ExpectEntry(3, e);
}

TEST_F(EngineTest, FailedEntryLogWriteMakesTheEngineReadOnlyButKeepsServing) {
  Open();
  for (uint64_t e = 0; e < 10; ++e) {
    ASSERT_TRUE(AddSync(engine_.get(), 2, e, "k", TestPayload(2, e)).ok());
  }
  // EIO (a full disk is not an error of this kind: see FullDiskHoldsFlushesBackUntilThereIsRoom).
  faults_.AddFault(FaultRule{.kind = FaultKind::kFailWrite, .nth = 1, .path_contains = ".log",
                             .error = EIO});
  Status s = engine_->Flush();
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(AddSync(engine_.get(), 2, 10, "k", "x").code(), StatusCode::kReadOnly);
  for (uint64_t e = 0; e < 10; ++e) ExpectEntry(2, e);  // still in the write cache
  engine_.reset();
  Open();
  for (uint64_t e = 0; e < 10; ++e) ExpectEntry(2, e);  // replayed from the journal
}

TEST_F(EngineTest, FullDiskHoldsFlushesBackUntilThereIsRoom) {
  Open();
  for (uint64_t e = 0; e < 10; ++e) {
    ASSERT_TRUE(AddSync(engine_.get(), 2, e, "k", TestPayload(2, e)).ok());
  }
  ASSERT_TRUE(engine_->Flush().ok());
  // The disk fills up: every entry-log write fails with ENOSPC, the second time around in the
  // middle of a write (a short write), then a sync does.
  for (uint64_t e = 10; e < 20; ++e) {
    ASSERT_TRUE(AddSync(engine_.get(), 2, e, "k", TestPayload(2, e)).ok());
  }
  faults_.AddFault({.kind = FaultKind::kFailWrite, .nth = 1, .path_contains = ".log",
                    .error = ENOSPC});
  faults_.AddFault({.kind = FaultKind::kShortWrite, .nth = 2, .path_contains = ".log",
                    .error = ENOSPC, .keep_bytes = 4096});
  faults_.AddFault({.kind = FaultKind::kFailSync, .nth = 1, .path_contains = ".log",
                    .error = ENOSPC});
  for (int attempt = 0; attempt < 3; ++attempt) {
    Status s = engine_->Flush();
    EXPECT_EQ(s.code(), StatusCode::kIOError) << s.ToString();
    EXPECT_EQ(s.sys_errno(), ENOSPC) << s.ToString();
    EXPECT_EQ(engine_->disk_full().sys_errno(), ENOSPC);
    EXPECT_TRUE(engine_->health().ok()) << "a full disk is not a storage failure";
  }
  // Nothing was lost meanwhile, and the engine still takes adds (the journal has room).
  for (uint64_t e = 0; e < 20; ++e) ExpectEntry(2, e);
  ASSERT_TRUE(AddSync(engine_.get(), 2, 20, "k", TestPayload(2, 20)).ok());
  // Space is back: the same flush succeeds, the state clears.
  ASSERT_TRUE(engine_->Flush().ok());
  EXPECT_TRUE(engine_->disk_full().ok());
  EXPECT_GE(engine_->stats().flush_failures, 3u);
  Restart();
  EXPECT_EQ(engine_->recovery().records, 0u) << "everything was flushed and checkpointed";
  for (uint64_t e = 0; e <= 20; ++e) ExpectEntry(2, e);
}

TEST_F(EngineTest, ReplayOnAFullDiskKeepsEverythingUntilTheFlushSucceeds) {
  options_.write_cache_bytes = 2 << 20;  // 1 MiB per half
  Open();
  // The disk is full from the start: nothing is flushed, so the journal is never checkpointed
  // and holds about 1.1 MiB, more than the half of the cache that replay fills.
  FaultRule full{.kind = FaultKind::kFailWrite, .nth = 1, .path_contains = ".log",
                 .error = ENOSPC, .sticky = true};
  faults_.AddFault(full);
  for (uint64_t e = 0; e < 1000; ++e) {
    ASSERT_TRUE(AddSync(engine_.get(), 3, e, "k", TestPayload(3, e)).ok());
  }
  ASSERT_TRUE(faults_.Crash(quire::testing::CrashMode::kDropUnsynced, 1).ok());
  engine_.reset();
  faults_.Restart();
  faults_.AddFault(full);
  Open();  // replay needs a flush, which the full disk refuses: it starts anyway
  EXPECT_EQ(engine_->disk_full().sys_errno(), ENOSPC);
  for (uint64_t e = 0; e < 1000; ++e) ExpectEntry(3, e);
  faults_.ClearFaults();
  ASSERT_TRUE(engine_->Flush().ok());
  Restart();
  for (uint64_t e = 0; e < 1000; ++e) ExpectEntry(3, e);
}

TEST_F(EngineTest, CorruptEntryLogCopyIsReportedWithFileAndOffset) {
  options_.read_ahead_cache_bytes = 0;
  Open();
  ASSERT_TRUE(AddSync(engine_.get(), 8, 0, "k", TestPayload(8, 0, 500)).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  engine_.reset();
  // Flip a byte of the payload on disk.
  auto logs = EntryLogger::ListLogs(real_.get(), dir_.Sub("ledgers/current"));
  ASSERT_TRUE(logs.ok() && !logs->empty());
  std::string path = dir_.Sub("ledgers/current/") + EntryLogFileName(logs->front());
  {
    auto f = real_->Open(path, {});
    ASSERT_TRUE(f.ok());
    char c;
    ASSERT_TRUE((*f)->Read(kEntryLogHeaderSize + 100, &c, 1).ok());
    c = static_cast<char>(c ^ 1);
    ASSERT_TRUE((*f)->Write(kEntryLogHeaderSize + 100, std::string_view(&c, 1)).ok());
  }
  Open();
  auto r = engine_->ReadEntry(8, 0);
  ASSERT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("offset 4096"), std::string::npos) << r.status().message();
}

TEST_F(EngineTest, DirectoriesOfAnotherBookieAreRefused) {
  Open();
  engine_.reset();
  options_.bookie_id = "10.9.9.9:3181";
  auto e = StorageEngine::Open(options_);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(e.status().message().find("bookie id"), std::string::npos) << e.status().message();
}

TEST_F(EngineTest, AWipedDirectoryBesideInitializedOnesIsRefused) {
  Open();
  engine_.reset();
  options_.ledger_dirs.push_back(dir_.path() + "/ledgers2");
  auto e = StorageEngine::Open(options_);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(e.status().message().find("ledgers2"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("wiped"), std::string::npos) << e.status().message();
}

// A lost index must not turn into "no such entry" for everything the entry logs hold.
TEST_F(EngineTest, EntryLogsWithoutTheirIndexAreRefused) {
  Open();
  for (uint64_t e = 0; e < 10; ++e) ASSERT_TRUE(AddSync(engine_.get(), 1, e, "key", TestPayload(1, e)).ok());
  ASSERT_TRUE(engine_->Flush().ok());
  engine_.reset();
  std::string index = options_.ledger_dirs[0] + "/current/index";
  ASSERT_TRUE(std::filesystem::remove_all(index) > 0);
  auto e = StorageEngine::Open(options_);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kCorruption);
  EXPECT_NE(e.status().message().find("quire index rebuild"), std::string::npos)
      << e.status().message();
}

TEST_F(EngineTest, ASecondEngineOnTheSameDirectoriesIsRefused) {
  Open();
  auto second = StorageEngine::Open(options_);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status().message();
}

TEST_F(EngineTest, SeveralJournalsAndLedgerDirectories) {
  options_.journal_dirs = {dir_.Sub("j0"), dir_.Sub("j1")};
  options_.ledger_dirs = {dir_.Sub("l0"), dir_.Sub("l1"), dir_.Sub("l2")};
  Open();
  for (uint64_t l = 0; l < 6; ++l) {
    for (uint64_t e = 0; e < 20; ++e) {
      ASSERT_TRUE(AddSync(engine_.get(), l, e, "k", TestPayload(l, e)).ok());
    }
  }
  EXPECT_EQ(engine_->stats().journals.size(), 2u);
  EXPECT_GT(engine_->stats().journals[1].records, 0u);
  ASSERT_TRUE(faults_.Crash(quire::testing::CrashMode::kDropUnsynced, 4).ok());
  engine_.reset();
  faults_.Restart();
  Open();
  for (uint64_t l = 0; l < 6; ++l) {
    for (uint64_t e = 0; e < 20; ++e) ExpectEntry(l, e);
  }
}

// Periodic flushes are spread over 0.75-1.25 of the interval, so that bookies fed the same adds
// fall out of step; the extremes and the middle of the random range land where they should.
TEST(FlushWaitTest, IsTheIntervalPlusOrMinusAQuarter) {
  EXPECT_EQ(FlushWaitMs(1000, 0), 750u);
  EXPECT_EQ(FlushWaitMs(1000, 1u << 31), 1000u);
  EXPECT_EQ(FlushWaitMs(1000, UINT32_MAX), 1249u);
  EXPECT_EQ(FlushWaitMs(3600000, UINT32_MAX), 4499999u);  // the largest interval: no overflow
  EXPECT_EQ(FlushWaitMs(1, 0), 1u);                       // never 0: a wait, not a spin
}

}  // namespace
}  // namespace quire::storage
