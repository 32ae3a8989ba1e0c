// When a connection holds adds back so that they leave together as one BATCH_ADD.
//
// Nagle's rule, for adds instead of bytes: an add goes out at once unless `window` add frames are
// already unanswered on the connection; then it waits for one of them to be answered (or for the
// queue to fill a batch) and leaves with the adds queued behind it. No timer is involved: the
// answers pace the batches, so adds wait only when the bookie is busy with earlier ones anyway.
//
// Why: evenly spaced adds each cost every thread on their path a wake-up (the client's I/O thread,
// the bookie's I/O, journal and callback threads, and back); at 10,000 adds/s a round trip of
// ~0.5 ms has ~5 adds queued behind it, which now cost one frame, one journal group and one
// answer (docs/performance.md, "Evenly spaced adds, batched by their answers"). A lone writer, or
// any rate at which each add is answered before the next is sent, never waits.
//
// The other end of the same trade: a lone add, on a connection that has sent no add frame for
// `lone_add_gap`, is written to the socket by the thread that makes it, instead of being handed
// to the connection's I/O thread. At a low rate that hand-off is a thread wake-up on every add's
// path, and on a virtual machine whose idle CPUs halt a wake-up is now and then over a
// millisecond late (docs/performance.md, "The machine's wake-ups"). Under load the I/O thread
// keeps sending: a caller's thread writing to loopback also runs the receiver's TCP input on its
// own time, which at 45,000 adds/s put the schedule behind (docs/performance.md, "Adds queued by
// the sending thread").
#pragma once

#include <chrono>
#include <cstddef>

namespace quire::client {

struct AddCoalescing {
  // Unanswered add frames (ADD_ENTRY or BATCH_ADD) after which adds wait; 0 never holds them.
  size_t window = 0;
  // Queued adds of at least this many bytes leave anyway: a full batch gains nothing by waiting.
  size_t full_batch_bytes = 256u << 10;

  // A connection quiet for this long sends an add from the caller's thread; 0 never does.
  std::chrono::microseconds lone_add_gap{500};

  // Hold the queued adds back (true), or frame and send them now?
  bool Hold(size_t add_frames_in_flight, size_t queued_bytes) const {
    return window > 0 && add_frames_in_flight >= window && queued_bytes < full_batch_bytes;
  }
  // Does an add that would be sent now, `since_last_add_frame` after the connection's last add
  // frame, leave from the caller's thread?
  bool SendFromCaller(std::chrono::nanoseconds since_last_add_frame) const {
    return lone_add_gap.count() > 0 && since_last_add_frame >= lone_add_gap;
  }
};

}  // namespace quire::client
