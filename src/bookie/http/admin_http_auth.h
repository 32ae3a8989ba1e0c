// Who may call the admin HTTP endpoint (docs/security.md, "Admin HTTP"), without any I/O.
//
// Authentication is on once the bookie has tlsClientAuthentication (mutual TLS) or a token
// (httpServerAuthTokenFile); with neither, every endpoint is open, as before. When it is on, a
// request that changes something (every PUT) must come either over TLS with a client certificate
// that the handshake verified against tlsTrustStorePath (only with tlsClientAuthentication), or
// with the header "Authorization: Bearer <token>"; else it is refused 401 with a JSON error and
// "WWW-Authenticate: Bearer". Read-only requests (GET, HEAD) stay open unless
// httpServerAuthReadEndpoints is true; even then the probes (/health, /health/live,
// /health/ready, /heartbeat) stay open, so that an orchestrator needs no secret.
//
// The token is compared in constant time (CRYPTO_memcmp over equal lengths).
//
// Thread safety: immutable after construction.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bookie/http/admin_http_routes.h"
#include "quire/status.h"

namespace quire::bookie {

struct AdminAuthOptions {
  std::string token;                // httpServerAuthTokenFile's token; empty: no token
  bool client_certificates = false;  // tlsClientAuthentication: a verified certificate counts
  bool read_endpoints = false;       // httpServerAuthReadEndpoints: GET and HEAD need it too
  bool enabled() const { return !token.empty() || client_certificates; }
};

// How a request arrived, as far as authentication goes.
struct AdminCaller {
  bool verified_certificate = false;  // TLS, with a client certificate the handshake verified
  std::string_view authorization;     // the Authorization header, "" if none
};

// The 401 answer for a request that must authenticate and did not; nullopt when it may go on.
std::optional<AdminResponse> RefuseUnauthenticated(const AdminAuthOptions& auth,
                                                   std::string_view method,
                                                   std::string_view target,
                                                   const AdminCaller& caller);

// The token in the first line of `path` (a trailing "\r" and surrounding blanks dropped).
// kIOError naming the file when it cannot be read, kInvalidArgument when its first line is empty.
Result<std::string> ReadAdminToken(const std::string& path);

}  // namespace quire::bookie
