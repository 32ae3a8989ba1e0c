// The admin HTTP endpoint's HTTPS and authentication (docs/security.md, "Admin HTTP"), end to
// end between the CLI's admin client (src/cli/admin_http_client.h) and a real AdminHttpServer,
// with real TLS handshakes and a throw-away CA.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "bookie/http/admin_http_server.h"
#include "cli/admin_http_client.h"
#include "common/tls_reload.h"
#include "util/temp_dir.h"
#include "util/test_ca.h"

namespace quire::cli {
namespace {

using bookie::AdminAuthOptions;
using bookie::AdminHandlers;
using bookie::AdminHttpOptions;
using bookie::AdminHttpServer;
using nlohmann::json;
using quire::testing::TestCa;
using quire::testing::TestCertificate;

constexpr std::chrono::seconds kTimeout{20};
constexpr std::string_view kToken = "s3cret-admin-token";

// Handlers that answer with constants; set_read_only remembers the last change.
AdminHandlers Handlers(bool* read_only) {
  AdminHandlers h;
  h.metrics_text = [] { return std::string("up 1\n"); };
  h.info = [] { return json{{"bookieId", "127.0.0.1:3181"}}; };
  h.state = [] { return json{{"writable", true}}; };
  h.ready = [](std::string*) { return true; };
  h.read_only = [read_only]() -> Result<json> { return json{{"readOnly", *read_only}}; };
  h.set_read_only = [read_only](bool on) -> Result<json> {
    *read_only = on;
    return json{{"readOnly", on}};
  };
  h.list_bookies = [](bool, bool) -> Result<json> { return json::object(); };
  h.list_ledgers = []() -> Result<json> { return json::object(); };
  h.trigger_gc = [](std::string_view) -> Result<json> { return json{{"passId", 1}}; };
  h.gc_state = []() -> Result<json> { return json{{"is_in_force_gc", false}}; };
  h.gc_details = []() -> Result<json> { return json{{"passes", json::array()}}; };
  h.suspend_compaction = [](bool, bool, bool) -> Result<json> { return json::object(); };
  h.compaction_suspension = []() -> Result<json> { return json::object(); };
  return h;
}

class AdminHttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = TestCa::Create(dir_.Sub("ca"), "admin-test-ca");
    ASSERT_TRUE(ca.ok()) << ca.status().ToString();
    ca_.emplace(std::move(*ca));
    auto other = TestCa::Create(dir_.Sub("other-ca"), "other-ca");
    ASSERT_TRUE(other.ok()) << other.status().ToString();
    other_ca_.emplace(std::move(*other));
    auto bookie = ca_->Issue("bookie", "IP:127.0.0.1");
    auto client = ca_->Issue("operator", "DNS:operator");
    auto stranger = other_ca_->Issue("stranger", "DNS:stranger");
    ASSERT_TRUE(bookie.ok() && client.ok() && stranger.ok());
    bookie_ = *bookie;
    client_ = *client;
    stranger_ = *stranger;
  }

