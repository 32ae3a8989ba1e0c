#include "common/executor.h"

#include <fmt/format.h>

#include "common/logging.h"

namespace quire {

Executor::Executor(std::string name, size_t threads) : name_(std::move(name)) {
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
    cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping and drained
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace quire
