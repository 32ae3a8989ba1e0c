// bookie_bench: what the network layer costs. In one run it measures
//   1. the storage engine alone: N adds kept in flight through StorageEngine::AddEntry;
//   2. a bookie (in this process, on loopback): the same N adds in flight, pipelined over C
//      connections of the bookie protocol;
// and prints adds/s and latency of both and their ratio (issue 4: the network layer may cost at
// most 20% of the engine's throughput).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "bookie/bookie.h"
#include "protocol/protocol.h"
#include "common/histogram.h"
#include "common/logging.h"
#include "metadata/metadata_store.h"

namespace quire::bench {

// The wire protocol (src/protocol).
using protocol::DecodeFrameLength;
using protocol::EncodeEntryBodyHeader;
using protocol::EncodeFrame;
using protocol::kEntryBodyHeaderSize;
using protocol::kProtocolVersion;
namespace {

using Clock = std::chrono::steady_clock;


struct Result1 {
  double adds_s = 0;
  Histogram::Snapshot latency;
};

// A counting gate: at most `limit` adds in flight.
class Gate {
 public:
  explicit Gate(size_t limit) : free_(limit) {}
  bool Acquire(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return free_ > 0; })) return false;
    --free_;
    return true;
  }
  // Takes every free slot, up to `max`, without waiting.
  size_t TryAcquireUpTo(size_t max) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = std::min(max, free_);
    free_ -= n;
    return n;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    ++free_;
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t free_;
};

std::string Body(int64_t ledger, int64_t entry, const std::string& payload) {
  std::string body(kEntryBodyHeaderSize, '\0');
  EncodeEntryBodyHeader({ledger, entry, entry - 1, payload.size()}, body.data());
  body += payload;
  return body;
}

// The engine alone: `inflight` adds in flight from one issuing thread per connection.
Result<Result1> RunEngine(const std::string& dir, const std::vector<std::string>& settings,
                          size_t connections, size_t inflight, size_t size, double warmup,
                          double seconds) {
  // The same configuration as the bookie's (defaults plus --set).
  Config config(bookie::BookieConfigSchema());
  for (const std::string& kv : settings) QUIRE_RETURN_IF_ERROR(config.SetFromString(kv));
  QUIRE_ASSIGN_OR_RETURN(bookie::BookieOptions bo, bookie::BookieOptionsFromConfig(config));
  storage::StorageOptions o = bo.storage;
  o.journal_dirs = {dir + "/journal"};
  o.ledger_dirs = {dir + "/ledgers"};
  auto fs = NewPosixFileSystem(bo.io_backend);
  o.fs = fs.get();
  QUIRE_ASSIGN_OR_RETURN(auto engine, storage::StorageEngine::Open(o));
  std::string payload(size, 'e');
  Histogram latency;
  std::atomic<uint64_t> done{0};
  std::atomic<bool> measuring{false};
  Clock::time_point end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(warmup + seconds));
  std::vector<std::thread> threads;
  for (size_t c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      Gate gate(inflight / connections);
      int64_t ledger = static_cast<int64_t>(c + 1);
      for (int64_t e = 0; Clock::now() < end; ++e) {
        if (!gate.Acquire(end)) break;
        uint64_t start = MonotonicNanos();
        engine->AddEntry(static_cast<uint64_t>(ledger), static_cast<uint64_t>(e), "key",
                         Body(ledger, e, payload), false, [&, start](Status s) {
                           if (s.ok() && measuring.load()) {
                             latency.Record(MonotonicNanos() - start);
                             done.fetch_add(1);
                           }
                           gate.Release();
                         });
      }
      // Drain: wait until every slot is back (bounded by the deadline above plus 60 s).
      for (size_t i = 0; i < inflight / connections; ++i) gate.Acquire(end + std::chrono::seconds(60));
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
  measuring = true;
  uint64_t t0 = MonotonicNanos();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  uint64_t n = done.load();
  double secs = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  measuring = false;
  for (auto& t : threads) t.join();
  return Result1{static_cast<double>(n) / secs, latency.Take()};
}

