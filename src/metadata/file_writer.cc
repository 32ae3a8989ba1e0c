#include "metadata/file_writer.h"

#include <map>

#include "common/logging.h"

namespace quire::metadata {

std::shared_ptr<FileStoreWriter> FileStoreWriter::For(const std::string& root) {
  static std::mutex mu;
  static auto* writers = new std::map<std::string, std::weak_ptr<FileStoreWriter>>();  // leaked
  std::lock_guard<std::mutex> lock(mu);
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
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  thread_.join();
}

Status FileStoreWriter::Run(Deadline deadline, const std::function<Status()>& fn) {
  Task task{deadline, &fn, Status::Ok()};
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&task);
  work_cv_.notify_one();
  // No deadline here: the writer either skips the task (its deadline passed before it started)
  // or runs it to the end, so the caller always learns the outcome.
  done_cv_.wait(lock, [&] { return task.done; });
  return task.result;
}

void FileStoreWriter::Loop() {
  SetThreadName("md-file-write");
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, and nobody waits
    Task* task = queue_.front();
    queue_.pop_front();
    lock.unlock();
    if (std::chrono::steady_clock::now() > task->deadline) {
      task->result = Status(StatusCode::kTimeout, "metadata write queued past its deadline");
    } else {
      task->result = (*task->fn)();
    }
    lock.lock();
    task->done = true;
    done_cv_.notify_all();
  }
}

}  // namespace quire::metadata
