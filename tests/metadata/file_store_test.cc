// What is particular to the embedded stores: the file layout and envelope, and leases (a store
// that stops renewing loses its registrations and locks to others, then restores what it can).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/file_system.h"
#include "metadata/kv_store.h"
#include "metadata/layout.h"
#include "metadata/store_harness.h"

namespace quire::metadata::testing {
namespace {

using std::chrono::seconds;

TEST(FileStoreTest, DamagedFilesAreCorruptionNamingThePath) {
  StoreHarness harness(Driver::kFile);
  auto store = harness.OpenInitialised();
  ASSERT_TRUE(store->CreateLedger(1, SampleLedger()).ok());
  ASSERT_TRUE(store->CreateLedger(2, SampleLedger()).ok());
  const std::string path1 = harness.LedgerLocation(1);
  const std::string path2 = harness.LedgerLocation(2);
  ASSERT_TRUE(std::filesystem::exists(path1)) << path1;

  {  // one flipped payload byte
    std::fstream f(path1, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(30);
    f.put('\x5a');
  }
  auto flipped = store->ReadLedger(1);
  EXPECT_EQ(flipped.status().code(), StatusCode::kCorruption);
  EXPECT_NE(flipped.status().message().find(path1), std::string::npos);
  EXPECT_NE(flipped.status().message().find("CRC"), std::string::npos)
      << flipped.status().ToString();
  // A CAS against a damaged record is refused too, not silently overwritten.
  EXPECT_EQ(store->UpdateLedger(1, SampleLedger(), 0).status().code(), StatusCode::kCorruption);

  std::filesystem::resize_file(path2, 10);  // torn
  auto torn = store->ReadLedger(2);
  EXPECT_EQ(torn.status().code(), StatusCode::kCorruption);
  EXPECT_NE(torn.status().message().find(path2), std::string::npos) << torn.status().ToString();
}

TEST(FileStoreTest, LeftoverTemporaryFilesAreIgnored) {
  StoreHarness harness(Driver::kFile);
  auto store = harness.OpenInitialised();
  ASSERT_TRUE(store->CreateLedger(3, SampleLedger()).ok());
  // What a crash between write and rename leaves behind.
  std::ofstream(harness.LedgerLocation(4) + ".tmp") << "half a record";
  auto ids = store->ListLedgers(0, 10);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, std::vector<LedgerId>{3});
  EXPECT_TRUE(store->CreateLedger(4, SampleLedger()).ok());
  EXPECT_TRUE(store->ReadLedger(4).ok());
}

TEST(FileStoreTest, LedgersAreSpreadOverDirectories) {
  StoreHarness harness(Driver::kFile);
  auto store = harness.OpenInitialised();
  ASSERT_TRUE(store->CreateLedger(1'234'567, SampleLedger()).ok());
  std::string root = harness.uri().substr(std::string("file://").size());
  EXPECT_TRUE(std::filesystem::exists(root + "/ledgers/000/0000/0000/0123/L4567"));
  EXPECT_TRUE(std::filesystem::exists(root + "/LOCK"));
  EXPECT_TRUE(std::filesystem::exists(root + "/cluster"));
}

// The store is private to its user (docs/security.md): whatever the umask lets through, its
// files are created 0600 and its directories 0700.
TEST(FileStoreTest, FilesAre0600AndDirectories0700) {
  mode_t old_umask = umask(0);  // so that the modes seen are the ones asked for
  StoreHarness harness(Driver::kFile);
  auto store = harness.OpenInitialised();
  ASSERT_TRUE(store->CreateLedger(1'234'567, SampleLedger()).ok());
  umask(old_umask);
  std::string root = harness.uri().substr(std::string("file://").size());
  namespace fs = std::filesystem;
  auto mode = [](const fs::path& p) { return fs::status(p).permissions() & fs::perms::all; };
  EXPECT_EQ(mode(root), fs::perms::owner_all) << root;
  size_t files = 0, dirs = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_directory()) {
      ++dirs;
      EXPECT_EQ(mode(e.path()), fs::perms::owner_all) << e.path();
    } else {
      ++files;
      EXPECT_EQ(mode(e.path()), fs::perms::owner_read | fs::perms::owner_write) << e.path();
    }
  }
  EXPECT_GE(files, 3u);  // the cluster record, the ledger, the lock
  EXPECT_GE(dirs, 5u);   // ledgers/000/0000/0000/0123
}

