// In-process crash test: random workloads on the fault-injecting file system, a simulated power
// cut at a random moment (dropping or tearing everything not fdatasync'ed), then a restart on the
// same files. After every restart the engine must start cleanly and hold every add, fence, master
// key and explicit LAC that it acknowledged, byte-exact.
//
// Each test case runs kDirsPerCase fresh directories × kCrashesPerDir crash points, so the whole
// suite crashes the engine kCases × kDirsPerCase × kCrashesPerDir = 240 times. Seeds are fixed per
// case (QUIRE_CRASH_SEED adds an offset to explore others); a failure prints its seed.
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "storage/engine_test_util.h"
#include "storage/journal.h"
#include "util/fault_injection_fs.h"
#include "util/temp_dir.h"

namespace quire::storage {
namespace {

using quire::testing::CrashMode;
using quire::testing::FaultInjectionFileSystem;
using testing::TestPayload;

constexpr int kCases = 8;
constexpr int kDirsPerCase = 5;
constexpr int kCrashesPerDir = 6;
constexpr uint64_t kLedgers = 6;

std::string KeyOf(uint64_t ledger) { return "key-" + std::to_string(ledger); }

// What the engine acknowledged. Filled from callbacks (callback threads), read after the crash.
struct Model {
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;
  std::map<std::pair<uint64_t, uint64_t>, size_t> acked_adds;  // -> payload size
  std::set<uint64_t> acked_fences;
  std::set<uint64_t> ledgers_with_key;  // an acked op recorded the key
  std::map<uint64_t, uint64_t> acked_lac_seq;  // highest acknowledged LAC write per ledger

  void Done() {
    std::lock_guard<std::mutex> lock(mu);
    --outstanding;
    cv.notify_all();
  }
  // Waits (bounded) until at most `n` operations are outstanding.
  bool WaitOutstanding(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return outstanding <= n; });
  }
};

class CrashTest : public ::testing::TestWithParam<int> {};

