// `quire` against bookies that require TLS with client certificates: the --tls-* flags and the
// QUIRE_TLS_* variables (docs/cli.md), on the real binaries and a throw-away CA.
#include <gtest/gtest.h>

#include <fstream>

#include "cli/run_quire.h"
#include "client/test_cluster.h"
#include "util/temp_dir.h"
#include "util/test_ca.h"

namespace quire::cli {
namespace {

using quire::cli::testing::Outcome;
using quire::testing::TestCa;

TEST(CliTlsTest, FlagsAndEnvironmentGiveTheCommandsTls) {
  quire::testing::TempDir dir("quire-cli-tls-test");
  auto ca = TestCa::Create(dir.Sub("ca"), "cli-test-ca");
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  auto bookie = ca->Issue("bookie", "IP:127.0.0.1");
  auto client = ca->Issue("client", "DNS:client");
  ASSERT_TRUE(bookie.ok() && client.ok());
  auto cluster = client::testing::TestCluster::Start(
      {.bookies = 1,
       .bookie_settings = {"tlsCertificatePath = " + bookie->certificate_path,
                           "tlsKeyPath = " + bookie->key_path,
                           "tlsTrustStorePath = " + ca->certificate_path(), "tlsRequired = true",
                           "tlsClientAuthentication = true"}});
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  const std::string uri = (*cluster)->metadata_uri();
  std::string input = dir.Sub("input");
  std::ofstream(input) << "one\ntwo\n";

  // Flags: write a ledger over mutual TLS.
  Outcome wrote = testing::RunQuire(
      uri,
      {"--tls-ca", ca->certificate_path(), "--tls-cert", client->certificate_path, "--tls-key",
       client->key_path, "ledger", "write", "--new", "-e", "1", "-w", "1", "-a", "1"},
      input);
  ASSERT_EQ(wrote.exit_code(), 0) << wrote.text();
  ASSERT_EQ(wrote.lines.size(), 2u) << wrote.text();
  std::string ledger = wrote.lines[0].substr(0, wrote.lines[0].find(' '));

  // The environment: read it back.
  std::string env = fmt::format("QUIRE_TLS_CA='{}' QUIRE_TLS_CERT='{}' QUIRE_TLS_KEY='{}'",
                                ca->certificate_path(), client->certificate_path,
                                client->key_path);
  Outcome read = testing::RunProgram(
      {"/bin/sh", "-c",
       fmt::format("{} exec '{}' --metadata '{}' ledger read {} </dev/null", env, QUIRE_CLI_BINARY,
                   uri, ledger)});
  ASSERT_EQ(read.exit_code(), 0) << read.text();
  EXPECT_EQ(read.text(), "one\ntwo\n");

  // Without a client certificate the bookie refuses the command: exit 1, not a hang.
  Outcome refused = testing::RunQuire(uri, {"--tls-ca", ca->certificate_path(), "ledger", "read",
                                            ledger});
  EXPECT_EQ(refused.exit_code(), 1) << refused.text();
}

}  // namespace
}  // namespace quire::cli
