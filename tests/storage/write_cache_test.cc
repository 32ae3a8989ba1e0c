// storage::WriteCache against a model: what a flush gets (Sorted) and what reads find (Get,
// LastEntry, EntriesOf) after puts in any order, repeated puts and erased ledgers.
#include "storage/write_cache.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace quire::storage {
namespace {

Payload Bytes(std::string s) {
  auto owner = std::make_shared<const std::string>(std::move(s));
  return Payload(owner, *owner);
}

using Model = std::map<std::pair<uint64_t, uint64_t>, std::string>;

void ExpectHolds(const WriteCache& cache, const Model& model) {
  std::vector<WriteCache::Item> items = cache.Sorted();
  ASSERT_EQ(items.size(), model.size());
  size_t i = 0;
  for (const auto& [key, payload] : model) {
    EXPECT_EQ(items[i].ledger, key.first) << "item " << i;
    EXPECT_EQ(items[i].entry, key.second) << "item " << i;
    EXPECT_EQ(items[i].payload, payload) << "item " << i;
    ++i;
  }
  EXPECT_EQ(cache.count(), model.size());
  // Every key found, with its first payload; its neighbours only where the model has them.
  std::map<uint64_t, std::vector<uint64_t>> entries_of;
  for (const auto& [key, payload] : model) {
    auto [ledger, entry] = key;
    EXPECT_EQ(cache.Get(ledger, entry), payload) << ledger << "/" << entry;
    EXPECT_EQ(cache.Get(ledger, entry + 1).has_value(), model.count({ledger, entry + 1}) > 0);
    EXPECT_EQ(cache.Get(ledger + 1000, entry), std::nullopt);
    entries_of[ledger].push_back(entry);
  }
  for (uint64_t ledger = 0; ledger < 8; ++ledger) {
    std::vector<uint64_t> ids;
    cache.EntriesOf(ledger, &ids);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, entries_of[ledger]) << "ledger " << ledger;
    std::optional<uint64_t> last;
    if (!entries_of[ledger].empty()) last = entries_of[ledger].back();
    EXPECT_EQ(cache.LastEntry(ledger), last) << "ledger " << ledger;
  }
}

TEST(WriteCacheTest, OneLedgerInOrderIsFlushedInOrder) {
  WriteCache cache(1 << 20);
  Model model;
  for (uint64_t e = 0; e < 100; ++e) {
    std::string payload = "entry-" + std::to_string(e);
    cache.Put(7, e, Bytes(payload));
    model[{7, e}] = payload;
  }
  ExpectHolds(cache, model);
}

// Writers' shapes: ledgers interleaved, entries out of order (recovery rewrites, ensemble
// changes), an entry put twice (the first put stays: adds are idempotent), ledgers deleted.
TEST(WriteCacheTest, SortedIsEveryFirstPutInLedgerAndEntryOrder) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    WriteCache cache(64 << 20, round % 2 == 0 ? 0 : 300);
    Model model;
    // Up to 2,000 puts: the table, sized for none, is rebuilt larger several times.
    const int puts = 1 + static_cast<int>(rng() % 2000);
    std::vector<uint64_t> next(5, 0);
    for (int i = 0; i < puts; ++i) {
      uint64_t ledger = rng() % next.size();
      uint64_t entry = rng() % 4 == 0 ? rng() % (next[ledger] + 3) : next[ledger]++;
      std::string payload = std::to_string(round) + "/" + std::to_string(i);
      cache.Put(ledger, entry, Bytes(payload));
      model.emplace(std::make_pair(ledger, entry), payload);  // keeps the first
      if (rng() % 100 == 0) {
        std::unordered_set<uint64_t> gone = {rng() % next.size()};
        size_t expected = std::erase_if(model, [&](const auto& kv) {
          return gone.count(kv.first.first) > 0;
        });
        EXPECT_EQ(cache.EraseLedgers(gone), expected);
      }
    }
    ExpectHolds(cache, model);
  }
}

}  // namespace
}  // namespace quire::storage
