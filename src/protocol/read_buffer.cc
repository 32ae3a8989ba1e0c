#include "protocol/read_buffer.h"

#include <algorithm>
#include <cstring>

#include "common/check.h"

namespace quire::protocol {

std::pair<char*, size_t> ReadBuffer::Room(size_t min) {
  if (capacity_ - end_ < min) {
    size_t held = end_ - begin_;
    if (!shared_ && capacity_ - held >= min && begin_ > 0) {
      std::memmove(buf_.get(), buf_.get() + begin_, held);  // enough room once moved to the front
    } else {
      // Doubling keeps a connection of growing frames from reallocating at each; a buffer lent
      // out is replaced by one just large enough, as it may be lent out in turn.
      size_t grown = shared_ ? held + min : std::max(capacity_ * 2, held + min);
      auto bigger = std::make_shared_for_overwrite<char[]>(grown);
      if (held > 0) std::memcpy(bigger.get(), buf_.get() + begin_, held);
      buf_ = std::move(bigger);
      shared_ = false;
      capacity_ = grown;
    }
    begin_ = 0;
    end_ = held;
  }
  return {buf_.get() + end_, capacity_ - end_};
}

void ReadBuffer::Commit(size_t n) {
  QUIRE_CHECK(n <= capacity_ - end_);
  end_ += n;
}

void ReadBuffer::Consume(size_t n) {
  QUIRE_CHECK(n <= end_ - begin_);
  begin_ += n;
  if (begin_ == end_) Clear();  // the usual case: everything read was parsed
}

void ReadBuffer::Clear() {
  begin_ = end_ = 0;
  if (shared_ || capacity_ > kKeepBytes) {
    buf_.reset();
    shared_ = false;
    capacity_ = 0;
  }
}

std::shared_ptr<const void> ReadBuffer::Share() {
  shared_ = true;
  return buf_;
}

}  // namespace quire::protocol
