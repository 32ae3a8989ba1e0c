// Frames waiting to be written to a connection: the client's write side.
//
// A std::string grown with resize() zero-fills the bytes before the frame is written over them:
// 3 % of quire-bench's samples at the maximum (docs/performance.md, "Frames written into bytes
// not zero-filled first"). Here a frame is given bytes as they are, and the memory is kept for
// the next frames.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>

namespace quire::protocol {

class WriteBuffer {
 public:
  // `n` more bytes at the end, not initialized: the caller writes every one of them.
  char* Extend(size_t n);
  void Append(std::string_view bytes);
  // Drops the first `n` bytes (n <= size()): what a partial send took.
  void Consume(size_t n);
  // Drops everything; the memory stays for the next frames.
  void Clear() { size_ = 0; }

  const char* data() const { return bytes_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {bytes_.get(), size_}; }

  void swap(WriteBuffer& other) noexcept {
    bytes_.swap(other.bytes_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  std::unique_ptr<char[]> bytes_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace quire::protocol
