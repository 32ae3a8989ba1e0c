#include "bookie/http/admin_http_routes.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <nlohmann/json.hpp>
#include <optional>

namespace quire::bookie {
namespace {

using namespace std::string_view_literals;

// Data in the JSON (a reason, a directory name) may not be valid UTF-8; replace rather than throw.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AdminResponse Json(int status, const nlohmann::json& j) {
  return {status, std::string(kJsonContentType), Dump(j) + "\n", {}};
}

// A handler's answer: its JSON, or its error as 503 ("not now") or 500.
AdminResponse FromResult(const Result<nlohmann::json>& r) {
  if (r.ok()) return Json(200, *r);
  const Status& s = r.status();
  bool not_now = s.Is(StatusCode::kUnavailable) || s.Is(StatusCode::kFailedPrecondition);
  return AdminError(not_now ? 503 : 500, s.message());
}

// The compaction a PUT /api/v1/bookie/gc body asks for (see the header), or why the body is bad.
Result<std::string_view> CompactionAsked(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return "major"sv;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return Status(StatusCode::kBadRequest, fmt::format("the body is not JSON: {}", e.what()));
  }
  if (!j.is_object()) {
    return Status(StatusCode::kBadRequest,
                  "the body must be a JSON object, e.g. {\"forceMajor\": true} or "
                  "{\"compaction\": \"minor\"}");
  }
  std::optional<bool> force_major, force_minor;
  std::optional<std::string> compaction;
  for (const auto& [key, value] : j.items()) {
    if (key == "forceMajor" || key == "forceMinor") {
      if (!value.is_boolean()) {
        return Status(StatusCode::kBadRequest, fmt::format("{} must be true or false", key));
      }
      (key == "forceMajor" ? force_major : force_minor) = value.get<bool>();
    } else if (key == "compaction") {
      if (!value.is_string()) {
        return Status(StatusCode::kBadRequest, "compaction must be \"none\", \"minor\" or \"major\"");
      }
      compaction = value.get<std::string>();
    } else {
      return Status(StatusCode::kBadRequest,
                    fmt::format("unknown key \"{}\" (known: forceMajor, forceMinor, compaction)",
                                key));
    }
  }
  if (compaction) {
    if (force_major || force_minor) {
      return Status(StatusCode::kBadRequest,
                    "give either compaction or forceMajor/forceMinor, not both");
    }
    for (std::string_view kind : {"none"sv, "minor"sv, "major"sv}) {
      if (*compaction == kind) return kind;
    }
    return Status(StatusCode::kBadRequest,
                  fmt::format("compaction must be \"none\", \"minor\" or \"major\", not \"{}\"",
                              *compaction));
  }
  // BookKeeper's flags: forceMajor wins; flags given but both false ask for no compaction.
  if (force_major.value_or(false)) return "major"sv;
  if (force_minor.value_or(false)) return "minor"sv;
  if (force_major || force_minor) return "none"sv;
  return "major"sv;
}

AdminResponse Metrics(const AdminHandlers& h) {
  return {200, std::string(kPrometheusContentType), h.metrics_text(), {}};
}
AdminResponse Info(const AdminHandlers& h) { return Json(200, h.info()); }
AdminResponse State(const AdminHandlers& h) { return Json(200, h.state()); }
AdminResponse Health(const AdminHandlers& h) {
  std::string reason;
  if (h.writable(&reason)) return Json(200, {{"status", "writable"}});
  return Json(503, {{"status", "read-only"}, {"reason", reason}});
}
AdminResponse GcState(const AdminHandlers& h) { return FromResult(h.gc_state()); }
AdminResponse GcDetails(const AdminHandlers& h) { return FromResult(h.gc_details()); }
AdminResponse TriggerGc(const AdminHandlers& h, std::string_view body) {
  Result<std::string_view> compaction = CompactionAsked(body);
  if (!compaction.ok()) return AdminError(400, compaction.status().message());
  return FromResult(h.trigger_gc(*compaction));
}

struct Route {
  std::string_view path;
  AdminResponse (*get)(const AdminHandlers&);                    // GET and HEAD
  AdminResponse (*put)(const AdminHandlers&, std::string_view);  // nullptr: no PUT
};
constexpr Route kRoutes[] = {
    {"/metrics", Metrics, nullptr},
    {"/api/v1/bookie/info", Info, nullptr},
    {"/api/v1/bookie/state", State, nullptr},
    {"/health", Health, nullptr},
    {"/api/v1/bookie/gc", GcState, TriggerGc},
    {"/api/v1/bookie/gc_details", GcDetails, nullptr},
};

AdminResponse Serve(const Route& route, std::string_view method, std::string_view body,
                    const AdminHandlers& handlers) {
  if (method == "GET" || method == "HEAD") return route.get(handlers);
  if (method == "PUT" && route.put != nullptr) return route.put(handlers, body);
  AdminResponse r = Json(405, {{"error", "method not allowed"}, {"method", method}});
  r.allow = route.put != nullptr ? "GET, HEAD, PUT" : "GET, HEAD";
  return r;
}

}  // namespace

AdminResponse AdminError(int status, std::string_view message) {
  return Json(status, {{"error", message}});
}

AdminResponse RouteAdminRequest(std::string_view method, std::string_view target,
                                std::string_view body, const AdminHandlers& handlers) {
  std::string_view path = target.substr(0, target.find('?'));
  const Route* route = nullptr;
  for (const Route& r : kRoutes) {
    if (r.path == path) route = &r;
  }
  if (route == nullptr) return Json(404, {{"error", "not found"}, {"path", path}});
  // The handlers are the daemon's code: a throw there is its bug, but it must not take the admin
  // endpoint (or the process) down with it.
  try {
    return Serve(*route, method, body, handlers);
  } catch (const std::exception& e) {
    spdlog::error("admin HTTP {}: handler failed: {}", path, e.what());
    return AdminError(500, e.what());
  } catch (...) {
    spdlog::error("admin HTTP {}: handler failed with a non-standard exception", path);
    return AdminError(500, "internal error");
  }
}

}  // namespace quire::bookie
