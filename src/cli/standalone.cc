// quire standalone: a whole cluster on one machine - the embedded metadata store and N bookies
// on loopback, in this process. For trying Quire and for development; data survives restarts.
#include <signal.h>

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bookie/bookie.h"
#include "bookie/bookie_config.h"
#include "cli/cli.h"
#include "common/config.h"
#include "metadata/metadata_store.h"

namespace quire::cli {

void AddStandaloneCommand(CLI::App& app, GlobalOptions& g) {
  auto* cmd = app.add_subcommand(
      "standalone",
      "Run a local cluster: an embedded metadata store and N bookies on 127.0.0.1, until Ctrl-C. "
      "Other quire commands find it without --metadata");
  auto bookies = std::make_shared<int>(3);
  auto data_dir = std::make_shared<std::string>(DefaultDataDir());
  auto port = std::make_shared<int>(3181);
  auto http_port = std::make_shared<int>(8080);
  auto sets = std::make_shared<std::vector<std::string>>();
  cmd->add_option("-n,--bookies", *bookies, "Bookies to run")->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd->add_option("-d,--data-dir", *data_dir,
                  "Where the metadata and the bookies keep their data (default: "
                  "$HOME/.quire/standalone)");
  cmd->add_option("--port", *port, "Port of the first bookie; the others take the next ones")
      ->check(CLI::Range(1, 65000))->capture_default_str();
  cmd->add_option("--http-port", *http_port,
                  "Admin HTTP port of the first bookie (0: no admin HTTP)")
      ->check(CLI::Range(0, 65000))->capture_default_str();
  cmd->add_option("-s,--set", *sets, "Bookie setting key=value for every bookie (repeatable)");
  cmd->callback([&g, bookies, data_dir, port, http_port, sets] {
    const char* name = "standalone";
    std::error_code ec;
    std::filesystem::create_directories(*data_dir, ec);
    if (ec) Fail(name, IOError(fmt::format("creating {}: {}", *data_dir, ec.message())));
    std::string dir = std::filesystem::absolute(*data_dir).lexically_normal().string();
    std::string uri = "file://" + dir + "/metadata";
    {
      auto store = metadata::OpenMetadataStore(uri, {});
      if (!store.ok()) Fail(name, store.status());
      if (auto info = (*store)->InitCluster(); !info.ok()) Fail(name, info.status());
    }
    // Signals go to sigwait below; threads started from here on inherit the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    std::vector<std::unique_ptr<bookie::Bookie>> running;
    for (int i = 0; i < *bookies; ++i) {
      std::string root = fmt::format("{}/bookie-{}", dir, i);
      Config config(bookie::BookieConfigSchema());
      std::vector<std::string> kvs = {
          fmt::format("bookiePort={}", *port + i), "bookieBindAddress=127.0.0.1",
          "advertisedAddress=127.0.0.1", "metadataServiceUri=" + uri,
          "journalDirectories=" + root + "/journal", "ledgerDirectories=" + root + "/ledgers",
          *http_port > 0 ? fmt::format("httpServerPort={}", *http_port + i)
                         : std::string("httpServerEnabled=false"),
          "httpServerAddress=127.0.0.1", "logLevel=" + g.log_level,
          // One process, one machine: its bookies die together, so there is nothing for
          // autorecovery to heal (--set autoRecoveryDaemonEnabled=true turns it on).
          "autoRecoveryDaemonEnabled=false"};
      kvs.insert(kvs.end(), sets->begin(), sets->end());
      for (const std::string& kv : kvs) {
        if (Status s = config.SetFromString(kv); !s.ok()) FailUsage(name, s.message());
      }
      auto options = bookie::BookieOptionsFromConfig(config);
      if (!options.ok()) FailUsage(name, options.status().message());
      auto b = bookie::Bookie::Start(std::move(*options));
      if (!b.ok()) {
        for (auto it = running.rbegin(); it != running.rend(); ++it) (*it)->Stop();
        Fail(name, b.status().WithContext(fmt::format("starting bookie {} (data in {})", i, root)));
      }
      running.push_back(std::move(*b));
    }
    if (g.json) {
      // One line, once every bookie serves: what a script needs to reach the cluster.
      nlohmann::json list = nlohmann::json::array();
      for (const auto& b : running) {
        list.push_back({{"bookie_id", b->bookie_id()},
                        {"http_port", b->http_port() > 0 ? nlohmann::json(b->http_port())
                                                         : nlohmann::json(nullptr)}});
      }
      fmt::print("{}\n", nlohmann::json{{"ready", true},
                                        {"metadata_uri", uri},
                                        {"data_dir", dir},
                                        {"bookies", list}}
                             .dump());
    } else {
      for (const auto& b : running) {
        fmt::print("bookie {} (admin http {})\n", b->bookie_id(),
                   b->http_port() > 0 ? fmt::format("http://127.0.0.1:{}", b->http_port())
                                      : std::string("off"));
      }
      fmt::print("metadata {}\n", uri);
      fmt::print("Quire standalone is ready ({} bookies, data in {}). Ctrl-C stops it.\n",
                 running.size(), dir);
      if (uri != DefaultMetadataUri()) {
        fmt::print("Other commands: export QUIRE_METADATA_URI={}\n", uri);
      }
    }
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    fmt::print(stderr, "stopping ({})...\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    for (auto it = running.rbegin(); it != running.rend(); ++it) (*it)->Stop();
    running.clear();
    fmt::print(stderr, "stopped\n");
  });
}

}  // namespace quire::cli
