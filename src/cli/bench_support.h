// quire-bench's measurement plumbing: the run's clock and window, stopping on signals, the stamp
// in each payload, reports (table and JSON), options shared by the commands. Included by
// bench_main.cc only (quire-bench is one program; these are its parts, not a library).
#pragma once

// --allow-errors failed adds and reads are reported but do not fail the run); 2 usage.
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "common/clock.h"
#include "common/histogram.h"
#include "common/logging.h"
#include "common/mutex.h"
#include "quire/client.h"

namespace quire::bench {


using json = nlohmann::json;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

constexpr uint64_t kLateNanos = 1'000'000;        // an add starting later than this is "late"
constexpr uint64_t kMissedNanos = 1'000'000'000;  // one not started this long after the end: missed
constexpr size_t kStampBytes = 16;                // intended start (8) + sequence number (8)
constexpr uint64_t kDrainNanos = 60'000'000'000;  // bound on waiting for callbacks and tails
constexpr uint64_t kNever = UINT64_MAX;

inline double Seconds(uint64_t nanos) { return static_cast<double>(nanos) / 1e9; }

// ---------------------------------------------------------------------------------------------
// Run control: the measurement window, sleeping until an instant, and stopping early.

class RunControl {
 public:
  // The window: adds intended to start in [measure_from, end) are measured.
  void Plan(uint64_t t0, double warmup_s, double duration_s) {
    t0_ = t0;
    measure_from_ = t0 + static_cast<uint64_t>(warmup_s * 1e9);
    end_ = duration_s > 0 ? measure_from_ + static_cast<uint64_t>(duration_s * 1e9) : kNever;
  }
  uint64_t t0() const { return t0_; }
  uint64_t measure_from() const { return measure_from_; }
  uint64_t end() const { return end_.load(); }
  // Called when an unbounded (count-limited) phase is over, to close its window.
  void EndAt(uint64_t t) {
    uint64_t end = end_.load();
    while (t < end && !end_.compare_exchange_weak(end, t)) {
    }
  }

  // A signal: the window ends now and every loop winds down.
  void Interrupt() {
    {
      MutexLock lock(mu_);
      interrupted_ = true;
      EndAt(MonotonicNanos());
    }
    cv_.NotifyAll();
  }
  bool interrupted() const { return interrupted_.load(); }

  // Sleeps until steady-clock instant `t` (ns); false if interrupted first. An instant already
  // past costs no system call: a writer that is behind its schedule catches up at full speed
  // (each timed wait arms a timer, which is expensive on a VM).
  bool SleepUntil(uint64_t t) {
    if (MonotonicNanos() >= t) return !interrupted_.load();
    MutexLock lock(mu_);
    auto deadline = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(t));
    return !cv_.WaitUntil(mu_, deadline, [&] { return interrupted_.load(); });
  }
  // Waits up to `nanos` for `done()` or an interrupt (Wake() re-checks `done`).
  void WaitFor(uint64_t nanos, const std::function<bool()>& done) {
    MutexLock lock(mu_);
    cv_.WaitFor(mu_, std::chrono::nanoseconds(nanos),
                [&] { return interrupted_.load() || done(); });
  }
  void Wake() {
    { MutexLock lock(mu_); }
    cv_.NotifyAll();
  }

 private:
  uint64_t t0_ = 0;
  uint64_t measure_from_ = 0;
  std::atomic<uint64_t> end_{kNever};
  Mutex mu_;
  CondVar cv_;
  std::atomic<bool> interrupted_{false};  // set under mu_, so that waiters cannot miss it
};

// SIGINT and SIGTERM are blocked in every thread (call before starting any) and taken by one
// thread with sigtimedwait: the first interrupts the run, a second exits at once.
class SignalWatcher {
 public:
  explicit SignalWatcher(RunControl& run) : run_(run) {
    sigset_t set = Signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    thread_ = std::thread([this] { Watch(); });
  }
  ~SignalWatcher() {
    done_ = true;
    thread_.join();
  }

