#include "common/executor.h"

#include <chrono>

#include <fmt/format.h>

#include "common/logging.h"

namespace quire {

Executor::Executor(std::string name, size_t threads, bool spin)
    : name_(std::move(name)), spin_(spin) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { Run(i); });
}

Executor::~Executor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void Executor::Submit(Task task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      tasks_.push_back(std::move(task));
      queued_.store(tasks_.size(), std::memory_order_release);
      cv_.notify_one();
      return;
    }
  }
  task();
}

size_t Executor::QueueDepth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

void Executor::Run(size_t index) {
  SetThreadName(fmt::format("{}-{}", name_, index));
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (spin_ && tasks_.empty() && !stopping_) {
      // Spin briefly before sleeping: completions come in bursts tens of microseconds apart, and
      // a futex wake-up would add its latency to each of them.
      lock.unlock();
      auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
      while (queued_.load(std::memory_order_acquire) == 0 &&
             std::chrono::steady_clock::now() < deadline) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      lock.lock();
    }
    cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping and drained
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    queued_.store(tasks_.size(), std::memory_order_release);
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace quire
