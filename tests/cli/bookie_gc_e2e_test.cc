// End to end, on real quire-bookie processes: the space of deleted ledgers comes back with
// `quire bookie gc --all --wait`, measured as the size of the files in the ledger directories,
// and the live ledgers read back exact, before and after a restart of every bookie.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/run_quire.h"
#include "client/test_cluster.h"
#include "quire/client.h"

namespace quire::cli {
namespace {

using client::testing::ClusterOptions;
using client::testing::TestCluster;
using quire::cli::testing::Outcome;
using quire::cli::testing::RunQuire;

constexpr int kLedgers = 20;
constexpr int kEntries = 1024;        // per ledger: 4 MiB of payload
constexpr size_t kEntryBytes = 4096;
constexpr double kMaxOverLive = 1.3;  // issue 14: the directories shrink to within 1.3x live data

// The ledgers that survive: 4 of the 20, spread over the write order.
bool Survives(int index) { return index % 5 == 3; }

// Entry payloads differ everywhere (no two entries alike), so that a misplaced entry is noticed.
std::string Payload(LedgerId ledger, EntryId entry) {
  std::string p(kEntryBytes, '\0');
  uint64_t x = (static_cast<uint64_t>(ledger) << 32) ^ static_cast<uint64_t>(entry) ^ 0x9e3779b97f4a7c15;
  for (char& c : p) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return p;
}

// What the files under a ledger directory take, by kind.
struct DirSize {
  uint64_t entry_logs = 0;
  uint64_t index = 0;  // the RocksDB index (current/index/)
  uint64_t other = 0;  // cookie, VERSION, LOCK
  uint64_t allocated = 0;  // blocks, for the record
  int logs = 0;
  uint64_t total() const { return entry_logs + index + other; }
  std::string ToString() const {
    return fmt::format("{:.2f} MiB ({} entry logs {:.2f} MiB, index {:.2f} MiB, other {} B; "
                       "{:.2f} MiB allocated)",
                       total() / 1048576.0, logs, entry_logs / 1048576.0, index / 1048576.0,
                       other, allocated / 1048576.0);
  }
};

DirSize Measure(const std::string& ledger_dir) {
  DirSize size;
  namespace fs = std::filesystem;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(ledger_dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    uint64_t bytes = it->file_size(ec);
    struct stat st {};
    if (::stat(it->path().c_str(), &st) == 0) size.allocated += static_cast<uint64_t>(st.st_blocks) * 512;
    std::string path = it->path().string();
    if (path.find("/index/") != std::string::npos) {
      size.index += bytes;
    } else if (it->path().extension() == ".log") {
      size.entry_logs += bytes;
      size.logs += 1;
    } else {
      size.other += bytes;
    }
  }
  EXPECT_FALSE(ec) << ledger_dir << ": " << ec.message();
  return size;
}

class BookieGcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterOptions options;
    options.bookies = 3;
    options.bookie_settings = {
        "entryLogSizeLimitMB = 4",   // several logs per bookie
        "flushIntervalMs = 100",     // entries reach the logs soon after they are written
        "gcWaitTime = 3600000",      // only the passes the test asks for run
        "compactionRateByBytes = 0",
    };
    auto cluster = TestCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    OpenClient();
  }

  void OpenClient() {
    client_.reset();
    auto c = Client::Open(ClientOptions{.metadata_uri = cluster_->metadata_uri()});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }

  // Writes kLedgers ledgers (E=W=3: every bookie holds every entry), their entries interleaved
  // as concurrent writers would, so that every entry log mixes ledgers.
  std::vector<LedgerId> WriteLedgers() {
    std::vector<std::unique_ptr<WriteHandle>> writers;
    for (int i = 0; i < kLedgers; ++i) {
      auto w = client_->CreateLedger(
          {.ensemble_size = 3, .write_quorum_size = 3, .ack_quorum_size = 3, .password = "gc"});
      EXPECT_TRUE(w.ok()) << w.status().ToString();
      if (!w.ok()) return {};
      writers.push_back(std::move(*w));
    }
    std::mutex mu;
    std::condition_variable cv;
    int pending = 0;
    Status first_error;
    for (EntryId e = 0; e < kEntries; ++e) {
      for (auto& w : writers) {
        {
          std::lock_guard<std::mutex> lock(mu);
          ++pending;
        }
        w->AppendAsync(Payload(w->id(), e), [&](Result<EntryId> r) {
          std::lock_guard<std::mutex> lock(mu);
          if (!r.ok() && first_error.ok()) first_error = r.status();
          if (--pending == 0) cv.notify_all();
        });
      }
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      EXPECT_TRUE(cv.wait_for(lock, std::chrono::seconds(120), [&] { return pending == 0; }))
          << pending << " appends unanswered";
      EXPECT_TRUE(first_error.ok()) << first_error.ToString();
    }
    std::vector<LedgerId> ids;
    for (auto& w : writers) {
      EXPECT_TRUE(w->Close().ok());
      ids.push_back(w->id());
    }
    return ids;
  }

  // Every entry of every live ledger reads back as written, and every replica is intact.
  void ExpectLiveLedgersExact(const std::vector<LedgerId>& live) {
    for (LedgerId id : live) {
      auto reader = client_->OpenLedger(id, "gc");
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      for (EntryId first = 0; first < kEntries; first += 256) {
        auto entries = (*reader)->Read(first, first + 255);
        ASSERT_TRUE(entries.ok()) << "ledger " << id << ": " << entries.status().ToString();
        ASSERT_EQ(entries->size(), 256u);
        for (const Entry& e : *entries) {
          ASSERT_TRUE(e.payload == Payload(id, e.id)) << "ledger " << id << " entry " << e.id;
        }
      }
      auto problems = (*reader)->CheckReplicas(0, kEntries - 1);
      ASSERT_TRUE(problems.ok()) << problems.status().ToString();
      EXPECT_TRUE(problems->empty()) << "ledger " << id << ": " << problems->size()
                                     << " bad replicas, first " << problems->front().what;
    }
  }

