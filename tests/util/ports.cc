#include "util/ports.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>

#include <fmt/format.h>

namespace quire::testing {

namespace {

// Ports a test hands to its servers are taken from below the kernel's ephemeral range: a port in
// that range can be given at any moment to an outgoing connection (a client, ZooKeeper, a bookie
// dialling another), which then holds it while our server tries to bind it, or while a stopped
// bookie waits to be restarted on its old port. That happened in CI: "admin HTTP server: cannot
// listen on 127.0.0.1:58127: Address already in use".
struct PortRange {
  uint16_t first;
  uint16_t last;
};

PortRange ServerPortRange() {
  int lo = 32768, hi = 60999;  // Linux's default ephemeral range
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  in >> lo >> hi;
  if (lo > 20000 + 2048) return {20000, static_cast<uint16_t>(lo - 1)};
  if (hi < 65535 - 2048) return {static_cast<uint16_t>(hi + 1), 65535};
  return {10000, 65535};  // the whole space is ephemeral: the bind check below is all there is
}

// Whether a server could listen on `port` now (SO_REUSEADDR, as the servers set it).
bool Bindable(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && listen(fd, 1) == 0;
  close(fd);
  return ok;
}

// Claims `port` for this process among all test processes on the machine: an exclusive flock
// on a file named after it, held (the descriptor left open) until the process exits, when the
// kernel releases it. Without it, ctest's parallel test processes handed each other ports: a
// test's bookie, killed to be restarted on its port, found another test's bookie there, and the
// test read that bookie's ledger 0.
bool ClaimAcrossProcesses(uint16_t port) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = fmt::format("{}/quire-test-ports", tmp && *tmp ? tmp : "/tmp");
  mkdir(dir.c_str(), 0777);  // EEXIST is fine; any other failure shows at open()
  std::string path = fmt::format("{}/{}", dir, port);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return false;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return false;
  }
  return true;  // fd stays open on purpose: it is the claim
}

}  // namespace

Result<uint16_t> FreeLoopbackPort() {
  // Each process walks the range from its own starting point (from its pid), so parallel test
  // processes rarely contend for the same claims. The claim also keeps a port from being given
  // twice in one process (flocks on two opens of one file conflict), which matters because the
  // kernel would happily let a just-released port be bound again.
  // Ports go in steps of 8 because `quire standalone --port P` also takes the next few ports.
  static constexpr uint32_t kStride = 8;
  static std::mutex mu;
  static const PortRange range = ServerPortRange();
  static const uint32_t slots = (range.last - range.first + 1u) / kStride;
  static uint32_t next = static_cast<uint32_t>(getpid()) * 2654435761u % slots;
  std::lock_guard<std::mutex> lock(mu);
  for (uint32_t attempt = 0; attempt < slots; ++attempt) {
    auto port = static_cast<uint16_t>(range.first + next * kStride);
    next = (next + 1) % slots;
    if (Bindable(port) && ClaimAcrossProcesses(port)) return port;
  }
  return Status(StatusCode::kUnavailable,
                fmt::format("no free loopback port in {}-{} that no test process has claimed",
                            range.first, range.last));
}

}  // namespace quire::testing
