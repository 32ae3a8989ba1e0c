// Which bookies hold a new ledger, or replace a failed one.
//
// The policy is deliberately simple: writable bookies only (read-only ones are skipped), chosen
// uniformly at random, so that ledgers spread evenly over the cluster. Rack or region awareness
// would go here.
#pragma once

#include <set>
#include <vector>

#include "metadata/metadata_store.h"

namespace quire::client {

using metadata::BookieList;

// The live bookies, as the registry lists them now.
Result<BookieList> WritableBookies(metadata::MetadataStore& store);

// Up to `n` distinct writable bookies of `bookies` that are not in `exclude`, in random order;
// fewer if there are not that many.
Result<std::vector<BookieId>> PickBookies(const BookieList& bookies, int n,
                                          const std::set<BookieId>& exclude);

}  // namespace quire::client
