// Runs of entry locations: what the index stores for a ledger's entries since index format 3.
//
// A flush writes each ledger's entries in entry order, back to back in one entry log, and so does
// compaction: consecutive entries of a ledger have adjacent records. The index stores one row per
// such run (first entry, log, the first record's offset, every record's size) instead of one per
// entry. At a bookie's maximum the rows per entry (RocksDB's memtable inserts, WAL and flushes)
// took about a sixth of its CPU, and wrote 37 bytes of rows per entry where a run writes about
// two (docs/performance.md, "One index row per run of entries").
//
// A ledger's runs never overlap: an entry written again (a recovery's rewrite, a compaction's
// move) replaces its place in the run that held it, and that run keeps only its other entries
// (OverlayRuns). So the run that holds an entry is the one with the greatest first entry not
// above it, and a ledger's last entry is the last entry of its last run.
//
// This file decides; LedgerIndex reads and writes the rows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "quire/status.h"
#include "storage/entry_log.h"

namespace quire::storage {

// At most this many entries per run: finding an entry sums the sizes before it, and a row is
// rewritten whole when a part of it is replaced. 256 makes a row of 1 KiB entries ~0.5 KiB.
inline constexpr size_t kMaxRunEntries = 256;

struct EntryRun {
  uint64_t first_entry = 0;
  uint64_t log_id = 0;
  uint64_t offset = 0;          // the first record's, in log `log_id`
  std::vector<uint32_t> sizes;  // each record's size, in entry order; never empty

  uint64_t last_entry() const { return first_entry + sizes.size() - 1; }
  bool Holds(uint64_t entry) const { return entry >= first_entry && entry <= last_entry(); }
  // Where `entry` is. Requires Holds(entry).
  EntryLocation At(uint64_t entry) const;
  // Entries [from, to] of this run. Requires Holds(from), Holds(to), from <= to.
  EntryRun Slice(uint64_t from, uint64_t to) const;
  bool operator==(const EntryRun&) const = default;
};

// A run's row value (the key holds the ledger and the first entry):
//   version:u8 (2) log:u64 offset:u64 count:u32 size:varint32 × count
// A version 1 value (index formats 1 and 2: a row per entry), `version:u8 (1) log:u64 offset:u64
// size:u32`, decodes as a run of one entry.
std::string EncodeEntryRun(const EntryRun& run);
Result<EntryRun> DecodeEntryRun(uint64_t first_entry, std::string_view bytes,
                                std::string_view what);

// What a ledger's runs become when `added` are written over `existing` (sorted by first entry and
// disjoint, as the index holds them): each added run, in order, takes the place of the entries it
// holds, and a run it overlaps keeps its other entries (one or two pieces). Sorted and disjoint.
std::vector<EntryRun> OverlayRuns(const std::vector<EntryRun>& existing,
                                  const std::vector<EntryRun>& added);

}  // namespace quire::storage
