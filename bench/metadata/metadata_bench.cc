// metadata_bench: ledger create + close metadata operations per second, per driver.
//
// One "ledger" is what a client does over a ledger's life: AllocateLedgerId, CreateLedger (OPEN,
// E=3 Qw=2 Qa=2) and, at close, UpdateLedger to CLOSED by compare-and-set: three metadata calls.
// Each of --threads workers (each with its own store: its own connection or file handles, as
// separate clients would have) does that in a closed loop; the figure is ledgers/s and metadata
// calls/s, with latency percentiles of create (allocate + create) and close.
//
// --iterate N fills a fresh store with N ledgers and times a full paged iteration (ListLedgers).
// The file store is filled without fsync for that (only the iteration is measured).
//
// ZooKeeper: --zk host:port uses a running server; otherwise the bench starts one (Debian's
// package, tests/util/zookeeper_server.h) with forceSync=yes, a full JIT and its own data
// directory under $TMPDIR.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/file_system.h"
#include "common/histogram.h"
#include "common/logging.h"
#include "metadata/metadata_store.h"
#include "util/temp_dir.h"
#include "util/zookeeper_server.h"

namespace quire::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Settings {
  std::vector<std::string> drivers{"file", "zk"};
  std::string zk;   // host:port of a running server; empty: start one
  std::string dir;  // where file stores go; empty: a temporary directory
  size_t ledgers = 2000;
  std::vector<size_t> threads{1, 8};
  size_t iterate = 0;
  size_t page = 10'000;
  bool json = false;
  std::string io_backend = "syscalls";
};

// The file system of the file stores (--io-backend); set once in Main.
FileSystem* g_file_system = nullptr;

// A file system that skips fsync: only for filling a store quickly before timing a read-only
// pass. Never used for the create/close figures.
class NoSyncFile final : public File {
 public:
  explicit NoSyncFile(std::unique_ptr<File> f) : f_(std::move(f)) {}
  Status Write(uint64_t o, std::string_view d) override { return f_->Write(o, d); }
  Result<size_t> Read(uint64_t o, char* b, size_t n) override { return f_->Read(o, b, n); }
  Status Sync() override { return Status::Ok(); }
  Status Allocate(uint64_t o, uint64_t l) override { return f_->Allocate(o, l); }
  Status Truncate(uint64_t s) override { return f_->Truncate(s); }
  Result<uint64_t> Size() override { return f_->Size(); }
  bool direct() const override { return f_->direct(); }
  const std::string& path() const override { return f_->path(); }

 private:
  std::unique_ptr<File> f_;
};

class NoSyncFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> Open(const std::string& p, const OpenOptions& o) override {
    QUIRE_ASSIGN_OR_RETURN(auto f, base_->Open(p, o));
    return std::unique_ptr<File>(std::make_unique<NoSyncFile>(std::move(f)));
  }
  Status Rename(const std::string& a, const std::string& b) override { return base_->Rename(a, b); }
  Status Unlink(const std::string& p) override { return base_->Unlink(p); }
  Status CreateDirs(const std::string& p, uint32_t mode) override {
    return base_->CreateDirs(p, mode);
  }
  Status SyncDir(const std::string&) override { return Status::Ok(); }
  Result<std::vector<std::string>> List(const std::string& d) override { return base_->List(d); }
  Result<bool> Exists(const std::string& p) override { return base_->Exists(p); }
  Result<SpaceInfo> Space(const std::string& p) override { return base_->Space(p); }
  Result<std::unique_ptr<FileLock>> Lock(const std::string& p) override { return base_->Lock(p); }
  std::string Describe() const override { return "no-sync(" + base_->Describe() + ")"; }

 private:
  FileSystem* base_ = g_file_system != nullptr ? g_file_system : DefaultFileSystem();
};

LedgerMetadata NewLedger() {
  LedgerMetadata md;
  md.ensemble_size = 3;
  md.write_quorum_size = 2;
  md.ack_quorum_size = 2;
  md.password_hash = HashLedgerPassword("bench");
  md.ensembles = {Ensemble{0, {"10.0.0.1:3181", "10.0.0.2:3181", "10.0.0.3:3181"}}};
  md.creation_time_ms = 1'700'000'000'000;
  md.creator = "metadata_bench";
  return md;
}

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// Fresh, initialised store locations, one per case.
class Locations {
 public:
  explicit Locations(const Settings& s) : settings_(s) {}

