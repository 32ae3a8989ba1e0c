// The garbage collector's state as JSON: what the admin HTTP endpoint answers on
// GET /api/v1/bookie/gc and /api/v1/bookie/gc_details (docs/operations.md shows both), and what
// `quire bookie gc --wait` reads back. The JSON names live here only, for both directions.
//
// A pass (GcPassJson):
//   {"id": 7, "trigger": "request", "compaction": "major",
//    "startTime": "2026-12-04T10:00:00.123Z", "startTimeMs": 1796378400123, "durationMs": 840,
//    "finished": true, "status": "ok", "error": null, "ledgerGcSkipped": null,
//    "ledgersHeld": 20, "ledgersDeleted": 16, "ledgersKeptUnconfirmed": 0,
//    "logsScanned": 0, "logsDeleted": 3, "logsCompacted": 9, "logsSkippedNoRoom": 0,
//    "entriesMoved": 4096, "bytesMoved": 16908288, "bytesDeleted": 50331648,
//    "bytesWritten": 16924672, "compactionMs": 610, "compactionSuspended": null,
//    "bytesReclaimed": 33406976}
// "status" is "ok" or the error code's name (quire/status.h), with "error" its message, when the
// pass stopped early; "ledgerGcSkipped" says why no ledger was deleted when the metadata listing
// could not be trusted; "compactionSuspended" what a suspension took from the compaction.
// Sizes are bytes of files; bytesReclaimed = bytesDeleted - bytesWritten.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "quire/status.h"
#include "storage/garbage_collector.h"

namespace quire::bookie {

// {"is_in_force_gc": "true"|"false" (BookKeeper's: a requested pass is waiting or running, as a
// string), "requestedPass", "completedPass", "runningPass" (null when none runs)}.
nlohmann::json GcStateJson(const storage::GcStatus& status);

// {"requestedPass", "completedPass", "passes": [pass, ...] newest first (the running one
// included), "totals": {"passes", "ledgersDeleted", "logsDeleted", "logsCompacted",
// "entriesMoved", "bytesMoved", "bytesReclaimed"} since the bookie started}.
nlohmann::json GcDetailsJson(const storage::GcStatus& status);

// {"isMajorGcSuspended": "true"|"false", "isMinorGcSuspended": ...} (BookKeeper's, as strings).
nlohmann::json CompactionSuspensionJson(const storage::CompactionSuspension& suspension);

nlohmann::json GcPassJson(const storage::GcPassReport& pass);
// The inverse of GcPassJson; kBadRequest naming the field when `j` is not one.
Result<storage::GcPassReport> GcPassFromJson(const nlohmann::json& j);

// "none", "minor" or "major" (storage::CompactionKindName); kInvalidArgument otherwise.
Result<storage::CompactionKind> ParseCompactionKind(std::string_view name);

}  // namespace quire::bookie
