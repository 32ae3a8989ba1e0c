#include "util/zookeeper_server.h"

#include "util/ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace quire::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string EnvOr(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

// Sends a four-letter command and returns the whole answer ("" if the server did not answer).
std::string FourLetterWord(int port, const char* word) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      write(fd, word, std::strlen(word)) == static_cast<ssize_t>(std::strlen(word))) {
    char buf[1024];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

std::string LogTail(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace

ZookeeperServer::ZookeeperServer(const Options& options)
    : options_(options), dir_("quire-zookeeper") {}

ZookeeperServer::~ZookeeperServer() { Stop().IgnoreError(); }

std::string ZookeeperServer::connect_string() const { return fmt::format("127.0.0.1:{}", port_); }

Result<std::unique_ptr<ZookeeperServer>> ZookeeperServer::Start(const Options& options) {
  std::unique_ptr<ZookeeperServer> server(new ZookeeperServer(options));
  Status last;
  // The port can be taken between choosing it and the server binding it; then the server exits
  // and another port is tried.
  for (int attempt = 0; attempt < 3; ++attempt) {
    QUIRE_ASSIGN_OR_RETURN(server->port_, quire::testing::FreeLoopbackPort());
    last = server->Launch();
    if (last.ok()) last = server->WaitUntilServing();
    if (last.ok()) return server;
    server->Stop().IgnoreError();
  }
  return last;
}

Status ZookeeperServer::Launch() {
  const std::string cfg = dir_.Sub("zoo.cfg");
  {
    std::ofstream out(cfg, std::ios::trunc);
    out << "tickTime=" << options_.tick_ms << "\n"
        << "dataDir=" << dir_.Sub("data") << "\n"
        << "clientPort=" << port_ << "\n"
        << "clientPortAddress=127.0.0.1\n"
        << "maxSessionTimeout=" << options_.max_session_timeout_ms << "\n"
        << "maxClientCnxns=0\n"
        << "admin.enableServer=false\n"
        << "4lw.commands.whitelist=ruok,srvr,stat,cons,dump\n"
        << "preAllocSize=4096\n"
        << "forceSync=" << (options_.force_sync ? "yes" : "no") << "\n";
    if (!out) return IOError(fmt::format("cannot write {}", cfg));
  }
  const std::string log = dir_.Sub("zookeeper.log");
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoStatus(fmt::format("open {}", log), errno);

  std::string java = EnvOr("QUIRE_JAVA", "/usr/bin/java");
  std::string classpath = EnvOr("QUIRE_ZOOKEEPER_CLASSPATH", "/usr/share/java/zookeeper.jar");
  if (access("/usr/share/java/slf4j-simple.jar", R_OK) == 0) {
    classpath += ":/usr/share/java/slf4j-simple.jar";  // the server's warnings go to its log
  }
  std::vector<std::string> argv = {java, fmt::format("-Xmx{}m", options_.heap_mb),
                                   "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                                   "-Dzookeeper.jmx.log4j.disable=true"};
  if (options_.fast_jvm) {
    argv.insert(argv.end(), {"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"});
  }
  argv.insert(argv.end(),
              {"-cp", classpath, "org.apache.zookeeper.server.ZooKeeperServerMain", cfg});
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(log_fd);
    return ErrnoStatus("fork", e);
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the parent already died
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execv(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
  pid_ = pid;
  return Status::Ok();
}

Status ZookeeperServer::WaitUntilServing() {
  const auto deadline = Clock::now() + options_.start_timeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Status(StatusCode::kUnavailable,
                    fmt::format("ZooKeeper exited during start-up (status {:#x}); log:\n{}", status,
                                LogTail(dir_.Sub("zookeeper.log"))));
    }
    if (FourLetterWord(port_, "srvr").find("Mode:") != std::string::npos) return Status::Ok();
    // Bounded polling: the JVM gives no other sign of readiness.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status(StatusCode::kTimeout,
                fmt::format("ZooKeeper on port {} not serving after {} ms; log:\n{}", port_,
                            options_.start_timeout.count(), LogTail(dir_.Sub("zookeeper.log"))));
}

Status ZookeeperServer::Stop() {
  if (pid_ <= 0) return Status::Ok();
  kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return Status::Ok();
}

Status ZookeeperServer::Restart() {
  QUIRE_RETURN_IF_ERROR(Stop());
  QUIRE_RETURN_IF_ERROR(Launch());
  return WaitUntilServing();
}

namespace {

// True once every thread of `pid` is stopped ('T' in /proc/<pid>/task/<tid>/stat).
bool AllThreadsStopped(pid_t pid) {
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(
           fmt::format("/proc/{}/task", pid), ec)) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    size_t paren = line.rfind(')');  // the state follows the command name "(...)"
    if (paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'T') {
      return false;
    }
  }
  return !ec;
}

}  // namespace

