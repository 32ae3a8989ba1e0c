// client_bench: the client library against real bookies, end to end.
//
// Starts a local cluster in one process (an embedded file:// metadata store and --bookies bookies
// on loopback, each with its own journal and ledger directory under --dir), then, for each
// quorum in --quorums, writes --size-byte entries to one ledger for --seconds after --warmup:
//
//   throughput  --outstanding appends in flight (the writer's bound); adds/s, MB/s and the
//               latency of each append, from AppendAsync to its completion callback
//   latency     one append at a time (Append); its latency distribution
//
// Then reads the ledger back (closed-ledger catch-up reads) and reports entries/s.
// Bookies, client and benchmark share this machine's CPUs: on a small machine the figures are
// those of the whole cluster on one box, not of one client against a cluster.
//
//   client_bench --dir /tmp/qcb --quorums 3/3/2,1/1/1 --seconds 5 --json
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bookie/bookie.h"
#include "bookie/bookie_config.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/histogram.h"
#include "common/logging.h"
#include "metadata/metadata_store.h"
#include "quire/client.h"

namespace quire {
namespace {

struct Quorum {
  int e = 3, qw = 3, qa = 2;
};

Result<Quorum> ParseQuorum(const std::string& s) {
  Quorum q;
  if (std::sscanf(s.c_str(), "%d/%d/%d", &q.e, &q.qw, &q.qa) != 3) {
    return InvalidArgument("quorum '" + s + "' is not E/Qw/Qa, e.g. 3/3/2");
  }
  return q;
}

struct Phase {
  double adds_s = 0;
  double mb_s = 0;
  uint64_t errors = 0;
  Histogram::Snapshot latency;
};

nlohmann::json ToJson(const Phase& p) {
  auto us = [&](double q) { return static_cast<double>(p.latency.Quantile(q)) / 1e3; };
  return {{"adds_per_s", p.adds_s}, {"mb_per_s", p.mb_s},       {"errors", p.errors},
          {"p50_us", us(0.50)},     {"p95_us", us(0.95)},       {"p99_us", us(0.99)},
          {"p999_us", us(0.999)},   {"max_us", us(1.0)},        {"count", p.latency.count}};
}

// Appends for warmup + seconds with at most `outstanding` in flight; measures after warmup.
Phase Throughput(WriteHandle& writer, const std::string& payload, double warmup, double seconds) {
  Histogram latency;
  std::atomic<uint64_t> done{0}, errors{0};
  std::atomic<bool> measuring{false};
  auto end = std::chrono::steady_clock::now() +
             std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                 std::chrono::duration<double>(warmup + seconds));
  std::thread warm([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
    measuring = true;
  });
  uint64_t t0 = 0;
  uint64_t counted_from = 0;
  while (std::chrono::steady_clock::now() < end) {
    if (measuring && t0 == 0) {
      t0 = MonotonicNanos();
      counted_from = done.load();
    }
    uint64_t start = MonotonicNanos();
    bool measure = measuring.load();
    // Blocks while `outstanding` appends are pending.
    writer.AppendAsync(payload, [&, start, measure](Result<EntryId> r) {
      if (!r.ok()) {
        errors++;
        return;
      }
      if (measure) latency.Record(MonotonicNanos() - start);
      done++;
    });
  }
  uint64_t n = done.load() - counted_from;
  double secs = static_cast<double>(MonotonicNanos() - t0) / 1e9;
  warm.join();
  Phase p;
  p.adds_s = static_cast<double>(n) / secs;
  p.mb_s = p.adds_s * static_cast<double>(payload.size()) / 1e6;
  p.errors = errors.load();
  p.latency = latency.Take();
  return p;
}

Phase Latency(WriteHandle& writer, const std::string& payload, double seconds) {
  Histogram latency;
  Phase p;
  uint64_t t0 = MonotonicNanos();
  uint64_t n = 0;
  while (static_cast<double>(MonotonicNanos() - t0) / 1e9 < seconds) {
    uint64_t start = MonotonicNanos();
    if (writer.Append(payload).ok()) {
      latency.Record(MonotonicNanos() - start);
      ++n;
    } else {
      ++p.errors;
    }
  }
  p.adds_s = static_cast<double>(n) / (static_cast<double>(MonotonicNanos() - t0) / 1e9);
  p.mb_s = p.adds_s * static_cast<double>(payload.size()) / 1e6;
  p.latency = latency.Take();
  return p;
}

int Main(int argc, char** argv) {
  CLI::App app{"client_bench: the client library against a local cluster of real bookies"};
  std::string dir = "/tmp/quire-client-bench";
  int bookies = 3;
  std::string quorums = "3/3/2,1/1/1";
  size_t size = 1024;
  size_t outstanding = 1000;
  double seconds = 5, warmup = 1, latency_seconds = 3;
  bool json = false;
  std::vector<std::string> settings;
  app.add_option("--dir", dir, "Scratch directory (wiped first)");
  app.add_option("--bookies", bookies, "Bookies to start")->check(CLI::Range(1, 16));
  app.add_option("--quorums", quorums, "Comma-separated E/Qw/Qa to measure");
  app.add_option("--size", size, "Entry size in bytes")->check(CLI::Range(1, 4 << 20));
  app.add_option("--outstanding", outstanding, "Appends in flight in the throughput phase");
  app.add_option("--seconds", seconds, "Measured seconds of the throughput phase");
  app.add_option("--warmup", warmup, "Unmeasured seconds before it");
  app.add_option("--latency-seconds", latency_seconds, "Seconds of one-at-a-time appends");
  app.add_option("--set", settings, "Bookie setting key=value (repeatable)");
  app.add_flag("--json", json, "Print one JSON document");
  CLI11_PARSE(app, argc, argv);
  InitLogging({.level = "warn"}).IgnoreError();

  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string uri = "file://" + dir + "/metadata";
  {
    auto store = metadata::OpenMetadataStore(uri, {});
    if (!store.ok() || !(*store)->InitCluster().ok()) {
      std::cerr << "cannot initialise the metadata store at " << uri << "\n";
      return 1;
    }
  }
  std::vector<std::unique_ptr<bookie::Bookie>> servers;
  for (int i = 0; i < bookies; ++i) {
    std::string root = dir + "/bookie-" + std::to_string(i);
    Config config(bookie::BookieConfigSchema());
    std::vector<std::string> kvs = {"bookiePort=0", "bookieBindAddress=127.0.0.1",
                                    "advertisedAddress=127.0.0.1", "httpServerEnabled=false",
                                    "metadataServiceUri=" + uri,
                                    "journalDirectories=" + root + "/journal",
                                    "ledgerDirectories=" + root + "/ledgers"};
    kvs.insert(kvs.end(), settings.begin(), settings.end());
    for (const std::string& kv : kvs) {
      Status s = config.SetFromString(kv);
      if (!s.ok()) {
        std::cerr << s.ToString() << "\n";
        return 2;
      }
    }
    auto options = bookie::BookieOptionsFromConfig(config);
    if (!options.ok()) {
      std::cerr << options.status().ToString() << "\n";
      return 1;
    }
    auto server = bookie::Bookie::Start(std::move(*options));
    if (!server.ok()) {
      std::cerr << "bookie " << i << ": " << server.status().ToString() << "\n";
      return 1;
    }
    servers.push_back(std::move(*server));
  }

  ClientOptions co;
  co.metadata_uri = uri;
  co.max_outstanding_adds = outstanding;
  auto client = Client::Open(co);
  if (!client.ok()) {
    std::cerr << client.status().ToString() << "\n";
    return 1;
  }
  std::string payload(size, 'q');
  nlohmann::json out = {{"bookies", bookies},
                        {"size", size},
                        {"outstanding", outstanding},
                        {"cpus", std::thread::hardware_concurrency()},
                        {"runs", nlohmann::json::array()}};
  std::string q;
  std::stringstream qs(quorums);
  while (std::getline(qs, q, ',')) {
    auto quorum = ParseQuorum(q);
    if (!quorum.ok() || quorum->e > bookies) {
      std::cerr << (quorum.ok() ? "E exceeds --bookies" : quorum.status().ToString()) << "\n";
      return 2;
    }
    auto writer = (*client)->CreateLedger(
        {.ensemble_size = quorum->e, .write_quorum_size = quorum->qw, .ack_quorum_size = quorum->qa});
    if (!writer.ok()) {
      std::cerr << writer.status().ToString() << "\n";
      return 1;
    }
    Phase tput = Throughput(**writer, payload, warmup, seconds);
    Phase lat = Latency(**writer, payload, latency_seconds);
    Status closed = (*writer)->Close();
    EntryId last = (*writer)->last_add_confirmed();
    // Catch-up read of the closed ledger.
    auto reader = (*client)->OpenLedger((*writer)->id(), "");
    double read_s = 0;
    if (closed.ok() && reader.ok() && last >= 0) {
      uint64_t t0 = MonotonicNanos();
      constexpr EntryId kChunk = 10'000;
      for (EntryId first = 0; first <= last; first += kChunk) {
        auto got = (*reader)->Read(first, std::min(last, first + kChunk - 1));
        if (!got.ok()) {
          std::cerr << "read: " << got.status().ToString() << "\n";
          return 1;
        }
      }
      read_s = static_cast<double>(last + 1) / (static_cast<double>(MonotonicNanos() - t0) / 1e9);
    }
    nlohmann::json run = {{"quorum", q}, {"throughput", ToJson(tput)}, {"latency", ToJson(lat)},
                          {"catchup_reads_per_s", read_s}, {"entries", last + 1}};
    out["runs"].push_back(run);
    if (!json) {
      auto us = [](const Histogram::Snapshot& h, double x) {
        return static_cast<double>(h.Quantile(x)) / 1e3;
      };
      std::printf(
          "E/Qw/Qa %-7s throughput %9.0f adds/s %7.1f MB/s  p50 %7.0f us p99 %7.0f us p99.9 %7.0f "
          "us | one at a time p50 %6.0f us p99 %6.0f us | catch-up reads %9.0f entries/s | "
          "errors %llu\n",
          q.c_str(), tput.adds_s, tput.mb_s, us(tput.latency, 0.5), us(tput.latency, 0.99),
          us(tput.latency, 0.999), us(lat.latency, 0.5), us(lat.latency, 0.99), read_s,
          static_cast<unsigned long long>(tput.errors + lat.errors));
    }
  }
  if (json) std::cout << out.dump(2) << "\n";
  client->reset();
  servers.clear();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace quire

int main(int argc, char** argv) { return quire::Main(argc, argv); }
