#include "common/config.h"

#include <gtest/gtest.h>

namespace quire {
namespace {

ConfigSchema TestSchema() {
  ConfigSchema s;
  s.Add({.name = "journalDirectories", .type = ConfigType::kList, .default_value = "/tmp/j",
         .description = "journal dirs"});
  s.Add({.name = "journalMaxSizeMB", .type = ConfigType::kInt, .default_value = "2048",
         .description = "rotate at", .min_int = 1, .max_int = 1 << 20});
  s.Add({.name = "diskUsageThreshold", .type = ConfigType::kDouble, .default_value = "0.95",
         .description = "read-only above", .min_double = 0, .max_double = 1});
  s.Add({.name = "journalSyncData", .type = ConfigType::kBool, .default_value = "true",
         .description = "sync"});
  s.Add({.name = "ioBackend", .type = ConfigType::kString, .default_value = "auto",
         .description = "io", .choices = {"auto", "io_uring", "syscalls"}});
  return s;
}

TEST(ConfigTest, DefaultsAndValues) {
  ConfigSchema schema = TestSchema();
  auto c = Config::Parse(schema,
                         "# comment\n\n journalDirectories = /a, /b ,/c\njournalMaxSizeMB=16\n"
                         "journalSyncData = false\n",
                         "bookie.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->GetList("journalDirectories"), (std::vector<std::string>{"/a", "/b", "/c"}));
  EXPECT_EQ(c->GetInt("journalMaxSizeMB"), 16);
  EXPECT_FALSE(c->GetBool("journalSyncData"));
  EXPECT_DOUBLE_EQ(c->GetDouble("diskUsageThreshold"), 0.95);
  EXPECT_EQ(c->GetString("ioBackend"), "auto");
  EXPECT_TRUE(c->IsSet("journalMaxSizeMB"));
  EXPECT_FALSE(c->IsSet("ioBackend"));
}

TEST(ConfigTest, UnknownKeyNamesFileLineAndSuggestion) {
  ConfigSchema schema = TestSchema();
  auto c = Config::Parse(schema, "journalMaxSizeMB = 4\njournalDirectory = /x\n", "bookie.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "bookie.conf:2: unknown key 'journalDirectory' (did you mean 'journalDirectories'?)");
}

TEST(ConfigTest, BadValuesAreRejectedWithTheExpectation) {
  ConfigSchema schema = TestSchema();
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"journalMaxSizeMB = abc", "f:1: journalMaxSizeMB: expected an integer in [1, 1048576], got 'abc'"},
      {"journalMaxSizeMB = 0", "f:1: journalMaxSizeMB: expected an integer in [1, 1048576], got '0'"},
      {"journalMaxSizeMB = 12x", "f:1: journalMaxSizeMB: expected an integer in [1, 1048576], got '12x'"},
      {"diskUsageThreshold = 1.5", "f:1: diskUsageThreshold: expected a number in [0, 1], got '1.5'"},
      {"journalSyncData = yes", "f:1: journalSyncData: expected true or false, got 'yes'"},
      {"ioBackend = aio", "f:1: ioBackend: expected one of auto, io_uring, syscalls, got 'aio'"},
      {"just some words", "f:1: expected 'key = value', got 'just some words'"},
      {"journalMaxSizeMB = 1\njournalMaxSizeMB = 2", "f:2: key 'journalMaxSizeMB' is set twice"},
  };
  for (const Case& c : cases) {
    auto r = Config::Parse(schema, c.text, "f");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().message(), c.message);
  }
}

TEST(ConfigTest, OverridesUseTheSameChecks) {
  ConfigSchema schema = TestSchema();
  Config c(schema);
  EXPECT_TRUE(c.SetFromString("journalMaxSizeMB=64").ok());
  EXPECT_EQ(c.GetInt("journalMaxSizeMB"), 64);
  EXPECT_EQ(c.SetFromString("nope=1").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(c.SetFromString("journalMaxSizeMB").code(), StatusCode::kInvalidArgument);
}

TEST(ConfigTest, MissingFileIsAnIOError) {
  ConfigSchema schema = TestSchema();
  auto r = Config::Load(schema, "/nonexistent/quire.conf");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/quire.conf"), std::string::npos);
}

}  // namespace
}  // namespace quire
