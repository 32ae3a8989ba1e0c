// storage_bench: the storage engine's throughput and latency, beside the physical floors of the
// same directory measured in the same run.
//
// For each entry size and number of concurrent writers (each writer keeps one add outstanding on
// its own ledger: a closed loop), it prints adds/s, MB/s, fdatasyncs/s, mean entries per group,
// add latency percentiles, and the journal's fdatasync p99 with and without a flush running.
// The floors: one writer doing fdatasync'd 4 KiB writes (latency), and a streaming write with a
// final fdatasync (MB/s). --json prints one JSON object per line per case. --gc measures garbage
// collection instead (gc_bench.h).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "gc_bench.h"
#include "storage_bench.h"

namespace quire::bench {
namespace {

struct CaseResult {
  size_t size = 0, writers = 0;
  double seconds = 0;
  uint64_t adds = 0, errors = 0;
  double adds_s = 0, mb_s = 0, syncs_s = 0, entries_per_group = 0;
  Histogram::Snapshot latency;
  uint64_t journal_sync_p99_ns = 0, journal_sync_p99_in_flush_ns = 0;
  uint64_t syncs_in_flush = 0;
  uint64_t flushes = 0;
  double writes_s = 0;            // journal writes (groups) per second
  uint64_t write_cache_waits = 0; // adds that waited for write-cache room
  // Journal files started while measuring: new (fallocated) ones and reused ones.
  uint64_t journal_files_new = 0, journal_files_reused = 0;
  bool reuse_before_measuring = false;  // the measured window began in a reused file
  // One writer only: the 4 KiB fdatasync floor measured in slices interleaved with the load.
  Histogram::Snapshot paired_floor;
};

// The writers: each has its own ledger and keeps exactly one add in flight; the completion of one
// add (on the engine's callback thread) issues the next.
Result<CaseResult> RunCase(FileSystem* fs, const Settings& s, size_t size, size_t writers, int n) {
  std::string root = fmt::format("{}/case-{}", s.dir, n);
  std::string ledger_root = fmt::format("{}/case-{}", s.ledger_dir, n);
  Config config(storage::StorageConfigSchema());
  for (const std::string& kv : s.settings) QUIRE_RETURN_IF_ERROR(config.SetFromString(kv));
  QUIRE_ASSIGN_OR_RETURN(storage::StorageOptions o, storage::StorageOptionsFromConfig(config));
  o.journal_dirs = {root + "/journal"};
  o.ledger_dirs = {ledger_root + "/ledgers"};
  o.bookie_id = "bench";
  o.fs = fs;
  QUIRE_ASSIGN_OR_RETURN(auto engine, storage::StorageEngine::Open(o));

  Load load(engine.get(), writers, size, 1000000);
  load.Start();
  std::this_thread::sleep_for(std::chrono::duration<double>(s.warmup));
  if (s.steady_journal) {
    // A bookie that has run for a while writes over checkpointed journal files; a fresh
    // directory fills new ones first. Measure the steady state, within a bound.
    auto deadline = Clock::now() + std::chrono::seconds(120);
    while (engine->stats().journals[0].files_reused == 0 && Clock::now() < deadline &&
           load.errors() == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (engine->stats().journals[0].files_reused == 0 && load.errors() == 0) {
      fmt::print(stderr,
                 "--steady-journal: {} B x {} writers: the journal reached no reused file within "
                 "120 s; measuring a fresh journal (smaller files get there sooner: --set "
                 "journalMaxSizeMB=256)\n",
                 size, writers);
    }
  }
  storage::StorageStats before = engine->stats();
  load.ResetStats();
  Histogram floor_hist;
  uint64_t measured = 0;
  if (writers == 1) {
    // Disk latency drifts over minutes on shared machines, so the one-writer case alternates
    // 0.5 s of the engine with 0.5 s of the raw fdatasync floor and compares the two.
    load.Stop();
    QUIRE_ASSIGN_OR_RETURN(auto floor, SyncFloor::Open(fs, root + "-floor"));
    for (double done = 0; done < s.seconds; done += 0.5) {
      QUIRE_RETURN_IF_ERROR(floor->Run(0.5, &floor_hist));
      uint64_t t = MonotonicNanos();
      load.Start();
      std::this_thread::sleep_for(std::chrono::duration<double>(0.5));
      load.Stop();
      measured += MonotonicNanos() - t;
    }
  } else {
    uint64_t t = MonotonicNanos();
    std::this_thread::sleep_for(std::chrono::duration<double>(s.seconds));
    measured = MonotonicNanos() - t;
  }
  uint64_t adds = load.completed();
  storage::StorageStats after = engine->stats();
  Histogram::Snapshot latency = load.latency();
  load.Stop();
  engine.reset();
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  std::filesystem::remove_all(ledger_root, ec);

  CaseResult r;
  r.size = size;
  r.writers = writers;
  r.seconds = Us(measured) / 1e6;
  r.paired_floor = floor_hist.Take();
  r.adds = adds;
  r.errors = load.errors();
  r.adds_s = static_cast<double>(adds) / r.seconds;
  r.mb_s = r.adds_s * static_cast<double>(size) / 1e6;
  const storage::JournalStats& jb = before.journals[0];
  const storage::JournalStats& ja = after.journals[0];
  // A "group" here is what one fdatasync made durable (possibly several pipelined writes).
  uint64_t syncs = ja.syncs - jb.syncs;
  r.syncs_s = static_cast<double>(syncs) / r.seconds;
  r.entries_per_group =
      syncs ? static_cast<double>(ja.records - jb.records) / static_cast<double>(syncs) : 0;
  r.latency = latency;
  r.journal_sync_p99_ns = ja.sync_latency_ns.Quantile(0.99);
  r.journal_sync_p99_in_flush_ns = ja.sync_latency_in_flush_ns.Quantile(0.99);
  r.syncs_in_flush = ja.sync_latency_in_flush_ns.count;
  r.flushes = after.flushes - before.flushes;
  r.writes_s = static_cast<double>(ja.writes - jb.writes) / r.seconds;
  r.write_cache_waits = after.write_cache_waits - before.write_cache_waits;
  r.journal_files_new = (ja.files_started - ja.files_reused) - (jb.files_started - jb.files_reused);
  r.journal_files_reused = ja.files_reused - jb.files_reused;
  r.reuse_before_measuring = jb.files_reused > 0;
  return r;
}

nlohmann::json ToJson(const CaseResult& r) {
  return {{"case", "engine"},
          {"entry_bytes", r.size},
          {"writers", r.writers},
          {"seconds", r.seconds},
          {"adds", r.adds},
          {"errors", r.errors},
          {"adds_per_s", r.adds_s},
          {"mb_per_s", r.mb_s},
          {"fdatasyncs_per_s", r.syncs_s},
          {"entries_per_group", r.entries_per_group},
          {"latency_us",
           {{"p50", Us(r.latency.Quantile(0.5))},
            {"p99", Us(r.latency.Quantile(0.99))},
            {"p999", Us(r.latency.Quantile(0.999))},
            {"max", Us(r.latency.max)}}},
          {"journal_fdatasync_p99_us", Us(r.journal_sync_p99_ns)},
          {"journal_fdatasync_p99_during_flush_us", Us(r.journal_sync_p99_in_flush_ns)},
          {"journal_fdatasyncs_during_flush", r.syncs_in_flush},
          {"flushes", r.flushes},
          {"journal_writes_per_s", r.writes_s},
          {"write_cache_waits", r.write_cache_waits},
          {"journal_files_new", r.journal_files_new},
          {"journal_files_reused", r.journal_files_reused},
          {"began_in_reused_journal_file", r.reuse_before_measuring},
          {"paired_fdatasync_4k_p50_us", Us(r.paired_floor.Quantile(0.5))}};
}

int Main(int argc, char** argv) {
  Settings s;
  bool quick = false;
  std::string sizes, writers;
  CLI::App app{
      "Measures the storage engine (journal group commit, write cache, entry logs, index) on a "
      "directory, beside the physical floors of the same directory."};
  app.add_option("--dir", s.dir,
                 "Directory for the journal and the floors (a fresh sub-directory is used)")
      ->required();
  app.add_option("--ledger-dir", s.ledger_dir,
                 "Directory for entry logs and the index (default: --dir). Give another disk to "
                 "measure the journal alone, as in a deployment with a dedicated journal disk");
  app.add_option("--seconds", s.seconds, "Measured seconds per case")->capture_default_str();
  app.add_option("--warmup", s.warmup, "Warm-up seconds per case")->capture_default_str();
  app.add_flag("--steady-journal", s.steady_journal,
               "Warm up each case until the journal writes over a checkpointed file (at most "
               "120 s), as a bookie does once it has run for a while; without it a case measures "
               "a fresh directory, whose journal fills new, preallocated files. Small entries "
               "need small journal files to get there in time: --set journalMaxSizeMB=256");
  app.add_option("--sizes", sizes, "Entry sizes in bytes, comma-separated (default 100,1024,16384)");
  app.add_option("--writers", writers, "Concurrent writers, comma-separated (default 1,16,256)");
  app.add_option("--stream-mb", s.stream_mb, "Size of the streaming-write floor")
      ->capture_default_str();
  app.add_option("--io-backend", s.io_backend, "auto, io_uring or syscalls")->capture_default_str();
  app.add_option("--set", s.settings,
                 "Engine setting key=value (the storage keys of conf/bookie.conf); repeatable");
  app.add_flag("--json", s.json, "One JSON object per line per case");
  app.add_flag("--quick", quick, "A short run: 1 KiB entries, 1 and 16 writers, 1 s each");
  app.add_flag("--gc", s.gc,
               "Measure garbage collection instead: how fast an unthrottled compaction rewrites "
               "entry logs against the streaming floor, and the add p99 of 16 writers with and "
               "without a compaction at compactionRateByBytes (--set it to try another rate)");
  app.add_option("--gc-mb", s.gc_mb, "--gc: megabytes written before ledgers are deleted")
      ->capture_default_str();
  app.add_option("--gc-entry-bytes", s.gc_entry_bytes, "--gc: the size of the entries written")
      ->capture_default_str()
      ->check(CLI::Range(16, 1 << 20));
  app.add_option("--gc-live", s.gc_live, "--gc: the fraction of the ledgers that stays live")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 0.95));
  app.add_option("--gc-timeline", s.gc_timeline,
                 "--gc: write every add's completion time and latency during the with/without "
                 "windows, and the windows' bounds, to this file (JSON lines)");
  CLI11_PARSE(app, argc, argv);
  auto parse_list = [](const std::string& text, std::vector<size_t>* out) {
    if (text.empty()) return;
    out->clear();
    size_t pos = 0;
    while (pos <= text.size()) {
      size_t comma = text.find(',', pos);
      out->push_back(std::stoul(text.substr(pos, comma - pos)));
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  };
  parse_list(sizes, &s.sizes);
  parse_list(writers, &s.writers);
  if (quick) {
    s.seconds = 1;
    s.warmup = 0.5;
    s.sizes = {1024};
    s.writers = {1, 16};
    s.stream_mb = 256;
  }

  if (Status st = InitLogging({.level = "warn"}); !st.ok()) {
    fmt::print(stderr, "{}\n", st.ToString());
    return 1;
  }
  auto backend = ParseIoBackend(s.io_backend);
  if (!backend.ok()) {
    fmt::print(stderr, "{}\n", backend.status().message());
    return 2;
  }
  auto fs = NewPosixFileSystem(*backend);
  if (s.ledger_dir.empty()) s.ledger_dir = s.dir;
  s.dir = fmt::format("{}/storage-bench-{}", s.dir, getpid());
  s.ledger_dir = fmt::format("{}/storage-bench-{}", s.ledger_dir, getpid());
  for (const std::string& d : {s.dir, s.ledger_dir}) {
    if (Status st = fs->CreateDirs(d); !st.ok()) {
      fmt::print(stderr, "{}\n", st.ToString());
      return 1;
    }
  }

  auto floors = MeasureFloors(fs.get(), s);
  if (!floors.ok()) {
    fmt::print(stderr, "measuring the floors: {}\n", floors.status().ToString());
    return 1;
  }
  if (s.json) {
    fmt::print("{}\n", nlohmann::json{{"case", "floors"},
                                      {"io_backend", fs->Describe()},
                                      {"direct_io", floors->direct},
                                      {"fdatasync_4k_p50_us", Us(floors->sync4k_p50_ns)},
                                      {"fdatasync_4k_p99_us", Us(floors->sync4k_p99_ns)},
                                      {"stream_mb_per_s", floors->stream_mb_s},
                                      {"stream_overwrite_mb_per_s", floors->overwrite_mb_s}}
                                  .dump());
  } else {
    fmt::print("storage_bench: journal in {}, ledger storage in {} (I/O: {}, direct I/O: {})\n",
               s.dir, s.ledger_dir, fs->Describe(), floors->direct ? "yes" : "no");
    fmt::print("floors: fdatasync'd 4 KiB write p50 {:.0f} us, p99 {:.0f} us; streaming write "
               "{:.0f} MB/s (over the same file again: {:.0f} MB/s)\n\n",
               Us(floors->sync4k_p50_ns), Us(floors->sync4k_p99_ns), floors->stream_mb_s,
               floors->overwrite_mb_s);
    if (!s.gc) {
      fmt::print("{:>7} {:>7} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10} {:>11}\n",
               "entry", "writers", "adds/s", "MB/s", "syncs/s", "ent/grp", "p50 us", "p99 us",
               "p99.9 us", "jsync p99", "in flush", "files n/r");
    }
  }

  if (s.gc) {
    int rc = RunGcBench(fs.get(), s, *floors);
    std::error_code ec;
    std::filesystem::remove_all(s.dir, ec);
    std::filesystem::remove_all(s.ledger_dir, ec);
    return rc;
  }

  std::vector<CaseResult> results;
  int n = 0;
  for (size_t size : s.sizes) {
    for (size_t w : s.writers) {
      auto r = RunCase(fs.get(), s, size, w, n++);
      if (!r.ok()) {
        fmt::print(stderr, "case {} B x {}: {}\n", size, w, r.status().ToString());
        return 1;
      }
      if (s.json) {
        fmt::print("{}\n", ToJson(*r).dump());
      } else {
        fmt::print("{:>7} {:>7} {:>10.0f} {:>8.1f} {:>9.0f} {:>9.1f} {:>9.0f} {:>9.0f} {:>9.0f} "
                   "{:>10.0f} {:>10.0f} {:>11}\n",
                   size, w, r->adds_s, r->mb_s, r->syncs_s, r->entries_per_group,
                   Us(r->latency.Quantile(0.5)), Us(r->latency.Quantile(0.99)),
                   Us(r->latency.Quantile(0.999)), Us(r->journal_sync_p99_ns),
                   Us(r->journal_sync_p99_in_flush_ns),
                   fmt::format("{}{}/{}", r->reuse_before_measuring ? "r+" : "",
                               r->journal_files_new, r->journal_files_reused));
      }
      std::fflush(stdout);
      results.push_back(*r);
    }
  }

  // The targets of issue 2, as ratios within this run.
  nlohmann::json targets = nlohmann::json::object();
  for (const CaseResult& r : results) {
    if (r.size == 16384 && r.writers == s.writers.back()) {
      targets["journal_mb_s_vs_stream_floor"] = r.mb_s / floors->stream_mb_s;
      targets["journal_mb_s_vs_stream_overwrite"] = r.mb_s / floors->overwrite_mb_s;
    }
    if (r.writers == 1 && r.size == s.sizes.front()) {
      targets["one_writer_p50_vs_fdatasync_4k_p50"] =
          static_cast<double>(r.latency.Quantile(0.5)) /
          static_cast<double>(r.paired_floor.Quantile(0.5));
    }
    if (r.size == 100 && r.writers == 256) targets["adds_s_256_writers_100b"] = r.adds_s;
  }
  if (s.json) {
    targets["case"] = "targets";
    fmt::print("{}\n", targets.dump());
  } else if (!targets.empty()) {
    fmt::print("\ntargets (issue 2):\n");
    if (targets.contains("journal_mb_s_vs_stream_floor")) {
      fmt::print("  16 KiB at saturation: {:.0f}% of the streaming floor (target >= 80%); {:.0f}% of "
                 "the streaming overwrite\n",
                 100 * targets["journal_mb_s_vs_stream_floor"].get<double>(),
                 100 * targets["journal_mb_s_vs_stream_overwrite"].get<double>());
    }
    if (targets.contains("one_writer_p50_vs_fdatasync_4k_p50")) {
      fmt::print("  one writer: p50 add latency = {:.2f} x fdatasync'd 4 KiB p50, measured in "
                 "interleaved slices (target <= 1.3)\n",
                 targets["one_writer_p50_vs_fdatasync_4k_p50"].get<double>());
    }
    if (targets.contains("adds_s_256_writers_100b")) {
      fmt::print("  256 writers, 100 B: {:.0f} adds/s (target >= 300000)\n",
                 targets["adds_s_256_writers_100b"].get<double>());
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(s.dir, ec);
  std::filesystem::remove_all(s.ledger_dir, ec);
  return 0;
}

}  // namespace
}  // namespace quire::bench

int main(int argc, char** argv) { return quire::bench::Main(argc, argv); }
