#include "bookie/bookie_process.h"

#include "util/ports.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

namespace quire::bookie::testing {

Status InitCluster(const std::string& uri) {
  QUIRE_ASSIGN_OR_RETURN(auto store, metadata::OpenMetadataStore(uri, {}));
  return store->InitCluster().status();
}

Result<std::unique_ptr<BookieProcess>> BookieProcess::Start(const BookieProcessOptions& options) {
  // Another process can take a chosen port before the bookie binds it; the bookie then exits and
  // is started again on other ports (a setting that names a port keeps it, and fails again).
  Status last;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::unique_ptr<BookieProcess> b(new BookieProcess());
    b->options_ = options;
    last = b->Configure();
    if (last.ok()) last = b->Launch();
    if (last.ok()) return b;
  }
  return last;
}

Status BookieProcess::Configure() {
  QUIRE_ASSIGN_OR_RETURN(port_, quire::testing::FreeLoopbackPort());
  QUIRE_ASSIGN_OR_RETURN(http_port_, quire::testing::FreeLoopbackPort());
  conf_path_ = options_.root + "/bookie.conf";
  std::error_code ec;
  std::filesystem::create_directories(options_.root, ec);
  std::map<std::string, std::string> keys = {
      {"bookiePort", std::to_string(port_)},
      {"bookieBindAddress", "127.0.0.1"},
      {"advertisedAddress", "127.0.0.1"},
      {"httpServerAddress", "127.0.0.1"},
      {"httpServerPort", std::to_string(http_port_)},
      {"metadataServiceUri", options_.metadata_uri},
      {"journalDirectories", options_.root + "/journal"},
      {"ledgerDirectories", options_.root + "/ledgers"},
      {"writeCacheMaxSizeMB", "32"},
      {"readAheadCacheMaxSizeMB", "16"},
      {"journalPreAllocSizeMB", "4"},
      {"metadataSessionTimeoutMs", "2000"},
      // Off unless a test turns it on (tests/autorecovery): a test that kills a bookie must not
      // see its ledgers re-replicated behind its back.
      {"autoRecoveryDaemonEnabled", "false"},
  };
  for (const std::string& kv : options_.settings) {  // "key = value" overrides
    size_t eq = kv.find('=');
    if (eq == std::string::npos) return InvalidArgument("bad setting " + kv);
    auto trim = [](std::string t) {
      t.erase(0, t.find_first_not_of(' '));
      t.erase(t.find_last_not_of(' ') + 1);
      return t;
    };
    keys[trim(kv.substr(0, eq))] = trim(kv.substr(eq + 1));
  }
  std::ofstream conf(conf_path_);
  for (const auto& [k, v] : keys) conf << k << " = " << v << "\n";
  conf.close();
  if (!conf) return IOError("cannot write " + conf_path_);
  return Status::Ok();
}

Status BookieProcess::Launch() {
  auto p = quire::testing::Subprocess::Start({QUIRE_BOOKIE_BINARY, "--conf", conf_path_});
  if (!p.ok()) return p.status();
  process_ = std::make_unique<quire::testing::Subprocess>(std::move(*p));
  auto line = process_->ReadLine(std::chrono::seconds(60));
  if (!line || line->find(" ready: ") == std::string::npos) {
    int status = process_->Kill();
    process_.reset();
    return Status(StatusCode::kUnavailable,
                  fmt::format("quire-bookie did not become ready (exit status {}); its stderr is "
                              "in the test log",
                              status));
  }
  return Status::Ok();
}

BookieProcess::~BookieProcess() {
  if (process_) process_->Kill();
}

Status BookieProcess::Restart() {
  if (process_) Kill();
  return Launch();
}

int BookieProcess::Kill() {
  if (!process_) return -1;
  int status = process_->Kill(SIGKILL);
  process_.reset();
  return status;
}

int BookieProcess::Stop() {
  if (!process_) return -1;
  kill(process_->pid(), SIGTERM);
  int status = process_->Wait(std::chrono::seconds(60));
  process_.reset();
  return status;
}

long BookieProcess::RssKiB() const {
  if (!process_) return -1;
  std::ifstream in(fmt::format("/proc/{}/status", process_->pid()));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace quire::bookie::testing
