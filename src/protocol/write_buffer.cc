#include "protocol/write_buffer.h"

#include <algorithm>
#include <cstring>

#include "common/check.h"

namespace quire::protocol {

char* WriteBuffer::Extend(size_t n) {
  if (capacity_ - size_ < n) {
    size_t capacity = std::max(capacity_ * 2, size_ + n);
    auto bytes = std::make_unique_for_overwrite<char[]>(capacity);
    if (size_ > 0) std::memcpy(bytes.get(), bytes_.get(), size_);
    bytes_ = std::move(bytes);
    capacity_ = capacity;
  }
  char* at = bytes_.get() + size_;
  size_ += n;
  return at;
}

void WriteBuffer::Append(std::string_view bytes) {
  if (bytes.empty()) return;
  std::memcpy(Extend(bytes.size()), bytes.data(), bytes.size());
}

void WriteBuffer::Consume(size_t n) {
  QUIRE_CHECK(n <= size_);
  if (n < size_) std::memmove(bytes_.get(), bytes_.get() + n, size_ - n);
  size_ -= n;
}

}  // namespace quire::protocol