// The bookie over loopback: per connection, a sender keeps inflight/connections adds in flight and
// a receiver reads the answers.
Result<Result1> RunBookie(const std::string& dir, const std::vector<std::string>& settings,
                          size_t connections, size_t inflight, size_t size, double warmup,
                          double seconds) {
  std::string uri = "file://" + dir + "/metadata";
  {
    QUIRE_ASSIGN_OR_RETURN(auto store, metadata::OpenMetadataStore(uri, {}));
    QUIRE_RETURN_IF_ERROR(store->InitCluster().status());
  }
  Config config(bookie::BookieConfigSchema());
  for (const std::string& kv :
       {std::string("bookiePort=0"), std::string("bookieBindAddress=127.0.0.1"),
        std::string("advertisedAddress=127.0.0.1"), std::string("httpServerEnabled=false"),
        "metadataServiceUri=" + uri, "journalDirectories=" + dir + "/journal",
        "ledgerDirectories=" + dir + "/ledgers"}) {
    QUIRE_RETURN_IF_ERROR(config.SetFromString(kv));
  }
  for (const std::string& kv : settings) QUIRE_RETURN_IF_ERROR(config.SetFromString(kv));
  QUIRE_ASSIGN_OR_RETURN(bookie::BookieOptions options, bookie::BookieOptionsFromConfig(config));
  QUIRE_ASSIGN_OR_RETURN(auto server, bookie::Bookie::Start(std::move(options)));

  std::string payload(size, 'b');
  Histogram latency;
  std::atomic<uint64_t> done{0};
  std::atomic<bool> measuring{false};
  std::atomic<bool> failed{false};
  Clock::time_point end = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(warmup + seconds));
  std::vector<std::thread> threads;
  for (size_t c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(server->port());
      inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        failed = true;
        close(fd);
        return;
      }
      size_t slots = inflight / connections;
      Gate gate(slots);
      std::vector<uint64_t> starts(1 << 20);
      std::atomic<bool> sender_done{false};
      std::atomic<uint64_t> sent{0};
      std::thread receiver([&] {
        std::string buf;
        uint64_t received = 0;
        char chunk[1 << 16];
        while (!(sender_done.load() && received == sent.load())) {
          pollfd p{fd, POLLIN, 0};
          if (poll(&p, 1, 1000) <= 0) {
            if (Clock::now() > end + std::chrono::seconds(60)) break;
            continue;
          }
          ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
          if (n <= 0) break;
          buf.append(chunk, static_cast<size_t>(n));
          size_t pos = 0;
          while (buf.size() - pos >= 4) {
            auto len = DecodeFrameLength(buf.data() + pos, UINT32_MAX);
            if (!len.ok() || buf.size() - pos < 4 + *len) break;
            proto::Response r;
            r.ParseFromArray(buf.data() + pos + 4, static_cast<int>(*len));
            pos += 4 + *len;
            if (r.status() != proto::OK) failed = true;
            uint64_t id = r.header().request_id();
            if (measuring.load()) {
              latency.Record(MonotonicNanos() - starts[id % starts.size()]);
              done.fetch_add(1);
            }
            ++received;
            gate.Release();
          }
          buf.erase(0, pos);
        }
      });
      int64_t ledger = static_cast<int64_t>(c + 1);
      std::string frames;
      int64_t e = 0;
      // Like a real client, send every add whose slot is free in one system call.
      while (Clock::now() < end && !failed) {
        if (!gate.Acquire(end)) break;
        size_t batch = 1 + gate.TryAcquireUpTo(63);
        frames.clear();
        uint64_t now = MonotonicNanos();
        for (size_t i = 0; i < batch; ++i, ++e) {
          proto::Request r;
          r.mutable_header()->set_protocol_version(kProtocolVersion);
          r.mutable_header()->set_operation(proto::ADD_ENTRY);
          r.mutable_header()->set_request_id(static_cast<uint64_t>(e));
          proto::AddRequest* a = r.mutable_add();
          a->set_ledger_id(ledger);
          a->set_entry_id(e);
          a->set_master_key("key");
          a->set_body(Body(ledger, e, payload));
          starts[static_cast<uint64_t>(e) % starts.size()] = now;
          frames += EncodeFrame(r);
        }
        sent.fetch_add(batch);
        if (send(fd, frames.data(), frames.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(frames.size())) {
          failed = true;
          break;
        }
      }
      sender_done = true;
      receiver.join();
      close(fd);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
  measuring = true;
  uint64_t t0 = MonotonicNanos();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  uint64_t n = done.load();
  double secs = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  measuring = false;
  for (auto& t : threads) t.join();
  server->Stop();
  if (failed) return Internal("an add failed or a connection broke during the run");
  return Result1{static_cast<double>(n) / secs, latency.Take()};
}

