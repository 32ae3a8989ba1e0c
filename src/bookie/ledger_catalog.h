// The garbage collector's view of which ledgers exist (storage::LedgerCatalog), read from the
// metadata store.
//
// Besides the listing, every pass first checks that the store still belongs to this bookie's
// cluster (its instance id matches the cookie's): a bookie pointed at another, or a re-created,
// metadata store must not take its emptiness for deletions.
#pragma once

#include <string>

#include "metadata/metadata_store.h"
#include "storage/garbage_collector.h"

namespace quire::bookie {

class MetadataLedgerCatalog : public storage::LedgerCatalog {
 public:
  // `store` outlives the catalog.
  MetadataLedgerCatalog(metadata::MetadataStore* store, std::string instance_id)
      : store_(store), instance_id_(std::move(instance_id)) {}

  Status ForEachLedger(const std::function<Status(uint64_t)>& fn) override;
  storage::LedgerExistence Exists(uint64_t ledger) override;

 private:
  metadata::MetadataStore* store_;
  const std::string instance_id_;
};

}  // namespace quire::bookie
