// A real, standalone ZooKeeper server for one test (or benchmark), on a free loopback port.
//
// It runs the Debian package's server (java -cp /usr/share/java/zookeeper.jar
// org.apache.zookeeper.server.ZooKeeperServerMain <cfg>; the jar's manifest names its
// dependencies) with its own data directory in a TempDir, and counts as started once the "srvr"
// four-letter command answers "Mode: ..." (bounded polling, deadline Options::start_timeout).
// The destructor kills it (SIGKILL) and reaps it; the child also gets SIGKILL if the test process
// dies first (PR_SET_PDEATHSIG), so no server outlives its test.
//
// Environment overrides: QUIRE_JAVA (default /usr/bin/java), QUIRE_ZOOKEEPER_CLASSPATH (default
// /usr/share/java/zookeeper.jar). The server's log is <data dir>/zookeeper.log (kept with
// QUIRE_KEEP_TEST_DATA=1).
//
// Fault tools: Stop/Restart on the same data directory and port (the data survives, sessions
// too if the restart is shorter than their timeout), Pause/Resume (SIGSTOP/SIGCONT: the server
// stops answering; clients see timeouts, then lose their connection), and ExpireSession (the
// standard technique: open a second client with the same session id and password, then close
// it, which ends the session on the server).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "quire/status.h"
#include "util/temp_dir.h"

namespace quire::testing {

class ZookeeperServer {
 public:
  struct Options {
    int tick_ms = 100;  // the minimum session timeout is 2 ticks
    int max_session_timeout_ms = 60'000;
    bool force_sync = false;  // fsync the transaction log (true for benchmarks)
    bool fast_jvm = true;     // C1-only JIT and serial GC: starts faster, runs slower
    int heap_mb = 256;
    std::chrono::milliseconds start_timeout{60'000};
  };

  static Result<std::unique_ptr<ZookeeperServer>> Start(const Options& options);
  static Result<std::unique_ptr<ZookeeperServer>> Start() { return Start(Options{}); }
  ~ZookeeperServer();
  ZookeeperServer(const ZookeeperServer&) = delete;
  ZookeeperServer& operator=(const ZookeeperServer&) = delete;

  // "127.0.0.1:<port>"
  std::string connect_string() const;
  int port() const { return port_; }
  const std::string& data_dir() const { return dir_.path(); }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Kills the server (SIGKILL) and reaps it.
  Status Stop();
  // Stop() if running, then start again on the same data directory and port.
  Status Restart();
  // SIGSTOP / SIGCONT.
  Status Pause();
  Status Resume();
  // From the server's "dump" four-letter command: whether session `session_id` is alive on the
  // server (neither expired nor closed), and the session that owns ephemeral znode `path` (0:
  // none). kUnavailable if the server does not answer.
  Result<bool> HasSession(int64_t session_id) const;
  Result<int64_t> EphemeralOwner(const std::string& path) const;

  // Ends session `session_id` on the server as if it had expired; its client learns so when it
  // next talks to the server. `password` is the session's 16-byte password.
  Status ExpireSession(int64_t session_id, std::string_view password,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  explicit ZookeeperServer(const Options& options);
  Status Launch();  // fork + exec, with the current port
  Status WaitUntilServing();

  Options options_;
  TempDir dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace quire::testing
