// What the admin HTTP server answers, without any I/O: a request in, a response out.
//
// Routes (GET; HEAD gets the same status and headers without a body):
//   /metrics                     200, Prometheus text 0.0.4 from AdminHandlers::metrics_text
//   /api/v1/bookie/info          200, JSON from AdminHandlers::info (version, commit, space, ...)
//   /api/v1/bookie/state         200, JSON from AdminHandlers::state
//   /health/live                 200 {"status":"live"} whenever the server answers: the process
//                                serves (reads at least), read-only or not. The liveness probe.
//   /health/ready                200 {"status":"ready"} when AdminHandlers::ready says the bookie
//                                takes writes and is registered as writable; otherwise 503
//                                {"status":"not-ready","reason":...}. The readiness probe.
//   /health                      the same as /health/ready (older name, kept)
//   /heartbeat                   200 "OK" (text/plain), as BookKeeper's /heartbeat
//   /api/v1/bookie/state/readonly  200 {"readOnly": bool, ...} from AdminHandlers::read_only
//   /api/v1/bookie/list_bookies  200 {"<bookie id>": null, ...}, BookKeeper's shape: the writable
//                                bookies, or the read-only ones with ?type=ro; with
//                                ?print_hostnames=true each id maps to its host instead of null
//   /api/v1/bookie/list_ledger   200 {"<ledger id>": null, ...}: every ledger of the cluster;
//                                also at BookKeeper's path /api/v1/ledger/list
//   /api/v1/bookie/gc            200, JSON from AdminHandlers::gc_state ({"is_in_force_gc": ...})
//   /api/v1/bookie/gc_details    200, JSON from AdminHandlers::gc_details (the recent passes)
//   /api/v1/bookie/gc/suspend_compaction, /api/v1/bookie/gc/resume_compaction
//                                200, JSON from AdminHandlers::compaction_suspension
//   /api/v1/autorecovery/status  200, JSON from AdminHandlers::autorecovery_status ({"enabled":
//                                bool, "auditor": ..., "missingBookies": [...], ...})
//   /api/v1/autorecovery/list_under_replicated_ledger
//                                200 {"<ledger id>": ["<lost bookie>", ...], ...} (BookKeeper's
//                                shape; at most 10,000 ledgers)
//   /api/v1/autorecovery/who_is_auditor  200 {"auditor": "<owner>"|null}
//
// PUT routes:
//   /api/v1/bookie/state/readonly  BookKeeper's body {"readOnly": true|false}: turns the manual
//       read-only mode on or off through AdminHandlers::set_read_only and answers 200 with the
//       state after the change (as GET does). Any other body is 400.
//   /api/v1/bookie/gc (BookKeeper's endpoint): asks for a garbage-collection pass through
//       AdminHandlers::trigger_gc and answers 200 with its JSON (the id of the pass that will serve
//       the request). Its body is optional; without one the pass runs a major compaction.
//       Otherwise it is a JSON object with either BookKeeper's {"forceMajor": bool, "forceMinor":
//       bool} (forceMajor wins; both false: no compaction) or {"compaction":
//       "none"|"minor"|"major"}; anything else is 400.
//   /api/v1/autorecovery/status (BookKeeper's): body {"enabled": true|false} turns autorecovery
//       on or off cluster-wide through AdminHandlers::set_autorecovery; answers as GET does.
//   /api/v1/bookie/gc/suspend_compaction and .../resume_compaction (BookKeeper's): suspend or
//       resume compaction through AdminHandlers::suspend_compaction. The body is BookKeeper's
//       {"suspendMajor": "true", "suspendMinor": "true"} (resumeMajor/resumeMinor to resume; true
//       or "true"), or empty for both kinds; they answer as GET does.
//
// Query parameters other than those named above are ignored; a named one with a value it does not
// take is 400. A known path with a method it does not take is 405, with an Allow header listing
// the ones it does; anything else is 404. A handler's error is 503 when it means "not now"
// (kUnavailable, kFailedPrecondition: the bookie is starting or stopping), else 500; a handler
// that throws is 500. Error bodies are JSON: {"error": "...", ...}.
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "quire/status.h"

namespace quire::bookie {

// Callbacks supplied by the daemon. All are required. They run on the server's "q-http-N"
// threads, one request at a time per connection but concurrently across connections when the
// server has several threads, so they must be thread-safe and should not block for long.
// An exception they throw becomes a 500 answer; it never escapes the server.
struct AdminHandlers {
  std::function<std::string()> metrics_text;          // the whole /metrics body
  std::function<nlohmann::json()> info;   // id, version, commit, ports, dirs, disk space
  std::function<nlohmann::json()> state;  // dynamic state: writable, ledgers, disks
  // Readiness: true when the bookie takes writes and is registered as writable; false sets
  // *reason ("starting", "disk full: ...", "read-only by operator request", ...).
  std::function<bool(std::string* reason)> ready;
  // Manual read-only mode: the current state, and a change asked for by an operator.
  std::function<Result<nlohmann::json>()> read_only;
  std::function<Result<nlohmann::json>(bool read_only)> set_read_only;
  // The registered bookies, writable or read-only, as BookKeeper's list_bookies map.
  std::function<Result<nlohmann::json>(bool read_only, bool print_hostnames)> list_bookies;
  std::function<Result<nlohmann::json>()> list_ledgers;  // {"<ledger id>": null, ...}
  // Garbage collection. `compaction` is "none", "minor" or "major" (the routes parse the body).
  std::function<Result<nlohmann::json>(std::string_view compaction)> trigger_gc;
  std::function<Result<nlohmann::json>()> gc_state;    // GET /api/v1/bookie/gc
  std::function<Result<nlohmann::json>()> gc_details;  // GET /api/v1/bookie/gc_details
  // Suspends (or resumes) the kinds of compaction named; answers like compaction_suspension.
  std::function<Result<nlohmann::json>(bool suspend, bool major, bool minor)> suspend_compaction;
  std::function<Result<nlohmann::json>()> compaction_suspension;  // which kinds are suspended
  // Autorecovery (docs/autorecovery.md): the cluster's state, its switch, the marked ledgers and
  // the auditor.
  std::function<Result<nlohmann::json>()> autorecovery_status;
  std::function<Result<nlohmann::json>(bool enabled)> set_autorecovery;
  std::function<Result<nlohmann::json>()> list_under_replicated;
  std::function<Result<nlohmann::json>()> who_is_auditor;
};

struct AdminResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string allow;  // a 405: the methods the path takes, for the Allow header ("GET, HEAD")
  std::string www_authenticate;  // a 401: the WWW-Authenticate header, if any
};

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kTextContentType = "text/plain; charset=utf-8";

// `method` as sent ("GET"), `target` the request target ("/metrics?x=1"), `body` the request
// body (empty if none).
AdminResponse RouteAdminRequest(std::string_view method, std::string_view target,
                                std::string_view body, const AdminHandlers& handlers);

// A JSON error body {"error": message} with the given status.
AdminResponse AdminError(int status, std::string_view message);

}  // namespace quire::bookie
