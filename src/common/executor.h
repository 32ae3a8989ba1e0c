// A small task queue served by dedicated, named threads: the callback executor.
//
// Completion callbacks (an add made durable, a fence journaled) run here, never on the journal or
// flush threads, so that slow user code cannot delay the next fdatasync. Tasks submitted from one
// thread run in submission order when the executor has one thread.
#pragma once

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

  // Starts `threads` threads named "<name>-<i>". An idle thread sleeps; it never spins
  // (docs/performance.md, "No spinning": on two cores a spinning thread takes the CPU that the
  // thread it waits for needs).
  Executor(std::string name, size_t threads);
  // Stop().
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Thread-safe. Tasks submitted after shutdown began run on the caller's thread.
  void Submit(Task task);

  // Runs every task already submitted, then joins the threads. Idempotent; Submit still works
  // afterwards (on the caller's thread), so an owner can stop its executor while callbacks that
  // submit to it may still arrive from elsewhere.
  void Stop();

  // Returns once every task submitted before the call has run, when the executor has one
  // thread (tasks then run in submission order). Called from the executor's own thread it
  // returns at once: what is queued behind the running task cannot run before it returns.
  void Drain();

  // Number of tasks waiting (a queue-depth metric).
  size_t QueueDepth() const;

 private:
  void Run(size_t index);

  std::string name_;
  mutable Mutex mu_;
  CondVar cv_;
  std::deque<Task> tasks_ QUIRE_GUARDED_BY(mu_);
  bool stopping_ QUIRE_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace quire
