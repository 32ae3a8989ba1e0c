// quorum_probe: the least CPU and time a replicated, fdatasync'd write takes on this machine, to
// read bench/compare's figures against (docs/performance.md, "What the machine allows").
//
// The simplest implementation of the write Quire and BookKeeper do (E3/Qw3/Qa2 over loopback
// TCP): one client thread sends each add to three server processes at an even rate; each server
// is one thread that reads what has arrived, appends it to its file with one O_DIRECT write over
// blocks written before, fdatasyncs, and answers with the adds' sequence numbers; the add is
// done at its second answer. No framing beyond a sequence number, no checksums, no index, no
// metadata, no thread hand-offs: what is left is the system calls, the wake-ups and the
// fdatasyncs that any such design pays. Latency counts from each add's due time; CPU is the
// client's and the servers' (from /proc/<pid>/stat) inside the measured window.
//
//   quorum_probe --dir DIR --rate R [--seconds S] [--warmup W] [--size B]
//
// Prints one JSON object. Exit codes: 0 measured, 1 a failure, 2 usage.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

constexpr int kServers = 3;
constexpr int kAcks = 2;
constexpr size_t kFileBytes = 64u << 20;  // each server's file, written around
constexpr size_t kBlock = 4096;

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "quorum_probe: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

uint64_t Now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(t.tv_nsec);
}

// utime + stime of `pid`, in seconds.
double CpuSeconds(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) Die("reading /proc/<pid>/stat");
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // the command may contain spaces
  if (!p) Die("parsing /proc/<pid>/stat");
  unsigned long utime = 0, stime = 0;
  // After ")": state and fields 4-13, then utime (14) and stime (15).
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                  &stime) != 2) {
    Die("parsing /proc/<pid>/stat");
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) Die("send");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// A server: one connection, one thread. Returns only by exiting.
[[noreturn]] void Serve(int listener, const std::string& path, size_t frame) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
  if (fd < 0) fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);  // no O_DIRECT
  if (fd < 0) Die("opening the server's file");
  void* raw = nullptr;
  const size_t max_batch = 1u << 20;
  if (posix_memalign(&raw, kBlock, max_batch + kBlock) != 0) Die("posix_memalign");
  char* block = static_cast<char*>(raw);
  std::memset(block, 0, max_batch + kBlock);
  // Blocks written before: an fdatasync then has no extent to convert (the journal's zero ahead).
  for (size_t off = 0; off < kFileBytes; off += max_batch) {
    if (::pwrite(fd, block, max_batch, static_cast<off_t>(off)) < 0) Die("pwrite");
  }
  if (::fdatasync(fd) != 0) Die("fdatasync");
  int conn = ::accept(listener, nullptr, nullptr);
  if (conn < 0) Die("accept");
  int one = 1;
  setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char ready = 'r';
  WriteAll(conn, &ready, 1);
  std::vector<char> in(max_batch);
  size_t have = 0;
  size_t offset = 0;
  std::vector<uint64_t> answers;
  for (;;) {
    ssize_t r = ::recv(conn, in.data() + have, in.size() - have, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) Die("recv");
    if (r == 0) break;
    have += static_cast<size_t>(r);
    size_t frames = have / frame;
    if (frames == 0) continue;
    size_t bytes = frames * frame;
    size_t padded = (bytes + kBlock - 1) / kBlock * kBlock;
    if (offset + padded > kFileBytes) offset = 0;
    std::memcpy(block, in.data(), bytes);
    if (::pwrite(fd, block, padded, static_cast<off_t>(offset)) < 0) Die("pwrite");
    if (::fdatasync(fd) != 0) Die("fdatasync");
    offset += padded;
    answers.clear();
    for (size_t i = 0; i < frames; ++i) {
      uint64_t seq;
      std::memcpy(&seq, in.data() + i * frame, sizeof seq);
      answers.push_back(seq);
    }
    WriteAll(conn, answers.data(), answers.size() * sizeof(uint64_t));
    have -= bytes;
    std::memmove(in.data(), in.data() + bytes, have);
  }
  ::close(fd);
  ::unlink(path.c_str());
  std::exit(0);
}

