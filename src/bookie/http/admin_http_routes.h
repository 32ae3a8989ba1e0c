// What the admin HTTP server answers, without any I/O: a request line in, a response out.
//
// Routes (GET; HEAD gets the same status and headers without a body):
//   /metrics             200, Prometheus text 0.0.4 from AdminHandlers::metrics_text
//   /api/v1/bookie/info  200, JSON from AdminHandlers::info
//   /api/v1/bookie/state 200, JSON from AdminHandlers::state
//   /health              200 {"status":"writable"} or 503 {"status":"read-only","reason":...}
// A known path with another method is 405 (with Allow), anything else 404; a handler that throws
// is 500. Error bodies are JSON: {"error": "...", ...}. The query string is ignored.
#pragma once

#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace quire::bookie {

// Callbacks supplied by the daemon. All four are required. They run on the server's "q-http-N"
// threads, one request at a time per connection but concurrently across connections when the
// server has several threads, so they must be thread-safe and should not block for long.
// An exception they throw becomes a 500 answer; it never escapes the server.
struct AdminHandlers {
  std::function<std::string()> metrics_text;          // the whole /metrics body
  std::function<nlohmann::json()> info;               // static facts: id, version, ports, dirs
  std::function<nlohmann::json()> state;              // dynamic state: writable, ledgers, disks
  std::function<bool(std::string* reason)> writable;  // false: sets *reason (e.g. "disk full")
};

struct AdminResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  bool allow_header = false;  // a 405: the server adds "Allow: GET, HEAD"
};

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kJsonContentType = "application/json";

// `method` as sent ("GET"), `target` the request target ("/metrics?x=1").
AdminResponse RouteAdminRequest(std::string_view method, std::string_view target,
                                const AdminHandlers& handlers);

// A JSON error body {"error": message} with the given status.
AdminResponse AdminError(int status, std::string_view message);

}  // namespace quire::bookie