int Main(int argc, char** argv) {
  std::string dir;
  double seconds = 5, warmup = 1;
  size_t size = 1024, connections = 4, inflight = 256;
  bool json = false;
  std::vector<std::string> settings;
  CLI::App app{"Measures one bookie over loopback against the storage engine alone, same run."};
  app.add_option("--set", settings,
                 "A bookie setting key=value for both cases (see conf/bookie.conf); repeatable");
  app.add_option("--dir", dir, "Directory for the data (a fresh sub-directory is used)")->required();
  app.add_option("--seconds", seconds, "Measured seconds per case")->capture_default_str();
  app.add_option("--warmup", warmup, "Warm-up seconds per case")->capture_default_str();
  app.add_option("--entry-size", size, "Payload bytes per add")->capture_default_str();
  app.add_option("--connections", connections, "Client connections (and ledgers)")
      ->capture_default_str();
  app.add_option("--inflight", inflight, "Adds in flight in all")->capture_default_str();
  app.add_flag("--json", json, "One JSON object per case");
  CLI11_PARSE(app, argc, argv);
  if (Status s = InitLogging({.level = "warn"}); !s.ok()) return 1;
  dir = fmt::format("{}/bookie-bench-{}", dir, getpid());

  auto engine = RunEngine(dir + "/engine", settings, connections, inflight, size, warmup, seconds);
  if (!engine.ok()) {
    fmt::print(stderr, "engine: {}\n", engine.status().ToString());
    return 1;
  }
  auto bookie = RunBookie(dir + "/bookie", settings, connections, inflight, size, warmup, seconds);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (!bookie.ok()) {
    fmt::print(stderr, "bookie: {}\n", bookie.status().ToString());
    return 1;
  }
  auto row = [&](const char* name, const Result1& r) {
    if (json) {
      fmt::print("{}\n", nlohmann::json{{"case", name},
                                        {"entry_bytes", size},
                                        {"connections", connections},
                                        {"inflight", inflight},
                                        {"adds_per_s", r.adds_s},
                                        {"p50_us", r.latency.Quantile(0.5) / 1e3},
                                        {"p99_us", r.latency.Quantile(0.99) / 1e3},
                                        {"p999_us", r.latency.Quantile(0.999) / 1e3}}
                                      .dump());
    } else {
      fmt::print("{:<22} {:>10.0f} adds/s   p50 {:>7.0f} us   p99 {:>7.0f} us   p99.9 {:>7.0f} us\n",
                 name, r.adds_s, r.latency.Quantile(0.5) / 1e3, r.latency.Quantile(0.99) / 1e3,
                 r.latency.Quantile(0.999) / 1e3);
    }
  };
  if (!json) {
    fmt::print("{} B adds, {} in flight over {} connections/ledgers\n", size, inflight,
               connections);
  }
  row("storage engine", *engine);
  row("bookie over loopback", *bookie);
  double ratio = bookie->adds_s / engine->adds_s;
  if (json) {
    fmt::print("{}\n", nlohmann::json{{"case", "ratio"}, {"bookie_vs_engine", ratio}}.dump());
  } else {
    fmt::print("bookie / engine throughput: {:.0f}% (target >= 80%)\n", 100 * ratio);
  }
  return 0;
}

}  // namespace
}  // namespace quire::bench

int main(int argc, char** argv) { return quire::bench::Main(argc, argv); }
