// `quire bookie` commands that go through the bookies' admin HTTP endpoint or registration, on
// real quire-bookie processes (test_cluster.h).
#include <gtest/gtest.h>

#include <fstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "cli/run_quire.h"
#include "client/test_cluster.h"
#include "util/temp_dir.h"
#include "util/test_ca.h"

namespace quire::cli {
namespace {

using quire::cli::testing::Outcome;

class BookieAdminCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = client::testing::TestCluster::Start({.bookies = 2});
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
  }

  Outcome Quire(const std::vector<std::string>& args) {
    return quire::cli::testing::RunQuire(cluster_->metadata_uri(), args);
  }

  std::unique_ptr<client::testing::TestCluster> cluster_;
};

TEST_F(BookieAdminCliTest, ReadOnlyOnMovesABookieToTheReadOnlyListUntilOff) {
  const BookieId id = cluster_->bookie_id(1);
  Outcome on = Quire({"bookie", "readonly", "--on", id});
  ASSERT_EQ(on.exit_code(), 0) << on.text();
  EXPECT_NE(on.text().find("read-only"), std::string::npos) << on.text();
  // The bookie answers once its registration has moved: no waiting needed.
  EXPECT_EQ(Quire({"bookie", "list", "--readonly"}).lines, std::vector<std::string>{id});
  EXPECT_EQ(Quire({"bookie", "list"}).lines, std::vector<std::string>{cluster_->bookie_id(0)});
  Outcome json = Quire({"--json", "bookie", "readonly", "--on", id});  // again: no change
  ASSERT_EQ(json.exit_code(), 0) << json.text();
  nlohmann::json state = nlohmann::json::parse(json.text());
  EXPECT_EQ(state["readOnly"], true);
  EXPECT_EQ(state["manual"], true);

  Outcome off = Quire({"bookie", "readonly", "--off", id});
  ASSERT_EQ(off.exit_code(), 0) << off.text();
  EXPECT_NE(off.text().find("writable"), std::string::npos) << off.text();
  EXPECT_TRUE(Quire({"bookie", "list", "--readonly"}).lines.empty());
  EXPECT_EQ(Quire({"bookie", "list"}).lines.size(), 2u);

  EXPECT_EQ(Quire({"bookie", "readonly", id}).exit_code(), 2) << "--on or --off is required";
  EXPECT_EQ(Quire({"bookie", "readonly", "--on", "--off", id}).exit_code(), 2);
  EXPECT_EQ(Quire({"bookie", "readonly", "--on", "127.0.0.1:1"}).exit_code(), 1)
      << "no bookie there";
}

TEST_F(BookieAdminCliTest, ListJsonGivesEachBookiesVersionFromItsRegistration) {
  Outcome version = quire::cli::testing::RunProgram({QUIRE_BOOKIE_BINARY, "--version"});
  ASSERT_EQ(version.exit_code(), 0);
  // "quire-bookie 0.1.0 (commit ...)"
  std::string expected = version.lines.at(0).substr(13, version.lines[0].find(" (") - 13);
  ASSERT_EQ(Quire({"bookie", "readonly", "--on", cluster_->bookie_id(1)}).exit_code(), 0);
  for (const auto& [args, id, mode] :
       std::vector<std::tuple<std::vector<std::string>, BookieId, std::string>>{
           {{"--json", "bookie", "list"}, cluster_->bookie_id(0), "writable"},
           {{"--json", "bookie", "list", "--readonly"}, cluster_->bookie_id(1), "read-only"}}) {
    Outcome list = Quire(args);
    ASSERT_EQ(list.exit_code(), 0) << list.text();
    EXPECT_EQ(nlohmann::json::parse(list.text()),
              (nlohmann::json::array({{{"bookie", id}, {"mode", mode}, {"version", expected}}})))
        << list.text();
  }
}