  Result<std::string> Next(const std::string& driver) {
    ++n_;
    if (driver == "mem") return fmt::format("mem://bench-{}", n_);
    if (driver == "file") {
      if (settings_.dir.empty()) {
        if (!tmp_) tmp_ = std::make_unique<testing::TempDir>("quire-metadata-bench");
        return fmt::format("file://{}/store-{}", tmp_->path(), n_);
      }
      return fmt::format("file://{}/store-{}-{}", settings_.dir, getpid(), n_);
    }
    if (driver == "zk") {
      if (settings_.zk.empty() && !server_) {
        testing::ZookeeperServer::Options o;
        o.force_sync = true;
        o.fast_jvm = false;
        o.heap_mb = settings_.iterate > 100'000 ? 3072 : 512;
        QUIRE_ASSIGN_OR_RETURN(server_, testing::ZookeeperServer::Start(o));
      }
      std::string hosts = settings_.zk.empty() ? server_->connect_string() : settings_.zk;
      return fmt::format("zk://{}/bench-{}-{}", hosts, getpid(), n_);
    }
    return InvalidArgument("unknown driver " + driver);
  }

 private:
  const Settings& settings_;
  int n_ = 0;
  std::unique_ptr<testing::TempDir> tmp_;
  std::unique_ptr<testing::ZookeeperServer> server_;
};

metadata::MetadataOptions BenchOptions() {
  metadata::MetadataOptions o;
  o.operation_timeout = std::chrono::seconds(60);
  o.file_system = g_file_system;
  return o;
}

Status CreateClose(const Settings& settings, const std::string& driver, const std::string& uri,
                   size_t threads) {
  QUIRE_ASSIGN_OR_RETURN(auto admin, metadata::OpenMetadataStore(uri, BenchOptions()));
  QUIRE_RETURN_IF_ERROR(admin->InitCluster().status());
  std::vector<std::unique_ptr<metadata::MetadataStore>> stores;
  for (size_t t = 0; t < threads; ++t) {
    QUIRE_ASSIGN_OR_RETURN(auto s, metadata::OpenMetadataStore(uri, BenchOptions()));
    stores.push_back(std::move(s));
  }
  const LedgerMetadata open = NewLedger();
  LedgerMetadata closed = open;
  closed.state = LedgerState::kClosed;
  closed.last_entry_id = 999;
  closed.length = 1'024'000;

  Histogram create_ns, close_ns;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  Status first_error;
  std::mutex error_mu;
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      metadata::MetadataStore& store = *stores[t];
      while (!failed && next.fetch_add(1) < settings.ledgers) {
        auto t0 = Clock::now();
        Result<LedgerId> id = store.AllocateLedgerId();
        Result<metadata::Version> v = id.ok() ? store.CreateLedger(*id, open) : id.status();
        auto t1 = Clock::now();
        Result<metadata::Version> c = v.ok() ? store.UpdateLedger(*id, closed, *v) : v.status();
        auto t2 = Clock::now();
        if (!c.ok()) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.ok()) first_error = c.status();
          failed = true;
          return;
        }
        create_ns.Record(static_cast<uint64_t>((t1 - t0).count()));
        close_ns.Record(static_cast<uint64_t>((t2 - t1).count()));
      }
    });
  }
  for (auto& w : workers) w.join();
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  QUIRE_RETURN_IF_ERROR(first_error);
  auto cr = create_ns.Take();
  auto cl = close_ns.Take();
  double per_s = static_cast<double>(settings.ledgers) / secs;
  if (settings.json) {
    nlohmann::json j = {{"case", "create_close"},
                        {"driver", driver},
                        {"threads", threads},
                        {"ledgers", settings.ledgers},
                        {"seconds", secs},
                        {"ledgers_per_s", per_s},
                        {"calls_per_s", per_s * 3},
                        {"create_p50_ms", Ms(cr.Quantile(0.5))},
                        {"create_p99_ms", Ms(cr.Quantile(0.99))},
                        {"close_p50_ms", Ms(cl.Quantile(0.5))},
                        {"close_p99_ms", Ms(cl.Quantile(0.99))}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "%-4s threads=%-3zu %zu ledgers created+closed in %.2f s: %8.0f ledgers/s, %8.0f "
        "metadata calls/s | create p50 %.2f ms p99 %.2f ms | close p50 %.2f ms p99 %.2f ms\n",
        driver.c_str(), threads, settings.ledgers, secs, per_s, per_s * 3, Ms(cr.Quantile(0.5)),
        Ms(cr.Quantile(0.99)), Ms(cl.Quantile(0.5)), Ms(cl.Quantile(0.99)));
  }
  std::fflush(stdout);
  stores.clear();
  return admin->Nuke(true);
}

