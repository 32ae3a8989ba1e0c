// A ledger password given to `quire` each of its three ways (docs/cli.md, "Ledger passwords"):
// -p (which warns that `ps` shows it), --password-file and $QUIRE_LEDGER_PASSWORD, on the real
// binaries against one real bookie. HMAC ledgers, so that a wrong or missing password fails.
#include <gtest/gtest.h>

#include <fstream>

#include "cli/run_quire.h"
#include "client/test_cluster.h"
#include "util/temp_dir.h"

namespace quire::cli {
namespace {

using quire::cli::testing::Outcome;

constexpr const char* kWarning = "visible to other users";

class CliPasswordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = client::testing::TestCluster::Start({.bookies = 1});
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    input_ = dir_.Sub("input");
    std::ofstream(input_) << "one\ntwo\n";
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    std::string path = dir_.Sub(name);
    std::ofstream(path) << content;
    return path;
  }

  // `quire --metadata ... <args>` through the shell, with `env` ("K='v' ...") before it; standard
  // error joins standard output when `with_stderr`.
  Outcome Run(const std::string& env, const std::vector<std::string>& args, bool with_stderr,
              const std::string& input = "/dev/null") {
    std::string cmd = fmt::format("{} exec '{}' --metadata '{}'", env, QUIRE_CLI_BINARY,
                                  cluster_->metadata_uri());
    for (const std::string& a : args) cmd += " '" + a + "'";
    cmd += fmt::format(" <'{}'{}", input, with_stderr ? " 2>&1" : "");
    return testing::RunProgram({"/bin/sh", "-c", cmd});
  }

  // Writes "one", "two" to a new HMAC ledger with `password_args` (and `env`); its id.
  std::string WriteLedger(const std::string& env, std::vector<std::string> password_args) {
    std::vector<std::string> args = {"ledger", "write", "--new", "--digest", "hmac",
                                     "-e",     "1",     "-w",    "1",        "-a", "1"};
    args.insert(args.end(), password_args.begin(), password_args.end());
    Outcome wrote = Run(env, args, false, input_);
    EXPECT_EQ(wrote.exit_code(), 0) << wrote.text();
    if (wrote.lines.size() != 2) {
      ADD_FAILURE() << wrote.text();
      return "";
    }
    return wrote.lines[0].substr(0, wrote.lines[0].find(' '));
  }

  quire::testing::TempDir dir_{"quire-cli-password-test"};
  std::unique_ptr<client::testing::TestCluster> cluster_;
  std::string input_;
};

TEST_F(CliPasswordTest, APasswordGivenOneWayIsReadBackAnother) {
  // The first line only, its newline stripped.
  std::string file = WriteFile("password", "s3cret pass\nnot this line\n");
  std::string wrong_file = WriteFile("wrong", "wrong\n");
  const std::string env = "QUIRE_LEDGER_PASSWORD='s3cret pass'";

  // Written with --password-file: read back with the variable, and with -p (which warns).
  std::string ledger = WriteLedger("", {"--password-file", file});
  ASSERT_FALSE(ledger.empty());
  Outcome by_env = Run(env, {"ledger", "read", ledger}, false);
  ASSERT_EQ(by_env.exit_code(), 0) << by_env.text();
  EXPECT_EQ(by_env.text(), "one\ntwo\n");
  Outcome by_flag = Run("", {"ledger", "read", ledger, "-p", "s3cret pass"}, true);
  ASSERT_EQ(by_flag.exit_code(), 0) << by_flag.text();
  EXPECT_NE(by_flag.text().find(kWarning), std::string::npos) << by_flag.text();
  EXPECT_NE(by_flag.text().find("one\ntwo\n"), std::string::npos) << by_flag.text();

  // Without the password, or with a wrong one, the HMAC ledger cannot be read.
  EXPECT_EQ(Run("", {"ledger", "read", ledger}, false).exit_code(), 1);
  EXPECT_EQ(Run("", {"ledger", "read", ledger, "--password-file", wrong_file}, false).exit_code(),
            1);

  // Written with the variable: read back with the file; written with -p: read back with the
  // variable, and the writer was warned. Nothing but -p warns.
  std::string by_env_ledger = WriteLedger(env, {});
  ASSERT_FALSE(by_env_ledger.empty());
  Outcome file_read = Run("", {"ledger", "read", by_env_ledger, "--password-file", file}, true);
  ASSERT_EQ(file_read.exit_code(), 0) << file_read.text();
  EXPECT_EQ(file_read.text().find(kWarning), std::string::npos) << file_read.text();
  EXPECT_NE(file_read.text().find("one\ntwo\n"), std::string::npos) << file_read.text();
  Outcome flag_write =
      Run("", {"ledger", "write", "--new", "--digest", "hmac", "-e", "1", "-w", "1", "-a", "1",
               "-p", "s3cret pass"},
          true, input_);
  ASSERT_EQ(flag_write.exit_code(), 0) << flag_write.text();
  EXPECT_NE(flag_write.text().find(kWarning), std::string::npos) << flag_write.text();
  std::string by_flag_ledger;
  for (const std::string& line : flag_write.lines) {
    if (line.ends_with(" 0") && line.find(' ') == line.rfind(' ')) {
      by_flag_ledger = line.substr(0, line.find(' '));
    }
  }
  ASSERT_FALSE(by_flag_ledger.empty()) << flag_write.text();
  Outcome env_read = Run(env, {"ledger", "read", by_flag_ledger}, false);
  ASSERT_EQ(env_read.exit_code(), 0) << env_read.text();
  EXPECT_EQ(env_read.text(), "one\ntwo\n");

  // Precedence: -p over --password-file over the variable.
  const std::string wrong_env = "QUIRE_LEDGER_PASSWORD=wrong";
  Outcome flag_first =
      Run(wrong_env, {"ledger", "read", ledger, "-p", "s3cret pass", "--password-file", wrong_file},
          false);
  EXPECT_EQ(flag_first.exit_code(), 0) << flag_first.text();
  Outcome file_first = Run(wrong_env, {"ledger", "read", ledger, "--password-file", file}, false);
  EXPECT_EQ(file_first.exit_code(), 0) << file_first.text();
  EXPECT_EQ(file_first.text(), "one\ntwo\n");
}

TEST_F(CliPasswordTest, AnUnreadablePasswordFileIsAClearError) {
  std::string missing = dir_.Sub("no-such-password-file");
  for (std::vector<std::string> args :
       {std::vector<std::string>{"ledger", "read", "1"},
        std::vector<std::string>{"ledger", "write", "--new"},
        std::vector<std::string>{"ledger", "recover", "1"}}) {
    args.insert(args.end(), {"--password-file", missing});
    Outcome failed = Run("", args, true);
    EXPECT_EQ(failed.exit_code(), 1) << failed.text();
    EXPECT_NE(failed.text().find("cannot read the password file " + missing +
                                 ": No such file or directory"),
              std::string::npos)
        << failed.text();
  }
}

}  // namespace
}  // namespace quire::cli
