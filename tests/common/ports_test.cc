// The ports tests give their servers (tests/util/ports.h): never twice, never in the kernel's
// ephemeral range, and claimed against other test processes.
#include "util/ports.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace quire::testing {
namespace {

TEST(PortsTest, DistinctAndOutsideTheEphemeralRange) {
  int lo = 32768, hi = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> lo >> hi;
  std::set<uint16_t> seen;
  for (int i = 0; i < 50; ++i) {
    auto port = FreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    EXPECT_TRUE(seen.insert(*port).second) << "port " << *port << " given twice";
    if (lo > 20000 + 2048) {
      EXPECT_TRUE(*port < lo) << "port " << *port << " is in the ephemeral range " << lo << "-"
                              << hi;
    }
  }
}

TEST(PortsTest, AnotherProcessCannotClaimAGivenPort) {
  auto port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  const char* tmp = std::getenv("TMPDIR");
  std::string path =
      std::string(tmp && *tmp ? tmp : "/tmp") + "/quire-test-ports/" + std::to_string(*port);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fd = open(path.c_str(), O_RDWR);
    if (fd < 0) _exit(2);
    _exit(flock(fd, LOCK_EX | LOCK_NB) == 0 ? 1 : 0);  // 0: refused, as it must be
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "exit 1: another process could claim port " << *port
                                    << "; exit 2: no claim file " << path;
}

}  // namespace
}  // namespace quire::testing
