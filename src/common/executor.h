// A small task queue served by dedicated, named threads: the callback executor.
//
// Completion callbacks (an add made durable, a fence journaled) run here, never on the journal or
// flush threads, so that slow user code cannot delay the next fdatasync. Tasks submitted from one
// thread run in submission order when the executor has one thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"

namespace quire {

class Executor {
 public:
  using Task = std::function<void()>;

  // Starts `threads` threads named "<name>-<i>". With `spin`, an idle thread spins for up to
  // 100 us before it sleeps: worth it where tasks come in bursts microseconds apart and each
  // futex wake-up would add to a request's latency (the storage engine's callbacks); a waste of
  // CPU elsewhere.
  Executor(std::string name, size_t threads, bool spin = false);
  // Runs every task already submitted, then joins the threads.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Thread-safe. Tasks submitted after shutdown began run on the caller's thread.
  void Submit(Task task);

  // Returns once every task submitted before the call has run, when the executor has one
  // thread (tasks then run in submission order). Called from the executor's own thread it
  // returns at once: what is queued behind the running task cannot run before it returns.
  void Drain();

  // Number of tasks waiting (a queue-depth metric).
  size_t QueueDepth() const;

 private:
  void Run(size_t index);

  std::string name_;
  const bool spin_;
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<Task> tasks_ QUIRE_GUARDED_BY(mu_);
  bool stopping_ QUIRE_GUARDED_BY(mu_) = false;
  std::atomic<size_t> queued_{0};  // tasks_.size(), readable without mu_
  std::vector<std::thread> threads_;
};

}  // namespace quire
