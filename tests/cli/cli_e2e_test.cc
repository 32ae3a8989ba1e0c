// End-to-end tests of the `quire` binary against `quire standalone`, as an operator would use
// them: real processes, real files, the embedded metadata store.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/run_quire.h"
#include "client/test_cluster.h"
#include "util/ports.h"
#include "util/subprocess.h"
#include "util/temp_dir.h"

namespace quire::cli {
namespace {

using quire::testing::Subprocess;
using std::chrono::milliseconds;
using std::chrono::seconds;

using quire::cli::testing::Outcome;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { StartStandalone(3); }
  void TearDown() override { StopStandalone(); }

  // Starts a new `quire standalone` cluster with `bookies` bookies on free ports (and a fresh
  // data directory per attempt: bookie ids include the port); waits for its ready line.
  void StartStandalone(int bookies) {
    bookies_ = bookies;
    for (int attempt = 0; attempt < 5 && !standalone_; ++attempt) {
      port_ = 0;
      data_dir_ = dir_.Sub(fmt::format("standalone-{}-{}", bookies, attempt));
      LaunchStandalone();
    }
    ASSERT_NE(standalone_, nullptr) << "quire standalone did not become ready";
  }

  // Starts the stopped cluster again: same data directory, same ports.
  void RestartStandalone() {
    LaunchStandalone();
    ASSERT_NE(standalone_, nullptr) << "quire standalone did not come back";
  }

