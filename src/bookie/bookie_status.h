// Whether the bookie takes writes, and why not. Read by every request; changed by the disk monitor
// and on storage errors.
//
// Read-only for a full disk is lifted when usage falls below the low-water mark; read-only after an
// I/O error is sticky (the journal may have lost data the page cache held: only a restart, after
// an operator looked, brings the bookie back).
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

namespace quire::bookie {

class BookieStatus {
 public:
  bool writable() const { return writable_.load(std::memory_order_acquire); }
  std::string read_only_reason() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reason_;
  }
  bool sticky() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sticky_;
  }

  // Returns true if this changed the state (became read-only, or the cause became sticky), so
  // that the caller logs each change once. A new reason for a state that did not change (a disk
  // a little fuller) replaces the old one silently; a sticky reason is never replaced.
  bool SetReadOnly(const std::string& reason, bool sticky) {
    std::lock_guard<std::mutex> lock(mu_);
    if (sticky_) return false;
    sticky_ = sticky;
    bool changed = writable_.exchange(false);
    reason_ = reason;
    return changed || sticky;
  }
  // Returns true if this changed the state; refused (false) after a sticky cause.
  bool SetWritable() {
    std::lock_guard<std::mutex> lock(mu_);
    if (sticky_ || writable_.load(std::memory_order_relaxed)) return false;
    writable_.store(true, std::memory_order_release);
    reason_.clear();
    return true;
  }

 private:
  std::atomic<bool> writable_{true};
  mutable std::mutex mu_;
  std::string reason_;  // guarded by mu_
  bool sticky_ = false;  // guarded by mu_
};

}  // namespace quire::bookie
