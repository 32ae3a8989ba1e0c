#include "bookie/bookie_process.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace quire::bookie::testing {

uint16_t PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

Status InitCluster(const std::string& uri) {
  QUIRE_ASSIGN_OR_RETURN(auto store, metadata::OpenMetadataStore(uri, {}));
  return store->InitCluster().status();
}

Result<std::unique_ptr<BookieProcess>> BookieProcess::Start(const BookieProcessOptions& options) {
  std::unique_ptr<BookieProcess> b(new BookieProcess());
  b->options_ = options;
  b->port_ = PickFreePort();
  b->http_port_ = PickFreePort();
  b->conf_path_ = options.root + "/bookie.conf";
  std::error_code ec;
  std::filesystem::create_directories(options.root, ec);
  std::ofstream conf(b->conf_path_);
  conf << "bookiePort = " << b->port_ << "\n"
       << "bookieBindAddress = 127.0.0.1\n"
       << "advertisedAddress = 127.0.0.1\n"
       << "httpServerAddress = 127.0.0.1\n"
       << "httpServerPort = " << b->http_port_ << "\n"
       << "metadataServiceUri = " << options.metadata_uri << "\n"
       << "journalDirectories = " << options.root << "/journal\n"
       << "ledgerDirectories = " << options.root << "/ledgers\n"
       << "writeCacheMaxSizeMB = 32\n"
       << "readAheadCacheMaxSizeMB = 16\n"
       << "journalPreAllocSizeMB = 4\n"
       << "metadataSessionTimeoutMs = 2000\n";
  for (const std::string& kv : options.settings) conf << kv << "\n";
  conf.close();
  if (!conf) return IOError("cannot write " + b->conf_path_);
  QUIRE_RETURN_IF_ERROR(b->Launch());
  return b;
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
