// Whether the bookie takes writes, and why not. Read by every request; changed by the disk monitor,
// on storage errors and by an operator.
//
// Three causes make a bookie read-only, each kept on its own so that lifting one does not lift
// another:
//  - a full disk (automatic): lifted when usage falls below the low-water mark;
//  - an I/O error (automatic, sticky): the journal may have lost data the page cache held, so
//    only a restart, after an operator looked, brings the bookie back;
//  - an operator's request (manual: PUT /api/v1/bookie/state/readonly, `quire bookie readonly
//    --on`), e.g. before a decommission: lifted only by the operator. The bookie keeps it on disk
//    (read_only_format.h) so that it survives restarts.
// The bookie is writable when none holds.
#pragma once

#include <atomic>
#include <string>

#include "common/mutex.h"

namespace quire::bookie {

// The reason given while the manual read-only mode is on.
inline constexpr const char* kManualReadOnlyReason =
    "read-only by operator request (PUT /api/v1/bookie/state/readonly)";

class BookieStatus {
 public:
  bool writable() const { return writable_.load(std::memory_order_acquire); }
  // Why the bookie is read-only: the I/O error, else the operator's request, else the disk.
  // Empty when writable.
  std::string read_only_reason() const {
    MutexLock lock(mu_);
    if (sticky_) return auto_reason_;
    if (manual_) return kManualReadOnlyReason;
    return auto_reason_;
  }
  bool sticky() const {
    MutexLock lock(mu_);
    return sticky_;
  }
  bool manual() const {
    MutexLock lock(mu_);
    return manual_;
  }

  // An automatic cause (full disk; an I/O error when `sticky`). Returns true if this changed that
  // cause (it was not set, or it became sticky), so that the caller logs each change once. A new
  // reason for a cause already set (a disk a little fuller) replaces the old one silently; a
  // sticky reason is never replaced.
  bool SetReadOnly(const std::string& reason, bool sticky) {
    MutexLock lock(mu_);
    if (sticky_) return false;
    bool changed = !auto_read_only_ || sticky;
    auto_read_only_ = true;
    sticky_ = sticky;
    auto_reason_ = reason;
    UpdateLocked();
    return changed;
  }
  // Lifts the automatic, non-sticky cause. Returns true if it was set (the bookie may still be
  // read-only for the operator: see writable()).
  bool SetWritable() {
    MutexLock lock(mu_);
    if (sticky_ || !auto_read_only_) return false;
    auto_read_only_ = false;
    auto_reason_.clear();
    UpdateLocked();
    return true;
  }
  // The operator's cause. Returns true if it changed.
  bool SetManual(bool on) {
    MutexLock lock(mu_);
    if (manual_ == on) return false;
    manual_ = on;
    UpdateLocked();
    return true;
  }

 private:
  void UpdateLocked() QUIRE_REQUIRES(mu_) {
    writable_.store(!auto_read_only_ && !manual_, std::memory_order_release);
  }

  std::atomic<bool> writable_{true};
  mutable Mutex mu_;
  // A full disk, or an I/O error (sticky_).
  bool auto_read_only_ QUIRE_GUARDED_BY(mu_) = false;
  bool sticky_ QUIRE_GUARDED_BY(mu_) = false;
  std::string auto_reason_ QUIRE_GUARDED_BY(mu_);
  bool manual_ QUIRE_GUARDED_BY(mu_) = false;
};

}  // namespace quire::bookie