 private:
  static sigset_t Signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
  }
  void Watch() {
    SetThreadName("q-bench-signal");
    sigset_t set = Signals();
    timespec tick{0, 100'000'000};
    int seen = 0;
    while (!done_) {
      int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig <= 0) continue;
      if (++seen > 1) _exit(128 + sig);
      fmt::print(stderr, "quire-bench: {}: ending the run (again to exit at once)\n",
                 strsignal(sig));
      run_.Interrupt();
    }
  }

  RunControl& run_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Payload stamps.

inline void PutU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// `filler` with the stamp over its first 16 bytes (when it has them).
inline std::string StampedPayload(const std::string& filler, uint64_t intended, uint64_t seq) {
  std::string p = filler;
  if (p.size() >= kStampBytes) {
    PutU64(p.data(), intended);
    PutU64(p.data() + 8, seq);
  }
  return p;
}

struct Stamp {
  uint64_t intended = 0;
  uint64_t seq = 0;
};
inline std::optional<Stamp> ReadStamp(const std::string& payload) {
  if (payload.size() < kStampBytes) return std::nullopt;
  return Stamp{GetU64(payload.data()), GetU64(payload.data() + 8)};
}

// ---------------------------------------------------------------------------------------------
// Reporting helpers.

inline double Round1(double x) { return std::round(x * 10) / 10; }
inline double Round3(double x) { return std::round(x * 1000) / 1000; }

// Percentiles in microseconds (the histogram holds nanoseconds, ~3% precision).
inline json LatencyJson(const Histogram::Snapshot& h) {
  auto us = [&](double q) { return Round1(static_cast<double>(h.Quantile(q)) / 1e3); };
  return {{"count", h.count},
          {"mean", Round1(h.Mean() / 1e3)},
          {"p50", us(0.50)},
          {"p95", us(0.95)},
          {"p99", us(0.99)},
          {"p999", us(0.999)},
          {"max", Round1(static_cast<double>(h.max) / 1e3)}};
}

// One line of the summary table.
struct Row {
  std::string what;
  uint64_t count = 0;
  double per_s = 0;
  double mb_s = 0;
  Histogram::Snapshot latency;
  uint64_t errors = 0;
};

inline void PrintTable(const std::vector<Row>& rows) {
  std::printf("%-22s %10s %11s %8s %9s %9s %9s %9s %9s %7s\n", "", "count", "per s", "MB/s",
              "p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "max ms", "errors");
  for (const Row& r : rows) {
    auto ms = [&](double q) { return static_cast<double>(r.latency.Quantile(q)) / 1e6; };
    std::printf("%-22s %10llu %11.1f %8.2f %9.3f %9.3f %9.3f %9.3f %9.3f %7llu\n", r.what.c_str(),
                static_cast<unsigned long long>(r.count), r.per_s, r.mb_s, ms(0.5), ms(0.95),
                ms(0.99), ms(0.999), static_cast<double>(r.latency.max) / 1e6,
                static_cast<unsigned long long>(r.errors));
  }
}

inline std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

inline json MachineJson() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  utsname u{};
  uname(&u);
  return {{"hostname", host},
          {"cpus", std::thread::hardware_concurrency()},
          {"os", fmt::format("{} {} {}", u.sysname, u.release, u.machine)}};
}

// First error of a group of threads, kept for the report.
class FirstError {
 public:
  void Set(const Status& s) {
    MutexLock lock(mu_);
    if (status_.ok()) status_ = s;
  }
  json ToJson() const {
    MutexLock lock(mu_);
    return status_.ok() ? json(nullptr) : json(status_.ToString());
  }

 private:
  mutable Mutex mu_;
  Status status_ QUIRE_GUARDED_BY(mu_);
};

// ---------------------------------------------------------------------------------------------
// Options.

