#include "storage/write_cache.h"

#include <algorithm>
#include <cstring>

namespace quire::storage {

void WriteCache::Put(uint64_t ledger, uint64_t entry, std::string_view payload) {
  EntryKey key{ledger, entry};
  if (index_.count(key) > 0) return;
  char* dst;
  if (payload.size() > kChunkSize / 4) {
    // Large entries get an allocation of their own, so chunks are never mostly wasted.
    large_.push_back(std::make_unique_for_overwrite<char[]>(payload.size()));
    dst = large_.back().get();
  } else {
    if (chunk_used_ + payload.size() > kChunkSize) {
      if (spare_.empty()) {
        chunks_.push_back(std::make_unique_for_overwrite<char[]>(kChunkSize));
      } else {
        chunks_.push_back(std::move(spare_.back()));
        spare_.pop_back();
      }
      chunk_used_ = 0;
    }
    dst = chunks_.back().get() + chunk_used_;
    chunk_used_ += payload.size();
  }
  std::memcpy(dst, payload.data(), payload.size());
  index_.emplace(key, std::string_view(dst, payload.size()));
  auto [it, inserted] = last_entry_.emplace(ledger, entry);
  if (!inserted) it->second = std::max(it->second, entry);
  bytes_ += Cost(payload.size());
  ++count_;
}

std::optional<std::string_view> WriteCache::Get(uint64_t ledger, uint64_t entry) const {
  auto it = index_.find(EntryKey{ledger, entry});
  if (it == index_.end()) return std::nullopt;
  return it->second;
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

std::vector<WriteCache::Item> WriteCache::Sorted() const {
  std::vector<Item> items;
  items.reserve(index_.size());
  for (const auto& [key, payload] : index_) items.push_back({key.ledger, key.entry, payload});
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.ledger != b.ledger ? a.ledger < b.ledger : a.entry < b.entry;
  });
  return items;
}

void WriteCache::Clear() {
  // Chunks are kept for the next fill: freeing them would hand the memory back to the system
  // and make every refill page-fault it in again. The cache's size bound bounds them.
  for (auto& c : chunks_) spare_.push_back(std::move(c));
  chunks_.clear();
  large_.clear();
  chunk_used_ = kChunkSize;
  index_.clear();
  last_entry_.clear();
  bytes_ = 0;
  count_ = 0;
}

void ReadCache::Put(uint64_t ledger, uint64_t entry, std::string_view payload) {
  if (payload.size() > max_bytes_) return;
  std::lock_guard<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(EntryKey{ledger, entry});
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

size_t ReadCache::bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace quire::storage
