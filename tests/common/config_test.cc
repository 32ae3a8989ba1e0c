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

// Another program's name for a key sets that key; the Config remembers it was used, once.
TEST(ConfigTest, AnAliasSetsItsKeyAndIsRememberedOnce) {
  ConfigSchema schema = TestSchema();
  schema.AddAlias({"journalDirectory", "journalDirectories", "BookKeeper"});
  auto c = Config::Parse(schema, "journalDirectory = /data/j\n", "bookie.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->GetList("journalDirectories"), std::vector<std::string>{"/data/j"});
  EXPECT_TRUE(c->IsSet("journalDirectories"));
  ASSERT_TRUE(c->SetFromString("journalDirectory=/data/j2").ok());  // an override, same name
  EXPECT_EQ(c->GetList("journalDirectories"), std::vector<std::string>{"/data/j2"});
  ASSERT_EQ(c->aliases_used().size(), 1u);
  EXPECT_EQ(c->aliases_used()[0].Note(),
            "key 'journalDirectory' is BookKeeper's name for 'journalDirectories'");
}

TEST(ConfigTest, BothNamesWithDifferentValuesAreRefusedAndWithTheSameAccepted) {
  ConfigSchema schema = TestSchema();
  schema.AddAlias({"maxJournalSizeMB", "journalMaxSizeMB", "BookKeeper"});
  for (const char* text : {"journalMaxSizeMB = 100\nmaxJournalSizeMB = 200\n",
                           "maxJournalSizeMB = 200\njournalMaxSizeMB = 100\n"}) {
    auto c = Config::Parse(schema, text, "bookie.conf");
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find("bookie.conf:2: key 'maxJournalSizeMB' is BookKeeper's "
                                        "name for 'journalMaxSizeMB'"),
              std::string::npos)
        << c.status().message();
    EXPECT_NE(c.status().message().find("bookie.conf:1"), std::string::npos)
        << c.status().message();
  }
  auto same = Config::Parse(schema, "journalMaxSizeMB = 100\nmaxJournalSizeMB = 100\n", "f");
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->GetInt("journalMaxSizeMB"), 100);
  // An override by the other name counts as the other name too.
  auto file = Config::Parse(schema, "maxJournalSizeMB = 200\n", "f");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->SetFromString("journalMaxSizeMB=300").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(file->GetInt("journalMaxSizeMB"), 200);
  // An alias's value is checked as its key's.
  EXPECT_FALSE(Config::Parse(schema, "maxJournalSizeMB = lots\n", "f").ok());
  // The same name twice in one file is still an error.
  EXPECT_FALSE(Config::Parse(schema, "maxJournalSizeMB = 1\nmaxJournalSizeMB = 1\n", "f").ok());
}

}  // namespace
}  // namespace quire
