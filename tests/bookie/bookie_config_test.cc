// The bookie's configuration: conf/bookie.conf is the documented default configuration, every key
// parses with its default, and bad values are refused with the key named.
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "bookie/bookie_config.h"

namespace quire::bookie {
namespace {

TEST(BookieConfigTest, ShippedConfIsTheDocumentedDefaultConfig) {
  std::ifstream in(QUIRE_SOURCE_DIR "/conf/bookie.conf");
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), DocumentedDefaultConfig())
      << "conf/bookie.conf is out of date: regenerate it with "
         "`quire-bookie --print-default-conf > conf/bookie.conf`";
}

TEST(BookieConfigTest, EveryKeyIsDocumentedAndItsDefaultParses) {
  std::string doc = DocumentedDefaultConfig();
  std::string uncommented;
  for (const ConfigKey& key : BookieConfigSchema().keys()) {
    std::string line = "# " + key.name + " = " + key.default_value + "\n";
    EXPECT_NE(doc.find(line), std::string::npos) << key.name << " is not documented";
    uncommented += key.name + " = " + key.default_value + "\n";
  }
  auto config = Config::Parse(BookieConfigSchema(), uncommented, "defaults");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto options = BookieOptionsFromConfig(*config);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->server.port, 3181);
  EXPECT_EQ(options->http_port, 8080);
  EXPECT_EQ(options->server.max_frame_size, 5u << 20);
  EXPECT_DOUBLE_EQ(options->disk_usage_threshold, 0.95);
  EXPECT_DOUBLE_EQ(options->disk_usage_lwm_threshold, 0.90);
  EXPECT_EQ(options->storage.journal_prealloc_bytes, 16u << 20);
}

TEST(BookieConfigTest, BookieIdIsAdvertisedAddressAndPort) {
  Config c(BookieConfigSchema());
  ASSERT_TRUE(c.SetFromString("advertisedAddress=10.1.2.3").ok());
  ASSERT_TRUE(c.SetFromString("bookiePort=3182").ok());
  auto o = BookieOptionsFromConfig(c);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->bookie_id, "10.1.2.3:3182");
  EXPECT_EQ(o->storage.bookie_id, "10.1.2.3:3182");
}

TEST(BookieConfigTest, InconsistentThresholdsAreRefused) {
  Config c(BookieConfigSchema());
  ASSERT_TRUE(c.SetFromString("diskUsageThreshold=0.8").ok());
  ASSERT_TRUE(c.SetFromString("diskUsageLwmThreshold=0.9").ok());
  auto o = BookieOptionsFromConfig(c);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("diskUsageLwmThreshold"), std::string::npos);
  EXPECT_EQ(c.SetFromString("bookiePort=70000").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.SetFromString("bokiePort=3181").code(), StatusCode::kInvalidArgument);
}

// The admin token is read when the configuration is, so a bad file stops the bookie at start-up;
// the ZooKeeper credentials file reaches the metadata options and autorecovery's client.
TEST(BookieConfigTest, AdminTokenAndZooKeeperCredentialsFiles) {
  std::string dir = ::testing::TempDir();
  std::string token = dir + "/admin-token", empty = dir + "/empty-token";
  std::ofstream(token) << "  tok3n \r\nsecond line ignored\n";
  std::ofstream(empty) << "\n";
  Config c(BookieConfigSchema());
  ASSERT_TRUE(c.SetFromString("httpServerAuthTokenFile=" + token).ok());
  ASSERT_TRUE(c.SetFromString("zkAclCredentialsFile=/etc/quire/zk-credentials").ok());
  auto o = BookieOptionsFromConfig(c);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->http_auth.token, "tok3n");
  EXPECT_TRUE(o->http_auth.enabled());
  EXPECT_FALSE(o->http_auth.client_certificates);
  EXPECT_FALSE(o->http_auth.read_endpoints);
  EXPECT_EQ(o->metadata.zk_acl_credentials_file, "/etc/quire/zk-credentials");
  EXPECT_EQ(o->autorecovery.client.metadata_credentials_file, "/etc/quire/zk-credentials");

  for (const std::string& bad : {empty, dir + "/no-such-token"}) {
    ASSERT_TRUE(c.SetFromString("httpServerAuthTokenFile=" + bad).ok());
    auto refused = BookieOptionsFromConfig(c);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("httpServerAuthTokenFile"), std::string::npos)
        << refused.status().ToString();
  }
  auto open = BookieOptionsFromConfig(Config(BookieConfigSchema()));
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE(open->http_auth.enabled());
}

