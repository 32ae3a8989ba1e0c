// A bookie whose ledger disk fills up under load (a 48 MiB tmpfs): it turns read-only, loses
// nothing it acknowledged, says so once in its log, and once ledgers are deleted and garbage
// collection has given the space back it is writable again, without a restart.
//
// The small file system is mounted in a mount namespace of this test process (CLONE_NEWNS), so
// the bookie it starts sees it and it disappears with them, even if the test crashes. Needs root
// (CAP_SYS_ADMIN); skipped with a message otherwise.
#include <sched.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "client/client_test_util.h"
#include "util/temp_dir.h"

namespace quire::client::testing {
namespace {

// A tmpfs of `size` at `dir`, in this process's own mount namespace; unmounted on destruction.
class SmallFileSystem {
 public:
  // Empty string on success, else why it cannot be done here.
  std::string Mount(const std::string& dir, const std::string& size) {
    if (unshare(CLONE_NEWNS) != 0) return std::string("unshare(CLONE_NEWNS): ") + strerror(errno);
    // Keep our mounts to ourselves (systemd makes / shared).
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return std::string("making / private: ") + strerror(errno);
    }
    std::string options = "size=" + size;
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
      return std::string("mounting a tmpfs: ") + strerror(errno);
    }
    dir_ = dir;
    return "";
  }
  ~SmallFileSystem() {
    if (!dir_.empty()) umount2(dir_.c_str(), MNT_DETACH);
  }

 private:
  std::string dir_;
};

int CountLines(const std::string& path, const std::string& needle) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

// Waits (bounded) until `done` holds; false on timeout.
template <typename F>
bool WaitUntil(F done, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a remote state
  }
  return true;
}

TEST(FullDiskTest, AFullLedgerDiskTurnsTheBookieReadOnlyUntilGarbageCollectionFreesSpace) {
  quire::testing::TempDir root("quire-full-disk");
  std::string small = root.Sub("small");
  std::filesystem::create_directories(small);
  SmallFileSystem fs;
  if (std::string why = fs.Mount(small, "48m"); !why.empty()) {
    GTEST_SKIP() << "needs root to mount a small file system in a mount namespace: " << why;
  }
  const std::string log = root.Sub("bookie.log");
  ClusterOptions o;
  o.bookies = 1;
  o.bookie_settings = {
      "ledgerDirectories = " + small + "/ledgers",
      // Flushes stop 4 MiB short of full; the disk monitor alone would not stop the writer.
      // Writable again below 60 %: the entry logs fill the disk but the reserve, and the two
      // live ledgers keep a quarter of them, about 25 % of the disk once the six others are
      // collected. (With the index's 22 MiB of RocksDB preallocations, before it turned them
      // off, usage swung by 17.6 MiB when its write-ahead log rolled over: writable again after
      // the collection, the bookie could be read-only again a moment later.)
      "ledgerDirReservedSpaceMB = 4", "diskUsageThreshold = 0.99", "diskUsageLwmThreshold = 0.6",
      "diskCheckIntervalMs = 100", "entryLogSizeLimitMB = 2", "writeCacheMaxSizeMB = 8",
      "flushIntervalMs = 100",
      // Garbage collection every second, compacting every time, unthrottled.
      "gcWaitTime = 1000", "minorCompactionIntervalMs = 1000", "majorCompactionIntervalMs = 1000",
      "compactionRateByBytes = 0", "logFile = " + log};
  auto cluster = TestCluster::Start(o);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  const BookieId bookie = (*cluster)->bookie_id(0);
  auto client = Client::Open(TestClientOptions((*cluster)->metadata_uri()));
  ASSERT_TRUE(client.ok()) << client.status().ToString();

  // Eight ledgers written round-robin with 4 KiB entries until the bookie stops taking them.
  constexpr int kLedgers = 8;
  std::vector<std::unique_ptr<WriteHandle>> writers;
  for (int i = 0; i < kLedgers; ++i) {
    auto w = (*client)->CreateLedger(
        {.ensemble_size = 1, .write_quorum_size = 1, .ack_quorum_size = 1, .password = "pw"});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    writers.push_back(std::move(*w));
  }
  std::mutex mu;
  std::map<std::pair<int, EntryId>, std::string> acked;  // guarded by mu
  std::atomic<bool> failed{false};
  auto payload = [](int ledger, int n) {
    std::string p = fmt::format("ledger {} append {} ", ledger, n);
    p.resize(4096, static_cast<char>('a' + (ledger * 7 + n) % 26));
    return p;
  };
  int appends = 0;
  for (; appends < 40'000 && !failed.load(); ++appends) {  // 160 MiB: far past the disk
    int l = appends % kLedgers;
    std::string p = payload(l, appends);
    writers[l]->AppendAsync(p, [&, l, p](Result<EntryId> r) {
      if (!r.ok()) {
        failed = true;
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      acked[{l, *r}] = p;
    });
  }
  ASSERT_TRUE(failed.load()) << "the bookie took 160 MiB on a 48 MiB disk";
  auto read_only = [&] {
    auto list = (*client)->ListBookies();
    return list.ok() && std::count(list->read_only.begin(), list->read_only.end(), bookie) == 1;
  };
  ASSERT_TRUE(WaitUntil(read_only, std::chrono::seconds(30))) << "the full bookie is not read-only";
  std::vector<LedgerId> ids;
  for (const auto& w : writers) ids.push_back(w->id());
  writers.clear();  // their adds have all failed or completed
  // It was the disk that stopped the writer: what is left is about the reserve plus a flush.
  auto space = std::filesystem::space(small);
  EXPECT_LT(space.available, 12u << 20) << "the bookie turned read-only with space to spare";

  // Delete six of the eight ledgers; garbage collection gives their space back.
  for (int i = 0; i < 6; ++i) ASSERT_TRUE((*client)->DeleteLedger(ids[i]).ok());
  auto writable = [&] {
    auto list = (*client)->ListBookies();
    return list.ok() && std::count(list->writable.begin(), list->writable.end(), bookie) == 1;
  };
  ASSERT_TRUE(WaitUntil(writable, std::chrono::seconds(120)))
      << "the bookie did not become writable again after its space was reclaimed";

  // Every acknowledged entry of the two live ledgers reads back byte for byte.
  for (int i = 6; i < kLedgers; ++i) {
    auto reader = (*client)->RecoverLedger(ids[i], "pw");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& [key, p] : acked) {
      if (key.first != i) continue;
      auto got = (*reader)->Read(key.second, key.second);
      ASSERT_TRUE(got.ok()) << "ledger " << i << " entry " << key.second << ": "
                            << got.status().ToString();
      ASSERT_EQ(got->at(0).payload, p) << "ledger " << i << " entry " << key.second;
    }
  }
  // And it takes writes again (a new client: the first one's view of the bookies is a watch,
  // which may lag behind the registration the check above read).
  client = Client::Open(TestClientOptions((*cluster)->metadata_uri()));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto w = (*client)->CreateLedger(
      {.ensemble_size = 1, .write_quorum_size = 1, .ack_quorum_size = 1, .password = "pw"});
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_TRUE((*w)->Append(payload(9, 0)).ok());

  // Each time the disk filled up was reported once when it began and once when it ended, not
  // once per retried flush (10 a second here). A clean stop writes out the log.
  EXPECT_EQ((*cluster)->Stop(0), 0);
  int began = CountLines(log, "held back by a full disk");
  EXPECT_GE(began, 1) << "see " << log;
  EXPECT_EQ(began, CountLines(log, "flushes succeed again")) << "see " << log;
}

}  // namespace
}  // namespace quire::client::testing
