#include "common/io_context_pool.h"

#include <algorithm>
#include <future>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "common/logging.h"

namespace quire {

IoContextPool::IoContextPool(std::string name, size_t threads) : name_(std::move(name)) {
  for (size_t i = 0; i < std::max<size_t>(1, threads); ++i) {
    // Concurrency hint 1: one thread runs it (Asio then never looks for another thread to wake);
    // posting from other threads stays safe.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
  }
}

IoContextPool::~IoContextPool() { Stop(); }

void IoContextPool::Start() {
  if (!threads_.empty()) return;
  for (size_t i = 0; i < contexts_.size(); ++i) {
    work_.emplace_back(contexts_[i]->get_executor());
    threads_.emplace_back([this, i] {
      SetThreadName(fmt::format("{}-{}", name_, i));
      contexts_[i]->run();
    });
  }
}

void IoContextPool::Stop() {
  work_.clear();
  for (auto& c : contexts_) c->stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

boost::asio::io_context& IoContextPool::Next() {
  return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()];
}

bool IoContextPool::Responsive(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& c : contexts_) {
    // Shared: a task that runs after the wait gave up must still find its promise.
    auto ran = std::make_shared<std::promise<void>>();
    std::future<void> done = ran->get_future();
    boost::asio::post(*c, [ran] { ran->set_value(); });
    if (done.wait_until(deadline) != std::future_status::ready) return false;
  }
  return true;
}

}  // namespace quire
