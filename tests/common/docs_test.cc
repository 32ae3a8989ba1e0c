// Documentation that must not drift from what the project does.
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace quire {
namespace {

std::string Read(const std::string& relative) {
  std::ifstream in(std::string(QUIRE_SOURCE_DIR) + "/" + relative);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(DocsTest, CiRunsExactlyTheReadmeTestCommand) {
  std::string ci = Read(".ci/run");
  std::string readme = Read("README.md");
  ASSERT_FALSE(ci.empty());
  ASSERT_FALSE(readme.empty());
  std::istringstream lines(ci);
  std::string line, command;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] != '#' && line.rfind("set ", 0) != 0 && line.rfind("cd ", 0) != 0) {
      command = line;
    }
  }
  ASSERT_FALSE(command.empty()) << ".ci/run has no command";
  EXPECT_NE(readme.find("\n" + command + "\n"), std::string::npos)
      << "README.md must show the command .ci/run runs: " << command;
}

}  // namespace
}  // namespace quire