TEST(FileStoreTest, UriMustBeAbsolute) {
  EXPECT_EQ(OpenMetadataStore("file://relative/path", TestOptions()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenMetadataStore("file:///", TestOptions()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenMetadataStore("nope://x", TestOptions()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenMetadataStore("zk://host/x", TestOptions()).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenMetadataStore("zk://h:1/zookeeper", TestOptions()).status().code(),
            StatusCode::kInvalidArgument);
}

class LeaseTest : public ::testing::TestWithParam<Driver> {};

// A store whose lease lapses (a hung process) loses its registration and lock to others; once it
// runs again it learns so, reports it, and restores its registration in a new session.
TEST_P(LeaseTest, LapsedLeaseLosesLockAndRestoresRegistration) {
  StoreHarness harness(GetParam());
  Awaited<std::vector<SessionEventKind>> events;
  std::vector<SessionEventKind> seen_events;
  std::mutex events_mu;
  MetadataOptions options = TestOptions();
  options.session_timeout = std::chrono::milliseconds(500);
  options.on_session_event = [&](const SessionEvent& e) {
    std::lock_guard<std::mutex> lock(events_mu);
    EXPECT_TRUE(e.status.ok()) << e.status.ToString();
    seen_events.push_back(e.kind);
    events.Set(seen_events);
  };
  auto sleeper = harness.OpenInitialised(options);
  auto other = harness.OpenInitialised();

  auto reg = sleeper->RegisterBookie("bk1:3181", BookieMode::kWritable, "");
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  Awaited<bool> lost;
  auto lock = sleeper->TryLock("auditor", "sleeper", [&] { lost.Set(true); });
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();

  Awaited<BookieList> bookies;
  auto watch = other->WatchBookies([&](const BookieList& l) { bookies.Set(l); });
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(bookies.WaitFor([](const BookieList& l) { return !l.writable.empty(); }));

  auto* kv = dynamic_cast<KvMetadataStore*>(sleeper.get());
  ASSERT_NE(kv, nullptr);
  kv->PauseLeaseRenewalForTesting(true);
  ASSERT_TRUE(bookies.WaitFor([](const BookieList& l) { return l.writable.empty(); }, seconds(30)));
  EXPECT_FALSE((*lock)->held());
  // Once the lease has lapsed the lock can be taken (bounded retry: lapse is judged by time).
  Result<std::unique_ptr<OwnershipLock>> taken = Status(StatusCode::kInternal, "not tried");
  for (auto deadline = std::chrono::steady_clock::now() + seconds(30);
       std::chrono::steady_clock::now() < deadline;) {
    taken = other->TryLock("auditor", "other", nullptr);
    if (taken.ok() || !taken.status().Is(StatusCode::kAlreadyExists)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();

  kv->PauseLeaseRenewalForTesting(false);
  ASSERT_TRUE(events.WaitFor([](const auto& v) {
    return v.size() >= 2 && v[0] == SessionEventKind::kExpired &&
           v[1] == SessionEventKind::kRestored;
  }));
  EXPECT_TRUE(lost.WaitFor([](bool b) { return b; }));
  EXPECT_FALSE((*lock)->held());
  ASSERT_TRUE(bookies.WaitFor(
      [](const BookieList& l) { return l.writable == std::vector<BookieId>{"bk1:3181"}; }));
  EXPECT_EQ(other->LockOwner("auditor")->value_or(""), "other");
  // The stale handle must not release the lock it no longer holds.
  lock->reset();
  EXPECT_EQ(other->LockOwner("auditor")->value_or(""), "other");
  EXPECT_TRUE((*reg)->SetMode(BookieMode::kReadOnly).ok());
}

INSTANTIATE_TEST_SUITE_P(Embedded, LeaseTest, ::testing::Values(Driver::kMem, Driver::kFile),
                         [](const ::testing::TestParamInfo<Driver>& p) {
                           return DriverName(p.param);
                         });

}  // namespace
}  // namespace quire::metadata::testing
