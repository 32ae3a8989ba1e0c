#include "client/placement.h"

#include <algorithm>
#include <random>

namespace quire::client {

Result<BookieList> WritableBookies(metadata::MetadataStore& store) { return store.ListBookies(); }

Result<std::vector<BookieId>> PickBookies(const BookieList& bookies, int n,
                                          const std::set<BookieId>& exclude) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return PickBookies(bookies, n, exclude, rng);
}

std::vector<BookieId> PickBookies(const BookieList& bookies, int n,
                                  const std::set<BookieId>& exclude, std::mt19937_64& rng) {
  std::vector<BookieId> candidates;
  for (const BookieId& b : bookies.writable) {
    if (!exclude.count(b)) candidates.push_back(b);
  }
  std::shuffle(candidates.begin(), candidates.end(), rng);
  if (static_cast<int>(candidates.size()) > n) candidates.resize(static_cast<size_t>(n));
  return candidates;
}

}  // namespace quire::client