TEST_P(CrashTest, AcknowledgedStateSurvivesRandomCrashes) {
  const char* extra = std::getenv("QUIRE_CRASH_SEED");
  const uint64_t base_seed = (extra ? std::strtoull(extra, nullptr, 10) : 0) * 1000 +
                             static_cast<uint64_t>(GetParam()) * 100;
  uint64_t files_reused = 0;  // journal files written over, across every crash of this case
  uint64_t inline_writes = 0;  // groups written by this thread (a scope's end), likewise
  for (int d = 0; d < kDirsPerCase; ++d) {
    const uint64_t seed = base_seed + static_cast<uint64_t>(d);
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(seed);
    quire::testing::TempDir dir("quire-crash");
    // Both back ends are crashed: even cases use system calls (the default), odd ones io_uring
    // (where the kernel refuses it, auto falls back to system calls).
    auto real = NewPosixFileSystem(GetParam() % 2 == 1 ? IoBackend::kAuto : IoBackend::kSyscalls);
    FaultInjectionFileSystem fs(real.get());
    StorageOptions options = testing::TestStorageOptions(dir.path(), &fs);
    options.write_cache_bytes = (1 + rng() % 3) << 20;
    options.flush_interval_ms = 1 + rng() % 30;
    options.journal_max_file_bytes = (64 + rng() % 256) << 10;
    options.journal_prealloc_bytes = 32 << 10;
    options.entry_log_size_limit = (64 + rng() % 256) << 10;
    options.journal_group_bytes_threshold = (4 + rng() % 64) << 10;
    if (rng() % 3 == 0) {
      options.journal_dirs = {dir.Sub("j0"), dir.Sub("j1")};
      options.ledger_dirs = {dir.Sub("l0"), dir.Sub("l1")};
    }

    Model model;
    std::map<uint64_t, uint64_t> next_entry;  // per ledger, never reused across crashes
    std::set<uint64_t> fence_issued;
    std::map<uint64_t, uint64_t> lac_seq_issued;
    auto size_of = [seed](uint64_t l, uint64_t e) {
      uint64_t h = (l * 0x9E3779B97F4A7C15ull) ^ (e * 0xC2B2AE3D27D4EB4Full) ^ seed;
      return static_cast<size_t>(h % 64 == 0 ? 20000 + h % 50000 : 1 + h % 3000);
    };

    for (int c = 0; c < kCrashesPerDir; ++c) {
      SCOPED_TRACE("crash " + std::to_string(c));
      auto opened = StorageEngine::Open(options);
      ASSERT_TRUE(opened.ok()) << opened.status().ToString();
      std::unique_ptr<StorageEngine> engine = std::move(*opened);
      ASSERT_TRUE(engine->health().ok());

      // Verify everything acknowledged so far.
      {
        std::lock_guard<std::mutex> lock(model.mu);
        for (const auto& [key, size] : model.acked_adds) {
          auto r = engine->ReadEntry(key.first, key.second);
          ASSERT_TRUE(r.ok()) << "ledger " << key.first << " entry " << key.second << ": "
                              << r.status().ToString();
          ASSERT_EQ(*r, TestPayload(key.first, key.second, size))
              << "ledger " << key.first << " entry " << key.second;
        }
        for (uint64_t l : model.acked_fences) {
          auto info = engine->GetLedgerInfo(l);
          ASSERT_TRUE(info.ok() && info->fenced) << "fence of ledger " << l << " was lost";
        }
        for (uint64_t l : model.ledgers_with_key) {
          auto info = engine->GetLedgerInfo(l);
          ASSERT_TRUE(info.ok()) << "ledger " << l << " was lost";
          ASSERT_EQ(info->master_key, KeyOf(l));
        }
        for (const auto& [l, acked_seq] : model.acked_lac_seq) {
          auto info = engine->GetLedgerInfo(l);
          ASSERT_TRUE(info.ok());
          ASSERT_GE(std::strtoull(info->explicit_lac.c_str(), nullptr, 10), acked_seq)
              << "explicit LAC of ledger " << l << " went back";
        }
      }

      // A random workload, then a power cut at a random moment while requests are in flight.
      const int ops = static_cast<int>(rng() % 400);
      for (int i = 0; i < ops; ++i) {
        uint64_t l = rng() % kLedgers;
        uint64_t kind = rng() % 100;
        ASSERT_TRUE(model.WaitOutstanding(64));
        {
          std::lock_guard<std::mutex> lock(model.mu);
          ++model.outstanding;
        }
        // Half the operations are made as a bookie's I/O thread makes them: in a scope whose
        // end writes an idle journal on this thread (journalWriteInline).
        std::optional<JournalLeadScope> lead;
        if (rng() % 2 == 0) lead.emplace();
        if (kind < 2) {
          fence_issued.insert(l);
          engine->Fence(l, KeyOf(l), [&model, l](Status s) {
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(model.mu);
              model.acked_fences.insert(l);
              model.ledgers_with_key.insert(l);
            }
            model.Done();
          });
        } else if (kind < 5) {
          uint64_t seq = ++lac_seq_issued[l];
          if (fence_issued.count(l) > 0) {
            model.Done();  // LAC writes to fenced ledgers are refused; nothing to check
            continue;
          }
          engine->SetExplicitLac(l, KeyOf(l), std::to_string(seq), [&model, l, seq](Status s) {
            if (s.ok()) {
              std::lock_guard<std::mutex> lock(model.mu);
              uint64_t& best = model.acked_lac_seq[l];
              best = std::max(best, seq);
              model.ledgers_with_key.insert(l);
            }
            model.Done();
          });
        } else {
          uint64_t e = next_entry[l]++;
          size_t size = size_of(l, e);
          bool recovery = fence_issued.count(l) > 0;
          engine->AddEntry(l, e, KeyOf(l), TestPayload(l, e, size), recovery,
                           [&model, l, e, size](Status s) {
                             if (s.ok()) {
                               std::lock_guard<std::mutex> lock(model.mu);
                               model.acked_adds[{l, e}] = size;
                               model.ledgers_with_key.insert(l);
                             }
                             model.Done();
                           });
        }
      }
      for (const JournalStats& j : engine->stats().journals) {
        files_reused += j.files_reused;
        inline_writes += j.inline_writes;
      }
      CrashMode mode = rng() % 2 ? CrashMode::kTornUnsynced : CrashMode::kDropUnsynced;
      ASSERT_TRUE(fs.Crash(mode, rng()).ok());
      engine.reset();  // threads see the frozen file system fail; callbacks drain
      ASSERT_TRUE(model.WaitOutstanding(0));
      fs.Restart();
    }
  }
  // The crashes must also have hit journals that write over old files (stale groups after the
  // crash point), or this test would not cover journal reuse.
  EXPECT_GT(files_reused, 0u) << "no journal file was reused";
  EXPECT_GT(inline_writes, 0u) << "no group was written by a scope's thread";
  RecordProperty("journal_files_reused", std::to_string(files_reused));
}

INSTANTIATE_TEST_SUITE_P(Seeds, CrashTest, ::testing::Range(0, kCases));

}  // namespace
}  // namespace quire::storage