// TLS half configured stops the bookie at start-up, naming the key that is missing.
TEST(BookieConfigTest, PartialTlsConfigurationNamesTheMissingKey) {
  struct Case {
    std::vector<std::string> settings;
    std::string missing;
  };
  const std::vector<Case> cases = {
      {{"tlsCertificatePath=/c.pem"}, "tlsKeyPath"},
      {{"tlsKeyPath=/k.pem"}, "tlsCertificatePath"},
      {{"tlsTrustStorePath=/ca.pem"}, "tlsCertificatePath"},
      {{"tlsRequired=true"}, "tlsCertificatePath"},
      {{"tlsRequired=true", "tlsCertificatePath=/c.pem"}, "tlsKeyPath"},
      {{"tlsClientAuthentication=true", "tlsCertificatePath=/c.pem", "tlsKeyPath=/k.pem"},
       "tlsTrustStorePath"},
  };
  for (const Case& k : cases) {
    Config c(BookieConfigSchema());
    for (const std::string& s : k.settings) ASSERT_TRUE(c.SetFromString(s).ok()) << s;
    auto o = BookieOptionsFromConfig(c);
    ASSERT_FALSE(o.ok()) << k.missing;
    EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(o.status().message().find(k.missing + " is missing"), std::string::npos)
        << o.status().message();
  }
  Config c(BookieConfigSchema());
  ASSERT_TRUE(c.SetFromString("tlsCertificatePath=/c.pem").ok());
  ASSERT_TRUE(c.SetFromString("tlsKeyPath=/k.pem").ok());
  auto o = BookieOptionsFromConfig(c);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->server.tls.enabled);
  EXPECT_FALSE(o->server.tls.required);
  auto plain = BookieOptionsFromConfig(Config(BookieConfigSchema()));
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->server.tls.enabled);
}

TEST(BookieConfigTest, RoleListsAreSplitAndNeedATrustStore) {
  Config c(BookieConfigSchema());
  ASSERT_TRUE(c.SetFromString("authorizedWriteRoles = writer, ops").ok());
  auto refused = BookieOptionsFromConfig(c);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("tlsTrustStorePath"), std::string::npos)
      << refused.status().ToString();
  for (const char* s : {"tlsCertificatePath=/c.pem", "tlsKeyPath=/k.pem",
                        "tlsTrustStorePath=/ca.pem", "authorizedReadRoles=reader"}) {
    ASSERT_TRUE(c.SetFromString(s).ok()) << s;
  }
  auto o = BookieOptionsFromConfig(c);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->server.authorization.write_roles, (std::vector<std::string>{"writer", "ops"}));
  EXPECT_EQ(o->server.authorization.read_roles, (std::vector<std::string>{"reader"}));
  EXPECT_TRUE(o->server.authorization.admin_roles.empty());
}

}  // namespace
}  // namespace quire::bookie

namespace quire::bookie {
namespace {

// docs/coming-from-bookkeeper.md's table of the BookKeeper names quire-bookie accepts is exactly
// BookKeeperKeyNames(), and every one of them sets its key.
TEST(BookieConfigTest, BookKeeperNamesAreTheDocumentedOnesAndSetTheirKeys) {
  std::ifstream in(QUIRE_SOURCE_DIR "/docs/coming-from-bookkeeper.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string heading = "### BookKeeper names that `quire-bookie` accepts";
  size_t begin = doc.find(heading);
  ASSERT_NE(begin, std::string::npos) << heading;
  size_t end = doc.find("\n#", begin + heading.size());
  std::istringstream section(doc.substr(begin, end - begin));
  std::set<std::pair<std::string, std::string>> documented;
  for (std::string line; std::getline(section, line);) {
    // | `alias` | `key` | notes |
    if (line.rfind("| `", 0) != 0) continue;
    size_t a = line.find('`'), b = line.find('`', a + 1);
    size_t c = line.find('`', b + 1), d = line.find('`', c + 1);
    ASSERT_NE(d, std::string::npos) << line;
    documented.emplace(line.substr(a + 1, b - a - 1), line.substr(c + 1, d - c - 1));
  }
  std::set<std::pair<std::string, std::string>> accepted;
  for (const ConfigAlias& alias : BookKeeperKeyNames()) {
    accepted.emplace(alias.alias, alias.key);
    const ConfigKey* key = BookieConfigSchema().Find(alias.key);
    ASSERT_NE(key, nullptr) << alias.key;
    Config c(BookieConfigSchema());
    ASSERT_TRUE(c.Set(alias.alias, key->default_value).ok()) << alias.alias;
    EXPECT_TRUE(c.IsSet(alias.key)) << alias.alias;
  }
  EXPECT_EQ(documented, accepted);
}

// The example configurations of docs/deploy.md load and name three different bookies.
TEST(BookieConfigTest, ClusterExampleConfigsLoad) {
  std::set<std::string> ids;
  for (int i = 1; i <= 3; ++i) {
    std::string path = std::string(QUIRE_SOURCE_DIR) + "/conf/cluster/bookie-" + std::to_string(i) + ".conf";
    auto config = Config::Load(BookieConfigSchema(), path);
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    auto options = BookieOptionsFromConfig(*config);
    ASSERT_TRUE(options.ok()) << options.status().ToString();
    EXPECT_EQ(options->metadata_uri.rfind("zk://", 0), 0u);
    ids.insert(options->bookie_id);
  }
  EXPECT_EQ(ids.size(), 3u);
}

}  // namespace
}  // namespace quire::bookie
