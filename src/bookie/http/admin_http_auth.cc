#include "bookie/http/admin_http_auth.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include "common/secret_file.h"

namespace quire::bookie {
namespace {

bool IsProbe(std::string_view path) {
  return path == "/health" || path == "/health/live" || path == "/health/ready" ||
         path == "/heartbeat";
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// The header carries `token` as a bearer token. The comparison does not stop at the first
// differing byte, so its time tells nothing about how much of a guess was right.
bool BearerMatches(std::string_view header, const std::string& token) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {  // the scheme is case-insensitive (RFC 7235)
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  std::string_view given = Trim(header.substr(kScheme.size()));
  if (given.size() != token.size()) return false;
  return CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
}

}  // namespace

std::optional<AdminResponse> RefuseUnauthenticated(const AdminAuthOptions& auth,
                                                   std::string_view method,
                                                   std::string_view target,
                                                   const AdminCaller& caller) {
  if (!auth.enabled()) return std::nullopt;
  bool reads = method == "GET" || method == "HEAD";
  std::string_view path = target.substr(0, target.find('?'));
  if (reads && (!auth.read_endpoints || IsProbe(path))) return std::nullopt;
  if (auth.client_certificates && caller.verified_certificate) return std::nullopt;
  if (!auth.token.empty() && BearerMatches(caller.authorization, auth.token)) return std::nullopt;
  std::string how = auth.client_certificates && !auth.token.empty()
                        ? "a client certificate (mutual TLS) or an Authorization: Bearer token"
                    : auth.client_certificates ? "a client certificate (mutual TLS)"
                                               : "an Authorization: Bearer token";
  AdminResponse r = AdminError(
      401, fmt::format("{} {} needs authentication: {}{}", method, path, how,
                       caller.authorization.empty() ? "" : " (the token given is not valid)"));
  r.www_authenticate = auth.token.empty() ? "" : "Bearer realm=\"quire-bookie\"";
  return r;
}

Result<std::string> ReadAdminToken(const std::string& path) {
  QUIRE_ASSIGN_OR_RETURN(std::string line, ReadSecretLine(path, "httpServerAuthTokenFile"));
  std::string token(Trim(line));
  if (token.empty()) {
    return InvalidArgument(
        fmt::format("httpServerAuthTokenFile {}: its first line holds no token", path));
  }
  return token;
}

}  // namespace quire::bookie
