// quire: inspect and operate a Quire cluster (docs/cli.md).
//
// Exit codes: 0 success, 1 the command failed (the reason is on standard error), 2 usage error.
#include <signal.h>

#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/cli.h"
#include "common/build_info.h"
#include "common/logging.h"

int main(int argc, char** argv) {
  using namespace quire::cli;
  GlobalOptions g;
  CLI::App app{
      "quire: operate a Quire cluster - ledgers, bookies, metadata, recovery, offline tools.\n"
      "The metadata service comes from --metadata, else $QUIRE_METADATA_URI, else the local\n"
      "standalone cluster (file://$HOME/.quire/standalone/metadata).\n"
      "Exit codes: 0 ok, 1 error (reason on stderr), 2 usage."};
  app.name("quire");  // in usage lines, whatever the path it was started by
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", quire::VersionLine("quire"),
                       "Print the version and the git commit it was built from, then exit");
  app.add_option("--metadata", g.metadata_uri,
                 "Metadata service URI: zk://host:port[,host:port]/path or file:///path");
  app.add_option("--log-level", g.log_level, "trace, debug, info, warn, error, off")
      ->capture_default_str();
  app.add_flag("--json", g.json, "Print data as JSON (commands that print data)");
  g.tls.AddTo(app);
  app.parse_complete_callback([&] {
    quire::InitLogging({.level = g.log_level}).IgnoreError();
  });
  signal(SIGPIPE, SIG_IGN);

  AddStandaloneCommand(app, g);
  AddClusterCommands(app, g);
  AddBookieCommands(app, g);
  AddLedgerCommands(app, g);
  AddAutoRecoveryCommands(app, g);
  AddOfflineCommands(app, g);
  AddSimpleTestCommand(app, g);

  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() != 0) {
      // CLI11 would say "A subcommand is required" for a misspelt command: name it instead.
      std::string unknown = UnknownCommandMessage(app, std::vector<std::string>(argv + 1, argv + argc));
      if (!unknown.empty()) {
        fmt::print(stderr, "{}\n", unknown);
        return kExitUsage;
      }
    }
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return kExitOk;
}
