#include "storage/gc_policy.h"

#include <algorithm>

#include <fmt/format.h>

namespace quire::storage {

Result<std::vector<uint64_t>> GarbageCandidates(const std::vector<uint64_t>& held,
                                                const Status& listing,
                                                const std::vector<uint64_t>& listed) {
  if (!listing.ok()) {
    return Status(StatusCode::kUnavailable,
                  fmt::format("listing the ledgers failed ({}); nothing is deleted this pass",
                              listing.ToString()));
  }
  if (listed.empty() && !held.empty()) {
    return Status(StatusCode::kUnavailable,
                  fmt::format("the metadata store listed no ledger at all while this bookie holds "
                              "{}; an empty listing is not trusted, nothing is deleted this pass",
                              held.size()));
  }
  std::vector<uint64_t> out;
  std::set_difference(held.begin(), held.end(), listed.begin(), listed.end(),
                      std::back_inserter(out));
  return out;
}

std::string_view CompactionKindName(CompactionKind kind) {
  switch (kind) {
    case CompactionKind::kNone:
      return "none";
    case CompactionKind::kMinor:
      return "minor";
    case CompactionKind::kMajor:
      return "major";
  }
  return "?";
}

double ThresholdOf(CompactionKind kind, const CompactionThresholds& t) {
  switch (kind) {
    case CompactionKind::kMinor:
      return t.minor;
    case CompactionKind::kMajor:
      return t.major;
    case CompactionKind::kNone:
      break;
  }
  return 0;
}

CompactionKind DueCompaction(std::chrono::steady_clock::time_point now,
                             std::chrono::steady_clock::time_point last_minor,
                             std::chrono::steady_clock::time_point last_major,
                             const CompactionSchedule& s) {
  using std::chrono::milliseconds;
  if (s.major_interval > milliseconds(0) && now - last_major >= s.major_interval) {
    return CompactionKind::kMajor;
  }
  auto last_any = std::max(last_minor, last_major);
  if (s.minor_interval > milliseconds(0) && now - last_any >= s.minor_interval) {
    return CompactionKind::kMinor;
  }
  return CompactionKind::kNone;
}

CompactionKind AllowedCompaction(CompactionKind asked, const CompactionSuspension& suspension) {
  if (asked == CompactionKind::kMajor && suspension.major) asked = CompactionKind::kMinor;
  if (asked == CompactionKind::kMinor && suspension.minor) asked = CompactionKind::kNone;
  return asked;
}

LogPlan PlanLogs(const std::vector<LogUsage>& logs, double threshold, uint64_t free_bytes,
                 uint64_t margin) {
  LogPlan plan;
  for (const LogUsage& u : logs) {
    if (u.live_bytes == 0) plan.delete_logs.push_back(u.log_id);
  }
  if (threshold <= 0) return plan;
  // Deleted logs free their space before any copy starts.
  uint64_t free = free_bytes;
  for (const LogUsage& u : logs) {
    if (u.live_bytes == 0) free += u.total_bytes;
  }
  std::vector<LogUsage> candidates;
  for (const LogUsage& u : logs) {
    bool worth_it = u.total_bytes >= u.live_bytes + kMinReclaimBytes;
    if (u.live_bytes > 0 && u.live_fraction() < threshold && worth_it) candidates.push_back(u);
  }
  std::sort(candidates.begin(), candidates.end(), [](const LogUsage& a, const LogUsage& b) {
    if (a.live_fraction() != b.live_fraction()) return a.live_fraction() < b.live_fraction();
    return a.log_id < b.log_id;
  });
  for (const LogUsage& u : candidates) {
    if (free < margin || free - margin < u.live_bytes) {
      plan.no_room.push_back(u.log_id);
      continue;
    }
    plan.compact_logs.push_back(u.log_id);
    plan.bytes_to_copy += u.live_bytes;
    // The copy takes live bytes; deleting the old log gives back its total.
    free = free - u.live_bytes + std::max(u.total_bytes, u.live_bytes);
  }
  return plan;
}

}  // namespace quire::storage
