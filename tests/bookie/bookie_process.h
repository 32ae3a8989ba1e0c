// Real quire-bookie processes for tests, with a real metadata store.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metadata/metadata_store.h"
#include "quire/status.h"
#include "util/subprocess.h"

namespace quire::bookie::testing {

// Initializes the cluster at `uri` (idempotent).
Status InitCluster(const std::string& uri);

struct BookieProcessOptions {
  std::string root;           // journal in root/journal, ledgers in root/ledgers
  std::string metadata_uri;   // e.g. file:///tmp/x/metadata
  std::vector<std::string> settings;  // "key = value", overriding the test defaults
};

class BookieProcess {
 public:
  // Starts quire-bookie on fresh free ports and waits (bounded) for its "ready" line.
  static Result<std::unique_ptr<BookieProcess>> Start(const BookieProcessOptions& options);
  ~BookieProcess();  // kills the process if it still runs

  // Starts again on the same ports and directories (after Kill or Stop).
  Status Restart();
  // SIGKILL; returns the wait status.
  int Kill();
  // SIGTERM and wait (bounded) for a clean exit; returns the wait status.
  int Stop();
  // The process's resident set size in KiB (from /proc), or -1.
  long RssKiB() const;

  uint16_t port() const { return port_; }
  uint16_t http_port() const { return http_port_; }
  std::string bookie_id() const { return "127.0.0.1:" + std::to_string(port_); }
  bool running() const { return process_ != nullptr; }
  // The running process's id, or -1 (for SIGSTOP/SIGCONT: a bookie that stalls).
  pid_t pid() const { return process_ ? process_->pid() : -1; }

 private:
  BookieProcess() = default;
  Status Configure();  // chooses ports and writes the configuration file
  Status Launch();

  BookieProcessOptions options_;
  uint16_t port_ = 0;
  uint16_t http_port_ = 0;
  std::string conf_path_;
  std::unique_ptr<quire::testing::Subprocess> process_;
};

}  // namespace quire::bookie::testing
