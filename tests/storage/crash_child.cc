// The child of the real-process crash test (process_crash_test.cc): writes to a storage engine on
// real files as fast as it can and reports every acknowledged add on stdout ("ack <ledger>
// <entry> <size>") and fence ("fence <ledger>"), until it is killed with SIGKILL.
//
// usage: storage_crash_child <root dir> <first ledger id> <seed>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>

#include <fmt/format.h>

#include "common/logging.h"
#include "storage/engine_test_util.h"

using namespace quire;
using namespace quire::storage;

namespace {

void Say(const std::string& line) {
  // One write(2) per line: the parent must see every line written before the kill.
  std::string l = line + "\n";
  if (write(STDOUT_FILENO, l.data(), l.size()) != static_cast<ssize_t>(l.size())) std::_Exit(3);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    fmt::print(stderr, "usage: {} <root dir> <first ledger id> <seed>\n", argv[0]);
    return 2;
  }
  std::string root = argv[1];
  uint64_t first_ledger = std::strtoull(argv[2], nullptr, 10);
  std::mt19937_64 rng(std::strtoull(argv[3], nullptr, 10));
  // Logs go to stderr: stdout is the report channel.
  if (!InitLogging({.level = "warn"}).ok()) return 1;

  StorageOptions o = testing::TestStorageOptions(root, nullptr);
  o.flush_interval_ms = 20;
  o.write_cache_bytes = 4 << 20;
  o.journal_max_file_bytes = 1 << 20;
  o.entry_log_size_limit = 1 << 20;
  auto engine = StorageEngine::Open(o);
  if (!engine.ok()) {
    fmt::print(stderr, "child: {}\n", engine.status().ToString());
    return 1;
  }
  Say("ready");

  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  uint64_t next_entry[4] = {0, 0, 0, 0};
  bool fenced[4] = {false, false, false, false};
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return outstanding < 32; });
      ++outstanding;
    }
    int k = static_cast<int>(rng() % 4);
    uint64_t ledger = first_ledger + static_cast<uint64_t>(k);
    std::string key = fmt::format("key-{}", ledger);
    auto done = [&](std::string line) {
      return [&, line](Status s) {
        if (s.ok()) Say(line);
        std::lock_guard<std::mutex> lock(mu);
        --outstanding;
        cv.notify_one();
      };
    };
    if (rng() % 500 == 0 && !fenced[k]) {
      fenced[k] = true;
      (*engine)->Fence(ledger, key, done(fmt::format("fence {}", ledger)));
      continue;
    }
    uint64_t entry = next_entry[k]++;
    size_t size = 1 + rng() % 5000;
    (*engine)->AddEntry(ledger, entry, key, testing::TestPayload(ledger, entry, size), fenced[k],
                        done(fmt::format("ack {} {} {}", ledger, entry, size)));
  }
}
