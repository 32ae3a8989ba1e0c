#include "metadata/watch_executor.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "common/logging.h"

namespace quire::metadata {
namespace {

class ExecutorWatch final : public Watch {
 public:
  ExecutorWatch(WatchExecutor* executor, uint64_t id) : executor_(executor), id_(id) {}
  ~ExecutorWatch() override { executor_->Remove(id_); }

 private:
  WatchExecutor* executor_;
  uint64_t id_;
};

}  // namespace

WatchExecutor::WatchExecutor(std::chrono::milliseconds poll_interval,
                             std::chrono::milliseconds retry_delay)
    : poll_interval_(poll_interval), retry_delay_(retry_delay) {
  next_poll_ = Clock::now() + poll_interval_;
  thread_ = std::thread([this] { Run(); });
  thread_id_ = thread_.get_id();
}

WatchExecutor::~WatchExecutor() { Stop(); }

void WatchExecutor::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable() && !OnThread()) thread_.join();
}

uint64_t WatchExecutor::Add(std::vector<std::string> keys, RefreshFn refresh) {
  MutexLock lock(mu_);
  uint64_t id = next_id_++;
  Entry& e = watches_[id];
  e.keys = std::move(keys);
  e.refresh = std::make_shared<RefreshFn>(std::move(refresh));
  for (const auto& k : e.keys) by_key_.emplace(k, id);
  QueueLocked(id, e);
  cv_.NotifyAll();
  return id;
}

void WatchExecutor::Remove(uint64_t id) {
  MutexLock lock(mu_);
  auto it = watches_.find(id);
  if (it != watches_.end()) {
    for (const auto& k : it->second.keys) {
      auto [b, e] = by_key_.equal_range(k);
      for (auto i = b; i != e;) i = (i->second == id) ? by_key_.erase(i) : std::next(i);
    }
    watches_.erase(it);
  }
  // queue_ may still name the id; Run() skips ids that are gone.
  if (!OnThread()) idle_cv_.Wait(mu_, [&]() QUIRE_REQUIRES(mu_) { return running_ != id; });
}

void WatchExecutor::Trigger(const std::string& key) {
  MutexLock lock(mu_);
  auto [b, e] = by_key_.equal_range(key);
  for (auto i = b; i != e; ++i) QueueLocked(i->second, watches_.at(i->second));
  cv_.NotifyAll();
}

void WatchExecutor::TriggerAll() {
  MutexLock lock(mu_);
  for (auto& [id, e] : watches_) QueueLocked(id, e);
  cv_.NotifyAll();
}

void WatchExecutor::Post(std::function<void()> task) {
  MutexLock lock(mu_);
  tasks_.push_back(std::move(task));
  cv_.NotifyAll();
}

std::unique_ptr<Watch> WatchExecutor::MakeHandle(uint64_t id) {
  return std::make_unique<ExecutorWatch>(this, id);
}

void WatchExecutor::QueueLocked(uint64_t id, Entry& entry) {
  if (entry.queued) return;
  entry.queued = true;
  entry.retry_at = Clock::time_point::max();
  queue_.push_back(id);
}

void WatchExecutor::Run() {
  SetThreadName("md-watch");
  MutexLock lock(mu_);
  while (!stop_) {
    if (!tasks_.empty()) {
      auto task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.Unlock();
      task();
      lock.Lock();
      continue;
    }
    Clock::time_point now = Clock::now();
    Clock::time_point wake = Clock::time_point::max();
    if (poll_interval_.count() > 0) {
      if (now >= next_poll_) {
        for (auto& [id, e] : watches_) QueueLocked(id, e);
        next_poll_ = now + poll_interval_;
      }
      wake = next_poll_;
    }
    for (auto& [id, e] : watches_) {
      if (e.retry_at <= now) {
        QueueLocked(id, e);
      } else {
        wake = std::min(wake, e.retry_at);
      }
    }
    if (!queue_.empty()) {
      uint64_t id = queue_.front();
      queue_.pop_front();
      auto it = watches_.find(id);
      if (it == watches_.end()) continue;
      it->second.queued = false;
      std::shared_ptr<RefreshFn> refresh = it->second.refresh;
      running_ = id;
      lock.Unlock();
      Outcome outcome = (*refresh)();
      lock.Lock();
      running_ = 0;
      idle_cv_.NotifyAll();
      it = watches_.find(id);
      if (it == watches_.end()) continue;
      if (outcome == Outcome::kDone) {
        for (const auto& k : it->second.keys) {
          auto [b, e] = by_key_.equal_range(k);
          for (auto i = b; i != e;) i = (i->second == id) ? by_key_.erase(i) : std::next(i);
        }
        watches_.erase(it);
      } else if (outcome == Outcome::kRetry && !it->second.queued) {
        it->second.retry_at = Clock::now() + retry_delay_;
      }
      continue;
    }
    if (wake == Clock::time_point::max()) {
      cv_.Wait(mu_);
    } else {
      cv_.WaitUntil(mu_, wake);
    }
  }
}

namespace {

bool IsTransient(const Status& s) {
  return s.Is(StatusCode::kUnavailable) || s.Is(StatusCode::kTimeout) ||
         s.Is(StatusCode::kIOError) || s.Is(StatusCode::kAborted);
}

}  // namespace

WatchExecutor::RefreshFn MakeLedgerRefresh(std::function<Result<Versioned<LedgerMetadata>>()> read,
                                           LedgerWatchFn callback) {
  struct Delivered {
    StatusCode code = StatusCode::kOk;
    Version version = -1;
  };
  auto last = std::make_shared<std::optional<Delivered>>();
  return [read = std::move(read), callback = std::move(callback), last]() {
    Result<Versioned<LedgerMetadata>> current = read();
    if (!current.ok()) {
      const Status& s = current.status();
      if (IsTransient(s)) return WatchExecutor::Outcome::kRetry;
      if (s.Is(StatusCode::kNoSuchLedger)) {
        callback(current);
        return WatchExecutor::Outcome::kDone;
      }
      if (*last && (*last)->code == s.code()) return WatchExecutor::Outcome::kKeep;
      *last = Delivered{s.code(), -1};
      callback(current);
      return WatchExecutor::Outcome::kKeep;
    }
    if (*last && (*last)->code == StatusCode::kOk && (*last)->version == current->version) {
      return WatchExecutor::Outcome::kKeep;
    }
    *last = Delivered{StatusCode::kOk, current->version};
    callback(current);
    return WatchExecutor::Outcome::kKeep;
  };
}

WatchExecutor::RefreshFn MakeBookiesRefresh(std::function<Result<BookieList>()> read,
                                            BookieWatchFn callback) {
  auto last = std::make_shared<std::optional<BookieList>>();
  return [read = std::move(read), callback = std::move(callback), last]() {
    Result<BookieList> current = read();
    if (!current.ok()) {
      spdlog::debug("bookie watch: {}; retrying", current.status().ToString());
      return WatchExecutor::Outcome::kRetry;
    }
    if (*last && **last == *current) return WatchExecutor::Outcome::kKeep;
    *last = *current;
    callback(*current);
    return WatchExecutor::Outcome::kKeep;
  };
}

}  // namespace quire::metadata