  // One start on port_ (a free one if 0) and data_dir_; standalone_ is set once it is ready.
  void LaunchStandalone() {
    if (port_ == 0) {
      auto p = quire::testing::FreeLoopbackPort();
      ASSERT_TRUE(p.ok());
      port_ = *p;
    }
    auto s = Subprocess::Start({QUIRE_CLI_BINARY, "--log-level", "warn", "standalone",
                                "--bookies", std::to_string(bookies_), "--data-dir", data_dir_,
                                "--port", std::to_string(port_), "--http-port", "0"});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (int i = 0; i < 100; ++i) {
      auto line = s->ReadLine(milliseconds(60'000));
      if (!line) break;
      if (line->rfind("metadata ", 0) == 0) uri_ = line->substr(9);
      if (line->find("is ready") != std::string::npos) {
        standalone_ = std::make_unique<Subprocess>(std::move(*s));
        break;
      }
    }
  }

  void StopStandalone() {
    if (standalone_) {
      EXPECT_EQ(standalone_->Kill(SIGTERM), 0);
    }
    standalone_.reset();
  }

  std::string BookieId(int i) const { return fmt::format("127.0.0.1:{}", port_ + i); }
  std::string BookieRoot(int i) const { return fmt::format("{}/bookie-{}", data_dir_, i); }
  // A configuration file for standalone bookie `i`, as `quire bookie format --conf` reads it.
  std::string BookieConf(int i) {
    std::string path = dir_.Sub(fmt::format("bookie-{}.conf", i));
    std::ofstream out(path);
    out << "advertisedAddress = 127.0.0.1\nbookiePort = " << port_ + i << "\n"
        << "metadataServiceUri = " << uri_ << "\n"
        << "journalDirectories = " << BookieRoot(i) << "/journal\n"
        << "ledgerDirectories = " << BookieRoot(i) << "/ledgers\n";
    return path;
  }

  // Runs `quire --metadata <uri> args...` (stdin from `input_file` if given) to its end.
  Outcome Quire(std::vector<std::string> args, const std::string& input_file = "") {
    return quire::cli::testing::RunQuire(uri_, args, input_file);
  }

  std::string WriteLines(const std::string& name, int n) {
    std::string path = dir_.Sub(name);
    std::ofstream out(path);
    for (int i = 0; i < n; ++i) out << "line " << i << " of the test input\n";
    return path;
  }

  quire::testing::TempDir dir_{"quire-cli-test"};
  std::string data_dir_;
  std::string uri_;
  uint16_t port_ = 0;
  int bookies_ = 0;
  std::unique_ptr<Subprocess> standalone_;
};

TEST_F(CliTest, WriteThousandLinesAndReadThemBack) {
  std::string input = WriteLines("input", 1000);
  Outcome write = Quire({"ledger", "write", "--new"}, input);
  ASSERT_EQ(write.exit_code(), 0);
  ASSERT_EQ(write.lines.size(), 1000u);
  LedgerId id = std::stoll(write.lines[0].substr(0, write.lines[0].find(' ')));
  for (size_t i = 0; i < write.lines.size(); ++i) {
    EXPECT_EQ(write.lines[i], fmt::format("{} {}", id, i));
  }
  Outcome read = Quire({"ledger", "read", std::to_string(id)});
  ASSERT_EQ(read.exit_code(), 0);
  ASSERT_EQ(read.lines.size(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(read.lines[static_cast<size_t>(i)], fmt::format("line {} of the test input", i));

  Outcome md = Quire({"--json", "ledger", "metadata", std::to_string(id)});
  ASSERT_EQ(md.exit_code(), 0);
  std::string text;
  for (auto& l : md.lines) text += l;
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["state"], "CLOSED");
  EXPECT_EQ(j["last_entry_id"], 999);
  Outcome list = Quire({"ledger", "list"});
  ASSERT_EQ(list.exit_code(), 0);
  EXPECT_EQ(std::count(list.lines.begin(), list.lines.end(), std::to_string(id)), 1);
}

TEST_F(CliTest, CreatedLedgerIsWrittenOnceByOneWriter) {
  Outcome created = Quire({"ledger", "create", "-e", "3", "-w", "2", "-a", "2"});
  ASSERT_EQ(created.exit_code(), 0);
  ASSERT_EQ(created.lines.size(), 1u);
  std::string id = created.lines[0];
  Outcome write = Quire({"ledger", "write", id}, WriteLines("input", 10));
  ASSERT_EQ(write.exit_code(), 0);
  EXPECT_EQ(write.lines.size(), 10u);
  // The ledger is closed now; a second writer is refused.
  EXPECT_EQ(Quire({"ledger", "write", id}, WriteLines("more", 1)).exit_code(), 1);
  // Usage errors exit 2.
  EXPECT_EQ(Quire({"ledger", "write"}).exit_code(), 2);
  EXPECT_EQ(Quire({"ledger", "frobnicate"}).exit_code(), 2);
}

TEST_F(CliTest, RecoverAfterTheWriterIsKilledCoversEveryAcknowledgedLine) {
  std::string input = WriteLines("input", 200'000);
  std::string cmd = fmt::format("exec '{}' --metadata '{}' ledger write --new < '{}'",
                                QUIRE_CLI_BINARY, uri_, input);
  auto writer = Subprocess::Start({"/bin/sh", "-c", cmd});
  ASSERT_TRUE(writer.ok());
  std::vector<std::string> acked;
  while (acked.size() < 2'000) {
    auto line = writer->ReadLine(milliseconds(60'000));
    ASSERT_TRUE(line.has_value()) << "the writer stopped after " << acked.size() << " lines";
    acked.push_back(*line);
  }
  writer->Kill(SIGKILL);
  // Lines it printed before dying (still in the pipe) were acknowledged too.
  for (int i = 0; i < 1'000'000; ++i) {
    auto line = writer->ReadLine(milliseconds(10'000));
    if (!line) break;
    acked.push_back(*line);
  }
  std::string last = acked.back();
  std::string id = last.substr(0, last.find(' '));
  EntryId last_acked = std::stoll(last.substr(last.find(' ') + 1));
  Outcome recover = Quire({"ledger", "recover", id});
  ASSERT_EQ(recover.exit_code(), 0);
  ASSERT_EQ(recover.lines.size(), 1u);
  EXPECT_GE(std::stoll(recover.lines[0]), last_acked);
  Outcome read = Quire({"ledger", "read", id});
  ASSERT_EQ(read.exit_code(), 0);
  ASSERT_EQ(static_cast<EntryId>(read.lines.size()), std::stoll(recover.lines[0]) + 1);
  for (size_t i = 0; i < read.lines.size(); ++i) {
    ASSERT_EQ(read.lines[i], fmt::format("line {} of the test input", i));
  }
}

TEST_F(CliTest, CheckNamesTheBookieWhoseCopyIsCorrupt) {
  Outcome write = Quire({"ledger", "write", "--new"}, WriteLines("input", 50));
  ASSERT_EQ(write.exit_code(), 0);
  std::string id = write.lines[0].substr(0, write.lines[0].find(' '));
  EXPECT_EQ(Quire({"ledger", "check", id}).exit_code(), 0);
  StopStandalone();  // flushes every bookie's entry logs
  ASSERT_TRUE(client::testing::CorruptEntry(BookieRoot(1), std::stoll(id), 7).ok());
  RestartStandalone();
  Outcome check = Quire({"ledger", "check", id});
  EXPECT_EQ(check.exit_code(), 1);
  ASSERT_EQ(check.lines.size(), 1u);
  EXPECT_NE(check.lines[0].find("entry 7 on bookie " + BookieId(1) + ": corrupt"), std::string::npos)
      << check.lines[0];
  // Reads still succeed from the other replicas.
  Outcome read = Quire({"ledger", "read", id});
  EXPECT_EQ(read.exit_code(), 0);
  EXPECT_EQ(read.lines.size(), 50u);
}

TEST_F(CliTest, ClusterAndBookieCommands) {
  Outcome info = Quire({"--json", "cluster", "info"});
  ASSERT_EQ(info.exit_code(), 0);
  std::string text;
  for (auto& l : info.lines) text += l;
  EXPECT_EQ(nlohmann::json::parse(text)["writable_bookies"].size(), 3u);
  Outcome list = Quire({"bookie", "list"});
  ASSERT_EQ(list.exit_code(), 0);
  EXPECT_EQ(list.lines, (std::vector<std::string>{BookieId(0), BookieId(1), BookieId(2)}));
  Outcome readonly = Quire({"bookie", "list", "--readonly"});
  EXPECT_EQ(readonly.exit_code(), 0);
  EXPECT_TRUE(readonly.lines.empty());
  Outcome binfo = Quire({"bookie", "info", BookieId(2)});
  EXPECT_EQ(binfo.exit_code(), 0);
  EXPECT_NE(binfo.lines[1].find("writable"), std::string::npos);
  Outcome sanity = Quire({"bookie", "sanity", BookieId(1)});
  EXPECT_EQ(sanity.exit_code(), 0);
  Outcome simple = Quire({"simpletest", "--entries", "500"});
  EXPECT_EQ(simple.exit_code(), 0);
  EXPECT_EQ(Quire({"cluster", "nuke"}).exit_code(), 2);  // needs --yes
  EXPECT_EQ(Quire({"bookie", "info", "127.0.0.1:1"}).exit_code(), 1);
}

// --json on every command that prints data: each line of standard output parses as JSON.
TEST_F(CliTest, CommandsThatPrintDataPrintJsonWithJson) {
  auto parsed = [](const Outcome& run) {
    std::vector<nlohmann::json> docs;
    for (const std::string& line : run.lines) {
      docs.push_back(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false));
      EXPECT_FALSE(docs.back().is_discarded()) << "not JSON: " << line;
    }
    return docs;
  };
  Outcome write = Quire({"--json", "ledger", "write", "--new"}, WriteLines("input", 20));
  ASSERT_EQ(write.exit_code(), 0);
  std::vector<nlohmann::json> acks = parsed(write);
  ASSERT_EQ(acks.size(), 20u);
  const int64_t id = acks[0]["ledger_id"].get<int64_t>();
  for (size_t i = 0; i < acks.size(); ++i) EXPECT_EQ(acks[i]["entry_id"], i) << acks[i].dump();

  Outcome read = Quire({"--json", "ledger", "read", std::to_string(id)});
  ASSERT_EQ(read.exit_code(), 0);
  std::vector<nlohmann::json> entries = parsed(read);
  ASSERT_EQ(entries.size(), 20u);
  EXPECT_EQ(entries[3]["payload"], "line 3 of the test input");
  // An explicit --format still wins.
  Outcome raw = Quire({"--json", "ledger", "read", std::to_string(id), "--format", "raw"});
  ASSERT_EQ(raw.exit_code(), 0);
  EXPECT_EQ(raw.lines.at(0), "line 0 of the test input");

  Outcome sanity = Quire({"--json", "bookie", "sanity", BookieId(0)});
  ASSERT_EQ(sanity.exit_code(), 0);
  EXPECT_EQ(parsed(sanity).at(0)["sane"], true);
  Outcome simple = Quire({"--json", "simpletest", "--entries", "50"});
  ASSERT_EQ(simple.exit_code(), 0);
  EXPECT_EQ(parsed(simple).at(0)["entries"], 50);
}

TEST_F(CliTest, TailFollowsAWriterUntilTheLedgerIsClosedAndDeleteRemovesIt) {
  Outcome created = Quire({"ledger", "create"});
  ASSERT_EQ(created.exit_code(), 0);
  std::string id = created.lines.at(0);
  auto tail = Subprocess::Start({QUIRE_CLI_BINARY, "--metadata", uri_, "ledger", "tail", id});
  ASSERT_TRUE(tail.ok());
  Outcome write = Quire({"ledger", "write", id}, WriteLines("input", 300));
  ASSERT_EQ(write.exit_code(), 0);
  std::vector<std::string> seen;
  for (int i = 0; i < 1'000; ++i) {
    auto line = tail->ReadLine(milliseconds(60'000));
    if (!line) break;  // the tail ends at the close
    seen.push_back(*line);
  }
  EXPECT_EQ(tail->Wait(milliseconds(60'000)), 0);
  ASSERT_EQ(seen.size(), 300u);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], fmt::format("line {} of the test input", i));

  EXPECT_EQ(Quire({"ledger", "delete", id}).exit_code(), 0);
  Outcome list = Quire({"ledger", "list"});
  EXPECT_EQ(std::count(list.lines.begin(), list.lines.end(), id), 0);
  EXPECT_EQ(Quire({"ledger", "read", id}).exit_code(), 1);
}

TEST_F(CliTest, FormatWipesAStoppedBookieAndRefusesARunningOne) {
  std::string conf = BookieConf(2);
  EXPECT_EQ(Quire({"bookie", "format", "--conf", conf}).exit_code(), 2);  // needs --yes
  EXPECT_EQ(Quire({"bookie", "format", "--conf", conf, "--yes"}).exit_code(), 1);  // running
  StopStandalone();
  ASSERT_EQ(Quire({"bookie", "format", "--conf", conf, "--yes"}).exit_code(), 0);
  EXPECT_TRUE(std::filesystem::is_empty(BookieRoot(2) + "/ledgers"));
  // Formatted, it starts again as a new bookie under the same id.
  RestartStandalone();
  EXPECT_EQ(Quire({"bookie", "sanity", BookieId(2)}).exit_code(), 0);
}

// A formatted bookie answers "no such entry" for what it held, which a recovery of a ledger that
// is not closed counts towards its end: format refuses while one lists the bookie, unless --force.
TEST_F(CliTest, FormatRefusesWhileALedgerThatIsNotClosedListsTheBookie) {
  Outcome created = Quire({"ledger", "create", "-e", "3", "-w", "3", "-a", "2"});
  ASSERT_EQ(created.exit_code(), 0);
  const std::string id = created.lines.at(0);
  std::string conf = BookieConf(1);
  StopStandalone();
  auto format = [&](const std::string& extra, const std::string& err) {
    return quire::cli::testing::RunProgram(
        {"/bin/sh", "-c",
         fmt::format("exec '{}' bookie format --conf '{}' --yes {} 2>'{}' < /dev/null",
                     QUIRE_CLI_BINARY, conf, extra, err)});
  };
  auto text_of = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  const std::string refused_err = dir_.Sub("format-refused.err");
  EXPECT_EQ(format("", refused_err).exit_code(), 1);
  std::string refused = text_of(refused_err);
  EXPECT_NE(refused.find(fmt::format("{} (OPEN)", id)), std::string::npos) << refused;
  EXPECT_NE(refused.find("--force"), std::string::npos) << refused;
  EXPECT_FALSE(std::filesystem::is_empty(BookieRoot(1) + "/ledgers")) << "nothing is wiped";

  const std::string forced_err = dir_.Sub("format-forced.err");
  ASSERT_EQ(format("--force", forced_err).exit_code(), 0);
  std::string forced = text_of(forced_err);
  EXPECT_NE(forced.find("WARNING"), std::string::npos) << forced;
  EXPECT_NE(forced.find(fmt::format("{} (OPEN)", id)), std::string::npos) << forced;
  EXPECT_TRUE(std::filesystem::is_empty(BookieRoot(1) + "/ledgers"));
}

TEST_F(CliTest, DecommissionLeavesEveryLedgerFullyReplicatedOnTheOthers) {
  StopStandalone();
  StartStandalone(4);
  std::vector<std::string> ids;
  // Written with passwords (half with HMAC digests); decommission and check need none of them.
  for (int l = 0; l < 4; ++l) {
    std::vector<std::string> args = {"ledger", "write", "--new", "-e", "3", "-w", "2", "-a", "2",
                                     "-p", fmt::format("secret-{}", l)};
    if (l % 2 == 1) args.insert(args.end(), {"--digest", "hmac"});
    Outcome write = Quire(args, WriteLines("input", 100));
    ASSERT_EQ(write.exit_code(), 0);
    ids.push_back(write.lines[0].substr(0, write.lines[0].find(' ')));
  }
  std::string gone = BookieId(2);
  // Data on standard output (--json), progress and totals on standard error.
  std::string errors = dir_.Sub("decommission.err");
  Outcome decommission = quire::cli::testing::RunProgram(
      {"/bin/sh", "-c",
       fmt::format("exec '{}' --metadata '{}' --json bookie decommission '{}' 2>'{}' < /dev/null",
                   QUIRE_CLI_BINARY, uri_, gone, errors)});
  ASSERT_EQ(decommission.exit_code(), 0);
  nlohmann::json report = nlohmann::json::parse(decommission.text());
  const size_t using_it = report["ledgers_using_bookie"].get<size_t>();
  EXPECT_GT(using_it, 0u) << report.dump();  // 4 ledgers on 3 of 4 bookies
  EXPECT_EQ(report["ledgers_moved"], using_it);
  EXPECT_EQ(report["moved"].size(), using_it);
  EXPECT_TRUE(report["skipped"].empty());
  EXPECT_GT(report["entries"].get<int64_t>(), 0);
  EXPECT_GT(report["bytes"].get<int64_t>(), report["entries"].get<int64_t>());
  EXPECT_EQ(report["still_registered"], true);  // it still runs: the cookie stays
  EXPECT_EQ(report["cookie_removed"], false);
  std::ifstream err(errors);
  std::string err_text((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_NE(err_text.find(fmt::format("decommission of {}: done: {}/{} ledgers, {} entries", gone,
                                      using_it, using_it, report["entries"].get<int64_t>())),
            std::string::npos)
      << err_text;
  for (const std::string& id : ids) {
    Outcome md = Quire({"--json", "ledger", "metadata", id});
    std::string text;
    for (auto& l : md.lines) text += l;
    nlohmann::json metadata = nlohmann::json::parse(text);  // outlives the loop below
    for (const auto& e : metadata["ensembles"]) {
      for (const auto& b : e["bookies"]) EXPECT_NE(b.get<std::string>(), gone) << id;
    }
    EXPECT_EQ(text.find("key"), std::string::npos) << "the ledger's keys are never printed: " << text;
    Outcome check = Quire({"ledger", "check", id});
    EXPECT_EQ(check.exit_code(), 0) << id;
    EXPECT_TRUE(check.lines.empty());
  }
}

TEST(CliVersionTest, EveryProgramPrintsItsVersionAndCommitAndExitsZero) {
  for (const auto& [program, path] :
       std::vector<std::pair<std::string, std::string>>{{"quire", QUIRE_CLI_BINARY},
                                                        {"quire-bookie", QUIRE_BOOKIE_BINARY},
                                                        {"quire-bench", QUIRE_BENCH_BINARY}}) {
    Outcome v = quire::cli::testing::RunProgram({path, "--version"});
    EXPECT_EQ(v.exit_code(), 0) << program;
    ASSERT_EQ(v.lines.size(), 1u) << program << ": " << v.text();
    // "quire 0.1.0 (commit ea4ff94c8a30)": the commit is hex, or "unknown" without git.
    const std::string& line = v.lines[0];
    size_t open = line.find(" (commit ");
    ASSERT_NE(open, std::string::npos) << line;
    std::string version = line.substr(program.size() + 1, open - program.size() - 1);
    std::string commit = line.substr(open + 9, line.size() - open - 10);
    EXPECT_EQ(line.substr(0, program.size() + 1), program + " ") << line;
    EXPECT_EQ(std::count(version.begin(), version.end(), '.'), 2) << line;
    EXPECT_EQ(version.find_first_not_of("0123456789."), std::string::npos) << line;
    EXPECT_TRUE(commit == "unknown" || (commit.size() >= 7 &&
                                        commit.find_first_not_of("0123456789abcdef") ==
                                            std::string::npos))
        << line;
    EXPECT_EQ(line.back(), ')') << line;
  }
}

// Runs `program args...` (by default quire) through the shell with HOME set to `home` and no
// QUIRE_METADATA_URI, so that it uses the default standalone store under `home`; standard error
// comes with the output.
Outcome RunQuireAtHome(const std::string& home, const std::string& args,
                       const char* program = QUIRE_CLI_BINARY) {
  return quire::cli::testing::RunProgram(
      {"/bin/sh", "-c",
       fmt::format("HOME='{}' exec env -u QUIRE_METADATA_URI '{}' {} 2>&1 < /dev/null", home,
                   program, args)});
}

TEST(CliUsageTest, AMisspeltCommandIsNamedWithTheNearestOne) {
  quire::testing::TempDir home("quire-cli-home");
  struct Case {
    std::string args, unknown, nearest;
  };
  for (const Case& c : {Case{"ledgr list", "ledgr", "ledger"},
                        Case{"ledger lsit", "lsit", "list"},
                        Case{"--log-level info bokie readonly --on x", "bokie", "bookie"},
                        Case{"--metadata file:///nonexistent cluster inot", "inot", "init"}}) {
    Outcome run = RunQuireAtHome(home.path(), c.args);
    EXPECT_EQ(run.exit_code(), 2) << c.args;
    EXPECT_NE(run.text().find(fmt::format("unknown command '{}'; did you mean '{}'?", c.unknown,
                                          c.nearest)),
              std::string::npos)
        << c.args << ":\n" << run.text();
  }
  Outcome far = RunQuireAtHome(home.path(), "xyzzyqq");
  EXPECT_EQ(far.exit_code(), 2);
  EXPECT_NE(far.text().find("unknown command 'xyzzyqq'"), std::string::npos) << far.text();
  EXPECT_EQ(far.text().find("did you mean"), std::string::npos) << "nothing is near: " << far.text();
  // A command's own arguments are not commands.
  EXPECT_EQ(RunQuireAtHome(home.path(), "ledger read notanumber").text().find("unknown command"),
            std::string::npos);
}

TEST(CliUsageTest, ReadOnlyCommandsOnAMissingStoreFailClearlyAndCreateNothing) {
  quire::testing::TempDir home("quire-cli-home");
  struct Case {
    const char* program;
    const char* args;
  };
  // quire-bench only reads the cluster's metadata too: its ledgers are its own, in a cluster that
  // must exist.
  const char* quire = QUIRE_CLI_BINARY;
  const char* bench = QUIRE_BENCH_BINARY;
  for (const Case& c : {Case{quire, "ledger list"}, Case{quire, "ledger read 1"},
                        Case{quire, "ledger metadata 1"}, Case{quire, "bookie list"},
                        Case{quire, "cluster info"}, Case{quire, "bookie info 127.0.0.1:3181"},
                        Case{bench, "write --duration 1"}, Case{bench, "read --ledger 1"},
                        Case{bench, "tail --duration 1"}}) {
    Outcome run = RunQuireAtHome(home.path(), c.args, c.program);
    EXPECT_EQ(run.exit_code(), 1) << c.program << " " << c.args << ":\n" << run.text();
    EXPECT_NE(run.text().find("no metadata store at file://" + home.path() +
                              "/.quire/standalone/metadata"),
              std::string::npos)
        << c.program << " " << c.args << ":\n" << run.text();
    std::error_code ec;
    EXPECT_FALSE(std::filesystem::exists(home.path() + "/.quire", ec))
        << c.program << " " << c.args << " created " << home.path() << "/.quire";
  }
  // `cluster init` is how a file:// store is made.
  Outcome init = RunQuireAtHome(home.path(), "cluster init");
  EXPECT_EQ(init.exit_code(), 0) << init.text();
  EXPECT_TRUE(std::filesystem::exists(home.path() + "/.quire/standalone/metadata"));
  Outcome list = RunQuireAtHome(home.path(), "ledger list");
  EXPECT_EQ(list.exit_code(), 0) << list.text();
}

// `bookie format` changes state, but not a metadata store that does not exist: a wrong
// metadataServiceUri is refused before anything is wiped.
TEST(CliUsageTest, FormatRefusesAMissingStoreBeforeWipingAnything) {
  quire::testing::TempDir dir("quire-cli-format");
  std::string conf = dir.Sub("bookie.conf");
  std::filesystem::create_directories(dir.Sub("ledgers"));
  std::ofstream(dir.Sub("ledgers/keep")) << "data";
  std::ofstream(conf) << "metadataServiceUri = file://" << dir.Sub("no-store") << "\n"
                      << "journalDirectories = " << dir.Sub("journal") << "\n"
                      << "ledgerDirectories = " << dir.Sub("ledgers") << "\n";
  Outcome run = quire::cli::testing::RunProgram(
      {"/bin/sh", "-c",
       fmt::format("exec '{}' bookie format --conf '{}' --yes 2>&1 < /dev/null", QUIRE_CLI_BINARY,
                   conf)});
  EXPECT_EQ(run.exit_code(), 1) << run.text();
  EXPECT_NE(run.text().find("no metadata store at file://" + dir.Sub("no-store")),
            std::string::npos)
      << run.text();
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("no-store")));
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("ledgers/keep")));
}

}  // namespace
}  // namespace quire::cli