Status ZookeeperServer::Pause() {
  if (pid_ <= 0 || kill(pid_, SIGSTOP) != 0) return FailedPrecondition("ZooKeeper not running");
  // SIGSTOP takes effect asynchronously: a thread already running may still answer a request.
  // Return only once every thread has stopped (bounded: 10 s).
  for (int i = 0; i < 10'000; ++i) {
    if (AllThreadsStopped(pid_)) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling /proc, bounded
  }
  return Status(StatusCode::kTimeout, "ZooKeeper's threads did not all stop within 10 s");
}

Status ZookeeperServer::Resume() {
  if (pid_ <= 0 || kill(pid_, SIGCONT) != 0) return FailedPrecondition("ZooKeeper not running");
  return Status::Ok();
}

namespace {

struct ConnectWait {
  std::mutex mu;
  std::condition_variable cv;
  int state = 0;
};

void ExpirerWatcher(zhandle_t*, int type, int state, const char*, void* ctx) {
  if (type != ZOO_SESSION_EVENT) return;
  auto* wait = static_cast<ConnectWait*>(ctx);
  std::lock_guard<std::mutex> lock(wait->mu);
  wait->state = state;
  wait->cv.notify_all();
}

void QuietLog(const char*) {}

}  // namespace

Status ZookeeperServer::ExpireSession(int64_t session_id, std::string_view password,
                                      std::chrono::milliseconds timeout) {
  clientid_t id{};
  id.client_id = session_id;
  if (password.size() != sizeof(id.passwd)) {
    return InvalidArgument(fmt::format("session password of {} bytes", password.size()));
  }
  std::memcpy(id.passwd, password.data(), sizeof(id.passwd));
  const std::string hosts = connect_string();
  const auto deadline = Clock::now() + timeout;
  // Attaching moves the session to our connection and closing it ends the session. But the
  // owner, cut off by the move, reconnects at once and may take the session back before our
  // close arrives; then the close ends nothing. So: repeat until an attach is told "expired".
  while (Clock::now() < deadline) {
    ConnectWait wait;
    zhandle_t* zh =
        zookeeper_init2(hosts.c_str(), &ExpirerWatcher, 10'000, &id, &wait, 0, &QuietLog);
    if (zh == nullptr) return ErrnoStatus("zookeeper_init2", errno);
    int state = 0;
    {
      std::unique_lock<std::mutex> lock(wait.mu);
      wait.cv.wait_until(lock, deadline, [&] {
        return wait.state == ZOO_CONNECTED_STATE || wait.state == ZOO_EXPIRED_SESSION_STATE;
      });
      state = wait.state;
    }
    zookeeper_close(zh);
    if (state == ZOO_EXPIRED_SESSION_STATE) return Status::Ok();
  }
  return Status(StatusCode::kTimeout, fmt::format("could not end session {:#x} on {} in {} ms",
                                                  session_id, hosts, timeout.count()));
}

// "dump" answers (ZooKeeper 3.8):
//   SessionTracker dump:
//   Session Sets (2)/(1):
//   0 expire at ...:
//   1 expire at ...:
//   	0x100003c5bd40000
//   ephemeral nodes dump:
//   Sessions with Ephemerals (1):
//   0x100003c5bd40000:
//   	/quire/bookies/writable/127.0.0.1:3181
Result<bool> ZookeeperServer::HasSession(int64_t session_id) const {
  std::string dump = FourLetterWord(port_, "dump");
  size_t ephemerals = dump.find("ephemeral nodes dump:");
  if (ephemerals == std::string::npos) return Status(StatusCode::kUnavailable, "no dump: " + dump);
  std::string line = fmt::format("\t{:#x}\n", static_cast<uint64_t>(session_id));
  return dump.substr(0, ephemerals).find(line) != std::string::npos;
}

Result<int64_t> ZookeeperServer::EphemeralOwner(const std::string& path) const {
  std::string dump = FourLetterWord(port_, "dump");
  size_t ephemerals = dump.find("Sessions with Ephemerals");
  if (ephemerals == std::string::npos) return Status(StatusCode::kUnavailable, "no dump: " + dump);
  std::istringstream in(dump.substr(ephemerals));
  int64_t session = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0x", 0) == 0) {
      session = static_cast<int64_t>(std::stoull(line.substr(2), nullptr, 16));
    } else if (line == "\t" + path) {
      return session;
    }
  }
  return int64_t{0};
}

}  // namespace quire::testing
