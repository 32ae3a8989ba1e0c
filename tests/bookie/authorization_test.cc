// Principals and permissions (bookie/authorization.h): names from real certificates (a throw-away
// CA), which request needs which permission, and the refusal's words.
#include "bookie/authorization.h"

#include <gtest/gtest.h>

#include <cstdio>

#include <openssl/pem.h>

#include "util/temp_dir.h"
#include "util/test_ca.h"

namespace quire::bookie {
namespace {

proto::Request RequestOf(proto::Operation op, bool fence = false) {
  proto::Request r;
  r.mutable_header()->set_operation(op);
  if (op == proto::READ_ENTRY) r.mutable_read()->set_fence(fence);
  return r;
}

Principal PrincipalOfFile(const std::string& pem) {
  FILE* f = std::fopen(pem.c_str(), "r");
  EXPECT_NE(f, nullptr) << pem;
  if (f == nullptr) return {};
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  Principal p = Principal::FromCertificate(cert);
  X509_free(cert);
  return p;
}

TEST(AuthorizationTest, ACertificatesNamesAreItsCnAndItsDnsAndUriAltNames) {
  quire::testing::TempDir dir("quire-authorization-test");
  auto ca = quire::testing::TestCa::Create(dir.Sub("ca"), "authz-ca");
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  auto cert = ca->Issue("app-7", "DNS:app.example,URI:spiffe://quire/app,IP:10.1.2.3");
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  Principal p = PrincipalOfFile(cert->certificate_path);
  EXPECT_EQ(p.names, (std::vector<std::string>{"app-7", "app.example", "spiffe://quire/app"}));
  EXPECT_EQ(p.Describe(), "principal 'app-7'");
  EXPECT_TRUE(Principal::FromCertificate(nullptr).names.empty());
}

TEST(AuthorizationTest, EachRequestNeedsItsPermission) {
  EXPECT_EQ(RequiredPermission(RequestOf(proto::ADD_ENTRY)), Permission::kWrite);
  EXPECT_EQ(RequiredPermission(RequestOf(proto::BATCH_ADD)), Permission::kWrite);
  EXPECT_EQ(RequiredPermission(RequestOf(proto::WRITE_LAC)), Permission::kWrite);
  EXPECT_EQ(RequiredPermission(RequestOf(proto::FORCE_LEDGER)), Permission::kWrite);
  EXPECT_EQ(RequiredPermission(RequestOf(proto::READ_ENTRY, true)), Permission::kWrite);
  EXPECT_EQ(RequiredPermission(RequestOf(proto::READ_ENTRY)), Permission::kRead);
  EXPECT_EQ(RequiredPermission(RequestOf(proto::READ_LAC)), Permission::kRead);
  EXPECT_EQ(RequiredPermission(RequestOf(proto::LIST_ENTRIES)), Permission::kRead);
  EXPECT_EQ(RequiredPermission(RequestOf(proto::BOOKIE_INFO)), Permission::kAdmin);
}

TEST(AuthorizationTest, ListsAllowTheNamesTheyListAndEmptyListsAllowEveryone) {
  Principal writer{{"writer"}}, reader{{"reader", "reader.example"}}, anonymous;
  Authorizer open({});
  EXPECT_EQ(open.Refusal(anonymous, RequestOf(proto::ADD_ENTRY)), "");
  Authorizer lists({.write_roles = SplitRoles("writer, ops"),
                    .read_roles = SplitRoles(" writer ,reader.example,,"),
                    .admin_roles = {}});
  EXPECT_EQ(lists.Refusal(writer, RequestOf(proto::ADD_ENTRY)), "");
  EXPECT_EQ(lists.Refusal(reader, RequestOf(proto::READ_ENTRY)), "");  // by its DNS name
  EXPECT_EQ(lists.Refusal(anonymous, RequestOf(proto::BOOKIE_INFO)), "");  // no admin list
  EXPECT_EQ(lists.Refusal(reader, RequestOf(proto::ADD_ENTRY)),
            "principal 'reader' is not allowed add requests on this bookie: they need write "
            "permission, and authorizedWriteRoles does not list it");
  EXPECT_NE(lists.Refusal(reader, RequestOf(proto::READ_ENTRY, true)).find("fencing read"),
            std::string::npos);
  EXPECT_NE(lists.Refusal(anonymous, RequestOf(proto::READ_LAC)).find("an anonymous client"),
            std::string::npos);
}

}  // namespace
}  // namespace quire::bookie