  // A server on a free port; with `tls`, HTTPS with the bookie's certificate (client
  // certificates optional, verified against the CA when sent).
  void Start(bool tls, AdminAuthOptions auth) {
    AdminHttpOptions o;
    o.bind_address = "127.0.0.1";
    o.port = 0;
    o.auth = std::move(auth);
    if (tls) {
      auto context = ReloadingTlsContext::Make(
          TlsSide::kServer,
          TlsFiles{bookie_.certificate_path, bookie_.key_path, ca_->certificate_path()},
          TlsPeerCheck::kIfSent, std::chrono::seconds(0), "admin HTTP test");
      ASSERT_TRUE(context.ok()) << context.status().ToString();
      o.tls = std::move(*context);
    }
    auto server = AdminHttpServer::Start(o, Handlers(&read_only_));
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  AdminEndpoint Endpoint(AdminAccess access) const {
    return AdminEndpoint{"127.0.0.1", server_->port(), std::move(access)};
  }
  AdminAccess Https(const std::string& ca, const TestCertificate* cert = nullptr) const {
    AdminAccess a{.https = true};
    a.tls.trust_store_path = ca;
    if (cert != nullptr) {
      a.tls.certificate_path = cert->certificate_path;
      a.tls.key_path = cert->key_path;
    }
    return a;
  }
  Result<json> PutReadOnly(const AdminEndpoint& endpoint, bool on) {
    return CallAdminJson(endpoint, "PUT", "/api/v1/bookie/state/readonly",
                         json{{"readOnly", on}}.dump(), kTimeout);
  }

  quire::testing::TempDir dir_{"quire-admin-https-test"};
  std::optional<TestCa> ca_, other_ca_;
  TestCertificate bookie_, client_, stranger_;
  bool read_only_ = false;
  std::unique_ptr<AdminHttpServer> server_;
};

TEST_F(AdminHttpsTest, HttpsSucceedsWithTheCaAndFailsWithoutIt) {
  Start(/*tls=*/true, {});
  auto info = CallAdminJson(Endpoint(Https(ca_->certificate_path())), "GET",
                            "/api/v1/bookie/info", "", kTimeout);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ((*info)["bookieId"], "127.0.0.1:3181");

  // A CA that did not sign the bookie's certificate: the handshake fails, and says why.
  auto wrong_ca = CallAdminJson(Endpoint(Https(other_ca_->certificate_path())), "GET",
                                "/api/v1/bookie/info", "", kTimeout);
  ASSERT_FALSE(wrong_ca.ok());
  EXPECT_EQ(wrong_ca.status().code(), StatusCode::kUnauthenticated) << wrong_ca.status().ToString();
  EXPECT_NE(wrong_ca.status().message().find("certificate verify failed"), std::string::npos)
      << wrong_ca.status().ToString();

  // Plain HTTP on the HTTPS port: one answer that says so, not a hang.
  auto plain = CallAdminJson(Endpoint({}), "GET", "/api/v1/bookie/info", "", kTimeout);
  ASSERT_FALSE(plain.ok());
  EXPECT_NE(plain.status().message().find("HTTPS only"), std::string::npos)
      << plain.status().ToString();
}

TEST_F(AdminHttpsTest, APutNeedsTheTokenOnceOneIsConfigured) {
  Start(/*tls=*/false, AdminAuthOptions{.token = std::string(kToken)});
  auto anonymous = PutReadOnly(Endpoint({}), true);
  ASSERT_FALSE(anonymous.ok());
  EXPECT_EQ(anonymous.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(anonymous.status().message().find("HTTP 401"), std::string::npos)
      << anonymous.status().ToString();
  auto wrong = PutReadOnly(Endpoint(AdminAccess{.token = "s3cret-admin-tokeN"}), true);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(read_only_) << "a refused PUT changed the bookie";

  auto with_token = PutReadOnly(Endpoint(AdminAccess{.token = std::string(kToken)}), true);
  ASSERT_TRUE(with_token.ok()) << with_token.status().ToString();
  EXPECT_TRUE(read_only_);

  // Reads stay open (httpServerAuthReadEndpoints = false).
  auto state = CallAdminJson(Endpoint({}), "GET", "/api/v1/bookie/state/readonly", "", kTimeout);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
}

TEST_F(AdminHttpsTest, AVerifiedClientCertificateStandsForTheToken) {
  Start(/*tls=*/true, AdminAuthOptions{.client_certificates = true});
  auto without = PutReadOnly(Endpoint(Https(ca_->certificate_path())), true);
  ASSERT_FALSE(without.ok());
  EXPECT_NE(without.status().message().find("HTTP 401"), std::string::npos)
      << without.status().ToString();

  // A certificate from another CA fails the handshake: sent certificates are verified.
  auto stranger = PutReadOnly(Endpoint(Https(ca_->certificate_path(), &stranger_)), true);
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.status().code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(read_only_);

  auto with = PutReadOnly(Endpoint(Https(ca_->certificate_path(), &client_)), true);
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  EXPECT_TRUE(read_only_);
}

TEST_F(AdminHttpsTest, ReadEndpointsNeedItWhenConfiguredButProbesStayOpen) {
  Start(/*tls=*/false,
        AdminAuthOptions{.token = std::string(kToken), .read_endpoints = true});
  auto info = CallAdminJson(Endpoint({}), "GET", "/api/v1/bookie/info", "", kTimeout);
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kUnauthenticated) << info.status().ToString();
  auto live = CallAdminJson(Endpoint({}), "GET", "/health/live", "", kTimeout);
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  auto with_token = CallAdminJson(Endpoint(AdminAccess{.token = std::string(kToken)}), "GET",
                                  "/api/v1/bookie/info", "", kTimeout);
  ASSERT_TRUE(with_token.ok()) << with_token.status().ToString();
}

}  // namespace
}  // namespace quire::cli
