// Helpers for storage-engine tests.
#pragma once

#include <future>
#include <string>

#include <fmt/format.h>

#include "storage/storage_engine.h"

namespace quire::storage::testing {

inline StorageOptions TestStorageOptions(const std::string& root, FileSystem* fs) {
  StorageOptions o;
  o.journal_dirs = {root + "/journal"};
  o.ledger_dirs = {root + "/ledgers"};
  o.bookie_id = "127.0.0.1:3181";
  o.fs = fs;
  o.journal_prealloc_bytes = 1 << 20;
  o.write_cache_bytes = 8 << 20;
  o.read_ahead_cache_bytes = 4 << 20;
  o.flush_interval_ms = 3600 * 1000;  // tests flush explicitly
  return o;
}

// The payload of (ledger, entry) in tests: recognisable, varying in size, reproducible.
inline std::string TestPayload(uint64_t ledger, uint64_t entry, size_t size = 0) {
  if (size == 0) size = 20 + (ledger * 131 + entry * 71) % 2000;
  std::string s = fmt::format("L{}E{}:", ledger, entry);
  while (s.size() < size) s.push_back(static_cast<char>('a' + (s.size() * 7 + entry) % 26));
  s.resize(size);
  return s;
}

// Runs an engine call that reports through a callback and waits for it (bounded: 60 s).
template <typename F>
Status Await(F&& call) {
  auto promise = std::make_shared<std::promise<Status>>();
  auto future = promise->get_future();
  call([promise](Status s) { promise->set_value(std::move(s)); });
  if (future.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    return Status(StatusCode::kTimeout, "callback did not run within 60 s");
  }
  return future.get();
}

inline Status AddSync(StorageEngine* e, uint64_t ledger, uint64_t entry, std::string_view key,
                      std::string payload, bool recovery = false) {
  return Await([&](StorageEngine::Callback cb) {
    e->AddEntry(ledger, entry, key, std::move(payload), recovery, std::move(cb));
  });
}

inline Status FenceSync(StorageEngine* e, uint64_t ledger, std::string_view key) {
  return Await([&](StorageEngine::Callback cb) { e->Fence(ledger, key, std::move(cb)); });
}

}  // namespace quire::storage::testing
