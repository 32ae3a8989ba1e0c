// quire-bookie: the bookie daemon.
//
//   quire-bookie --conf /etc/quire/bookie.conf [--set key=value]...
//
// Exit codes: 0 after a clean shutdown (SIGTERM/SIGINT), 1 when start-up fails (the reason is
// logged and printed), 2 for command-line or configuration errors. Logs go to standard error (or
// logFile, reopened on SIGHUP); once serving, one line "quire-bookie <id> ready: port <p> http
// <h>" goes to standard output, and READY=1 to systemd when it started the bookie
// (systemd_notify.h).
#include <signal.h>

#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "bookie/bookie.h"
#include "bookie/bookie_config.h"
#include "bookie/systemd_notify.h"
#include "common/build_info.h"
#include "common/logging.h"
#include "common/test_faults.h"

int main(int argc, char** argv) {
  using namespace quire;
  using namespace quire::bookie;

  std::string conf_path;
  std::vector<std::string> overrides;
  CLI::App app{
      "quire-bookie: a Quire storage server. It keeps ledger entries durable (journal + entry "
      "logs), serves them to clients, and registers itself in the metadata store.\n"
      "Every configuration key, with its default, is documented in conf/bookie.conf."};
  app.set_version_flag("--version", VersionLine("quire-bookie"),
                       "Print the version and the git commit it was built from, then exit");
  app.add_option("-c,--conf", conf_path, "Configuration file (key = value lines)");
  app.add_option("-s,--set", overrides, "Override one key: --set bookiePort=3182 (repeatable)");
  bool print_conf = false;
  bool init_cluster = false;
  app.add_flag("--init-cluster", init_cluster,
               "Initialize the cluster in metadataServiceUri first if it is not yet (harmless when "
               "it is); for a first bookie on one machine");
  app.add_flag("--print-default-conf", print_conf,
               "Print every configuration key with its description and default, then exit");
  CLI11_PARSE(app, argc, argv);
  if (print_conf) {
    fmt::print("{}", DocumentedDefaultConfig());
    return 0;
  }

  Result<Config> config = conf_path.empty() ? Result<Config>(Config(BookieConfigSchema()))
                                            : Config::Load(BookieConfigSchema(), conf_path);
  if (!config.ok()) {
    fmt::print(stderr, "quire-bookie: {}\n", config.status().message());
    return 2;
  }
  for (const std::string& kv : overrides) {
    if (Status s = config->SetFromString(kv); !s.ok()) {
      fmt::print(stderr, "quire-bookie: {}\n", s.message());
      return 2;
    }
  }
  Result<BookieOptions> options = BookieOptionsFromConfig(*config);
  if (!options.ok()) {
    fmt::print(stderr, "quire-bookie: {}\n", options.status().message());
    return 2;
  }
  // Signals are taken by sigwait on this thread; every thread started later inherits the mask.
  // Before InitLogging: with logFile it starts spdlog's flush thread, and a SIGTERM delivered to
  // a thread that does not block it would kill the bookie without a clean shutdown.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reopen the log file
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (Status s = InitLogging(options->logging); !s.ok()) {
    fmt::print(stderr, "quire-bookie: {}\n", s.message());
    return 2;
  }
  for (const ConfigAlias& alias : config->aliases_used()) spdlog::info("{}", alias.Note());
#ifdef QUIRE_TEST_FAULTS  // not even the name in other builds
  if (TestFaultEnabled(TestFault::kSkipFence)) {
    spdlog::warn("TEST FAULT QUIRE_TEST_FAULT_SKIP_FENCE: fencing reads do not fence; this bookie "
                 "breaks recovery on purpose (src/common/test_faults.h)");
  }
  if (TestFaultEnabled(TestFault::kInflateLac)) {
    spdlog::warn("TEST FAULT QUIRE_TEST_FAULT_INFLATE_LAC: every LAC reported is 1000 too high; "
                 "this bookie lies on purpose (src/common/test_faults.h)");
  }
  if (TestFaultEnabled(TestFault::kStallFlush)) {
    spdlog::warn("TEST FAULT QUIRE_TEST_FAULT_STALL_FLUSH: the write cache is not flushed until it "
                 "has refused an add (src/common/test_faults.h)");
  }
#endif

  if (init_cluster) {
    auto store = metadata::OpenMetadataStore(options->metadata_uri, options->metadata);
    Status s = store.ok() ? (*store)->InitCluster().status() : store.status();
    if (!s.ok()) {
      fmt::print(stderr, "quire-bookie: initializing the cluster at {}: {}\n",
                 options->metadata_uri, s.ToString());
      return 1;
    }
  }
  Result<std::unique_ptr<Bookie>> bookie = Bookie::Start(std::move(*options));
  if (!bookie.ok()) {
    spdlog::error("quire-bookie could not start: {}", bookie.status().ToString());
    fmt::print(stderr, "quire-bookie: could not start: {}\n", bookie.status().ToString());
    return 1;
  }
  // One line on stdout when the bookie serves: scripts and tests wait for it.
  fmt::print("quire-bookie {} ready: port {} http {}\n", (*bookie)->bookie_id(), (*bookie)->port(),
             (*bookie)->http_port());
  std::fflush(stdout);
  SystemdNotifier systemd;
  systemd.Ready(fmt::format("bookie {} serving on port {}", (*bookie)->bookie_id(),
                            (*bookie)->port()));
  int received = 0;
  while ((received = systemd.WaitForSignal(signals, [&](std::chrono::milliseconds timeout) {
            return (*bookie)->Responsive(timeout);
          })) == SIGHUP) {
    if (Status s = ReopenLogs(); !s.ok()) {
      // Lines go on to the old file; the next SIGHUP tries again.
      fmt::print(stderr, "quire-bookie: SIGHUP: {}\n", s.ToString());
      spdlog::error("SIGHUP: could not reopen the log: {}", s.ToString());
    } else {
      spdlog::info("SIGHUP: log file reopened");
    }
  }
  spdlog::info("received {}, shutting down", received == SIGTERM ? "SIGTERM" : "SIGINT");
  systemd.Stopping();
  (*bookie)->Stop();
  return 0;
}