struct Options {
  std::string metadata;
  std::string log_level = "warn";
  int io_threads = 1;
  bool json = false;
  double report_interval = 1;
  bool allow_errors = false;
  bool delete_ledgers = false;
  // Ledgers.
  int ensemble = 3;
  int write_quorum = 3;
  int ack_quorum = 2;
  std::string password;         // from password_flags, once the command line is parsed
  cli::PasswordFlags password_flags;
  cli::TlsFlags tls;
  std::string digest = "crc32c";
  // Load.
  int ledgers = 1;
  size_t size = 1024;
  double rate = 0;  // adds/s over all ledgers; 0: closed loop
  size_t outstanding = 1000;
  double duration = 10;
  double warmup = 2;
  // Reads.
  int64_t ledger = -1;
  uint64_t entries = 100'000;
  size_t batch = 100;
  int concurrency = 1;

  std::string MetadataUri() const { return cli::MetadataUriOf(metadata); }
  DigestType Digest() const {
    return digest == "hmac" ? DigestType::kHmacSha256 : DigestType::kCrc32c;
  }
  std::string Quorum() const {
    return fmt::format("E{}/Qw{}/Qa{}", ensemble, write_quorum, ack_quorum);
  }
};

inline Result<std::unique_ptr<Client>> OpenClient(const Options& o) {
  ClientOptions co;
  co.metadata_uri = o.MetadataUri();
  o.tls.ApplyTo(&co);
  // A benchmark only reads the cluster's metadata: a missing file:// store is an error (a typo,
  // or no standalone cluster yet), not something to create, as for every `quire` command.
  QUIRE_RETURN_IF_ERROR(cli::RequireExistingStore(co.metadata_uri));
  co.io_threads = o.io_threads;
  // quire-bench bounds adds in flight itself (one slot per add); the client's bound is the same
  // number, so AppendAsync never blocks: a waiting add waits in the benchmark, where it is seen.
  co.max_outstanding_adds = o.outstanding;
  auto client = Client::Open(co);
  if (!client.ok()) return client.status().WithContext("connecting to " + co.metadata_uri);
  return client;
}

inline json ClusterParameters(const Options& o) {
  return {
      {"metadata_uri", o.MetadataUri()}, {"ensemble", o.ensemble}, {"write_quorum", o.write_quorum},
      {"ack_quorum", o.ack_quorum},      {"digest", o.digest},     {"io_threads", o.io_threads}};
}


// ---------------------------------------------------------------------------------------------
// The commands. Each returns an exit code and prints its report.

struct Report {
  json doc;
  std::vector<Row> rows;
  std::vector<std::string> notes;
};

inline int Finish(const Options& o, Report& r, uint64_t errors, bool failed_hard, const RunControl& run) {
  bool interrupted = run.interrupted();
  int code = failed_hard || interrupted || (errors > 0 && !o.allow_errors) ? kExitError : kExitOk;
  r.doc["interrupted"] = interrupted;
  r.doc["ok"] = code == kExitOk;
  if (o.json) {
    std::printf("%s\n", r.doc.dump(2).c_str());
  } else {
    std::printf("%s\n", r.doc["summary"].get<std::string>().c_str());
    PrintTable(r.rows);
    for (const std::string& n : r.notes) std::printf("%s\n", n.c_str());
    if (interrupted) std::printf("interrupted: the run ended early\n");
  }
  std::fflush(stdout);
  return code;
}

inline json Header(const std::string& command, const std::string& started_at) {
  return {{"tool", "quire-bench"},
          {"command", command},
          {"started_at", started_at},
          {"machine", MachineJson()}};
}

inline std::string LoadText(const Options& o) {
  return o.rate > 0 ? fmt::format("{:.0f} adds/s open loop (up to {} in flight per ledger)", o.rate,
                                  o.outstanding)
                    : fmt::format("max throughput ({} in flight per ledger)", o.outstanding);
}

inline std::string IdList(const std::vector<LedgerId>& ids) {
  std::string s;
  for (LedgerId id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

inline int Fail(const char* command, const Status& s) {
  fmt::print(stderr, "quire-bench {}: {}\n", command, s.ToString());
  return kExitError;
}

}  // namespace quire::bench
