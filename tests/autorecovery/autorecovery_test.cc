// Autorecovery end to end (docs/autorecovery.md): a real ZooKeeper and 5 real quire-bookie
// processes, each running autorecovery in-process (autoRecoveryDaemonEnabled). Bookies are killed
// with SIGKILL and their directories deleted; the cluster must heal by itself: no ensemble names
// a lost bookie, no ledger stays marked, `quire ledger check` exits 0 for each ledger, and every
// acknowledged entry reads back byte-exact. Ledgers are written through the library and the CLI.
// Waits poll the metadata with a deadline; nothing sleeps to synchronise.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "cli/run_quire.h"
#include "client/client_test_util.h"
#include "metadata/metadata_store.h"

namespace quire::client::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kPassword[] = "autorecovery-test";

std::vector<std::string> Settings(std::vector<std::string> extra = {}) {
  std::vector<std::string> s = {"autoRecoveryDaemonEnabled = true",
                                "lostBookieRecoveryDelay = 0",
                                "autoRecoveryPollIntervalMs = 100",
                                "openLedgerRereplicationGracePeriod = 1000",
                                "auditorPeriodicCheckInterval = 0"};
  s.insert(s.end(), extra.begin(), extra.end());
  return s;
}

class AutoRecoveryTest : public ClusterTest {
 protected:
  void SetUp() override {}

