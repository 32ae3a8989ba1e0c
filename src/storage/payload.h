// An entry's bytes, shared rather than copied: the journal holds them until its group is written,
// the write cache until they are in an entry log. Each copy of a 16 KiB entry costs as much CPU as
// its CRC, and at saturation the bookie is CPU bound (docs/performance.md).
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace quire::storage {

using Payload = std::shared_ptr<const std::string>;

inline Payload MakePayload(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

// The bytes, or empty for a null payload.
inline std::string_view PayloadBytes(const Payload& p) {
  return p ? std::string_view(*p) : std::string_view();
}

}  // namespace quire::storage
