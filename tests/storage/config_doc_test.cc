// conf/bookie.conf documents every configuration key with its default; this test keeps the file
// and the code in step (a key added to the schema without documentation fails here).
#include <fstream>
#include <map>
#include <sstream>

#include <gtest/gtest.h>

#include "storage/storage_options.h"

namespace quire::storage {
namespace {

std::string ReadConf() {
  std::ifstream in(QUIRE_SOURCE_DIR "/conf/bookie.conf");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "# key = value" or "key = value" lines, by key.
std::map<std::string, std::string> DocumentedKeys(const std::string& text) {
  std::map<std::string, std::string> keys;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::string l = line.rfind("# ", 0) == 0 ? line.substr(2) : line;
    size_t eq = l.find(" = ");
    if (eq == std::string::npos || l.find(' ') < eq) continue;
    keys[l.substr(0, eq)] = l.substr(eq + 3);
  }
  return keys;
}

TEST(ConfigDocTest, EveryStorageKeyIsDocumentedWithItsDefault) {
  std::string text = ReadConf();
  ASSERT_FALSE(text.empty()) << "conf/bookie.conf not found";
  auto documented = DocumentedKeys(text);
  for (const ConfigKey& key : StorageConfigSchema().keys()) {
    auto it = documented.find(key.name);
    ASSERT_NE(it, documented.end()) << key.name << " is not documented in conf/bookie.conf";
    EXPECT_EQ(it->second, key.default_value) << key.name << ": documented default differs";
  }
}

TEST(ConfigDocTest, TheShippedFileParses) {
  // Keys of later layers (bookie, metadata) are not in the storage schema; only check that the
  // storage part parses when the other lines are left out.
  std::string text = ReadConf();
  std::string storage_only;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    std::string key = line.substr(0, line.find_first_of(" =", 0));
    if (StorageConfigSchema().Find(key) != nullptr) storage_only += line + "\n";
  }
  auto c = Config::Parse(StorageConfigSchema(), storage_only, "conf/bookie.conf");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(StorageOptionsFromConfig(*c).ok());
}

}  // namespace
}  // namespace quire::storage
