// The LAC a bookie knows of each ledger it serves, and the long polls waiting for it to pass a
// value. Decides only: the request processor reads storage and answers the polls.
//
// A ledger's LAC is loaded from storage on first use, and that load is not atomic with the adds
// that advance it: an add made durable while the load reads storage may be missing from what the
// load read, and its advance finds nothing known to raise. So while a ledger loads, the table keeps
// the highest LAC advanced meanwhile, and the load's result includes it. (Without that, the load
// recorded the older LAC and a long poll registered against it was never woken: CI, 2026-12-06.)
//
// Memory follows the ledgers in use: Forget() drops deleted ledgers, SweepIdle() those not used
// since the previous sweep; a ledger with waiting long polls stays (advances wake them through it).
//
// Thread-safe. W, the caller's waiter, has a field `int64_t previous_lac`: the LAC it waits to see
// passed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/check.h"
#include "common/mutex.h"
#include "quire/status.h"

namespace quire::bookie {

template <typename W>
class LacTable {
 public:
  using WaiterPtr = std::shared_ptr<W>;

  // The ledger's known LAC (which marks it used). Without one, starts a load: the caller reads
  // the LAC from storage and then calls FinishLoad, whatever the read's outcome.
  std::optional<int64_t> FindOrStartLoad(uint64_t ledger) {
    MutexLock lock(mu_);
    if (auto it = known_.find(ledger); it != known_.end()) {
      it->second.used = epoch_;
      return it->second.lac;
    }
    ++loading_[ledger].loads;
    return std::nullopt;
  }

  // Ends a load with what storage held: the LAC now known (the stored one, raised by what was
  // advanced since the load started), or the read's error.
  Result<int64_t> FinishLoad(uint64_t ledger, const Result<int64_t>& stored) {
    MutexLock lock(mu_);
    auto loading = loading_.find(ledger);
    QUIRE_CHECK_MSG(loading != loading_.end(), "ledger {}: FinishLoad without a load", ledger);
    int64_t advanced = loading->second.advanced;
    if (--loading->second.loads == 0) loading_.erase(loading);
    if (!stored.ok()) return stored.status();
    auto [it, inserted] = known_.try_emplace(ledger, Known{*stored, epoch_});
    it->second.lac = std::max({it->second.lac, *stored, advanced});
    it->second.used = epoch_;
    return it->second.lac;
  }

  // Raises the ledger's LAC; returns the waiters now satisfied, no longer registered. A ledger
  // neither known nor loading is left alone: storage already holds what advanced it, and its
  // first load reads that.
  // (Every add calls this: a known ledger costs one lookup. A load still running for a known
  // ledger needs no record of the advance: FinishLoad keeps the higher of the two.)
  std::vector<WaiterPtr> Advance(uint64_t ledger, int64_t lac) {
    std::vector<WaiterPtr> ready;
    MutexLock lock(mu_);
    auto it = known_.find(ledger);
    if (it == known_.end()) {
      if (auto loading = loading_.find(ledger); loading != loading_.end()) {
        loading->second.advanced = std::max(loading->second.advanced, lac);
      }
      return ready;
    }
    if (lac <= it->second.lac) return ready;
    it->second.lac = lac;
    it->second.used = epoch_;
    auto range = waiters_.equal_range(ledger);
    for (auto w = range.first; w != range.second;) {
      if (w->second->previous_lac < lac) {
        ready.push_back(std::move(w->second));
        w = waiters_.erase(w);
      } else {
        ++w;
      }
    }
    return ready;
  }

  struct Registration {
    enum State {
      kWaiting,  // registered: Advance() or Cancel() returns it
      kPassed,   // not registered: the LAC, `lac`, is already past the waiter's previous_lac
      kUnknown,  // not registered: the LAC was forgotten since it was loaded; load it again
    } state;
    int64_t lac = -1;
  };
  // Registers the waiter unless the LAC is already past its previous_lac. `on_registered(waiter)`
  // runs once it is registered, under the table's lock: before an Advance() or Cancel() can take
  // it (the caller arms its timeout there).
  template <typename F>
  Registration Wait(uint64_t ledger, const WaiterPtr& waiter, F&& on_registered) {
    MutexLock lock(mu_);
    auto it = known_.find(ledger);
    if (it == known_.end()) return {Registration::kUnknown};
    if (it->second.lac > waiter->previous_lac) return {Registration::kPassed, it->second.lac};
    waiters_.emplace(ledger, waiter);
    on_registered(waiter);
    return {Registration::kWaiting, it->second.lac};
  }

  // Removes a waiter that timed out. The ledger's LAC (-1 if unknown) if it was still waiting;
  // nothing if an advance or TakeAllWaiters() took it first.
  std::optional<int64_t> Cancel(uint64_t ledger, const WaiterPtr& waiter) {
    MutexLock lock(mu_);
    auto range = waiters_.equal_range(ledger);
    auto w = std::find_if(range.first, range.second,
                          [&](const auto& e) { return e.second == waiter; });
    if (w == range.second) return std::nullopt;
    waiters_.erase(w);
    auto it = known_.find(ledger);
    return it != known_.end() ? it->second.lac : -1;
  }

  std::vector<WaiterPtr> TakeAllWaiters() {
    std::vector<WaiterPtr> all;
    MutexLock lock(mu_);
    for (auto& [ledger, w] : waiters_) all.push_back(std::move(w));
    waiters_.clear();
    return all;
  }

  // Drops the LACs of deleted ledgers (those with waiting long polls stay).
  void Forget(const std::vector<uint64_t>& ledgers) {
    MutexLock lock(mu_);
    for (uint64_t ledger : ledgers) {
      if (waiters_.count(ledger) == 0) known_.erase(ledger);
    }
  }
  // Drops the LACs not used since the previous sweep (those with waiting long polls stay).
  void SweepIdle() {
    MutexLock lock(mu_);
    uint64_t epoch = epoch_++;
    std::erase_if(known_, [&](const auto& kv) QUIRE_REQUIRES(mu_) {
      return kv.second.used < epoch && waiters_.count(kv.first) == 0;
    });
  }

  size_t known() const {
    MutexLock lock(mu_);
    return known_.size();
  }
  size_t waiters() const {
    MutexLock lock(mu_);
    return waiters_.size();
  }

 private:
  struct Known {
    int64_t lac;
    uint64_t used;  // sweep epoch of the last use
  };
  struct Loading {
    int loads = 0;          // loads of this ledger in progress
    int64_t advanced = -1;  // the highest LAC advanced since the first of them started
  };
  mutable Mutex mu_;
  std::unordered_map<uint64_t, Known> known_ QUIRE_GUARDED_BY(mu_);
  std::unordered_map<uint64_t, Loading> loading_ QUIRE_GUARDED_BY(mu_);
  uint64_t epoch_ QUIRE_GUARDED_BY(mu_) = 0;
  std::multimap<uint64_t, WaiterPtr> waiters_ QUIRE_GUARDED_BY(mu_);  // by ledger
};

}  // namespace quire::bookie