// A bookie with TLS and an admin token (docs/security.md, "Admin HTTP"): its admin port speaks
// HTTPS, and `quire bookie readonly` / `gc` need --admin-token-file (or QUIRE_ADMIN_TOKEN_FILE).
TEST(BookieAdminSecureCliTest, HttpsAndATokenForChanges) {
  quire::testing::TempDir dir("quire-admin-secure-test");
  auto ca = quire::testing::TestCa::Create(dir.Sub("ca"), "admin-cli-ca");
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  auto cert = ca->Issue("bookie", "IP:127.0.0.1");
  ASSERT_TRUE(cert.ok()) << cert.status().ToString();
  std::string token = dir.Sub("token"), wrong = dir.Sub("wrong-token");
  std::ofstream(token) << "t0ken-for-the-test\n";
  std::ofstream(wrong) << "not-the-token\n";
  auto cluster = client::testing::TestCluster::Start(
      {.bookies = 1,
       .bookie_settings = {"tlsCertificatePath = " + cert->certificate_path,
                           "tlsKeyPath = " + cert->key_path, "httpServerAuthTokenFile = " + token}});
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  const std::string uri = (*cluster)->metadata_uri();
  const BookieId id = (*cluster)->bookie_id(0);
  const std::string ca_path = ca->certificate_path();
  auto quire = [&](std::vector<std::string> args) {
    return quire::cli::testing::RunQuire(uri, args);
  };
  // A refused command, with its standard error (where the reason goes) in the outcome's lines.
  auto refused = [&](const std::string& args) {
    return quire::cli::testing::RunProgram(
        {"/bin/sh", "-c",
         fmt::format("exec '{}' --metadata '{}' {} </dev/null 2>&1", QUIRE_CLI_BINARY, uri, args)});
  };

  // No token: 401, reported as unauthenticated; a wrong one likewise.
  Outcome anonymous = refused(fmt::format("--tls-ca '{}' bookie readonly --on {}", ca_path, id));
  EXPECT_EQ(anonymous.exit_code(), 1) << anonymous.text();
  EXPECT_NE(anonymous.text().find("HTTP 401"), std::string::npos) << anonymous.text();
  Outcome wrong_token = refused(
      fmt::format("--tls-ca '{}' bookie gc --admin-token-file '{}' {}", ca_path, wrong, id));
  EXPECT_EQ(wrong_token.exit_code(), 1) << wrong_token.text();
  EXPECT_NE(wrong_token.text().find("unauthenticated"), std::string::npos) << wrong_token.text();

  // Plain HTTP (no CA) reaches an HTTPS-only port: refused with the reason.
  Outcome plain =
      refused(fmt::format("bookie readonly --on --admin-token-file '{}' {}", token, id));
  EXPECT_EQ(plain.exit_code(), 1) << plain.text();
  EXPECT_NE(plain.text().find("HTTPS only"), std::string::npos) << plain.text();

  Outcome on = quire({"--tls-ca", ca_path, "bookie", "readonly", "--on", "--admin-token-file",
                      token, id});
  ASSERT_EQ(on.exit_code(), 0) << on.text();
  EXPECT_EQ(quire({"bookie", "list", "--readonly"}).lines, std::vector<std::string>{id});
  Outcome off = quire::cli::testing::RunProgram(
      {"/bin/sh", "-c",
       fmt::format("QUIRE_ADMIN_TOKEN_FILE='{}' QUIRE_TLS_CA='{}' exec '{}' --metadata '{}' "
                   "bookie readonly --off {} </dev/null",
                   token, ca_path, QUIRE_CLI_BINARY, uri, id)});
  ASSERT_EQ(off.exit_code(), 0) << off.text();
  Outcome gc = quire({"--tls-ca", ca_path, "bookie", "gc", "--wait", "--admin-token-file", token,
                      id});
  EXPECT_EQ(gc.exit_code(), 0) << gc.text();
}

}  // namespace
}  // namespace quire::cli
