// The handles both MetadataStores give out, a bookie's registration and an ownership lock,
// written once. A Store provides:
//   Status SetRegistrationMode(const BookieId&, BookieMode);
//   void Unregister(const BookieId&);
//   void ReleaseLock(const std::string& name, uint64_t token);
//   bool LeaseHeld() const;  // whether what the store's locks rest on (its lease, or its
//                            // ZooKeeper session) may still be trusted
// and must outlive its handles.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "metadata/metadata_store.h"
#include "quire/status.h"

namespace quire::metadata {

// Registered while it lives: destroying it unregisters the bookie.
template <class Store>
class StoreRegistration final : public BookieRegistration {
 public:
  StoreRegistration(Store* store, BookieId id, BookieMode mode)
      : store_(store), id_(std::move(id)), mode_(mode) {}
  ~StoreRegistration() override { store_->Unregister(id_); }

  const BookieId& bookie_id() const override { return id_; }
  BookieMode mode() const override { return mode_.load(); }
  Status SetMode(BookieMode mode) override {
    QUIRE_RETURN_IF_ERROR(store_->SetRegistrationMode(id_, mode));
    mode_ = mode;
    return Status::Ok();
  }

 private:
  Store* const store_;
  const BookieId id_;
  std::atomic<BookieMode> mode_;
};

// The lock `name`, taken with `token`. `held` is cleared by the store when it learns the lock is
// lost; until then, the lock counts only while the store's lease does.
template <class Store>
class StoreLock final : public OwnershipLock {
 public:
  StoreLock(Store* store, std::string name, uint64_t token,
            std::shared_ptr<std::atomic<bool>> held)
      : store_(store), name_(std::move(name)), token_(token), held_(std::move(held)) {}
  ~StoreLock() override { store_->ReleaseLock(name_, token_); }

  bool held() const override { return held_->load() && store_->LeaseHeld(); }

 private:
  Store* const store_;
  const std::string name_;
  const uint64_t token_;
  std::shared_ptr<std::atomic<bool>> held_;
};

}  // namespace quire::metadata
