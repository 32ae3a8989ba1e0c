#include "storage/write_cache.h"

#include <algorithm>
#include <bit>
#include <cstdint>

#include "common/check.h"

namespace quire::storage {

namespace {

constexpr size_t kMinSlots = 64;
// Entries of a ledger come in runs of consecutive ids: a block of 16 of them has 16 consecutive
// home slots (two cache lines), and only blocks are scattered over the table. With every entry
// scattered the table's random reads missed the cache on each put: twice the add path's cost of
// the hash map this replaced, whose buckets were in entry order too.
constexpr int kBlockBits = 4;

uint64_t Mix(uint64_t ledger, uint64_t block) {
  return (ledger * 0x9E3779B97F4A7C15ull ^ block) * 0xD6E8FEB86659FD93ull;
}

// A slot: the entry's position in the list plus one (0: empty), and in the top half a tag from
// the key, so that a probe passing other keys' slots rarely reads their list items.
constexpr uint64_t kPositionMask = 0xFFFFFFFFull;
uint64_t Tag(uint64_t ledger, uint64_t entry) { return Mix(entry, ledger) & ~kPositionMask; }

}  // namespace

WriteCache::WriteCache(size_t max_bytes, size_t expected_entries) : max_bytes_(max_bytes) {
  entries_.reserve(expected_entries);
  Rebuild(std::max(kMinSlots, std::bit_ceil(expected_entries * 2 + 1)));
}

size_t WriteCache::Probe(uint64_t ledger, uint64_t entry) const {
  const size_t mask = slots_.size() - 1;
  const uint64_t tag = Tag(ledger, entry);
  size_t i = (static_cast<size_t>(Mix(ledger, entry >> kBlockBits) >> shift_) +
              (entry & ((1u << kBlockBits) - 1))) & mask;
  // Ends: the table is never more than half full, so an empty slot comes within its size.
  for (size_t probes = 0; probes < slots_.size(); ++probes, i = (i + 1) & mask) {
    uint64_t slot = slots_[i];
    if (slot == 0) return i;
    if ((slot & ~kPositionMask) != tag) continue;
    const Stored& s = entries_[(slot & kPositionMask) - 1];
    if (s.ledger == ledger && s.entry == entry) return i;
  }
  QUIRE_CHECK(false);  // a full table: Put keeps it at most half full
  return 0;
}

void WriteCache::Rebuild(size_t slots) {
  QUIRE_CHECK(std::has_single_bit(slots) && slots > entries_.size() * 2);
  slots_.assign(slots, 0);
  shift_ = 64 - std::countr_zero(slots);
  for (size_t k = 0; k < entries_.size(); ++k) {
    const Stored& s = entries_[k];
    slots_[Probe(s.ledger, s.entry)] = Tag(s.ledger, s.entry) | (k + 1);
  }
}

void WriteCache::Put(uint64_t ledger, uint64_t entry, Payload payload) {
  // Positions are 32 bits; a cache holds at most max_bytes / kPerEntryOverhead entries.
  QUIRE_CHECK(entries_.size() < UINT32_MAX);
  if ((entries_.size() + 1) * 2 >= slots_.size()) Rebuild(slots_.size() * 2);
  size_t slot = Probe(ledger, entry);
  if (slots_[slot] != 0) return;  // the first put stays
  bytes_ += Cost(payload.size());
  entries_.push_back({ledger, entry, std::move(payload)});
  slots_[slot] = Tag(ledger, entry) | entries_.size();
  auto [it, inserted] = last_entry_.emplace(ledger, entry);
  if (!inserted) it->second = std::max(it->second, entry);
}

std::optional<std::string_view> WriteCache::Get(uint64_t ledger, uint64_t entry) const {
  uint64_t slot = slots_[Probe(ledger, entry)];
  if (slot == 0) return std::nullopt;
  return entries_[(slot & kPositionMask) - 1].payload.bytes();
}

std::optional<uint64_t> WriteCache::LastEntry(uint64_t ledger) const {
  auto it = last_entry_.find(ledger);
  if (it == last_entry_.end()) return std::nullopt;
  return it->second;
}

void WriteCache::EntriesOf(uint64_t ledger, std::vector<uint64_t>* out) const {
  if (last_entry_.count(ledger) == 0) return;
  for (const Stored& s : entries_) {
    if (s.ledger == ledger) out->push_back(s.entry);
  }
}

size_t WriteCache::EraseLedgers(const std::unordered_set<uint64_t>& ledgers) {
  bool any = std::any_of(ledgers.begin(), ledgers.end(),
                         [&](uint64_t l) { return last_entry_.count(l) > 0; });
  if (!any) return 0;
  size_t erased = std::erase_if(entries_, [&](const Stored& s) {
    if (ledgers.count(s.ledger) == 0) return false;
    bytes_ -= Cost(s.payload.size());
    return true;
  });
  for (uint64_t l : ledgers) last_entry_.erase(l);
  Rebuild(slots_.size());  // the positions moved
  return erased;
}

std::vector<WriteCache::Item> WriteCache::Sorted() const {
  std::vector<Item> items;
  items.reserve(entries_.size());
  for (const Stored& s : entries_) items.push_back({s.ledger, s.entry, s.payload.bytes()});
  auto before = [](const Item& a, const Item& b) {
    return a.ledger != b.ledger ? a.ledger < b.ledger : a.entry < b.entry;
  };
  // One writer's ledger arrives in order: no sort at all.
  if (!std::is_sorted(items.begin(), items.end(), before)) {
    std::sort(items.begin(), items.end(), before);
  }
  return items;
}

void ReadCache::Put(uint64_t ledger, uint64_t entry, std::string_view payload) {
  if (payload.size() > max_bytes_) return;
  MutexLock lock(mu_);
  EntryKey key{ledger, entry};
  if (map_.count(key) > 0) return;
  while (bytes_ + payload.size() > max_bytes_ && !order_.empty()) {
    auto it = map_.find(order_.front());
    if (it != map_.end()) {
      bytes_ -= it->second.size();
      map_.erase(it);
    }
    order_.pop_front();
  }
  map_.emplace(key, std::string(payload));
  order_.push_back(key);
  bytes_ += payload.size();
}

std::optional<std::string> ReadCache::Get(uint64_t ledger, uint64_t entry) {
  MutexLock lock(mu_);
  auto it = map_.find(EntryKey{ledger, entry});
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

void ReadCache::EraseLedgers(const std::vector<uint64_t>& ledgers) {
  std::unordered_set<uint64_t> gone(ledgers.begin(), ledgers.end());
  MutexLock lock(mu_);
  std::erase_if(order_, [&](const EntryKey& key) { return gone.count(key.ledger) > 0; });
  for (auto it = map_.begin(); it != map_.end();) {
    if (gone.count(it->first.ledger) > 0) {
      bytes_ -= it->second.size();
      it = map_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t ReadCache::bytes() {
  MutexLock lock(mu_);
  return bytes_;
}

}  // namespace quire::storage
