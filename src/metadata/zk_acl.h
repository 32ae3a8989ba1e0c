// ZooKeeper digest ACLs for the zk:// driver (docs/security.md, "ZooKeeper").
//
// With credentials, every session adds them (zoo_add_auth, scheme "digest") and every node Quire
// creates gets an ACL that grants ALL to each credential's identity and nothing to anyone else
// (not even READ: ledger metadata names the bookies and holds each ledger's password hash). A
// session without the credentials then gets ZNOAUTH (kUnauthorized) on those nodes, at once.
// Without credentials, nodes are created open (OPEN_ACL_UNSAFE), as before.
//
// Where the credentials come from, for every program alike (bookie, client library, CLI, bench,
// autorecovery): MetadataOptions::zk_acl_credentials_file (the bookie's zkAclCredentialsFile,
// ClientOptions::metadata_credentials_file), else the file named by
// $QUIRE_ZK_ACL_CREDENTIALS_FILE, else none. The file holds lines "user:password" (the password
// may hold ':'); blank lines and lines starting with '#' are skipped. Nodes that exist already
// keep their ACL: credentials protect what is created once they are given.
#pragma once

#include <zookeeper/zookeeper.h>

#include <string>
#include <string_view>
#include <vector>

#include "metadata/metadata_store.h"
#include "quire/status.h"

namespace quire::metadata {

inline constexpr const char* kZkAclCredentialsFileVariable = "QUIRE_ZK_ACL_CREDENTIALS_FILE";

struct ZkCredentials {
  std::vector<std::string> auths;  // "user:password", for zoo_add_auth
  std::vector<std::string> ids;    // "user:<ZkDigest>", the ACL identities
  std::string file;                // where they came from ("" if nowhere)
  bool empty() const { return auths.empty(); }
};

// The credentials `options` lead to (see the top of the file). kIOError naming the file when it
// cannot be read; kInvalidArgument naming the file and line (never its content) for a line that
// is not "user:password", or a file with no credential in it.
Result<ZkCredentials> LoadZkCredentials(const MetadataOptions& options);

// ZooKeeper's digest identity of "user:password": base64(sha1("user:password")).
std::string ZkDigest(std::string_view user_password);

// The ACL for new nodes: ALL to each identity of `credentials`; OPEN_ACL_UNSAFE without any.
// Owns the memory the C client's ACL_vector points into. Immutable once made.
class ZkAcl {
 public:
  explicit ZkAcl(const ZkCredentials& credentials);
  ZkAcl(const ZkAcl&) = delete;
  ZkAcl& operator=(const ZkAcl&) = delete;
  ACL_vector* get() { return acls_.empty() ? &ZOO_OPEN_ACL_UNSAFE : &vector_; }

 private:
  std::vector<std::string> ids_;
  std::string scheme_ = "digest";
  std::vector<ACL> acls_;
  ACL_vector vector_{};
};

}  // namespace quire::metadata
