// quire-bookie under systemd's notify protocol (Type=notify, src/bookie/systemd_notify.h): the test
// plays systemd. It binds the unix datagram socket that NOTIFY_SOCKET names, asks for a watchdog
// (WATCHDOG_USEC), and checks that READY=1 comes once the bookie serves, WATCHDOG=1 pings after it,
// and STOPPING=1 on SIGTERM before a clean exit.
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "bookie/bookie_process.h"
#include "util/temp_dir.h"

namespace quire::bookie::testing {
namespace {

// The manager's end of the notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = fd_ >= 0 && path.size() < sizeof(addr.sun_path) &&
             bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
  }
  bool bound() const { return bound_; }

  // Reads messages until one has `line` as one of its lines; false if none does within `timeout`.
  // Every message read is appended to `seen` (for failure output).
  bool WaitFor(const std::string& line, std::chrono::milliseconds timeout, std::string* seen) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;  // the loop checks the time
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      std::string message(buf, static_cast<size_t>(n));
      *seen += "[" + message + "] ";
      if (("\n" + message + "\n").find("\n" + line + "\n") != std::string::npos) return true;
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SystemdNotifyTest, ReadyWatchdogPingsAndStopping) {
  quire::testing::TempDir dir("quire-systemd-test");
  std::string metadata_uri = "file://" + dir.Sub("metadata");
  ASSERT_TRUE(InitCluster(metadata_uri).ok());
  NotifySocket manager(dir.Sub("notify.sock"));
  ASSERT_TRUE(manager.bound()) << std::strerror(errno);

  // The bookie inherits the environment; only it is meant to see these two.
  setenv("NOTIFY_SOCKET", dir.Sub("notify.sock").c_str(), 1);
  setenv("WATCHDOG_USEC", "400000", 1);  // a ping every 200 ms
  auto bookie = BookieProcess::Start({dir.Sub("bookie"), metadata_uri, {}});
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  ASSERT_TRUE(bookie.ok()) << bookie.status().ToString();

  std::string seen;
  // The "ready" line on stdout was printed just before READY=1 was sent.
  ASSERT_TRUE(manager.WaitFor("READY=1", std::chrono::seconds(10), &seen)) << seen;
  EXPECT_EQ(seen.find("WATCHDOG=1"), std::string::npos) << "a ping before READY=1: " << seen;
  EXPECT_NE(seen.find("STATUS=bookie " + (*bookie)->bookie_id() + " serving"), std::string::npos)
      << seen;
  EXPECT_TRUE(manager.WaitFor("WATCHDOG=1", std::chrono::seconds(10), &seen)) << seen;
  EXPECT_TRUE(manager.WaitFor("WATCHDOG=1", std::chrono::seconds(10), &seen))
      << "only one ping: " << seen;

  int status = (*bookie)->Stop();  // SIGTERM; the message waits in the socket's queue
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  EXPECT_TRUE(manager.WaitFor("STOPPING=1", std::chrono::seconds(10), &seen)) << seen;
}

}  // namespace
}  // namespace quire::bookie::testing
