#include "storage/write_cache.h"

#include <algorithm>

namespace quire::storage {

void WriteCache::Put(uint64_t ledger, uint64_t entry, Payload payload) {
  size_t size = payload.size();
  auto [at, added] = index_.emplace(EntryKey{ledger, entry}, std::move(payload));
  if (!added) return;
  arrivals_.push_back({ledger, entry, at->second.bytes()});
  auto [it, inserted] = last_entry_.emplace(ledger, entry);
  if (!inserted) it->second = std::max(it->second, entry);
  bytes_ += Cost(size);
  ++count_;
}

std::optional<std::string_view> WriteCache::Get(uint64_t ledger, uint64_t entry) const {
  auto it = index_.find(EntryKey{ledger, entry});
  if (it == index_.end()) return std::nullopt;
  return it->second.bytes();
}

std::optional<uint64_t> WriteCache::LastEntry(uint64_t ledger) const {
  auto it = last_entry_.find(ledger);
  if (it == last_entry_.end()) return std::nullopt;
  return it->second;
}

void WriteCache::EntriesOf(uint64_t ledger, std::vector<uint64_t>* out) const {
  if (last_entry_.count(ledger) == 0) return;
  for (const auto& [key, payload] : index_) {
    if (key.ledger == ledger) out->push_back(key.entry);
  }
}

size_t WriteCache::EraseLedgers(const std::unordered_set<uint64_t>& ledgers) {
  bool any = std::any_of(ledgers.begin(), ledgers.end(),
                         [&](uint64_t l) { return last_entry_.count(l) > 0; });
  if (!any) return 0;
  size_t erased = 0;
  for (auto it = index_.begin(); it != index_.end();) {
    if (ledgers.count(it->first.ledger) == 0) {
      ++it;
      continue;
    }
    bytes_ -= Cost(it->second.size());
    --count_;
    ++erased;
    it = index_.erase(it);
  }
  std::erase_if(arrivals_, [&](const Item& item) { return ledgers.count(item.ledger) > 0; });
  for (uint64_t l : ledgers) last_entry_.erase(l);
  return erased;
}

std::vector<WriteCache::Item> WriteCache::Sorted() const {
  std::vector<Item> items = arrivals_;
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
