// Real-process crash test: a child process (crash_child.cc) writes with the real engine on real
// files and reports each acknowledged add through a pipe; the parent kills it with SIGKILL at a
// random moment (after a random number of acknowledgements), restarts on the same directories and
// checks that every acknowledged entry and fence is there, byte-exact. 24 rounds.
#include <csignal>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "storage/engine_test_util.h"
#include "util/subprocess.h"
#include "util/temp_dir.h"

namespace quire::storage {
namespace {

constexpr int kRounds = 24;

TEST(ProcessCrashTest, KillNineLosesNoAcknowledgedEntry) {
  quire::testing::TempDir dir("quire-kill9");
  std::mt19937_64 rng(20261123);
  std::map<std::pair<uint64_t, uint64_t>, size_t> acked;
  std::set<uint64_t> fenced;
  uint64_t total_acks = 0;

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    uint64_t first_ledger = 1 + static_cast<uint64_t>(round) * 10;
    auto child = quire::testing::Subprocess::Start(
        {QUIRE_CRASH_CHILD, dir.path(), std::to_string(first_ledger), std::to_string(rng())});
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    auto ready = child->ReadLine(std::chrono::seconds(60));
    ASSERT_EQ(ready.value_or("<none>"), "ready");

    auto record = [&](const std::string& line) {
      std::istringstream in(line);
      std::string what;
      in >> what;
      if (what == "ack") {
        uint64_t l, e;
        size_t size;
        in >> l >> e >> size;
        acked[{l, e}] = size;
        ++total_acks;
      } else if (what == "fence") {
        uint64_t l;
        in >> l;
        fenced.insert(l);
      }
    };
    // Kill after a random number of acknowledgements: a random moment in the child's life.
    const int acks_before_kill = static_cast<int>(1 + rng() % 3000);
    for (int i = 0; i < acks_before_kill; ++i) {
      auto line = child->ReadLine(std::chrono::seconds(60));
      ASSERT_TRUE(line.has_value()) << "the child stopped reporting";
      record(*line);
    }
    int status = child->Kill(SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    // Lines written before the kill are still in the pipe: they were acknowledged too.
    while (auto line = child->ReadLine(std::chrono::seconds(60))) record(*line);
    ASSERT_FALSE(child->timed_out());

    auto engine = StorageEngine::Open(testing::TestStorageOptions(dir.path(), nullptr));
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    for (const auto& [key, size] : acked) {
      auto r = (*engine)->ReadEntry(key.first, key.second);
      ASSERT_TRUE(r.ok()) << "ledger " << key.first << " entry " << key.second << ": "
                          << r.status().ToString();
      ASSERT_EQ(*r, testing::TestPayload(key.first, key.second, size));
    }
    for (uint64_t l : fenced) {
      auto info = (*engine)->GetLedgerInfo(l);
      ASSERT_TRUE(info.ok() && info->fenced) << "fence of ledger " << l << " was lost";
    }
  }
  RecordProperty("acknowledged_adds_verified", std::to_string(total_acks));
  EXPECT_GT(total_acks, static_cast<uint64_t>(kRounds));
}

}  // namespace
}  // namespace quire::storage
