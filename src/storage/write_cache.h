// Entries that are journaled but not yet in an entry log.
//
// A WriteCache lists its entries in the order they came, each with its payload held by reference
// (the bytes the journal wrote are not copied again), and finds them by (ledger, entry) through an
// open-addressed table of positions in that list. The flush sorts the list, nearly in order
// already: cheaper than walking a hash map's nodes (4 % of a bookie's CPU at the maximum). And no
// node is allocated per put and freed per flushed entry: a std::unordered_map's were 3 % of a
// bookie's CPU at the maximum (docs/performance.md, "The write cache without a node per entry").
// A ledger directory holds two: one taking adds, one being flushed. Not synchronized: the owner
// (the ledger directory) guards it; while a cache is being flushed it is only read.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/mutex.h"
#include "storage/payload.h"

namespace quire::storage {

// (ledger, entry) as a hash-map key.
struct EntryKey {
  uint64_t ledger;
  uint64_t entry;
  bool operator==(const EntryKey&) const = default;
};
struct EntryKeyHash {
  size_t operator()(const EntryKey& k) const {
    return std::hash<uint64_t>()(k.ledger * 0x9E3779B97F4A7C15ull ^ k.entry);
  }
};

class WriteCache {
 public:
  // `expected_entries`: how many entries it will likely hold (its index is sized for them).
  explicit WriteCache(size_t max_bytes, size_t expected_entries = 0);

  // Room for a payload of this size? (An empty cache always takes one entry, however large.)
  bool Fits(size_t payload_size) const {
    return entries_.empty() || bytes_ + Cost(payload_size) <= max_bytes_;
  }
  // Keeps a reference to the payload (not null). A second put of the same (ledger, entry) keeps
  // the first: adds are idempotent.
  void Put(uint64_t ledger, uint64_t entry, Payload payload);
  std::optional<std::string_view> Get(uint64_t ledger, uint64_t entry) const;
  std::optional<uint64_t> LastEntry(uint64_t ledger) const;
  // Appends the entry ids of `ledger` held here (in no order).
  void EntriesOf(uint64_t ledger, std::vector<uint64_t>* out) const;
  // Drops every entry of the ledgers (garbage collection deleted them); returns how many.
  size_t EraseLedgers(const std::unordered_set<uint64_t>& ledgers);

  struct Item {
    uint64_t ledger;
    uint64_t entry;
    std::string_view payload;
  };
  // Every entry, sorted by (ledger, entry); views stay valid while the cache lives.
  std::vector<Item> Sorted() const;

  size_t bytes() const { return bytes_; }
  size_t count() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  size_t max_bytes() const { return max_bytes_; }

 private:
  struct Stored {
    uint64_t ledger;
    uint64_t entry;
    Payload payload;
  };
  // The list's item (48 bytes), the table's slots (16 to 32 bytes), the payload's owner (its own
  // string, or its share of the BATCH_ADD frame it came in: ids, key and framing, ~40 bytes an
  // add), roughly. (The list briefly holds twice its items' bytes while it grows, which a cache
  // sized for the entries of the last flush rarely does.)
  static constexpr size_t kPerEntryOverhead = 128;
  static size_t Cost(size_t payload) { return payload + kPerEntryOverhead; }

  // The slot holding (ledger, entry)'s position, or the empty slot where it would go.
  size_t Probe(uint64_t ledger, uint64_t entry) const;
  // Makes a table of `slots` slots (a power of two, more than twice the entries) and fills it.
  void Rebuild(size_t slots);

  const size_t max_bytes_;
  std::vector<Stored> entries_;  // in the order they were put; the first put of a key only
  // Position in entries_ plus one (0: empty) and a tag of the key; linear probing, at most half
  // full.
  std::vector<uint64_t> slots_;
  int shift_ = 64;  // 64 - log2(slots_.size()): a hash's top bits pick a block's first slot
  std::unordered_map<uint64_t, uint64_t> last_entry_;  // ledger -> highest entry id here
  size_t bytes_ = 0;
};

// Entries read from entry logs, kept for reads that follow (read-ahead). Thread-safe; evicts the
// oldest insertions first once over its byte budget.
class ReadCache {
 public:
  explicit ReadCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  void Put(uint64_t ledger, uint64_t entry, std::string_view payload);
  std::optional<std::string> Get(uint64_t ledger, uint64_t entry);
  // Drops every entry of the ledgers (garbage collection deleted them).
  void EraseLedgers(const std::vector<uint64_t>& ledgers);
  size_t bytes();

 private:
  const size_t max_bytes_;
  Mutex mu_;
  std::unordered_map<EntryKey, std::string, EntryKeyHash> map_ QUIRE_GUARDED_BY(mu_);
  std::deque<EntryKey> order_ QUIRE_GUARDED_BY(mu_);  // insertion order, for eviction
  size_t bytes_ QUIRE_GUARDED_BY(mu_) = 0;
};

}  // namespace quire::storage
