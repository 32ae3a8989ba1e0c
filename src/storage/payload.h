// An entry's bytes, shared rather than copied: the journal holds them until its group is written,
// the write cache until they are in an entry log. Each copy of a 16 KiB entry costs as much CPU as
// its CRC, and at saturation the bookie is CPU bound (docs/performance.md).
//
// The bytes are a view kept valid by an owner: the entry's own string, or the whole request frame
// a BATCH_ADD arrived in (one copy of the frame for all its entries, none per entry).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace quire::storage {

class Payload {
 public:
  Payload() = default;
  Payload(std::nullptr_t) {}  // NOLINT: a null payload, as the shared pointer it replaced
  // `bytes` must stay valid while `owner` lives.
  Payload(std::shared_ptr<const void> owner, std::string_view bytes)
      : owner_(std::move(owner)), bytes_(bytes) {}

  std::string_view bytes() const { return bytes_; }  // empty for a null payload
  size_t size() const { return bytes_.size(); }
  explicit operator bool() const { return owner_ != nullptr; }

 private:
  std::shared_ptr<const void> owner_;
  std::string_view bytes_;
};

inline Payload MakePayload(std::string bytes) {
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  std::string_view view(*owned);
  return Payload(std::move(owned), view);
}

}  // namespace quire::storage