struct Args {
  std::string dir;
  double rate = 0;
  double seconds = 10;
  double warmup = 2;
  size_t size = 1024;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) break;
    std::string v = argv[++i];
    if (k == "--dir") a.dir = v;
    else if (k == "--rate") a.rate = std::atof(v.c_str());
    else if (k == "--seconds") a.seconds = std::atof(v.c_str());
    else if (k == "--warmup") a.warmup = std::atof(v.c_str());
    else if (k == "--size") a.size = static_cast<size_t>(std::atol(v.c_str()));
    else a.dir.clear();  // unknown option: usage
  }
  if (a.dir.empty() || a.rate <= 0 || a.seconds * a.rate < 1 || a.warmup < 0 || a.size == 0) {
    std::fprintf(stderr,
                 "usage: quorum_probe --dir DIR --rate ADDS_PER_S [--seconds S] [--warmup W] "
                 "[--size BYTES]\n");
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  const size_t frame = sizeof(uint64_t) + a.size;
  int listeners[kServers];
  pid_t pids[kServers];
  for (int k = 0; k < kServers; ++k) {
    listeners[k] = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listeners[k] < 0 || ::bind(listeners[k], reinterpret_cast<sockaddr*>(&addr),
                                   sizeof addr) != 0 || ::listen(listeners[k], 1) != 0) {
      Die("listening on loopback");
    }
    pids[k] = ::fork();
    if (pids[k] < 0) Die("fork");
    if (pids[k] == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the client
      Serve(listeners[k], a.dir + "/quorum-probe-" + std::to_string(k) + ".tmp", frame);
    }
  }
  int epoll = ::epoll_create1(0);
  int conns[kServers];
  for (int k = 0; k < kServers; ++k) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    ::getsockname(listeners[k], reinterpret_cast<sockaddr*>(&addr), &len);
    conns[k] = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(conns[k], reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      Die("connect");
    }
    int one = 1;
    setsockopt(conns[k], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char ready;
    if (::recv(conns[k], &ready, 1, MSG_WAITALL) != 1) Die("waiting for a server");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(k);
    if (::epoll_ctl(epoll, EPOLL_CTL_ADD, conns[k], &ev) != 0) Die("epoll_ctl");
  }
  // As quire-bench's open loop: wake at each due time, not up to 50 µs after it.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);

  const double period = 1e9 / a.rate;
  const uint64_t total = static_cast<uint64_t>((a.warmup + a.seconds) * a.rate);
  const uint64_t first_measured = static_cast<uint64_t>(a.warmup * a.rate);
  const uint64_t t0 = Now() + 10'000'000;
  auto due = [&](uint64_t seq) {
    return t0 + static_cast<uint64_t>(static_cast<double>(seq) * period);
  };
  std::vector<uint8_t> acks(total, 0);
  std::vector<uint64_t> latency;
  latency.reserve(total - first_measured);
  std::vector<char> out(frame, 'q');
  std::vector<char> in[kServers];
  for (auto& b : in) b.reserve(1 << 16);
  uint64_t next = 0, done = 0;
  double cpu_start = -1, cpu_end = -1;
  auto all_cpu = [&] {
    double sum = CpuSeconds(::getpid());
    for (pid_t p : pids) sum += CpuSeconds(p);
    return sum;
  };
  const uint64_t give_up = due(total) + 10'000'000'000ull;  // answers 10 s late: a failure
  while (done < total) {
    uint64_t now = Now();
    if (now > give_up) {
      std::fprintf(stderr, "quorum_probe: %llu adds unanswered 10 s after the last was due\n",
                   static_cast<unsigned long long>(total - done));
      return 1;
    }
    while (next < total && due(next) <= now) {
      if (next == first_measured) cpu_start = all_cpu();
      std::memcpy(out.data(), &next, sizeof next);
      for (int c : conns) WriteAll(c, out.data(), out.size());
      ++next;
    }
    timespec timeout{0, 100'000'000};  // bounded: a lost answer ends the run at give_up
    if (next < total) {
      uint64_t wait = due(next) > now ? due(next) - now : 0;
      timeout = {static_cast<time_t>(wait / 1'000'000'000u),
                 static_cast<long>(wait % 1'000'000'000u)};
    }
    epoll_event evs[kServers];
    int n = ::epoll_pwait2(epoll, evs, kServers, &timeout, nullptr);
    if (n < 0 && errno != EINTR) Die("epoll_pwait2");
    for (int i = 0; i < n; ++i) {
      uint32_t k = evs[i].data.u32;
      char buf[1 << 16];
      ssize_t r = ::recv(conns[k], buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0) {
        errno = EPIPE;
        Die("a server closed its connection");
      }
      if (r < 0) continue;
      in[k].insert(in[k].end(), buf, buf + r);
      size_t whole = in[k].size() / sizeof(uint64_t) * sizeof(uint64_t);
      uint64_t t = Now();
      for (size_t off = 0; off < whole; off += sizeof(uint64_t)) {
        uint64_t seq;
        std::memcpy(&seq, in[k].data() + off, sizeof seq);
        if (seq >= total) Die("a server answered an add that was not sent");
        if (++acks[seq] != kAcks) continue;
        ++done;
        if (seq >= first_measured) latency.push_back(t - due(seq));
        if (seq == total - 1) cpu_end = all_cpu();
      }
      in[k].erase(in[k].begin(), in[k].begin() + static_cast<long>(whole));
    }
  }
  if (cpu_end < 0) cpu_end = all_cpu();
  for (int c : conns) ::shutdown(c, SHUT_WR);
  for (pid_t p : pids) {
    int status = 0;
    if (::waitpid(p, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "quorum_probe: a server failed\n");
      return 1;
    }
  }
  std::sort(latency.begin(), latency.end());
  auto q = [&](double x) {
    return static_cast<double>(latency[std::min(latency.size() - 1,
                                                 static_cast<size_t>(x * latency.size()))]) / 1e3;
  };
  const double measured = static_cast<double>(latency.size());
  std::printf("{\"rate\": %.0f, \"adds\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
              "\"p999_us\": %.1f, \"cpu_s_per_1000_adds\": %.4f}\n",
              a.rate, measured, q(0.50), q(0.99), q(0.999),
              (cpu_end - cpu_start) / measured * 1000);
  return 0;
}