  // Bytes of live entries bookie i holds: the payloads of the entries it lists.
  uint64_t LiveBytesOn(int i, const std::vector<LedgerId>& live) {
    uint64_t bytes = 0;
    for (LedgerId id : live) {
      auto entries = client::testing::ListEntriesOn(cluster_->bookie_id(i), id);
      EXPECT_TRUE(entries.ok()) << entries.status().ToString();
      if (entries.ok()) bytes += entries->size() * kEntryBytes;
    }
    return bytes;
  }

  // Checks every bookie's ledger directory against its live data; `when` names the moment.
  void ExpectWithinBound(const std::vector<LedgerId>& live, const std::string& when) {
    for (int i = 0; i < cluster_->size(); ++i) {
      uint64_t live_bytes = LiveBytesOn(i, live);
      DirSize size = Measure(cluster_->root(i) + "/ledgers");
      std::cout << fmt::format("bookie {} {}: {} for {:.2f} MiB live = {:.2f}x\n", i, when,
                               size.ToString(), live_bytes / 1048576.0,
                               static_cast<double>(size.total()) / static_cast<double>(live_bytes));
      EXPECT_EQ(live_bytes, live.size() * kEntries * kEntryBytes) << "bookie " << i;
      EXPECT_LE(static_cast<double>(size.total()), kMaxOverLive * static_cast<double>(live_bytes))
          << "bookie " << i << " " << when << ": " << size.ToString();
    }
  }

  std::unique_ptr<TestCluster> cluster_;
  std::unique_ptr<Client> client_;
};

TEST_F(BookieGcTest, DeletedLedgersSpaceComesBackAndLiveLedgersReadBackAfterRestart) {
  std::vector<LedgerId> ids = WriteLedgers();
  ASSERT_EQ(ids.size(), static_cast<size_t>(kLedgers));
  std::vector<LedgerId> live, deleted;
  for (int i = 0; i < kLedgers; ++i) (Survives(i) ? live : deleted).push_back(ids[static_cast<size_t>(i)]);
  for (int i = 0; i < cluster_->size(); ++i) {
    std::cout << fmt::format("bookie {} written: {}\n", i,
                             Measure(cluster_->root(i) + "/ledgers").ToString());
  }

  for (LedgerId id : deleted) {
    ASSERT_EQ(RunQuire(cluster_->metadata_uri(), {"ledger", "delete", std::to_string(id)})
                  .exit_code(), 0) << id;
  }
  Outcome gc = RunQuire(cluster_->metadata_uri(),
                        {"--json", "bookie", "gc", "--all", "--wait", "--timeout", "120"});
  ASSERT_EQ(gc.exit_code(), 0) << gc.text();
  nlohmann::json passes = nlohmann::json::parse(gc.text());
  ASSERT_EQ(passes.size(), 3u) << gc.text();
  for (const auto& p : passes) {
    EXPECT_EQ(p["finished"], true) << p;
    EXPECT_EQ(p["error"], nullptr) << p;
    EXPECT_EQ(p["compaction"], "major") << p;
    const auto& report = p["report"];
    EXPECT_EQ(report["ledgersDeleted"], deleted.size()) << p;
    EXPECT_EQ(report["status"], "ok") << p;
    EXPECT_GT(report["logsDeleted"].get<uint64_t>() + report["logsCompacted"].get<uint64_t>(), 0u)
        << p;
    EXPECT_GT(report["bytesReclaimed"].get<int64_t>(), 0) << p;
  }
  // The bookies no longer know the deleted ledgers.
  for (int i = 0; i < cluster_->size(); ++i) {
    for (LedgerId id : deleted) {
      EXPECT_EQ(client::testing::ListEntriesOn(cluster_->bookie_id(i), id).status().code(),
                StatusCode::kNoSuchLedger) << "bookie " << i << " ledger " << id;
    }
  }
  ExpectWithinBound(live, "after gc");
  ExpectLiveLedgersExact(live);

  client_.reset();
  for (int i = 0; i < cluster_->size(); ++i) {
    ASSERT_EQ(cluster_->Stop(i), 0) << "bookie " << i;
    ASSERT_TRUE(cluster_->Restart(i).ok()) << "bookie " << i;
  }
  OpenClient();
  ExpectWithinBound(live, "after restart");
  ExpectLiveLedgersExact(live);

  // A pass on restarted bookies (their pass ids start again), named one by one, in text.
  std::vector<std::string> args = {"bookie", "gc", "--wait", "--no-compaction"};
  for (int i = 0; i < cluster_->size(); ++i) args.push_back(cluster_->bookie_id(i));
  Outcome again = RunQuire(cluster_->metadata_uri(), args);
  EXPECT_EQ(again.exit_code(), 0) << again.text();
  ASSERT_EQ(again.lines.size(), 3u) << again.text();
  for (int i = 0; i < cluster_->size(); ++i) {
    EXPECT_EQ(again.lines[static_cast<size_t>(i)].rfind(
                  cluster_->bookie_id(i) + ": pass 1 (no compaction) in ", 0), 0u)
        << again.lines[static_cast<size_t>(i)];
    EXPECT_NE(again.lines[static_cast<size_t>(i)].find(": 0 ledger(s) deleted; 0 entry log(s) "
                                                       "deleted, 0 compacted"),
              std::string::npos) << again.lines[static_cast<size_t>(i)];
  }
}

}  // namespace
}  // namespace quire::cli
