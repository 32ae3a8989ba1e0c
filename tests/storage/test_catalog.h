// A ledger catalog for garbage-collection tests: plays the metadata store, and can fail the
// listing, time it out half-way, answer it empty, or fail the confirming re-reads.
#pragma once

#include <mutex>
#include <set>

#include "storage/garbage_collector.h"

namespace quire::storage::testing {

// The metadata store as the garbage collector sees it. Thread-safe.
class TestCatalog : public LedgerCatalog {
 public:
  enum class Listing { kNormal, kFail, kEmpty, kTimeoutHalfway };

  void Create(uint64_t ledger) {
    std::lock_guard<std::mutex> lock(mu_);
    ledgers_.insert(ledger);
  }
  void Delete(uint64_t ledger) {
    std::lock_guard<std::mutex> lock(mu_);
    ledgers_.erase(ledger);
  }
  void SetListing(Listing l) {
    std::lock_guard<std::mutex> lock(mu_);
    listing_ = l;
  }
  void SetRereadFails(bool fails) {
    std::lock_guard<std::mutex> lock(mu_);
    reread_fails_ = fails;
  }
  uint64_t rereads() const {
    std::lock_guard<std::mutex> lock(mu_);
    return rereads_;
  }

  Status ForEachLedger(const std::function<Status(uint64_t)>& fn) override {
    std::set<uint64_t> copy;
    Listing listing;
    {
      std::lock_guard<std::mutex> lock(mu_);
      copy = ledgers_;
      listing = listing_;
    }
    switch (listing) {
      case Listing::kFail:
        return Status(StatusCode::kUnavailable, "metadata store unreachable (injected)");
      case Listing::kEmpty:
        return Status::Ok();
      case Listing::kTimeoutHalfway: {
        size_t n = 0;
        for (uint64_t id : copy) {
          if (n++ == copy.size() / 2) return Status(StatusCode::kTimeout, "listing timed out");
          QUIRE_RETURN_IF_ERROR(fn(id));
        }
        return Status::Ok();
      }
      case Listing::kNormal:
        for (uint64_t id : copy) QUIRE_RETURN_IF_ERROR(fn(id));
        return Status::Ok();
    }
    return Status::Ok();
  }

  LedgerExistence Exists(uint64_t ledger) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++rereads_;
    if (reread_fails_) return LedgerExistence::kUnknown;
    return ledgers_.count(ledger) ? LedgerExistence::kExists : LedgerExistence::kAbsent;
  }

 private:
  mutable std::mutex mu_;
  std::set<uint64_t> ledgers_;
  Listing listing_ = Listing::kNormal;
  bool reread_fails_ = false;
  uint64_t rereads_ = 0;
};

}  // namespace quire::storage::testing
