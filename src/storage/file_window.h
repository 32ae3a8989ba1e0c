// A read window over a file, for scanners (journal replay, entry-log scans, compaction).
//
// With `prefetch`, the chunks after the one being read (up to kAhead of them) are read on another
// thread meanwhile, so a scan that also writes and indexes (compaction) keeps the disk busy
// reading while it does: the scan then costs about the larger of the two, not their sum. What is
// read ahead is the whole file in order, or only the given byte ranges (compaction reads just the
// records the index points at). A prefetching window is for one forward pass; going back, or
// outside the ranges, reads synchronously.
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
#include <vector>

#include "common/executor.h"
#include "common/file_system.h"

namespace quire::storage {

// [begin, end) of a file.
struct ByteRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

class FileWindow {
 public:
  // `ranges` (ascending, not overlapping) limit what is read ahead; empty means the whole file.
  // Reads are `chunk` bytes (smaller ones disturb other I/O on the disk less; larger ones go
  // faster).
  FileWindow(File* file, uint64_t size, bool prefetch = false, std::vector<ByteRange> ranges = {},
             size_t chunk = 1u << 20)
      : file_(file), size_(size), prefetch_(prefetch), chunk_(chunk) {
    if (!prefetch_) return;
    if (ranges.empty()) ranges.push_back({0, size_});
    // The reads to make, in order: each range widened to whole blocks (a direct file needs them;
    // neighbours that then touch or overlap become one), cut in chunk_ pieces.
    uint64_t align = file_->direct() ? kDirectIoAlignment : 1;
    std::vector<ByteRange> blocks;
    for (const ByteRange& r : ranges) {
      ByteRange b{AlignDown(r.begin, align), std::min(AlignUp(r.end, align), AlignUp(size_, align))};
      if (b.begin >= b.end) continue;
      if (!blocks.empty() && b.begin <= blocks.back().end) {
        blocks.back().end = std::max(blocks.back().end, b.end);
      } else {
        blocks.push_back(b);
      }
    }
    for (const ByteRange& b : blocks) {
      for (uint64_t at = b.begin; at < b.end; at += chunk_) {
        plan_.push_back({at, std::min(b.end, at + chunk_)});
      }
    }
  }
  ~FileWindow() {
    for (auto& next : ahead_) next.second.wait();  // the reads use file_, which the caller owns
  }
  FileWindow(const FileWindow&) = delete;
  FileWindow& operator=(const FileWindow&) = delete;

  // A view of up to `n` bytes at `offset` (fewer at end of file; empty past it). Valid until the
  // next call.
  Result<std::string_view> At(uint64_t offset, size_t n) {
    if (offset >= size_) return std::string_view();
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    if (Covers(offset, n)) return View(offset, n);
    Prefetch();
    while (!ahead_.empty()) {
      uint64_t next_base = ahead_.front().first;
      uint64_t end = base_ + buf_.size();
      bool continues = next_base == end && offset >= base_ && offset <= end;
      if (next_base > offset && !continues) break;  // the read ahead is past `offset`
      Result<Chunk> next = ahead_.front().second.get();
      ahead_.pop_front();
      QUIRE_RETURN_IF_ERROR(next.status());
      if (continues) {
        // Keep the buffer's tail from `offset` (a record that straddles the two) and append.
        size_t keep = static_cast<size_t>(end - offset);
        std::memmove(buf_.data(), buf_.data() + (offset - base_), keep);
        buf_.Resize(keep);
        buf_.Append(next->data.data(), next->data.size());
        base_ = offset;
      } else if (offset < next->base + next->data.size()) {
        buf_ = std::move(next->data);
        base_ = next->base;
      } else {
        continue;  // a chunk before `offset`: skipped
      }
      Prefetch();
      if (Covers(offset, n)) return View(offset, n);
    }
    uint64_t start = file_->direct() ? AlignDown(offset, kDirectIoAlignment) : offset;
    QUIRE_ASSIGN_OR_RETURN(buf_, Read(file_, start, std::max<uint64_t>(n + (offset - start), chunk_)));
    base_ = start;
    return View(offset, n);
  }

  uint64_t size() const { return size_; }

 private:
  struct Chunk {
    uint64_t base = 0;
    AlignedBuffer data;
  };

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
  // Keeps up to kAhead planned chunks being read, if prefetching. The reader thread is started
  // by the scanning thread and inherits its CPU and I/O priority (compaction's are low).
  void Prefetch() {
    if (!prefetch_) return;
    // One long-lived reader thread, not one per chunk: each new thread would set up its own
    // io_uring ring, which cost half as much again as the read (measured).
    if (!reader_) reader_ = std::make_unique<Executor>("q-read-ahead", 1);
    while (ahead_.size() < kAhead && next_planned_ < plan_.size()) {
      ByteRange r = plan_[next_planned_++];
      auto task = std::make_shared<std::packaged_task<Result<Chunk>()>>(
          [file = file_, r]() -> Result<Chunk> {
            QUIRE_ASSIGN_OR_RETURN(AlignedBuffer data, Read(file, r.begin, r.end - r.begin));
            return Chunk{r.begin, std::move(data)};
          });
      ahead_.emplace_back(r.begin, task->get_future());
      reader_->Submit([task] { (*task)(); });
    }
  }

  static constexpr size_t kAhead = 8;

  File* file_;
  uint64_t size_;
  const bool prefetch_;
  const size_t chunk_;
  uint64_t base_ = 0;
  AlignedBuffer buf_;
  std::vector<ByteRange> plan_;  // prefetch: the chunks to read ahead, in order
  size_t next_planned_ = 0;
  std::unique_ptr<Executor> reader_;  // prefetch: the thread that reads ahead
  // Chunks being read, in plan order, with where each begins.
  std::deque<std::pair<uint64_t, std::future<Result<Chunk>>>> ahead_;
};

}  // namespace quire::storage
