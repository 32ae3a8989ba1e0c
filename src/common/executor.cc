#include "common/executor.h"

#include <future>

#include <fmt/format.h>

#include "common/logging.h"

namespace quire {
namespace {
// The executor whose task this thread is running, if any (Drain must not wait for itself).
thread_local const Executor* running_on = nullptr;
}  // namespace

Executor::Executor(std::string name, size_t threads) : name_(std::move(name)) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this, i] { Run(i); });
}

Executor::~Executor() { Stop(); }

void Executor::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void Executor::Submit(Task task) {
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      tasks_.push_back(std::move(task));
      cv_.NotifyOne();
      return;
    }
  }
  task();
}

void Executor::Drain() {
  if (running_on == this) return;
  std::promise<void> reached;
  std::future<void> done = reached.get_future();
  Submit([&reached] { reached.set_value(); });
  done.wait();
}

size_t Executor::QueueDepth() const {
  MutexLock lock(mu_);
  return tasks_.size();
}

void Executor::Run(size_t index) {
  SetThreadName(fmt::format("{}-{}", name_, index));
  running_on = this;
  MutexLock lock(mu_);
  while (true) {
    cv_.Wait(mu_, [this]() QUIRE_REQUIRES(mu_) { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping and drained
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.Unlock();
    task();
    lock.Lock();
  }
}

}  // namespace quire
