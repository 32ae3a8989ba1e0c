#include "metadata/zk_acl.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdlib>

#include "common/secret_file.h"

namespace quire::metadata {

std::string ZkDigest(std::string_view user_password) {
  unsigned char sha[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(user_password.data()), user_password.size(), sha);
  unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(b64, sha, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(b64), static_cast<size_t>(n));
}

Result<ZkCredentials> LoadZkCredentials(const MetadataOptions& options) {
  ZkCredentials c;
  c.file = options.zk_acl_credentials_file;
  if (c.file.empty()) {
    const char* env = std::getenv(kZkAclCredentialsFileVariable);
    c.file = env ? env : "";
  }
  if (c.file.empty()) return c;
  QUIRE_ASSIGN_OR_RETURN(std::vector<std::string> lines,
                         ReadSecretLines(c.file, "the ZooKeeper ACL credentials file"));
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(':');
    if (colon == 0 || colon == std::string::npos || colon + 1 == line.size()) {
      return InvalidArgument(fmt::format(
          "the ZooKeeper ACL credentials file {}, line {}: not \"user:password\"", c.file, i + 1));
    }
    c.auths.push_back(line);
    c.ids.push_back(fmt::format("{}:{}", line.substr(0, colon), ZkDigest(line)));
  }
  if (c.auths.empty()) {
    return InvalidArgument(fmt::format(
        "the ZooKeeper ACL credentials file {} holds no \"user:password\" line", c.file));
  }
  return c;
}

ZkAcl::ZkAcl(const ZkCredentials& credentials) : ids_(credentials.ids) {
  for (std::string& id : ids_) acls_.push_back(ACL{ZOO_PERM_ALL, Id{scheme_.data(), id.data()}});
  vector_.count = static_cast<int32_t>(acls_.size());
  vector_.data = acls_.data();
}

}  // namespace quire::metadata
