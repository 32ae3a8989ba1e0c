// How fast a background flush writes its entry logs (flushPacing).
//
// A flush appends a whole write-cache half to an entry log: at 87,000 adds/s about 90 MB per
// bookie each second. Written at once, that is a burst the disk takes in tens of milliseconds, and
// a journal on the same disk (or behind the same virtual disk's cache flush) waits for the burst
// in its next fdatasync: the adds of that group wait 10-30 ms. Written at twice the rate its cache
// filled, a flush takes at most half the time the next half takes to fill, so it is done before
// that half is, and each journal fdatasync meets a slice of it instead of the whole burst
// (docs/performance.md, "A flush's writes spread out").
//
// This is the deciding part only: the flush thread asks WaitNs after each piece it writes and
// sleeps (LedgerDirectory::FlushSwapped), unless something waits for the flush to end.
#pragma once

#include <cstdint>

namespace quire::storage {

class FlushPace {
 public:
  // Unpaced: WaitNs is always 0.
  FlushPace() = default;
  // A flush of `bytes` that filled its cache over `fill_ns`, starting at `start_ns`. A fill time
  // of 0 (the first flush, a forced one) leaves it unpaced.
  FlushPace(uint64_t bytes, uint64_t fill_ns, uint64_t start_ns)
      : start_ns_(start_ns),
        ns_per_byte_(bytes == 0 || fill_ns == 0 ? 0.0 : static_cast<double>(fill_ns) / 2.0 /
                                                             static_cast<double>(bytes)) {}

  bool paced() const { return ns_per_byte_ > 0.0; }
  // How long to wait at `now_ns` once `written` of the bytes are written; 0 when the flush is
  // behind its schedule (it never catches up by writing faster than the disk lets it).
  uint64_t WaitNs(uint64_t written, uint64_t now_ns) const {
    const double due = static_cast<double>(start_ns_) + static_cast<double>(written) * ns_per_byte_;
    const double now = static_cast<double>(now_ns);
    return due > now ? static_cast<uint64_t>(due - now) : 0;
  }

 private:
  uint64_t start_ns_ = 0;
  double ns_per_byte_ = 0.0;  // fill time / 2 / bytes: twice the rate the cache filled
};

}  // namespace quire::storage
