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

void WriteBuffer::Reference(const char* before, std::shared_ptr<const std::string> bytes) {
  QUIRE_CHECK(bytes != nullptr && !bytes->empty());
  QUIRE_CHECK(before >= bytes_.get() && before <= bytes_.get() + size_);
  const auto at = static_cast<size_t>(before - bytes_.get());
  // In order, and not before what has been sent.
  QUIRE_CHECK(at >= sent_ && (refs_.empty() || at >= refs_.back().at));
  referenced_ += bytes->size();
  refs_.push_back({at, std::move(bytes)});
}

size_t WriteBuffer::Gather(iovec* pieces, size_t max) const {
  size_t n = 0;
  size_t pos = sent_;
  size_t offset = ref_sent_;  // into refs_[ref]
  for (size_t ref = next_ref_; n < max;) {
    const size_t owned_end = ref < refs_.size() ? refs_[ref].at : size_;
    if (pos < owned_end) {
      pieces[n++] = {bytes_.get() + pos, owned_end - pos};
      pos = owned_end;
      continue;
    }
    if (ref == refs_.size()) break;
    const std::string& r = *refs_[ref].bytes;
    pieces[n++] = {const_cast<char*>(r.data()) + offset, r.size() - offset};
    offset = 0;
    ++ref;
  }
  return n;
}

void WriteBuffer::Consume(size_t n) {
  QUIRE_CHECK(n <= size());
  if (n == size()) return Clear();  // the usual case: a send took everything
  while (n > 0) {
    const size_t owned_end = next_ref_ < refs_.size() ? refs_[next_ref_].at : size_;
    if (sent_ < owned_end) {
      const size_t take = std::min(n, owned_end - sent_);
      sent_ += take;
      n -= take;
      continue;
    }
    Ref& r = refs_[next_ref_];
    const size_t take = std::min(n, r.bytes->size() - ref_sent_);
    ref_sent_ += take;
    referenced_ -= take;
    n -= take;
    if (ref_sent_ == r.bytes->size()) {
      r.bytes.reset();  // written: the body may go
      ++next_ref_;
      ref_sent_ = 0;
    }
  }
}

void WriteBuffer::Clear() {
  size_ = 0;
  sent_ = 0;
  refs_.clear();
  next_ref_ = 0;
  ref_sent_ = 0;
  referenced_ = 0;
}

std::string_view WriteBuffer::contiguous() const {
  QUIRE_CHECK(next_ref_ == refs_.size());
  return {bytes_.get() + sent_, size_ - sent_};
}

std::string WriteBuffer::ToString() const {
  std::string s;
  s.reserve(size());
  std::vector<iovec> pieces(refs_.size() * 2 + 1);
  const size_t n = Gather(pieces.data(), pieces.size());
  for (size_t i = 0; i < n; ++i) s.append(static_cast<const char*>(pieces[i].iov_base),
                                          pieces[i].iov_len);
  return s;
}

void WriteBuffer::swap(WriteBuffer& other) noexcept {
  bytes_.swap(other.bytes_);
  std::swap(size_, other.size_);
  std::swap(capacity_, other.capacity_);
  std::swap(sent_, other.sent_);
  refs_.swap(other.refs_);
  std::swap(next_ref_, other.next_ref_);
  std::swap(ref_sent_, other.ref_sent_);
  std::swap(referenced_, other.referenced_);
  std::swap(reference_from_, other.reference_from_);
}

}  // namespace quire::protocol
