#include "metadata/file_writer.h"

#include <map>

#include "common/logging.h"

namespace quire::metadata {

std::shared_ptr<FileStoreWriter> FileStoreWriter::For(const std::string& root) {
  static Mutex mu;
  static auto* writers QUIRE_PT_GUARDED_BY(mu) =
      new std::map<std::string, std::weak_ptr<FileStoreWriter>>();  // leaked
  MutexLock lock(mu);
  std::shared_ptr<FileStoreWriter> writer = (*writers)[root].lock();
  if (!writer) {
    writer = std::make_shared<FileStoreWriter>();
    (*writers)[root] = writer;
  }
  return writer;
}

FileStoreWriter::FileStoreWriter() {
  thread_ = std::thread([this] { Loop(); });
}

FileStoreWriter::~FileStoreWriter() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  work_cv_.NotifyAll();
  thread_.join();
}

Status FileStoreWriter::Run(Deadline deadline, const std::function<Status()>& fn) {
  Task task{deadline, &fn, Status::Ok()};
  MutexLock lock(mu_);
  queue_.push_back(&task);
  work_cv_.NotifyOne();
  // No deadline here: the writer either skips the task (its deadline passed before it started)
  // or runs it to the end, so the caller always learns the outcome.
  done_cv_.Wait(mu_, [&]() QUIRE_REQUIRES(mu_) { return task.done; });
  return task.result;
}

void FileStoreWriter::Loop() {
  SetThreadName("md-file-write");
  MutexLock lock(mu_);
  while (true) {
    work_cv_.Wait(mu_, [&]() QUIRE_REQUIRES(mu_) { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, and nobody waits
    Task* task = queue_.front();
    queue_.pop_front();
    lock.Unlock();
    if (std::chrono::steady_clock::now() > task->deadline) {
      task->result = Status(StatusCode::kTimeout, "metadata write queued past its deadline");
    } else {
      task->result = (*task->fn)();
    }
    lock.Lock();
    task->done = true;
    done_cv_.NotifyAll();
  }
}

}  // namespace quire::metadata
