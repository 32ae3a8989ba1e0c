// quire bookie gc: runs a garbage-collection pass on bookies now, through their admin HTTP
// endpoint (PUT /api/v1/bookie/gc), and with --wait reports what each pass reclaimed
// (GET /api/v1/bookie/gc_details). The JSON both speak is bookie/gc_json.h's.
#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bookie/gc_json.h"
#include "cli/admin_http_client.h"
#include "cli/cli.h"

namespace quire::cli {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kName = "bookie gc";

// One HTTP call never takes longer than this, whatever --timeout leaves.
constexpr milliseconds kCallTimeout{10'000};
// Polls of gc_details start this often and slow down to kMaxPollPause.
constexpr milliseconds kFirstPollPause{100};
constexpr milliseconds kMaxPollPause{1'000};

constexpr const char* kFooter =
    "A pass deletes the ledgers the metadata store confirms are gone (a ledger is never deleted\n"
    "on a failed or empty metadata listing), deletes the entry logs nothing live is left in, and\n"
    "compacts: copies the live entries of the logs whose live fraction is below the threshold\n"
    "(--major: majorCompactionThreshold, default 0.8; --minor: minorCompactionThreshold, 0.2)\n"
    "to new logs, then deletes the old ones. Space comes back as logs are deleted. Bookies run a\n"
    "pass by themselves every gcWaitTime (default 10 minutes), so the space of a deleted ledger\n"
    "whose logs hold nothing else live returns within that time; logs shared with live ledgers\n"
    "wait for a compaction (every minorCompactionIntervalMs / majorCompactionIntervalMs). This\n"
    "command starts a pass now: after `quire ledger delete`, `quire bookie gc --all --wait`\n"
    "gives the space back at once. A bookie's current entry log is never collected.\n"
    "It asks each bookie's admin HTTP endpoint (the httpServerPort it reports, on the host of\n"
    "its id). With --json (before `bookie`), one object per bookie. Exit 1 if a bookie cannot\n"
    "be reached, or (with --wait) a pass failed or did not finish within --timeout; what the\n"
    "others did is printed anyway.";

struct Target {
  BookieId bookie;
  std::optional<AdminEndpoint> endpoint;
  uint64_t pass = 0;  // 0 until the bookie accepted the request
  std::optional<storage::GcPassReport> report;  // once the pass finished
  bool report_gone = false;  // finished, but the bookie no longer keeps its report
  Status error;
  bool done() const { return !error.ok() || report || report_gone; }
};

struct Args {
  std::vector<std::string> ids;
  bool all = false, minor = false, major = false, none = false, wait = false;
  double timeout_s = 600;
  AdminAccessFlags admin;  // --admin-token-file
};

std::vector<BookieId> Bookies(Client& client, const Args& a) {
  if (a.all && !a.ids.empty()) FailUsage(kName, "give bookie ids or --all, not both");
  if (!a.all && a.ids.empty()) FailUsage(kName, "name the bookies (host:port ...) or give --all");
  if (!a.all) return a.ids;
  auto list = client.ListBookies();
  if (!list.ok()) Fail(kName, list.status().WithContext("listing the bookies"));
  std::vector<BookieId> ids = list->writable;
  ids.insert(ids.end(), list->read_only.begin(), list->read_only.end());
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.empty()) Fail(kName, Status(StatusCode::kNotFound, "no bookie is registered"));
  return ids;
}

// Asks `t`'s bookie for a pass; sets t->pass or t->error.
void Trigger(Client& client, const AdminAccess& access, Target* t, std::string_view compaction,
             milliseconds timeout) {
  auto endpoint = FindAdminEndpoint(client, t->bookie, access);
  if (!endpoint.ok()) {
    t->error = endpoint.status();
    return;
  }
  t->endpoint = *endpoint;
  auto answer = CallAdminJson(*t->endpoint, "PUT", "/api/v1/bookie/gc",
                              json{{"compaction", compaction}}.dump(), timeout);
  if (!answer.ok()) {
    t->error = answer.status();
    return;
  }
  auto id = answer->find("passId");
  if (id == answer->end() || !id->is_number_unsigned() || id->get<uint64_t>() == 0) {
    t->error = Status(StatusCode::kBadRequest, "its answer names no pass: " + answer->dump());
    return;
  }
  t->pass = id->get<uint64_t>();
}

// A counter of the bookie's answer, or 0 when it has none.
uint64_t CountIn(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// Reads `t`'s bookie's recent passes once; sets t->report when its pass has finished.
void Poll(Target* t, milliseconds timeout) {
  auto details = CallAdminJson(*t->endpoint, "GET", "/api/v1/bookie/gc_details", "", timeout);
  if (!details.ok()) {
    t->error = details.status().WithContext(fmt::format("waiting for pass {}", t->pass));
    return;
  }
  const json& d = *details;
  if (!d.is_object() || !d.contains("passes") || !d["passes"].is_array()) {
    t->error = Status(StatusCode::kBadRequest, "its gc_details answer lists no passes");
    return;
  }
  uint64_t requested = CountIn(d, "requestedPass");
  uint64_t completed = CountIn(d, "completedPass");
  if (requested < t->pass) {
    // Pass ids start again at 1 when a bookie starts.
    t->error = Status(StatusCode::kAborted,
                      fmt::format("the bookie restarted before pass {} ran; run the command "
                                  "again", t->pass));
    return;
  }
  for (const json& p : d["passes"]) {
    if (!p.is_object() || CountIn(p, "id") != t->pass) continue;
    auto report = bookie::GcPassFromJson(p);
    if (!report.ok()) {
      t->error = report.status();
    } else if (report->finished) {
      t->report = *report;
    }
    return;
  }
  if (completed >= t->pass) t->report_gone = true;  // many passes ran since
}

void WaitForPasses(std::vector<Target>& targets, Clock::time_point deadline) {
  milliseconds pause = kFirstPollPause;
  // Bounded by the deadline; the count is a second bound should the clock misbehave.
  for (int round = 0; round < 1'000'000; ++round) {
    bool pending = false;
    for (Target& t : targets) {
      if (t.done()) continue;
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left <= milliseconds(0)) {
        t.error = Status(StatusCode::kTimeout,
                         fmt::format("pass {} did not finish within --timeout; it goes on (GET "
                                     "{}/api/v1/bookie/gc_details shows it)",
                                     t.pass, t.endpoint->ToString()));
        continue;
      }
      Poll(&t, std::min(kCallTimeout, left));
      pending = pending || !t.done();
    }
    if (!pending) return;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    std::this_thread::sleep_for(std::clamp(left, milliseconds(0), pause));
    pause = std::min(pause * 2, kMaxPollPause);
  }
}

// "major compaction", "minor compaction", "no compaction".
std::string Compaction(std::string_view kind) {
  return kind == "none" ? "no compaction" : fmt::format("{} compaction", kind);
}

std::string MiB(int64_t bytes) {
  return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
}

std::string Summary(const Target& t, std::string_view compaction, bool wait) {
  if (!wait) return fmt::format("{}: pass {} requested ({})", t.bookie, t.pass, Compaction(compaction));
  if (t.report_gone) {
    return fmt::format("{}: pass {} finished (its report is no longer kept)", t.bookie, t.pass);
  }
  const storage::GcPassReport& r = *t.report;
  std::string line = fmt::format(
      "{}: pass {} ({}) in {:.1f} s: {} ledger(s) deleted; {} entry log(s) deleted, "
      "{} compacted ({} entries moved); {} reclaimed",
      t.bookie, r.id, Compaction(storage::CompactionKindName(r.compaction)),
      static_cast<double>(r.duration_ms) / 1000, r.ledgers_deleted, r.logs_deleted,
      r.logs_compacted, r.entries_moved, MiB(r.bytes_reclaimed()));
  if (!r.ledger_gc_skipped.empty()) line += "; no ledger deleted: " + r.ledger_gc_skipped;
  if (!r.compaction_suspended.empty()) line += "; " + r.compaction_suspended;
  if (r.ledgers_kept_unconfirmed > 0) {
    line += fmt::format("; {} ledger(s) kept until the metadata store confirms them gone",
                        r.ledgers_kept_unconfirmed);
  }
  if (r.logs_skipped_no_room > 0) {
    line += fmt::format("; {} log(s) not compacted for lack of disk room", r.logs_skipped_no_room);
  }
  return line;
}

json ToJson(const Target& t, std::string_view compaction) {
  return json{{"bookie", t.bookie},
              {"adminEndpoint", t.endpoint ? json(t.endpoint->ToString()) : json(nullptr)},
              {"passId", t.pass ? json(t.pass) : json(nullptr)},
              {"compaction", compaction},
              {"finished", t.report.has_value() || t.report_gone},
              {"report", t.report ? bookie::GcPassJson(*t.report) : json(nullptr)},
              {"error", t.error.ok() ? json(nullptr) : json(t.error.ToString())}};
}

void Run(const GlobalOptions& g, const Args& a) {
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(a.timeout_s));
  const std::string_view compaction = a.minor ? "minor" : a.none ? "none" : "major";
  auto access = a.admin.Resolve(g);
  if (!access.ok()) Fail(kName, access.status());
  auto client = OpenClient(g, kName);
  std::vector<Target> targets;
  for (const BookieId& id : Bookies(*client, a)) targets.push_back(Target{.bookie = id});
  for (Target& t : targets) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left <= milliseconds(0)) {
      t.error = Status(StatusCode::kTimeout, "not asked: --timeout passed");
      continue;
    }
    Trigger(*client, *access, &t, compaction, std::min(kCallTimeout, left));
  }
  if (a.wait) WaitForPasses(targets, deadline);

  size_t failed = 0;
  StatusCode first_failure = StatusCode::kOk;
  json out = json::array();
  for (const Target& t : targets) {
    // A pass that stopped early (an I/O error, shutdown) failed, whatever it got done first.
    Status error = t.error;
    if (error.ok() && t.report && !t.report->status.ok()) {
      error = t.report->status.WithContext(fmt::format("pass {} stopped", t.pass));
    }
    if (!error.ok()) {
      if (failed++ == 0) first_failure = error.code();
      fmt::print(stderr, "quire {}: bookie {}: {}\n", kName, t.bookie, error.ToString());
    }
    if (g.json) {
      out.push_back(ToJson(t, compaction));
    } else if (t.pass != 0 && (t.report || t.report_gone || !a.wait)) {
      fmt::print("{}\n", Summary(t, compaction, a.wait));
    }
  }
  if (g.json) fmt::print("{}\n", out.dump(2));
  std::fflush(stdout);
  if (failed > 0) {
    Fail(kName, Status(first_failure,
                       fmt::format("{} of {} bookie(s) failed (see above)", failed,
                                   targets.size())));
  }
}

}  // namespace

