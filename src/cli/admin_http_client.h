// A small synchronous client for the bookies' admin HTTP endpoint (src/bookie/http), for commands
// such as `quire bookie gc` and `quire bookie readonly`. One request per connection; every call ends within its timeout
// (name resolution excepted: a host name is resolved by the system resolver, with its own limits).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "quire/client.h"
#include "quire/status.h"

namespace quire::cli {

struct AdminEndpoint {
  std::string host;  // a name or a numeric address (IPv6 without brackets)
  uint16_t port = 0;
  // "http://host:port", for messages.
  std::string ToString() const;
};

// The admin endpoint of bookie `bookie_id` ("host:port" or "[v6]:port") whose admin HTTP port is
// `http_port` (BookieInfo::http_port): the bookie id's host with that port.
AdminEndpoint AdminEndpointOf(std::string_view bookie_id, uint16_t http_port);

// The admin endpoint of a running bookie: asks it over the bookie protocol for the admin HTTP port
// it serves (BOOKIE_INFO). kFailedPrecondition when it reports none (its admin endpoint is off, or
// it is older than this command); the bookie's own error when it cannot be asked.
Result<AdminEndpoint> FindAdminEndpoint(Client& client, const BookieId& bookie_id);

// Sends `method target` (with `body` as JSON if not empty) and returns the JSON of a 200 answer.
// Errors name the endpoint: kUnavailable when it cannot be reached or the connection fails,
// kTimeout when no answer came within `timeout`, kUnavailable for a 503 (the bookie is starting
// or stopping), kBadRequest for another status (with the bookie's {"error": ...} message) or an
// answer that is not JSON.
Result<nlohmann::json> CallAdminJson(const AdminEndpoint& endpoint, std::string_view method,
                                     std::string_view target, std::string_view body,
                                     std::chrono::milliseconds timeout);

}  // namespace quire::cli
