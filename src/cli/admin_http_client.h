// A small synchronous client for the bookies' admin HTTP endpoint (src/bookie/http), for commands
// such as `quire bookie gc` and `quire bookie readonly`. One request per connection; every call
// ends within its timeout (name resolution excepted: a host name is resolved by the system
// resolver, with its own limits).
//
// Security (docs/security.md, "Admin HTTP"): with the CLI's TLS flags (a CA: --tls-ca or
// $QUIRE_TLS_CA) it speaks HTTPS, checks the bookie's certificate against that CA and the bookie
// id's host, and presents --tls-cert/--tls-key if given (mutual TLS); with --admin-token-file (or
// $QUIRE_ADMIN_TOKEN_FILE) it sends "Authorization: Bearer <the file's first line>".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "common/tls.h"
#include "quire/client.h"
#include "quire/status.h"

namespace quire::cli {

// How to reach the admin endpoints: HTTPS or not, and the credentials.
struct AdminAccess {
  bool https = false;  // a CA is given (TlsFlags)
  TlsFiles tls;        // CA bundle, and the client certificate and key if any
  std::string token;   // bearer token; empty: none
};

// --admin-token-file, for the commands that call the admin endpoint.
struct AdminAccessFlags {
  std::string token_file;
  void AddTo(CLI::App* cmd);
  // The access from `g`'s TLS flags and the token file (else $QUIRE_ADMIN_TOKEN_FILE); kIOError
  // naming the file when it cannot be read, kInvalidArgument when its first line is empty.
  Result<AdminAccess> Resolve(const GlobalOptions& g) const;
};

struct AdminEndpoint {
  std::string host;  // a name or a numeric address (IPv6 without brackets)
  uint16_t port = 0;
  AdminAccess access;
  // "http://host:port" (or https://), for messages.
  std::string ToString() const;
};

// The admin endpoint of bookie `bookie_id` ("host:port" or "[v6]:port") whose admin HTTP port is
// `http_port` (BookieInfo::http_port): the bookie id's host with that port.
AdminEndpoint AdminEndpointOf(std::string_view bookie_id, uint16_t http_port,
                              AdminAccess access = {});

// The admin endpoint of a running bookie: asks it over the bookie protocol for the admin HTTP port
// it serves (BOOKIE_INFO). kFailedPrecondition when it reports none (its admin endpoint is off, or
// it is older than this command); the bookie's own error when it cannot be asked.
Result<AdminEndpoint> FindAdminEndpoint(Client& client, const BookieId& bookie_id,
                                        const AdminAccess& access);

// Sends `method target` (with `body` as JSON if not empty) and returns the JSON of a 200 answer.
// Errors name the endpoint: kUnavailable when it cannot be reached or the connection fails,
// kTimeout when no answer came within `timeout`, kUnauthenticated when the TLS handshake failed
// (with OpenSSL's reason) or the bookie answered 401, kUnavailable for a 503 (the bookie is starting
// or stopping), kBadRequest for another status (with the bookie's {"error": ...} message) or an
// answer that is not JSON.
Result<nlohmann::json> CallAdminJson(const AdminEndpoint& endpoint, std::string_view method,
                                     std::string_view target, std::string_view body,
                                     std::chrono::milliseconds timeout);

}  // namespace quire::cli
