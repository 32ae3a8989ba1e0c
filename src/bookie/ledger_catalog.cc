#include "bookie/ledger_catalog.h"

#include <fmt/format.h>

namespace quire::bookie {

Status MetadataLedgerCatalog::ForEachLedger(const std::function<Status(uint64_t)>& fn) {
  auto cluster = store_->GetClusterInfo();
  if (!cluster.ok()) return cluster.status().WithContext("reading the cluster's instance id");
  if (cluster->instance_id != instance_id_) {
    return FailedPrecondition(fmt::format(
        "the metadata store's cluster instance id is {}, this bookie belongs to {}",
        cluster->instance_id, instance_id_));
  }
  return metadata::ForEachLedger(*store_, [&](LedgerId id) {
    return fn(static_cast<uint64_t>(id));
  });
}

storage::LedgerExistence MetadataLedgerCatalog::Exists(uint64_t ledger) {
  auto read = store_->ReadLedger(static_cast<LedgerId>(ledger));
  if (read.ok()) return storage::LedgerExistence::kExists;
  // Only this code says "gone"; a corrupt record, a timeout or a lost connection say nothing.
  if (read.status().Is(StatusCode::kNoSuchLedger)) return storage::LedgerExistence::kAbsent;
  return storage::LedgerExistence::kUnknown;
}

}  // namespace quire::bookie