void AddBookieGcCommand(CLI::App& bookie, GlobalOptions& g) {
  auto* cmd = bookie.add_subcommand(
      "gc",
      "Run a garbage-collection pass on bookies now: delete the data of deleted ledgers and "
      "give their space back (see below)");
  cmd->footer(kFooter);
  auto a = std::make_shared<Args>();
  cmd->add_option("ids", a->ids, "Bookie ids (host:port)");
  cmd->add_flag("--all", a->all, "Every registered bookie, writable and read-only");
  auto* major = cmd->add_flag(
      "--major", a->major,
      "Compact entry logs less than majorCompactionThreshold live (the default)");
  auto* minor = cmd->add_flag("--minor", a->minor,
                              "Compact only entry logs less than minorCompactionThreshold live");
  auto* none = cmd->add_flag(
      "--no-compaction", a->none,
      "Do not compact: delete ledgers and the entry logs nothing live is left in");
  major->excludes(minor)->excludes(none);
  minor->excludes(none);
  cmd->add_flag("--wait", a->wait,
                "Wait until every pass has finished, then print what each reclaimed");
  cmd->add_option("--timeout", a->timeout_s,
                  "Give up after this many seconds (waiting included); a pass already started "
                  "goes on")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  a->admin.AddTo(cmd);
  cmd->callback([&g, a] { Run(g, *a); });
}

}  // namespace quire::cli
