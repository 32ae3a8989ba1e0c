// Who may do what on the bookie port (docs/security.md, "Principals and permissions").
//
// A client's principal comes from the certificate it presented in the TLS handshake (verified
// against tlsTrustStorePath): its names are the subject's CN and every DNS and URI subject alt
// name. A client without a certificate (plaintext, or TLS without one) is anonymous: it has no
// names. Each request needs one permission:
//
//   write: ADD_ENTRY, BATCH_ADD, WRITE_LAC, FORCE_LEDGER, and READ_ENTRY with fence (recovery)
//   read:  READ_ENTRY (long polls included), READ_LAC, LIST_ENTRIES
//   admin: BOOKIE_INFO
//
// and each permission has an allow-list (authorizedWriteRoles, authorizedReadRoles,
// authorizedAdminRoles). An empty list allows everyone (the default: no list, no checks); a
// non-empty one allows a client one of whose names it lists. A refused request is answered
// UNAUTHORIZED, naming the principal and the operation; the connection stays open.
//
// Thread safety: immutable after construction.
#pragma once

#include <string>
#include <vector>

#include <openssl/x509.h>

#include "bookie.pb.h"

namespace quire::bookie {

struct AuthorizationOptions {
  std::vector<std::string> write_roles;  // authorizedWriteRoles
  std::vector<std::string> read_roles;   // authorizedReadRoles
  std::vector<std::string> admin_roles;  // authorizedAdminRoles

  bool any() const { return !write_roles.empty() || !read_roles.empty() || !admin_roles.empty(); }
};

// A client's identity: the names its certificate gives (CN first), none when anonymous.
struct Principal {
  std::vector<std::string> names;

  // The names of a verified client certificate; `cert` may be null (anonymous).
  static Principal FromCertificate(X509* cert);
  // "'reader'" (its first name, the CN when there is one) or "an anonymous client (no client
  // certificate)", for messages.
  std::string Describe() const;
};

enum class Permission { kWrite, kRead, kAdmin };

// The permission `request` (a valid one) needs.
Permission RequiredPermission(const proto::Request& request);

class Authorizer {
 public:
  explicit Authorizer(AuthorizationOptions options) : options_(std::move(options)) {}

  // Empty when `principal` may send `request`; else why not, for the UNAUTHORIZED answer
  // ("principal 'reader' is not allowed add requests on this bookie: they need write
  // permission, and authorizedWriteRoles does not list it").
  std::string Refusal(const Principal& principal, const proto::Request& request) const;

 private:
  const AuthorizationOptions options_;
};

// "a, b,c" -> {"a", "b", "c"}: a comma-separated list, each item trimmed, empty ones dropped.
std::vector<std::string> SplitRoles(const std::string& list);

}  // namespace quire::bookie
