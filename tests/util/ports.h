// Free TCP ports on loopback for servers that tests start.
#pragma once

#include <cstdint>

#include "quire/status.h"

namespace quire::testing {

// A port on 127.0.0.1 that a server could bind now; never one this process was given before,
// nor one another test process holds (a lock file per port under $TMPDIR/quire-test-ports, held
// until the process exits); and outside the kernel's ephemeral range, so that no outgoing
// connection takes it while a server starts or a bookie is restarted on it. Anything else may
// still bind it in the meantime: callers that start a server on it retry with another on failure.
Result<uint16_t> FreeLoopbackPort();

}  // namespace quire::testing
