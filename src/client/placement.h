// Which bookies hold a new ledger, or replace a failed one.
//
// The policy is deliberately simple: writable bookies only (read-only ones are skipped), chosen
// uniformly at random, so that ledgers spread evenly over the cluster. Rack or region awareness
// would go here.
#pragma once

#include <random>
#include <set>
#include <vector>

#include "metadata/metadata_store.h"

namespace quire::client {

using metadata::BookieList;

// The live bookies, as the registry lists them now.
Result<BookieList> WritableBookies(metadata::MetadataStore& store);

// Up to `n` distinct writable bookies of `bookies` that are not in `exclude`, in random order;
// fewer if there are not that many. The first form draws from a per-thread generator seeded by
// the system, the second from `rng` (a simulation's, for schedules that repeat).
Result<std::vector<BookieId>> PickBookies(const BookieList& bookies, int n,
                                          const std::set<BookieId>& exclude);
std::vector<BookieId> PickBookies(const BookieList& bookies, int n,
                                  const std::set<BookieId>& exclude, std::mt19937_64& rng);

}  // namespace quire::client
