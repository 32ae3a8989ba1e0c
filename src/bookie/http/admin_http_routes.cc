#include "bookie/http/admin_http_routes.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <nlohmann/json.hpp>

namespace quire::bookie {
namespace {

// Data in the JSON (a reason, a directory name) may not be valid UTF-8; replace rather than throw.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

AdminResponse Json(int status, const nlohmann::json& j) {
  return {status, std::string(kJsonContentType), Dump(j) + "\n", false};
}

AdminResponse Metrics(const AdminHandlers& h) {
  return {200, std::string(kPrometheusContentType), h.metrics_text(), false};
}
AdminResponse Info(const AdminHandlers& h) { return Json(200, h.info()); }
AdminResponse State(const AdminHandlers& h) { return Json(200, h.state()); }
AdminResponse Health(const AdminHandlers& h) {
  std::string reason;
  if (h.writable(&reason)) return Json(200, {{"status", "writable"}});
  return Json(503, {{"status", "read-only"}, {"reason", reason}});
}

struct Route {
  std::string_view path;
  AdminResponse (*serve)(const AdminHandlers&);
};
constexpr Route kRoutes[] = {
    {"/metrics", Metrics},
    {"/api/v1/bookie/info", Info},
    {"/api/v1/bookie/state", State},
    {"/health", Health},
};

}  // namespace

AdminResponse AdminError(int status, std::string_view message) {
  return Json(status, {{"error", message}});
}

AdminResponse RouteAdminRequest(std::string_view method, std::string_view target,
                                const AdminHandlers& handlers) {
  std::string_view path = target.substr(0, target.find('?'));
  const Route* route = nullptr;
  for (const Route& r : kRoutes) {
    if (r.path == path) route = &r;
  }
  if (route == nullptr) return Json(404, {{"error", "not found"}, {"path", path}});
  if (method != "GET" && method != "HEAD") {
    AdminResponse r = Json(405, {{"error", "method not allowed"}, {"method", method}});
    r.allow_header = true;
    return r;
  }
  // The handlers are the daemon's code: a throw there is its bug, but it must not take the admin
  // endpoint (or the process) down with it.
  try {
    return route->serve(handlers);
  } catch (const std::exception& e) {
    spdlog::error("admin HTTP {}: handler failed: {}", path, e.what());
    return AdminError(500, e.what());
  } catch (...) {
    spdlog::error("admin HTTP {}: handler failed with a non-standard exception", path);
    return AdminError(500, "internal error");
  }
}

}  // namespace quire::bookie
