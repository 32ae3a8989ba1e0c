#include "bookie/authorization.h"

#include <algorithm>

#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include "protocol/protocol.h"

namespace quire::bookie {

namespace {

std::string Asn1String(const ASN1_STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
}

}  // namespace

Principal Principal::FromCertificate(X509* cert) {
  Principal p;
  if (cert == nullptr) return p;
  X509_NAME* subject = X509_get_subject_name(cert);
  for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_commonName, i)) {
    p.names.push_back(Asn1String(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i))));
  }
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      if (name->type == GEN_DNS) p.names.push_back(Asn1String(name->d.dNSName));
      if (name->type == GEN_URI) p.names.push_back(Asn1String(name->d.uniformResourceIdentifier));
    }
    GENERAL_NAMES_free(sans);
  }
  return p;
}

std::string Principal::Describe() const {
  if (names.empty()) return "an anonymous client (no client certificate)";
  return fmt::format("principal '{}'", names.front());
}

Permission RequiredPermission(const proto::Request& request) {
  switch (request.header().operation()) {
    case proto::ADD_ENTRY:
    case proto::BATCH_ADD:
    case proto::WRITE_LAC:
    case proto::FORCE_LEDGER:
      return Permission::kWrite;
    case proto::READ_ENTRY:
      // A fencing read ends the writer's ledger (recovery): BookKeeper counts it as a write too.
      return request.read().fence() ? Permission::kWrite : Permission::kRead;
    case proto::BOOKIE_INFO:
      return Permission::kAdmin;
    default:
      return Permission::kRead;
  }
}

std::string Authorizer::Refusal(const Principal& principal, const proto::Request& request) const {
  Permission needed = RequiredPermission(request);
  const std::vector<std::string>& allowed = needed == Permission::kWrite ? options_.write_roles
                                            : needed == Permission::kRead ? options_.read_roles
                                                                          : options_.admin_roles;
  if (allowed.empty()) return "";
  for (const std::string& name : principal.names) {
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) return "";
  }
  const char* permission = needed == Permission::kWrite ? "write"
                           : needed == Permission::kRead ? "read"
                                                         : "admin";
  const char* key = needed == Permission::kWrite ? "authorizedWriteRoles"
                    : needed == Permission::kRead ? "authorizedReadRoles"
                                                  : "authorizedAdminRoles";
  std::string operation(protocol::OperationName(request.header().operation()));
  if (request.header().operation() == proto::READ_ENTRY && request.read().fence()) {
    operation = "fencing read";
  }
  return fmt::format("{} is not allowed {} requests on this bookie: they need {} permission, and "
                     "{} does not list it",
                     principal.Describe(), operation, permission, key);
}

std::vector<std::string> SplitRoles(const std::string& list) {
  std::vector<std::string> roles;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    size_t first = item.find_first_not_of(" \t");
    size_t last = item.find_last_not_of(" \t");
    if (first != std::string::npos) roles.push_back(item.substr(first, last - first + 1));
    start = comma + 1;
  }
  return roles;
}

}  // namespace quire::bookie