Status Iterate(const Settings& settings, const std::string& driver, const std::string& uri) {
  NoSyncFileSystem no_sync;
  metadata::MetadataOptions fill_options = BenchOptions();
  if (driver == "file") fill_options.file_system = &no_sync;
  {
    QUIRE_ASSIGN_OR_RETURN(auto admin, metadata::OpenMetadataStore(uri, fill_options));
    QUIRE_RETURN_IF_ERROR(admin->InitCluster().status());
  }
  // Fill with several clients at once; ids are dense, as the allocator hands them out.
  const size_t fillers = driver == "zk" ? 16 : 2;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto fill_start = Clock::now();
  std::vector<std::thread> workers;
  for (size_t t = 0; t < fillers; ++t) {
    workers.emplace_back([&] {
      auto store = metadata::OpenMetadataStore(uri, fill_options);
      if (!store.ok()) {
        failed = true;
        return;
      }
      const LedgerMetadata md = NewLedger();
      for (size_t i = next++; i < settings.iterate && !failed; i = next++) {
        if (!(*store)->CreateLedger(static_cast<LedgerId>(i), md).ok()) failed = true;
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failed) return Internal("filling the store failed");
  double fill_secs = std::chrono::duration<double>(Clock::now() - fill_start).count();

  QUIRE_ASSIGN_OR_RETURN(auto store, metadata::OpenMetadataStore(uri, BenchOptions()));
  size_t count = 0;
  auto start = Clock::now();
  QUIRE_RETURN_IF_ERROR(metadata::ForEachLedger(
      *store,
      [&](LedgerId) {
        ++count;
        return Status::Ok();
      },
      settings.page));
  double secs = std::chrono::duration<double>(Clock::now() - start).count();
  if (count != settings.iterate) {
    return Internal(
        fmt::format("iteration found {} ledgers, expected {}", count, settings.iterate));
  }
  if (settings.json) {
    nlohmann::json j = {{"case", "iterate"},        {"driver", driver},
                        {"ledgers", count},         {"page", settings.page},
                        {"seconds", secs},          {"ledgers_per_s", count / secs},
                        {"fill_seconds", fill_secs}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "%-4s iterate %zu ledgers in pages of %zu: %.2f s (%.0f ledgers/s); filled in "
        "%.1f s%s\n",
        driver.c_str(), count, settings.page, secs, count / secs, fill_secs,
        driver == "file" ? " without fsync" : "");
  }
  std::fflush(stdout);
  return store->Nuke(true);
}

int Main(int argc, char** argv) {
  Settings s;
  CLI::App app{"metadata_bench: ledger create+close metadata operations per second"};
  app.add_option("--driver", s.drivers, "Drivers to measure: file, zk, mem")->delimiter(',');
  app.add_option("--zk", s.zk, "host:port of a running ZooKeeper (default: start one)");
  app.add_option("--dir", s.dir, "Directory for file stores (default: under $TMPDIR)");
  app.add_option("--ledgers", s.ledgers, "Ledgers to create and close per case");
  app.add_option("--threads", s.threads, "Concurrent clients, one case each")->delimiter(',');
  app.add_option("--iterate", s.iterate, "Also time iterating this many ledgers (0: skip)");
  app.add_option("--page", s.page, "Page size of the iteration");
  app.add_flag("--json", s.json, "One JSON object per case");
  app.add_option("--io-backend", s.io_backend, "File I/O: auto, io_uring or syscalls");
  CLI11_PARSE(app, argc, argv);
  auto backend = ParseIoBackend(s.io_backend);
  if (!backend.ok()) {
    std::fprintf(stderr, "%s\n", backend.status().ToString().c_str());
    return 2;
  }
  std::unique_ptr<FileSystem> fs = NewPosixFileSystem(*backend);
  g_file_system = fs.get();
  if (!InitLogging({.level = "error", .file = ""}).ok()) return 1;

  Locations locations(s);
  for (const std::string& driver : s.drivers) {
    for (size_t threads : s.threads) {
      auto uri = locations.Next(driver);
      Status st = uri.ok() ? CreateClose(s, driver, *uri, threads) : uri.status();
      if (!st.ok()) {
        std::fprintf(stderr, "%s threads=%zu: %s\n", driver.c_str(), threads,
                     st.ToString().c_str());
        return 1;
      }
    }
    if (s.iterate > 0) {
      auto uri = locations.Next(driver);
      Status st = uri.ok() ? Iterate(s, driver, *uri) : uri.status();
      if (!st.ok()) {
        std::fprintf(stderr, "%s iterate: %s\n", driver.c_str(), st.ToString().c_str());
        return 1;
      }
    }
  }
  return 0;
}

}  // namespace
}  // namespace quire::bench

int main(int argc, char** argv) { return quire::bench::Main(argc, argv); }
