// The garbage collector's JSON (bookie/gc_json.h): what the admin endpoint answers and what
// `quire bookie gc` reads back.
#include "bookie/gc_json.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace quire::bookie {
namespace {

using nlohmann::json;
using storage::CompactionKind;
using storage::GcPassReport;

GcPassReport FinishedPass() {
  GcPassReport r;
  r.id = 7;
  r.trigger = "request";
  r.compaction = CompactionKind::kMajor;
  r.start_unix_ms = 1'796'378'400'123;
  r.duration_ms = 840;
  r.finished = true;
  r.ledgers_held = 20;
  r.ledgers_deleted = 16;
  r.ledgers_kept_unconfirmed = 1;
  r.logs_scanned = 2;
  r.logs_deleted = 3;
  r.logs_compacted = 9;
  r.logs_skipped_no_room = 4;
  r.entries_moved = 4096;
  r.bytes_moved = 16'908'288;
  r.bytes_deleted = 50'331'648;
  r.bytes_written = 16'924'672;
  r.compaction_ms = 610;
  return r;
}

TEST(GcJsonTest, APassHasEveryFieldUnderItsDocumentedName) {
  json j = GcPassJson(FinishedPass());
  EXPECT_EQ(j, (json{{"id", 7},
                     {"trigger", "request"},
                     {"compaction", "major"},
                     {"startTime", "2026-12-04T10:00:00.123Z"},
                     {"startTimeMs", 1'796'378'400'123},
                     {"durationMs", 840},
                     {"finished", true},
                     {"status", "ok"},
                     {"error", nullptr},
                     {"ledgerGcSkipped", nullptr},
                     {"compactionSuspended", nullptr},
                     {"ledgersHeld", 20},
                     {"ledgersDeleted", 16},
                     {"ledgersKeptUnconfirmed", 1},
                     {"logsScanned", 2},
                     {"logsDeleted", 3},
                     {"logsCompacted", 9},
                     {"logsSkippedNoRoom", 4},
                     {"entriesMoved", 4096},
                     {"bytesMoved", 16'908'288},
                     {"bytesDeleted", 50'331'648},
                     {"bytesWritten", 16'924'672},
                     {"compactionMs", 610},
                     {"bytesReclaimed", 33'406'976}}));
}

TEST(GcJsonTest, APassReadsBackAsItWasWithItsErrorAndSkipReason) {
  GcPassReport r = FinishedPass();
  r.status = Status(StatusCode::kIOError, "entry log 12: EIO");
  r.ledger_gc_skipped = "the ledger listing came back empty";
  r.compaction_suspended = "major compaction suspended while it ran";
  auto back = GcPassFromJson(GcPassJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(GcPassJson(*back), GcPassJson(r));
  EXPECT_EQ(back->status.code(), StatusCode::kIOError);
  EXPECT_EQ(back->status.message(), "entry log 12: EIO");
  EXPECT_EQ(back->ledger_gc_skipped, "the ledger listing came back empty");
  EXPECT_EQ(back->compaction_suspended, "major compaction suspended while it ran");
  EXPECT_EQ(back->compaction, CompactionKind::kMajor);
  EXPECT_EQ(back->bytes_reclaimed(), r.bytes_reclaimed());
}

TEST(GcJsonTest, AReportMissingAFieldIsRefusedNamingIt) {
  for (const char* field : {"id", "finished", "bytesWritten", "compaction", "status"}) {
    json j = GcPassJson(FinishedPass());
    j.erase(field);
    auto r = GcPassFromJson(j);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.status().code(), StatusCode::kBadRequest);
    EXPECT_NE(r.status().message().find(fmt::format("\"{}\"", field)), std::string::npos)
        << r.status().message();
  }
  json negative = GcPassJson(FinishedPass());
  negative["logsDeleted"] = -1;
  EXPECT_FALSE(GcPassFromJson(negative).ok());
  EXPECT_FALSE(GcPassFromJson(json::array()).ok());
}

TEST(GcJsonTest, InForceGcWhileARequestedPassWaitsOrRuns) {
  storage::GcStatus idle;
  idle.requested = idle.completed = 3;
  idle.recent.push_back(FinishedPass());
  EXPECT_EQ(GcStateJson(idle), (json{{"is_in_force_gc", "false"},
                                     {"requestedPass", 3},
                                     {"completedPass", 3},
                                     {"runningPass", nullptr}}));

  storage::GcStatus waiting = idle;
  waiting.requested = 4;
  EXPECT_EQ(GcStateJson(waiting)["is_in_force_gc"], "true");

  storage::GcStatus running = idle;
  running.requested = 4;
  GcPassReport now;
  now.id = 4;
  now.trigger = "request";
  running.recent.insert(running.recent.begin(), now);
  EXPECT_EQ(GcStateJson(running)["is_in_force_gc"], "true");
  EXPECT_EQ(GcStateJson(running)["runningPass"], 4);

  // A timer's pass is not a forced one, unless a request waits behind it.
  running.recent.front().trigger = "timer";
  EXPECT_EQ(GcStateJson(running)["is_in_force_gc"], "false");
  running.requested = 5;
  EXPECT_EQ(GcStateJson(running)["is_in_force_gc"], "true");
}

TEST(GcJsonTest, DetailsListThePassesNewestFirstWithTheTotals) {
  storage::GcStatus s;
  s.requested = 8;
  s.completed = 7;
  GcPassReport running;
  running.id = 8;
  running.trigger = "timer";
  s.recent = {running, FinishedPass()};
  s.passes = 7;
  s.ledgers_deleted = 16;
  s.bytes_reclaimed = 33'406'976;
  json j = GcDetailsJson(s);
  EXPECT_EQ(j["requestedPass"], 8);
  EXPECT_EQ(j["completedPass"], 7);
  ASSERT_EQ(j["passes"].size(), 2u);
  EXPECT_EQ(j["passes"][0]["id"], 8);
  EXPECT_EQ(j["passes"][0]["finished"], false);
  EXPECT_EQ(j["passes"][1], GcPassJson(FinishedPass()));
  EXPECT_EQ(j["totals"], (json{{"passes", 7},
                               {"ledgersDeleted", 16},
                               {"logsDeleted", 0},
                               {"logsCompacted", 0},
                               {"entriesMoved", 0},
                               {"bytesMoved", 0},
                               {"bytesReclaimed", 33'406'976}}));
}

TEST(GcJsonTest, CompactionKindsParseByName) {
  EXPECT_EQ(*ParseCompactionKind("none"), CompactionKind::kNone);
  EXPECT_EQ(*ParseCompactionKind("minor"), CompactionKind::kMinor);
  EXPECT_EQ(*ParseCompactionKind("major"), CompactionKind::kMajor);
  EXPECT_EQ(ParseCompactionKind("full").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace quire::bookie
