// Helpers for journal tests: a journal on a temp directory and a way to wait for callbacks.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "common/executor.h"
#include "storage/journal.h"

namespace quire::storage::testing {

// Counts callbacks and remembers the first error; Wait() blocks until `n` have run (bounded).
class Latch {
 public:
  JournalCallback Callback() {
    return [this](Status s) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!s.ok() && first_error_.ok()) first_error_ = s;
      ++done_;
      cv_.notify_all();
    };
  }
  // True if `n` callbacks ran within 60 s (a bound, not a timing assertion).
  bool Wait(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return done_ >= n; });
  }
  Status first_error() {
    std::lock_guard<std::mutex> lock(mu_);
    return first_error_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t done_ = 0;
  Status first_error_;
};

inline JournalOptions TestJournalOptions(const std::string& dir, FileSystem* fs, Executor* ex) {
  JournalOptions o;
  o.directory = dir;
  o.fs = fs;
  o.callback_executor = ex;
  o.prealloc_bytes = 1 << 20;
  return o;
}

// Writes `groups` groups of one ADD record each (ledger 1, entries 0..groups-1, 100-byte
// payloads) to a new journal file with id 1, then closes it. Returns the file's path.
inline std::string WriteJournal(const std::string& dir, FileSystem* fs, int groups) {
  Executor ex("test-cb", 1);
  auto j = Journal::Open(TestJournalOptions(dir, fs, &ex), 1);
  if (!j.ok()) return "";
  for (int i = 0; i < groups; ++i) {
    Latch latch;
    (*j)->Append(JournalWrite(JournalRecordType::kAdd, 1, static_cast<uint64_t>(i),
                              std::string(100, static_cast<char>('a' + i % 26)), latch.Callback()));
    if (!latch.Wait(1) || !latch.first_error().ok()) return "";
  }
  return dir + "/current/" + JournalFileName(1);
}

}  // namespace quire::storage::testing
