// A sequential read window over a file, for scanners (journal replay, entry-log scans).
//
// With `prefetch`, the chunks after the one being read (up to kAhead of them) are read on another
// thread meanwhile, so a scan that also writes and indexes (compaction) keeps the disk busy
// reading while it does: the scan then costs about the larger of the two, not their sum. A
// prefetching window is for one forward pass; going back re-reads synchronously.
//
// A file opened with O_DIRECT is read in aligned blocks (what O_DIRECT requires); measured on the
// CI VMs, direct reads of a large file ran at 2.2 times the speed of buffered ones
// (docs/performance.md, "Garbage collection").
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
#include <future>
#include <memory>
#include <string_view>

#include "common/executor.h"
#include "common/file_system.h"

namespace quire::storage {

class FileWindow {
 public:
  FileWindow(File* file, uint64_t size, bool prefetch = false)
      : file_(file), size_(size), prefetch_(prefetch), chunk_(prefetch ? 1u << 20 : 1u << 20) {}
  ~FileWindow() {
    for (auto& next : ahead_) next.wait();  // the reads use file_, which the caller owns
  }
  FileWindow(const FileWindow&) = delete;
  FileWindow& operator=(const FileWindow&) = delete;

  // A view of up to `n` bytes at `offset` (fewer at end of file; empty past it). Valid until the
  // next call.
  Result<std::string_view> At(uint64_t offset, size_t n) {
    if (offset >= size_) return std::string_view();
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    if (Covers(offset, n)) return View(offset, n);
    if (!ahead_.empty()) {
      // The first prefetched chunk starts where the buffer ends: keep the buffer's tail from
      // `offset` (a record that straddles the two) and append the chunk.
      uint64_t next_base = base_ + buf_.size();
      Result<AlignedBuffer> next = ahead_.front().get();
      ahead_.pop_front();
      QUIRE_RETURN_IF_ERROR(next.status());
      if (offset >= base_ && offset <= next_base && ahead_base_ == next_base) {
        ahead_base_ += next->size();
        size_t keep = static_cast<size_t>(next_base - offset);
        std::memmove(buf_.data(), buf_.data() + (offset - base_), keep);
        buf_.Resize(keep);
        buf_.Append(next->data(), next->size());
        base_ = offset;
        Prefetch();
        if (Covers(offset, n)) return View(offset, n);
      }
    }
    // Not where the prefetched chunks are: drop them and read here.
    for (auto& next : ahead_) next.wait();
    ahead_.clear();
    uint64_t start = file_->direct() ? AlignDown(offset, kDirectIoAlignment) : offset;
    QUIRE_ASSIGN_OR_RETURN(buf_, Read(file_, start, std::max<uint64_t>(n + (offset - start), chunk_)));
    base_ = start;
    ahead_base_ = base_ + buf_.size();
    Prefetch();
    return View(offset, n);
  }

  uint64_t size() const { return size_; }

 private:
  // Reads up to `n` bytes at `offset` (aligned for a direct file).
  static Result<AlignedBuffer> Read(File* file, uint64_t offset, uint64_t n) {
    if (file->direct()) n = AlignUp(n, kDirectIoAlignment);
    AlignedBuffer buf(static_cast<size_t>(n));
    buf.Resize(static_cast<size_t>(n));
    QUIRE_ASSIGN_OR_RETURN(size_t got, file->Read(offset, buf.data(), static_cast<size_t>(n)));
    buf.Resize(got);
    return buf;
  }
  bool Covers(uint64_t offset, size_t n) const {
    return offset >= base_ && offset + n <= base_ + buf_.size();
  }
  std::string_view View(uint64_t offset, size_t n) const {
    return buf_.view().substr(static_cast<size_t>(offset - base_), n);
  }
  // Keeps up to kAhead chunks being read after the buffer, if prefetching. The reader thread is
  // started by the scanning thread and inherits its CPU and I/O priority (compaction's are low).
  void Prefetch() {
    if (!prefetch_) return;
    // One long-lived reader thread, not one per chunk: each new thread would set up its own
    // io_uring ring, which cost half as much again as the read (measured).
    if (!reader_) reader_ = std::make_unique<Executor>("q-read-ahead", 1);
    uint64_t at = ahead_base_ + chunk_ * ahead_.size();
    while (ahead_.size() < kAhead && at < size_) {
      auto task = std::make_shared<std::packaged_task<Result<AlignedBuffer>()>>(
          [file = file_, at, n = chunk_] { return Read(file, at, n); });
      ahead_.push_back(task->get_future());
      reader_->Submit([task] { (*task)(); });
      at += chunk_;
    }
  }

  static constexpr size_t kAhead = 8;
  File* file_;
  uint64_t size_;
  const bool prefetch_;
  const size_t chunk_;
  uint64_t base_ = 0;
  AlignedBuffer buf_;
  std::unique_ptr<Executor> reader_;  // prefetch: the thread that reads ahead
  // Chunks being read, in order, the first at ahead_base_ (the end of the buffer when they were
  // asked for), each chunk_ long but the last.
  std::deque<std::future<Result<AlignedBuffer>>> ahead_;
  uint64_t ahead_base_ = 0;
};

}  // namespace quire::storage
