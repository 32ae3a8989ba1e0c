// Walks every ledger in the metadata store for the ones a bookie is part of: what `quire bookie
// decommission` moves and what `quire bookie format` must not cut short.
#pragma once

#include <cstdint>
#include <vector>

#include "metadata/metadata_store.h"

namespace quire::metadata {

struct LedgerOfBookie {
  LedgerId id = 0;
  LedgerMetadata metadata;
};

// Every ledger whose ensembles name `bookie`, in id order, listed and read page by page (1,000
// ids at a time). A ledger deleted while the walk runs is left out. `listed`, if given, counts
// every ledger seen.
Result<std::vector<LedgerOfBookie>> LedgersUsingBookie(MetadataStore& store, const BookieId& bookie,
                                                       int64_t* listed = nullptr);

}  // namespace quire::metadata