  void Start(std::vector<std::string> settings) {
    ASSERT_NO_FATAL_FAILURE(StartCluster(5, std::move(settings)));
    client_ = NewClient();
    ASSERT_NE(client_, nullptr);
    auto store = metadata::OpenMetadataStore(cluster_->metadata_uri(), {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  // A ledger on bookies `on` (indices), `n` entries of Payload(e, extra); closed unless `open`
  // (then its writer is kept, idle, in open_writers_).
  LedgerId Write(std::vector<int> on, int n, bool open = false, int extra = 200) {
    CreateLedgerOptions o{.ensemble_size = 3, .write_quorum_size = 3, .ack_quorum_size = 2,
                          .password = kPassword};
    for (int i : on) o.bookies.push_back(cluster_->bookie_id(i));
    auto writer = client_->CreateLedger(o);
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    if (!writer.ok()) return -1;
    for (EntryId e = 0; e < n; ++e) {
      auto added = (*writer)->Append(Payload(e, extra));
      EXPECT_TRUE(added.ok()) << added.status().ToString();
    }
    LedgerId id = (*writer)->id();
    for (EntryId e = 0; e < n; ++e) written_[id].push_back(Payload(e, extra));
    if (open) {
      open_writers_.push_back(std::move(*writer));
    } else {
      EXPECT_TRUE((*writer)->Close().ok());
    }
    return id;
  }

  // SIGKILL, then the directories go: the bookie is lost for good.
  void Lose(int i) {
    cluster_->Kill(i);
    std::error_code ec;
    std::filesystem::remove_all(cluster_->root(i), ec);
    ASSERT_FALSE(ec) << ec.message();
    lost_.insert(cluster_->bookie_id(i));
  }

  // Why the cluster is not healed yet, or "" once it is: every written ledger closed, no ensemble
  // naming a lost bookie, no marker left.
  std::string NotHealed() {
    for (const auto& [id, entries] : written_) {
      auto md = store_->ReadLedger(id);
      if (!md.ok()) return md.status().ToString();
      if (!md->value.closed()) {
        return fmt::format("ledger {} is {}", id, LedgerStateName(md->value.state));
      }
      for (const BookieId& b : lost_) {
        if (md->value.UsesBookie(b)) return fmt::format("ledger {} still names {}", id, b);
      }
    }
    auto markers = store_->ListUnderReplicated(0, 100);
    if (!markers.ok()) return markers.status().ToString();
    if (!markers->empty()) return fmt::format("ledger {} is still marked", (*markers)[0].ledger_id);
    return "";
  }

  // Polls until healed; the bound is generous for a loaded 2-core CI machine.
  void WaitHealed(seconds bound = seconds(240)) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    std::string why;
    while (!(why = NotHealed()).empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(100));  // polling the metadata, not synchronising
    }
    ASSERT_EQ(why, "") << "not healed within " << bound.count() << " s";
  }

  // Every replica of every written ledger reads back (`quire ledger check` exits 0, no password
  // given), and every acknowledged entry reads back byte-exact through the ledger's password.
  void VerifyAll() {
    auto reader_client = NewClient();
    for (const auto& [id, entries] : written_) {
      const auto n = static_cast<EntryId>(entries.size());
      auto repair = reader_client->OpenLedgerForRepair(id);
      ASSERT_TRUE(repair.ok()) << repair.status().ToString();
      EntryId last = (*repair)->metadata().last_entry_id;
      ASSERT_GE(last, n - 1) << "ledger " << id << " lost acknowledged entries";
      cli::testing::Outcome check =
          cli::testing::RunQuire(cluster_->metadata_uri(), {"ledger", "check", std::to_string(id)});
      ASSERT_EQ(check.exit_code(), 0) << "quire ledger check " << id << ":\n" << check.text();
      auto reader = reader_client->OpenLedger(id, kPassword);
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      auto got = (*reader)->Read(0, n - 1);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(got->size(), entries.size());
      for (size_t e = 0; e < entries.size(); ++e) {
        ASSERT_EQ((*got)[e].payload, entries[e]) << "ledger " << id << " entry " << e;
      }
    }
  }

  // A closed ledger written through `quire ledger write --new` (E3/Qw3/Qa2, placed by the CLI):
  // `n` lines. Returns its id.
  LedgerId WriteWithCli(int n) {
    std::string input = cluster_->dir() + "/cli-input.txt";
    std::vector<std::string> lines;
    {
      std::ofstream f(input);
      for (int e = 0; e < n; ++e) {
        lines.push_back(fmt::format("written by the CLI, line {}", e));
        f << lines.back() << "\n";
      }
    }
    cli::testing::Outcome w = cli::testing::RunQuire(
        cluster_->metadata_uri(), {"ledger", "write", "--new", "-p", kPassword}, input);
    EXPECT_EQ(w.exit_code(), 0) << w.text();
    EXPECT_EQ(w.lines.size(), static_cast<size_t>(n)) << w.text();
    if (w.lines.empty()) return -1;
    LedgerId id = std::stoll(w.lines[0].substr(0, w.lines[0].find(' ')));
    written_[id] = lines;
    return id;
  }

  // The index of the bookie whose autorecovery holds lock `name`, once someone does.
  int HolderOf(const std::string& name, seconds bound = seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
      auto owner = store_->LockOwner(name);
      if (owner.ok() && owner->has_value()) {
        const std::string prefix = "bookie ";
        if ((*owner)->rfind(prefix, 0) == 0) {
          return cluster_->IndexOf((*owner)->substr(prefix.size()));
        }
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return -1;
  }

  // Waits until the auditor's record lists `bookie` as missing (present) or not (!present).
  bool WaitMissing(const BookieId& bookie, bool present, seconds bound = seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
      auto rec = store_->ReadAutoRecovery();
      if (rec.ok()) {
        const auto& missing = rec->value.missing_bookies;
        bool listed = std::any_of(missing.begin(), missing.end(), [&](const auto& m) {
          return m.bookie_id == bookie;
        });
        if (listed == present) return true;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  std::unique_ptr<Client> client_;
  std::unique_ptr<metadata::MetadataStore> store_;
  std::map<LedgerId, std::vector<std::string>> written_;  // id -> its acknowledged entries
  std::vector<std::unique_ptr<WriteHandle>> open_writers_;
  std::set<BookieId> lost_;
};

TEST_P(AutoRecoveryTest, TwoBookiesLostOneAfterTheOtherAreHealed) {
  ASSERT_NO_FATAL_FAILURE(Start(Settings()));
  // The victims are the first two bookies of a ledger the CLI placed; the library's ledgers are
  // placed around them: closed ones, and one left open with its writer idle (recovered once the
  // grace period has passed).
  LedgerId by_cli = WriteWithCli(25);
  ASSERT_GE(by_cli, 0);
  auto md = store_->ReadLedger(by_cli);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  const int a = cluster_->IndexOf(md->value.ensembles[0].bookies[0]);
  const int b = cluster_->IndexOf(md->value.ensembles[0].bookies[1]);
  std::vector<int> others;
  for (int i = 0; i < 5; ++i) {
    if (i != a && i != b) others.push_back(i);
  }
  Write({a, b, others[0]}, 50);
  Write({a, others[1], others[2]}, 30);
  Write({b, others[0], others[1]}, 40);
  Write({a, b, others[2]}, 20, /*open=*/true);
  ASSERT_NO_FATAL_FAILURE(Lose(a));
  ASSERT_NO_FATAL_FAILURE(WaitHealed());
  ASSERT_NO_FATAL_FAILURE(VerifyAll());
  ASSERT_NO_FATAL_FAILURE(Lose(b));
  ASSERT_NO_FATAL_FAILURE(WaitHealed());
  ASSERT_NO_FATAL_FAILURE(VerifyAll());
  // The fenced writer of the recovered ledger can write no more.
  EXPECT_FALSE(open_writers_[0]->Append("late").ok());
}

TEST_P(AutoRecoveryTest, RestartWithinTheDelayCopiesNothing) {
  ASSERT_NO_FATAL_FAILURE(Start(Settings({"lostBookieRecoveryDelay = 3600"})));
  LedgerId id = Write({0, 1, 2}, 20);
  auto before = store_->ReadLedger(id);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(cluster_->Stop(0), 0);  // SIGTERM: unregistered at once
  ASSERT_TRUE(WaitMissing(cluster_->bookie_id(0), true)) << "the auditor never saw it go";
  ASSERT_TRUE(cluster_->Restart(0).ok());
  ASSERT_TRUE(WaitMissing(cluster_->bookie_id(0), false)) << "the auditor never saw it back";
  auto markers = store_->ListUnderReplicated(0, 10);
  ASSERT_TRUE(markers.ok());
  EXPECT_TRUE(markers->empty());
  auto after = store_->ReadLedger(id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->value.ensembles, before->value.ensembles);
  EXPECT_EQ(after->version, before->version);
}

TEST_P(AutoRecoveryTest, NextAuditorFinishesWhenTheAuditorDies) {
  ASSERT_NO_FATAL_FAILURE(Start(Settings({"lostBookieRecoveryDelay = 2"})));
  int auditor = HolderOf("auditor");
  ASSERT_GE(auditor, 0) << "no auditor elected";
  int victim = (auditor + 1) % 5;
  Write({victim, (victim + 1) % 5, (victim + 2) % 5}, 40);
  Write({auditor, victim, (victim + 2) % 5}, 30);
  Write({(victim + 1) % 5, (victim + 2) % 5, (victim + 3) % 5}, 10);
  ASSERT_NO_FATAL_FAILURE(Lose(victim));
  // The auditor has seen the victim go (its delay is running) when it dies in turn.
  ASSERT_TRUE(WaitMissing(cluster_->bookie_id(victim), true));
  ASSERT_NO_FATAL_FAILURE(Lose(auditor));
  ASSERT_NO_FATAL_FAILURE(WaitHealed());
  ASSERT_NO_FATAL_FAILURE(VerifyAll());
  int next = HolderOf("auditor");
  EXPECT_GE(next, 0);
  EXPECT_NE(next, auditor);
}

TEST_P(AutoRecoveryTest, AnotherWorkerFinishesWhenTheCopyingOneDies) {
  // Slow copies (20 KB/s, 10 entries a batch), so that the worker is caught mid-copy.
  ASSERT_NO_FATAL_FAILURE(Start(Settings(
      {"replicationRateByBytes = 20000", "rereplicationEntryBatchSize = 10"})));
  LedgerId id = Write({0, 1, 2}, 120, /*open=*/false, /*extra=*/1000);
  ASSERT_NO_FATAL_FAILURE(Lose(0));
  int worker = HolderOf(fmt::format("replicate-{}", id));
  ASSERT_GE(worker, 0) << "no worker took the ledger";
  ASSERT_NO_FATAL_FAILURE(Lose(worker));
  ASSERT_NO_FATAL_FAILURE(WaitHealed());
  ASSERT_NO_FATAL_FAILURE(VerifyAll());
}

TEST_P(AutoRecoveryTest, PeriodicCheckReplacesASilentlyDamagedCopy) {
  // A long delay: the stop below must not count as a loss; only the check may find the copy.
  ASSERT_NO_FATAL_FAILURE(Start(
      Settings({"auditorPeriodicCheckInterval = 1", "lostBookieRecoveryDelay = 3600"})));
  LedgerId id = Write({0, 1, 2}, 20);
  // Entry 7's copy on bookie 1 is damaged on disk, its record CRC recomputed: the bookie serves
  // it as good; only a digest check can tell.
  ASSERT_EQ(cluster_->Stop(1), 0);
  Status damaged = CorruptEntry(cluster_->root(1), id, 7, CorruptionKind::kSilent);
  ASSERT_TRUE(damaged.ok()) << damaged.ToString();
  ASSERT_TRUE(cluster_->Restart(1).ok());
  // The auditor's check finds it, a worker moves the ledger's copies off bookie 1.
  lost_.insert(cluster_->bookie_id(1));
  ASSERT_NO_FATAL_FAILURE(WaitHealed());
  ASSERT_NO_FATAL_FAILURE(VerifyAll());
}

INSTANTIATE_TEST_SUITE_P(ZooKeeper, AutoRecoveryTest,
                         ::testing::Values(ClusterOptions::Metadata::kZooKeeper), MetadataName);

}  // namespace
}  // namespace quire::client::testing
