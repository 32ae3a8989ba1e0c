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

// The JSON object of a PUT body, or why it is not one.
Result<nlohmann::json> BodyObject(std::string_view body, std::string_view example) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    return Status(StatusCode::kBadRequest, fmt::format("the body is not JSON: {}", e.what()));
  }
  if (!j.is_object()) {
    return Status(StatusCode::kBadRequest,
                  fmt::format("the body must be a JSON object, e.g. {}", example));
  }
  return j;
}

// The compaction a PUT /api/v1/bookie/gc body asks for (see the header), or why the body is bad.
Result<std::string_view> CompactionAsked(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return "major"sv;
  QUIRE_ASSIGN_OR_RETURN(
      nlohmann::json j,
      BodyObject(body, "{\"forceMajor\": true} or {\"compaction\": \"minor\"}"));
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

// The kinds of compaction a suspend_compaction (`verb` "suspend") or resume_compaction ("resume")
// body names: BookKeeper's {"<verb>Major": "true", "<verb>Minor": "true"} (a JSON boolean is
// taken too); an empty body names both.
struct KindsNamed {
  bool major = true;
  bool minor = true;
};
Result<KindsNamed> CompactionKindsNamed(std::string_view body, std::string_view verb) {
  const std::string major_key = fmt::format("{}Major", verb);
  const std::string minor_key = fmt::format("{}Minor", verb);
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return KindsNamed{};
  QUIRE_ASSIGN_OR_RETURN(
      nlohmann::json j,
      BodyObject(body, fmt::format(R"({{"{}": "true", "{}": "true"}})", major_key, minor_key)));
  KindsNamed kinds{false, false};
  for (const auto& [key, value] : j.items()) {
    if (key != major_key && key != minor_key) {
      return Status(StatusCode::kBadRequest,
                    fmt::format("unknown key \"{}\" (known: {}, {})", key, major_key, minor_key));
    }
    bool yes = false;
    if (value.is_boolean()) {
      yes = value.get<bool>();
    } else if (value.is_string() && (value == "true" || value == "false")) {
      yes = value == "true";
    } else {
      return Status(StatusCode::kBadRequest, fmt::format("{} must be \"true\" or \"false\"", key));
    }
    (key == major_key ? kinds.major : kinds.minor) = yes;
  }
  return kinds;
}

// The value of query parameter `name` in `query` (the text after '?'), or nullopt. Our
// parameters' values are plain words, so no percent-decoding is needed.
std::optional<std::string_view> Param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// A boolean query parameter: absent or "false" is false, "true" is true, anything else an error.
Result<bool> FlagParam(std::string_view query, std::string_view name) {
  std::optional<std::string_view> v = Param(query, name);
  if (!v || *v == "false") return false;
  if (*v == "true") return true;
  return Status(StatusCode::kBadRequest,
                fmt::format("{} must be true or false, not \"{}\"", name, *v));
}

struct Request {
  std::string_view query;  // after '?', or empty
  std::string_view body;   // PUT only
};

AdminResponse Metrics(const AdminHandlers& h, const Request&) {
  return {200, std::string(kPrometheusContentType), h.metrics_text(), {}};
}
AdminResponse Info(const AdminHandlers& h, const Request&) { return Json(200, h.info()); }
AdminResponse State(const AdminHandlers& h, const Request&) { return Json(200, h.state()); }
AdminResponse Live(const AdminHandlers&, const Request&) {
  return Json(200, {{"status", "live"}});
}
AdminResponse Ready(const AdminHandlers& h, const Request&) {
  std::string reason;
  if (h.ready(&reason)) return Json(200, {{"status", "ready"}});
  return Json(503, {{"status", "not-ready"}, {"reason", reason}});
}
AdminResponse Heartbeat(const AdminHandlers&, const Request&) {
  return {200, std::string(kTextContentType), "OK\n", {}};
}
AdminResponse ReadOnly(const AdminHandlers& h, const Request&) { return FromResult(h.read_only()); }
AdminResponse SetReadOnly(const AdminHandlers& h, const Request& r) {
  constexpr std::string_view kExample = "{\"readOnly\": true}";
  Result<nlohmann::json> j = BodyObject(r.body, kExample);
  if (!j.ok()) return AdminError(400, j.status().message());
  auto it = j->find("readOnly");
  if (j->size() != 1 || it == j->end() || !it->is_boolean()) {
    return AdminError(400, fmt::format("the body must be {} or {{\"readOnly\": false}}", kExample));
  }
  return FromResult(h.set_read_only(it->get<bool>()));
}
AdminResponse ListBookies(const AdminHandlers& h, const Request& r) {
  std::optional<std::string_view> type = Param(r.query, "type");
  if (type && *type != "rw" && *type != "ro") {
    return AdminError(400, fmt::format("type must be rw or ro, not \"{}\"", *type));
  }
  Result<bool> hostnames = FlagParam(r.query, "print_hostnames");
  if (!hostnames.ok()) return AdminError(400, hostnames.status().message());
  return FromResult(h.list_bookies(type == "ro", *hostnames));
}
AdminResponse ListLedgers(const AdminHandlers& h, const Request& r) {
  Result<bool> metadata = FlagParam(r.query, "print_metadata");
  if (!metadata.ok()) return AdminError(400, metadata.status().message());
  if (*metadata) {
    return AdminError(400, "print_metadata is not supported: `quire ledger show ID` prints a "
                           "ledger's metadata");
  }
  return FromResult(h.list_ledgers());
}
AdminResponse GcState(const AdminHandlers& h, const Request&) { return FromResult(h.gc_state()); }
AdminResponse GcDetails(const AdminHandlers& h, const Request&) {
  return FromResult(h.gc_details());
}
AdminResponse TriggerGc(const AdminHandlers& h, const Request& r) {
  Result<std::string_view> compaction = CompactionAsked(r.body);
  if (!compaction.ok()) return AdminError(400, compaction.status().message());
  return FromResult(h.trigger_gc(*compaction));
}

AdminResponse CompactionSuspension(const AdminHandlers& h, const Request&) {
  return FromResult(h.compaction_suspension());
}
AdminResponse SuspendOrResume(const AdminHandlers& h, std::string_view body, bool suspend) {
  Result<KindsNamed> kinds = CompactionKindsNamed(body, suspend ? "suspend" : "resume");
  if (!kinds.ok()) return AdminError(400, kinds.status().message());
  return FromResult(h.suspend_compaction(suspend, kinds->major, kinds->minor));
}
AdminResponse SuspendCompaction(const AdminHandlers& h, const Request& r) {
  return SuspendOrResume(h, r.body, true);
}
AdminResponse ResumeCompaction(const AdminHandlers& h, const Request& r) {
  return SuspendOrResume(h, r.body, false);
}

AdminResponse AutoRecoveryStatus(const AdminHandlers& h, const Request&) {
  return FromResult(h.autorecovery_status());
}
AdminResponse SetAutoRecovery(const AdminHandlers& h, const Request& r) {
  constexpr std::string_view kExample = "{\"enabled\": true}";
  Result<nlohmann::json> j = BodyObject(r.body, kExample);
  if (!j.ok()) return AdminError(400, j.status().message());
  auto it = j->find("enabled");
  if (j->size() != 1 || it == j->end() || !it->is_boolean()) {
    return AdminError(400, fmt::format("the body must be {} or {{\"enabled\": false}}", kExample));
  }
  return FromResult(h.set_autorecovery(it->get<bool>()));
}
AdminResponse ListUnderReplicated(const AdminHandlers& h, const Request&) {
  return FromResult(h.list_under_replicated());
}
AdminResponse WhoIsAuditor(const AdminHandlers& h, const Request&) {
  return FromResult(h.who_is_auditor());
}

using Handler = AdminResponse (*)(const AdminHandlers&, const Request&);
struct Route {
  std::string_view path;
  Handler get;  // GET and HEAD
  Handler put;  // nullptr: no PUT
};
constexpr Route kRoutes[] = {
    {"/metrics", Metrics, nullptr},
    {"/api/v1/bookie/info", Info, nullptr},
    {"/api/v1/bookie/state", State, nullptr},
    {"/health/live", Live, nullptr},
    {"/health/ready", Ready, nullptr},
    {"/health", Ready, nullptr},
    {"/heartbeat", Heartbeat, nullptr},
    {"/api/v1/bookie/state/readonly", ReadOnly, SetReadOnly},
    {"/api/v1/bookie/list_bookies", ListBookies, nullptr},
    {"/api/v1/bookie/list_ledger", ListLedgers, nullptr},
    {"/api/v1/ledger/list", ListLedgers, nullptr},
    {"/api/v1/bookie/gc", GcState, TriggerGc},
    {"/api/v1/bookie/gc_details", GcDetails, nullptr},
    {"/api/v1/bookie/gc/suspend_compaction", CompactionSuspension, SuspendCompaction},
    {"/api/v1/bookie/gc/resume_compaction", CompactionSuspension, ResumeCompaction},
    {"/api/v1/autorecovery/status", AutoRecoveryStatus, SetAutoRecovery},
    {"/api/v1/autorecovery/list_under_replicated_ledger", ListUnderReplicated, nullptr},
    {"/api/v1/autorecovery/who_is_auditor", WhoIsAuditor, nullptr},
};

AdminResponse Serve(const Route& route, std::string_view method, const Request& request,
                    const AdminHandlers& handlers) {
  if (method == "GET" || method == "HEAD") return route.get(handlers, request);
  if (method == "PUT" && route.put != nullptr) return route.put(handlers, request);
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
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  Request request{query, body};
  const Route* route = nullptr;
  for (const Route& r : kRoutes) {
    if (r.path == path) route = &r;
  }
  if (route == nullptr) return Json(404, {{"error", "not found"}, {"path", path}});
  // The handlers are the daemon's code: a throw there is its bug, but it must not take the admin
  // endpoint (or the process) down with it.
  try {
    return Serve(*route, method, request, handlers);
  } catch (const std::exception& e) {
    spdlog::error("admin HTTP {}: handler failed: {}", path, e.what());
    return AdminError(500, e.what());
  } catch (...) {
    spdlog::error("admin HTTP {}: handler failed with a non-standard exception", path);
    return AdminError(500, "internal error");
  }
}

}  // namespace quire::bookie
