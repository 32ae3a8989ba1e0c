// A set of io_contexts with one thread each ("<name>-<i>"): where a server's connections live.
//
// Each connection is given one context for its life (Next(), round-robin), so its handlers run
// on one thread and a ready socket is handled by the thread that polled it. One io_context run by
// several threads instead hands the work from the polling thread to another one at each event: a
// thread wake-up more per request and per response. Measured with three bookies on two cores at
// 1,000 evenly spaced adds/s: their I/O threads spent a quarter to a third less CPU than two
// threads on one context (docs/performance.md, "Evenly spaced adds: fewer threads woken, no
// spinning for nothing").
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace quire {

class IoContextPool {
 public:
  // `threads` contexts (at least one); no thread runs until Start().
  IoContextPool(std::string name, size_t threads);
  // Stop().
  ~IoContextPool();
  IoContextPool(const IoContextPool&) = delete;
  IoContextPool& operator=(const IoContextPool&) = delete;

  // Runs each context on its own thread until Stop().
  void Start();
  // Stops every context (handlers not yet run are dropped) and joins the threads. Idempotent.
  void Stop();

  size_t size() const { return contexts_.size(); }
  // The first context: for what belongs to no connection (the acceptor, timers).
  boost::asio::io_context& first() { return *contexts_.front(); }
  // The context for a new connection, round-robin. Thread-safe.
  boost::asio::io_context& Next();
  // Whether every thread ran a task posted to it within `timeout` (a health check).
  bool Responsive(std::chrono::milliseconds timeout);

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  const std::string name_;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<WorkGuard> work_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace quire
