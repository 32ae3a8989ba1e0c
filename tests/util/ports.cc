#include "util/ports.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <set>

namespace quire::testing {

namespace {

Result<uint16_t> EphemeralPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int e = errno;
    close(fd);
    return ErrnoStatus("bind an ephemeral port", e);
  }
  close(fd);
  return static_cast<uint16_t>(ntohs(addr.sin_port));
}

}  // namespace

Result<uint16_t> FreeLoopbackPort() {
  // The kernel may hand a just-released port out again at once: a bookie once got the same port
  // for its protocol and its admin HTTP server. Never give one port twice in a process.
  static std::mutex mu;
  static std::set<uint16_t> given;
  std::lock_guard<std::mutex> lock(mu);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    QUIRE_ASSIGN_OR_RETURN(uint16_t port, EphemeralPort());
    if (given.insert(port).second) return port;
  }
  return Status(StatusCode::kUnavailable, "no loopback port that this process has not used yet");
}

}  // namespace quire::testing
