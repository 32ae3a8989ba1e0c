// A sequential read window over a file, for scanners (journal replay, entry-log scans).
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "common/file_system.h"

namespace quire::storage {

class FileWindow {
 public:
  FileWindow(File* file, uint64_t size) : file_(file), size_(size) {}

  // A view of up to `n` bytes at `offset` (fewer at end of file; empty past it). Valid until the
  // next call.
  Result<std::string_view> At(uint64_t offset, size_t n) {
    if (offset >= size_) return std::string_view();
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    if (offset < base_ || offset + n > base_ + buf_.size()) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(n, kChunk), size_ - offset));
      buf_.resize(want);
      QUIRE_ASSIGN_OR_RETURN(size_t got, file_->Read(offset, buf_.data(), want));
      buf_.resize(got);
      base_ = offset;
    }
    return std::string_view(buf_).substr(static_cast<size_t>(offset - base_), n);
  }

  uint64_t size() const { return size_; }

 private:
  static constexpr size_t kChunk = 1 << 20;
  File* file_;
  uint64_t size_;
  uint64_t base_ = 0;
  std::string buf_;
};

}  // namespace quire::storage
