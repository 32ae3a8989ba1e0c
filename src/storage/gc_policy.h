// What garbage collection decides, without any I/O: which ledgers may be deleted, which entry
// logs to delete or compact, and when compaction is due. storage/garbage_collector.cc carries the
// decisions out; tests/storage/gc_policy_test.cc checks them on their own.
//
// The rules (docs/semantics.md, "Deleting and reclaiming"; docs/architecture.md, "Garbage
// collection"):
//  * A ledger is garbage only when the metadata store *confirms* it is gone: it was held before the
//    listing began, the listing completed without it, and a re-read of it alone answered "no such
//    ledger". A listing that failed, or that came back empty while the bookie holds ledgers,
//    decides nothing (a metadata glitch must never delete live data).
//  * A log nothing points into is deleted; a log whose live fraction is below the threshold is
//    compacted, emptiest first, if the disk has room for what it must copy, and if rewriting it
//    gains anything: one with less than kMinReclaimBytes dead (a small compaction output, whose
//    "dead" bytes are the padding of its last block) is left alone, or every pass would rewrite
//    it again.
//  * The flush thread's current log is never touched.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "quire/status.h"
#include "storage/entry_log_format.h"
#include "storage/entry_log_usage.h"

namespace quire::storage {

// The ledgers held before the listing began (`held`, ascending) that the completed listing
// (`listed`, ascending) did not return: candidates for a confirming re-read. kUnavailable, saying
// why, when the listing cannot be trusted.
Result<std::vector<uint64_t>> GarbageCandidates(const std::vector<uint64_t>& held,
                                                const Status& listing,
                                                const std::vector<uint64_t>& listed);

// What the confirming re-read of one candidate said.
enum class LedgerExistence { kExists, kAbsent, kUnknown };
// Only a definite "absent" makes a candidate garbage; an error keeps it.
inline bool IsConfirmedGarbage(LedgerExistence e) { return e == LedgerExistence::kAbsent; }

enum class CompactionKind { kNone, kMinor, kMajor };
std::string_view CompactionKindName(CompactionKind kind);  // "none", "minor", "major"

struct CompactionThresholds {
  double minor = 0.2;  // minorCompactionThreshold; <= 0 disables minor compaction
  double major = 0.8;  // majorCompactionThreshold; <= 0 disables major compaction
};
double ThresholdOf(CompactionKind kind, const CompactionThresholds& t);

// Which compaction a timer-driven pass runs: major when its interval has passed since the last
// major one, else minor when its interval has passed since the last compaction of either kind.
// A zero interval disables that kind.
struct CompactionSchedule {
  std::chrono::milliseconds minor_interval{3'600'000};
  std::chrono::milliseconds major_interval{86'400'000};
};
CompactionKind DueCompaction(std::chrono::steady_clock::time_point now,
                             std::chrono::steady_clock::time_point last_minor,
                             std::chrono::steady_clock::time_point last_major,
                             const CompactionSchedule& schedule);

// Which kinds of compaction an operator suspended (BookKeeper's suspend_compaction endpoint).
struct CompactionSuspension {
  bool major = false;
  bool minor = false;
  bool Suspends(CompactionKind kind) const {
    return (kind == CompactionKind::kMajor && major) || (kind == CompactionKind::kMinor && minor);
  }
};
// The compaction a pass runs when `asked` (due or requested) meets a suspension: a suspended
// major one becomes a minor one unless that is suspended too (as BookKeeper's GC thread does).
CompactionKind AllowedCompaction(CompactionKind asked, const CompactionSuspension& suspension);

// Dead bytes below which rewriting a log gains nothing: a rewrite pads to the alignment too.
inline constexpr uint64_t kMinReclaimBytes = 2 * kEntryLogAlignment;

struct LogPlan {
  std::vector<uint64_t> delete_logs;   // nothing live: delete
  std::vector<uint64_t> compact_logs;  // emptiest first
  std::vector<uint64_t> no_room;       // below the threshold, but the disk cannot take the copy
  uint64_t bytes_to_copy = 0;          // live bytes of compact_logs
};

// Plans the logs of one directory. `threshold` is the live fraction below which a log is
// compacted (<= 0: none). `free_bytes` is what the disk has for copies now; each compacted log
// gives back its total minus its live bytes before the next one is copied, and `margin` is kept
// free throughout (for the index). `logs` are the settled ones (LedgerDirectory::SettledUsage).
LogPlan PlanLogs(const std::vector<LogUsage>& logs, double threshold, uint64_t free_bytes,
                 uint64_t margin);

}  // namespace quire::storage
