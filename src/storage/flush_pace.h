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

#include <cstddef>
#include <cstdint>

namespace quire::storage {

// How long one ledger directory's part of a paced flush may take: half the time the caches took
// to fill (`fill_ns`, since the last swap), shared by the `directories` flushed one after
// another, so that the whole flush ends within half the fill time. 0 (unpaced) for a fill time of
// 0: the first flush, or one that is not paced.
inline uint64_t PacedFlushNs(uint64_t fill_ns, size_t directories) {
  return directories == 0 ? 0 : fill_ns / 2 / directories;
}

class FlushPace {
 public:
  // Unpaced: WaitNs is always 0.
  FlushPace() = default;
  // Writes of `bytes` spread over `duration_ns` from `start_ns`. A duration of 0 leaves them
  // unpaced.
  FlushPace(uint64_t bytes, uint64_t duration_ns, uint64_t start_ns)
      : start_ns_(start_ns),
        ns_per_byte_(bytes == 0 || duration_ns == 0
                         ? 0.0
                         : static_cast<double>(duration_ns) / static_cast<double>(bytes)) {}

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
  double ns_per_byte_ = 0.0;
};

}  // namespace quire::storage
