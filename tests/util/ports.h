// Free TCP ports on loopback for servers that tests start.
#pragma once

#include <cstdint>

#include "quire/status.h"

namespace quire::testing {

// A port the kernel just handed out on 127.0.0.1 (bound, read, released), never one this process
// was given before. Free unless someone else takes it in the meantime: callers that start a
// server on it retry with another on failure.
Result<uint16_t> FreeLoopbackPort();

}  // namespace quire::testing
