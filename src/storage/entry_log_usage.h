// How many bytes each ledger holds in each entry log of a ledger directory: what garbage
// collection decides with (BookKeeper's EntryLogMetadata).
//
// The flush thread adds the bytes it writes; garbage collection removes deleted ledgers and moves
// bytes from a compacted log to the log it was copied into. Every change is persisted in the same
// index batch as the entry locations it describes (LedgerIndex `logs` / `log_ledgers`), so after a
// crash the table is loaded back exactly as the index is. A log that has no summary in the index
// (written before index format 2, or indexed by `quire index rebuild`) is "unknown" until garbage
// collection scans it.
//
// The invariant garbage collection relies on: for every index entry that points into log L for
// ledger X, bytes(L, X) counts that record. (It may count more: a record whose entry was written
// again later stays counted until L is compacted.) So a log whose count is zero holds nothing the
// index points at, and deleting it loses nothing.
//
// Thread safety: every method may be called from any thread. Callers that change the table also
// write the matching index batch while holding the storage engine's index-writer lock, so the
// table and the index change in the same order.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"

namespace quire::storage {

// One log as garbage collection sees it.
struct LogUsage {
  uint64_t log_id = 0;
  uint64_t total_bytes = 0;  // bytes of records written to it, padding included
  uint64_t live_bytes = 0;   // of ledgers the bookie still holds
  double live_fraction() const {
    return total_bytes == 0 ? 0.0 : static_cast<double>(live_bytes) / static_cast<double>(total_bytes);
  }
};

class EntryLogUsage {
 public:
  // Adds `bytes` of `ledger` to `log` (creating both as needed).
  void Add(uint64_t log, uint64_t ledger, uint64_t bytes);
  // Takes `bytes` of `ledger` away from `log` (compaction moved them); clamps at zero.
  void Subtract(uint64_t log, uint64_t ledger, uint64_t bytes);
  // Sets the log's total (its data end minus the header): recorded when a batch commits.
  void SetTotal(uint64_t log, uint64_t total_bytes);
  // Forgets the ledger in every log.
  void RemoveLedger(uint64_t ledger);
  void RemoveLog(uint64_t log);

  // The ledger's bytes in the log (0 if none).
  uint64_t Bytes(uint64_t log, uint64_t ledger) const;
  uint64_t Total(uint64_t log) const;
  // The logs holding bytes of the ledger.
  std::vector<uint64_t> LogsOf(uint64_t ledger) const;
  // The ledgers with bytes in the log, and how many.
  std::vector<std::pair<uint64_t, uint64_t>> LedgersIn(uint64_t log) const;
  bool Known(uint64_t log) const;
  // Every known log, ascending by id.
  std::vector<LogUsage> Logs() const;

 private:
  struct Log {
    uint64_t total = 0;
    std::unordered_map<uint64_t, uint64_t> ledgers;  // ledger -> bytes
  };
  mutable Mutex mu_;
  std::map<uint64_t, Log> logs_ QUIRE_GUARDED_BY(mu_);
};

}  // namespace quire::storage
