#include "bookie/gc_json.h"

#include <time.h>

#include <fmt/format.h>

#include <utility>

namespace quire::bookie {
namespace {

using nlohmann::json;
using storage::GcPassReport;

// The counters of a pass, in the order they are printed: one table for both directions.
constexpr std::pair<const char*, uint64_t GcPassReport::*> kPassCounts[] = {
    {"ledgersHeld", &GcPassReport::ledgers_held},
    {"ledgersDeleted", &GcPassReport::ledgers_deleted},
    {"ledgersKeptUnconfirmed", &GcPassReport::ledgers_kept_unconfirmed},
    {"logsScanned", &GcPassReport::logs_scanned},
    {"logsDeleted", &GcPassReport::logs_deleted},
    {"logsCompacted", &GcPassReport::logs_compacted},
    {"logsSkippedNoRoom", &GcPassReport::logs_skipped_no_room},
    {"entriesMoved", &GcPassReport::entries_moved},
    {"bytesMoved", &GcPassReport::bytes_moved},
    {"bytesDeleted", &GcPassReport::bytes_deleted},
    {"bytesWritten", &GcPassReport::bytes_written},
    {"compactionMs", &GcPassReport::compaction_ms},
};

// "2026-12-04T10:00:00.123Z"
std::string IsoTime(uint64_t unix_ms) {
  time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm t {};
  gmtime_r(&seconds, &t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, unix_ms % 1000);
}

// The running pass's id, or 0: `recent` is newest first and only the newest can be running.
uint64_t RunningPass(const storage::GcStatus& s) {
  return !s.recent.empty() && !s.recent.front().finished ? s.recent.front().id : 0;
}

json OrNull(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

StatusCode CodeNamed(std::string_view name) {
  for (int c = 0; c <= UINT8_MAX; ++c) {
    auto code = static_cast<StatusCode>(c);
    if (StatusCodeName(code) == name) return code;
  }
  return StatusCode::kInternal;  // a newer bookie's code: the message still says what happened
}

}  // namespace

json GcStateJson(const storage::GcStatus& s) {
  uint64_t running = RunningPass(s);
  // A request waits for a pass while the last id handed out is beyond every pass started.
  bool waiting = s.requested > std::max(running, s.completed);
  bool forced = waiting || (running != 0 && s.recent.front().trigger == "request");
  return json{{"is_in_force_gc", forced ? "true" : "false"},
              {"requestedPass", s.requested},
              {"completedPass", s.completed},
              {"runningPass", running != 0 ? json(running) : json(nullptr)}};
}

json GcDetailsJson(const storage::GcStatus& s) {
  json passes = json::array();
  for (const GcPassReport& r : s.recent) passes.push_back(GcPassJson(r));
  return json{{"requestedPass", s.requested},
              {"completedPass", s.completed},
              {"passes", std::move(passes)},
              {"totals",
               {{"passes", s.passes},
                {"ledgersDeleted", s.ledgers_deleted},
                {"logsDeleted", s.logs_deleted},
                {"logsCompacted", s.logs_compacted},
                {"entriesMoved", s.entries_moved},
                {"bytesMoved", s.bytes_moved},
                {"bytesReclaimed", s.bytes_reclaimed}}}};
}

json CompactionSuspensionJson(const storage::CompactionSuspension& s) {
  return json{{"isMajorGcSuspended", s.major ? "true" : "false"},
              {"isMinorGcSuspended", s.minor ? "true" : "false"}};
}

json GcPassJson(const GcPassReport& r) {
  json j{{"id", r.id},
         {"trigger", r.trigger},
         {"compaction", storage::CompactionKindName(r.compaction)},
         {"startTime", IsoTime(r.start_unix_ms)},
         {"startTimeMs", r.start_unix_ms},
         {"durationMs", r.duration_ms},
         {"finished", r.finished},
         {"status", StatusCodeName(r.status.code())},
         {"error", r.status.ok() ? json(nullptr) : json(r.status.message())},
         {"ledgerGcSkipped", OrNull(r.ledger_gc_skipped)},
         {"compactionSuspended", OrNull(r.compaction_suspended)}};
  for (const auto& [name, field] : kPassCounts) j[name] = r.*field;
  j["bytesReclaimed"] = r.bytes_reclaimed();
  return j;
}

Result<GcPassReport> GcPassFromJson(const json& j) {
  auto bad = [](std::string_view field) {
    return Status(StatusCode::kBadRequest,
                  fmt::format("a garbage-collection pass report without a valid \"{}\"", field));
  };
  if (!j.is_object()) return bad("id");
  auto uint = [&](const char* name, uint64_t* out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_unsigned()) return false;
    *out = it->get<uint64_t>();
    return true;
  };
  auto text = [&](const char* name, std::string* out) {
    auto it = j.find(name);
    if (it == j.end() || !(it->is_string() || it->is_null())) return false;
    *out = it->is_null() ? std::string() : it->get<std::string>();
    return true;
  };
  GcPassReport r;
  if (!uint("id", &r.id)) return bad("id");
  if (!uint("startTimeMs", &r.start_unix_ms)) return bad("startTimeMs");
  if (!uint("durationMs", &r.duration_ms)) return bad("durationMs");
  for (const auto& [name, field] : kPassCounts) {
    if (!uint(name, &(r.*field))) return bad(name);
  }
  if (!text("trigger", &r.trigger)) return bad("trigger");
  if (!text("ledgerGcSkipped", &r.ledger_gc_skipped)) return bad("ledgerGcSkipped");
  if (!text("compactionSuspended", &r.compaction_suspended)) return bad("compactionSuspended");
  auto finished = j.find("finished");
  if (finished == j.end() || !finished->is_boolean()) return bad("finished");
  r.finished = finished->get<bool>();
  std::string compaction, status, error;
  if (!text("compaction", &compaction)) return bad("compaction");
  auto kind = ParseCompactionKind(compaction);
  if (!kind.ok()) return bad("compaction");
  r.compaction = *kind;
  if (!text("status", &status) || status.empty()) return bad("status");
  if (!text("error", &error)) return bad("error");
  if (status != StatusCodeName(StatusCode::kOk)) r.status = Status(CodeNamed(status), error);
  return r;
}

Result<storage::CompactionKind> ParseCompactionKind(std::string_view name) {
  for (auto kind : {storage::CompactionKind::kNone, storage::CompactionKind::kMinor,
                    storage::CompactionKind::kMajor}) {
    if (storage::CompactionKindName(kind) == name) return kind;
  }
  return InvalidArgument(
      fmt::format("unknown compaction \"{}\" (none, minor or major)", name));
}

}  // namespace quire::bookie
