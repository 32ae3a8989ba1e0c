// The md-watch thread of a metadata store: it refreshes watches and runs every user callback
// (watch callbacks, lock-loss and session events), one at a time, in the order they were queued.
//
// A watch is a refresh function plus the keys it depends on. The thread calls the function when
// the watch is added (the initial delivery), when one of its keys is triggered (ZooKeeper
// events), on every poll tick (file:// and mem://, which have no change notifications), and after
// a retry delay when the last refresh could not reach the service. The function reads the current
// state, compares it with what it last delivered and calls the user's callback if it changed, so
// spurious refreshes cost a read, never a duplicate delivery.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "metadata/metadata_store.h"

namespace quire::metadata {

class WatchExecutor {
 public:
  enum class Outcome {
    kKeep,   // refreshed; keep the watch
    kDone,   // the watch is over (its record was deleted); remove it
    kRetry,  // could not refresh (service unreachable); try again after the retry delay
  };
  using RefreshFn = std::function<Outcome()>;

  // `poll_interval` zero means no polling (ZooKeeper); `retry_delay` paces kRetry.
  WatchExecutor(std::chrono::milliseconds poll_interval, std::chrono::milliseconds retry_delay);
  ~WatchExecutor();
  WatchExecutor(const WatchExecutor&) = delete;
  WatchExecutor& operator=(const WatchExecutor&) = delete;

  // Adds a watch; its first refresh is queued at once.
  uint64_t Add(std::vector<std::string> keys, RefreshFn refresh);
  // Removes a watch. Unless called on the md-watch thread, waits for a refresh of it that is
  // running to return.
  void Remove(uint64_t id) QUIRE_EXCLUDES(mu_);
  // Queues a refresh of every watch depending on `key` / of every watch.
  void Trigger(const std::string& key);
  void TriggerAll();
  // Queues a task (a user callback) to run on the thread.
  void Post(std::function<void()> task);
  // Stops the thread; queued work is dropped. Called by the owning store before it is destroyed.
  void Stop();
  bool OnThread() const { return std::this_thread::get_id() == thread_id_; }

  // A Watch handle that removes watch `id` when destroyed.
  std::unique_ptr<Watch> MakeHandle(uint64_t id);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::vector<std::string> keys;
    std::shared_ptr<RefreshFn> refresh;
    bool queued = false;
    Clock::time_point retry_at = Clock::time_point::max();
  };

  void Run();
  void QueueLocked(uint64_t id, Entry& entry) QUIRE_REQUIRES(mu_);

  const std::chrono::milliseconds poll_interval_;
  const std::chrono::milliseconds retry_delay_;

  Mutex mu_;
  CondVar cv_;       // work arrived, or stop
  CondVar idle_cv_;  // running_ changed
  std::map<uint64_t, Entry> watches_ QUIRE_GUARDED_BY(mu_);
  std::multimap<std::string, uint64_t> by_key_ QUIRE_GUARDED_BY(mu_);
  std::deque<uint64_t> queue_ QUIRE_GUARDED_BY(mu_);               // watches to refresh
  std::deque<std::function<void()>> tasks_ QUIRE_GUARDED_BY(mu_);  // posted callbacks
  uint64_t next_id_ QUIRE_GUARDED_BY(mu_) = 1;
  uint64_t running_ QUIRE_GUARDED_BY(mu_) = 0;  // watch being refreshed, 0 if none
  bool stop_ QUIRE_GUARDED_BY(mu_) = false;
  Clock::time_point next_poll_ QUIRE_GUARDED_BY(mu_);

  std::thread thread_;
  std::thread::id thread_id_;
};

// Refresh functions for the two kinds of watch, shared by the drivers. `read` reads the current
// state (and, for ZooKeeper, re-arms the znode watch). Transient errors (kUnavailable, kTimeout,
// kIOError, kAborted) make the executor retry; kNoSuchLedger is delivered and ends the watch;
// other errors are delivered once until the state changes.
WatchExecutor::RefreshFn MakeLedgerRefresh(std::function<Result<Versioned<LedgerMetadata>>()> read,
                                           LedgerWatchFn callback);
WatchExecutor::RefreshFn MakeBookiesRefresh(std::function<Result<BookieList>()> read,
                                            BookieWatchFn callback);

}  // namespace quire::metadata
