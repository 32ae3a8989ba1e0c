#include "bookie/bookie.h"

#include <algorithm>
#include <future>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "autorecovery/autorecovery.h"
#include "bookie/gc_json.h"
#include "bookie/http/admin_http_server.h"
#include "bookie/ledger_catalog.h"
#include "common/build_info.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "storage/cookie.h"

namespace quire::bookie {

namespace {

// The identity recorded in the metadata store, in the storage layer's terms.
storage::Cookie FromMetadata(const metadata::Cookie& c) {
  return storage::Cookie{c.bookie_id, c.instance_id, c.journal_dirs, c.ledger_dirs};
}

}  // namespace

Bookie::Bookie(BookieOptions options)
    : options_(std::move(options)), io_("q-io", options_.io_threads) {}

Result<std::unique_ptr<Bookie>> Bookie::Start(BookieOptions options) {
  std::unique_ptr<Bookie> bookie(new Bookie(std::move(options)));
  Status s = bookie->Init();
  if (!s.ok()) {
    bookie->Stop();
    return s;
  }
  return bookie;
}

Bookie::~Bookie() { Stop(); }

uint16_t Bookie::port() const { return server_ ? server_->port() : 0; }
uint16_t Bookie::http_port() const { return http_port_.load(std::memory_order_acquire); }

bool Bookie::Responsive(std::chrono::milliseconds timeout) { return io_.Responsive(timeout); }

Status Bookie::Init() {
  fs_ = NewPosixFileSystem(options_.io_backend);
  options_.storage.fs = fs_.get();

  // 1. Listen first, on both ports: a port in use fails before the bookie writes a cookie or
  //    registers, so the operator can pick another port and start again. Port 0 fixes the id.
  QUIRE_ASSIGN_OR_RETURN(server_, BookieServer::Listen(&io_, options_.server));
  if (options_.server.port == 0) {
    std::string host = options_.bookie_id.substr(0, options_.bookie_id.rfind(':'));
    options_.bookie_id = fmt::format("{}:{}", host, server_->port());
    options_.storage.bookie_id = options_.bookie_id;
  }
  QUIRE_RETURN_IF_ERROR(StartHttp());
  spdlog::info("bookie {} starting ({}, malloc: {})", options_.bookie_id, VersionLine("quire-bookie"),
               MallocName());

  // 2. The cluster.
  auto store = metadata::OpenMetadataStore(options_.metadata_uri, options_.metadata);
  if (!store.ok()) return store.status().WithContext("opening the metadata store");
  metadata_ = std::move(*store);
  auto cluster = metadata_->GetClusterInfo();
  if (!cluster.ok()) {
    if (cluster.status().Is(StatusCode::kFailedPrecondition) ||
        cluster.status().Is(StatusCode::kNotFound)) {
      return FailedPrecondition(fmt::format(
          "the cluster at {} is not initialized; initialize it once (quire cluster init) before "
          "starting bookies",
          options_.metadata_uri));
    }
    return cluster.status().WithContext("reading the cluster from the metadata store");
  }
  options_.storage.instance_id = cluster->instance_id;

  // 3. Identity, then 4. storage.
  QUIRE_RETURN_IF_ERROR(CheckIdentity(cluster->instance_id));
  auto engine = storage::StorageEngine::Open(options_.storage);
  if (!engine.ok()) return engine.status().WithContext("opening storage");
  engine_ = std::move(*engine);
  LoadManualReadOnly();

  io_.Start();
  RequestProcessorOptions po = options_.processor;
  po.fill_info = [this](proto::BookieInfoResponse* info) {
    info->set_bookie_id(options_.bookie_id);
    DiskSpace space = LedgerDiskSpace();
    info->set_total_bytes(space.total_bytes);
    info->set_free_bytes(space.free_bytes);
    info->set_http_port(http_port());  // 0 when the admin endpoint is off
  };
  processor_ = std::make_unique<RequestProcessor>(engine_.get(), &io_.first(), &status_, po);

  // 5. Register, in the mode the disks allow. Step 4 holds the directories' locks, so a
  //    registration left by this bookie's previous (killed) process is taken over at once.
  CheckDisksAndHealth();
  {
    MutexLock lock(registration_mu_);
    auto reg = metadata_->RegisterBookie(
        options_.bookie_id,
        status_.writable() ? metadata::BookieMode::kWritable : metadata::BookieMode::kReadOnly,
        RegistrationTakeoverKey(options_));
    if (!reg.ok()) return reg.status().WithContext("registering the bookie");
    registration_ = std::move(*reg);
    NoteRegisteredModeLocked();
  }

  // 6. Serve, and collect garbage.
  server_->StartAccepting(processor_.get());
  catalog_ = std::make_unique<MetadataLedgerCatalog>(metadata_.get(), cluster->instance_id);
  gc_ = storage::GarbageCollector::Start(
      engine_.get(), catalog_.get(), options_.storage.gc,
      [this](const std::vector<uint64_t>& deleted) { processor_->ForgetLedgers(deleted); });
  ready_.store(true, std::memory_order_release);
  monitor_ = std::thread([this] { MonitorLoop(); });
  StartAutoRecovery();
  spdlog::info("bookie {} is up ({}): protocol port {}, admin HTTP port {}", options_.bookie_id,
               status_.writable() ? "writable" : "read-only: " + status_.read_only_reason(),
               server_->port(), http_port());
  return Status::Ok();
}

void Bookie::StartAutoRecovery() {
  if (!options_.autorecovery_enabled) return;
  autorecovery::AutoRecoveryOptions o = options_.autorecovery;
  o.name = "bookie " + options_.bookie_id;
  Result<std::unique_ptr<autorecovery::AutoRecovery>> ar = autorecovery::AutoRecovery::Start(o);
  if (!ar.ok()) {
    // The bookie serves without it: autorecovery is the cluster's, and another process may run it.
    spdlog::error("bookie {}: autorecovery not started: {}", options_.bookie_id,
                  ar.status().ToString());
    return;
  }
  MutexLock lock(autorecovery_mu_);
  autorecovery_ = std::move(*ar);
}

Status Bookie::CheckIdentity(const std::string& instance_id) {
  std::vector<std::string> dirs = options_.storage.journal_dirs;
  dirs.insert(dirs.end(), options_.storage.ledger_dirs.begin(), options_.storage.ledger_dirs.end());
  QUIRE_ASSIGN_OR_RETURN(std::optional<storage::Cookie> local,
                         storage::ReadDirectoryCookie(fs_.get(), dirs));
  auto remote = metadata_->ReadCookie(options_.bookie_id);
  if (!remote.ok() && !remote.status().Is(StatusCode::kNotFound)) {
    return remote.status().WithContext("reading the bookie's cookie from the metadata store");
  }
  storage::Cookie expected{options_.bookie_id, instance_id, options_.storage.journal_dirs,
                           options_.storage.ledger_dirs};
  if (remote.ok() && !local) {
    return FailedPrecondition(fmt::format(
        "bookie {} is known to the metadata store but its directories are empty: its disks were "
        "wiped or replaced. Starting would let it answer 'no such entry' for entries it held. "
        "Format it (quire bookie format) so its ledgers are re-replicated, or restore the disks.",
        options_.bookie_id));
  }
  if (!remote.ok() && local) {
    return FailedPrecondition(fmt::format(
        "the directories hold data of bookie {} but the metadata store has no cookie for {}: "
        "the metadata store was re-created, or the directories belong to another cluster",
        local->bookie_id, options_.bookie_id));
  }
  if (remote.ok()) {
    std::string diff = FromMetadata(remote->value).Difference(expected);
    if (!diff.empty()) {
      return FailedPrecondition(fmt::format(
          "bookie {}: the cookie in the metadata store does not match this configuration "
          "(stored vs configured: {})",
          options_.bookie_id, diff));
    }
    return Status::Ok();  // the storage engine checks the directories against `expected`
  }
  // A new bookie: its cookie goes to the metadata store first, so a crash between the two
  // writes leaves "known but empty", which refuses to start rather than silently restarting.
  metadata::Cookie cookie;
  cookie.bookie_id = options_.bookie_id;
  cookie.instance_id = instance_id;
  cookie.journal_dirs = options_.storage.journal_dirs;
  cookie.ledger_dirs = options_.storage.ledger_dirs;
  cookie.creation_time_ms = static_cast<int64_t>(UnixMillis());
  auto written = metadata_->WriteCookie(cookie, metadata::kNewRecord);
  if (!written.ok()) return written.status().WithContext("writing the bookie's cookie");
  spdlog::info("bookie {}: new bookie, cookie written to the metadata store", options_.bookie_id);
  return Status::Ok();
}

void Bookie::CheckDisksAndHealth() {
  bool changed = false;
  Status health = engine_ ? engine_->health() : Status::Ok();
  if (!health.ok()) {
    changed = status_.SetReadOnly(fmt::format("storage error: {}", health.ToString()), true);
    if (changed) {
      spdlog::error("bookie {} is read-only until restarted: {}", options_.bookie_id,
                    health.ToString());
    }
    if (changed) ApplyMode();
    return;
  }
  double worst = 0;
  std::string worst_dir;
  for (const std::string& dir : options_.storage.ledger_dirs) {
    auto space = fs_->Space(dir);
    if (!space.ok() || space->total_bytes == 0) continue;
    double used = static_cast<double>(space->used_bytes()) /
                  static_cast<double>(space->total_bytes);
    if (used >= worst) {
      worst = used;
      worst_dir = dir;
    }
  }
  Status full = engine_ ? engine_->disk_full() : Status::Ok();
  if (!full.ok()) {
    // The engine logs the full disk itself, once; this says what it means for the bookie.
    changed = status_.SetReadOnly(fmt::format("a full ledger disk holds flushes back: {}",
                                              full.message()),
                                  false);
    if (changed) {
      spdlog::warn("bookie {} is read-only until its flushes succeed and disk usage is below "
                   "diskUsageLwmThreshold ({:.1f}%); garbage collection reclaims space",
                   options_.bookie_id, 100 * options_.disk_usage_lwm_threshold);
    }
  } else if (worst > options_.disk_usage_threshold) {
    changed = status_.SetReadOnly(
        fmt::format("ledger directory {} is {:.1f}% full (diskUsageThreshold {:.1f}%)", worst_dir,
                    100 * worst, 100 * options_.disk_usage_threshold),
        false);
    if (changed) {
      spdlog::warn("bookie {} is read-only: {}", options_.bookie_id, status_.read_only_reason());
    }
  } else if (worst < options_.disk_usage_lwm_threshold && status_.SetWritable()) {
    changed = true;
    if (status_.writable()) {
      spdlog::info("bookie {} is writable again: disk usage {:.1f}% is below "
                   "diskUsageLwmThreshold",
                   options_.bookie_id, 100 * worst);
    } else {
      spdlog::info("bookie {}: disk usage {:.1f}% is below diskUsageLwmThreshold; still "
                   "read-only: {}",
                   options_.bookie_id, 100 * worst, status_.read_only_reason());
    }
  }
  if (changed) ApplyMode();
}

void Bookie::ApplyMode() {
  MutexLock lock(registration_mu_);
  if (!registration_) return;
  auto mode = status_.writable() ? metadata::BookieMode::kWritable : metadata::BookieMode::kReadOnly;
  Status s = registration_->SetMode(mode);
  NoteRegisteredModeLocked();
  if (!s.ok()) {
    // The monitor tries again on its next round (ApplyMode runs on every change and the mode is
    // compared below).
    spdlog::warn("bookie {}: could not update its registration: {}", options_.bookie_id,
                 s.ToString());
  }
}

void Bookie::NoteRegisteredModeLocked() {
  registered_writable_.store(registration_ &&
                                 registration_->mode() == metadata::BookieMode::kWritable,
                             std::memory_order_release);
}

void Bookie::MonitorLoop() {
  SetThreadName("q-monitor");
  // How often the LACs of idle ledgers are forgotten (RequestProcessor::SweepIdle).
  constexpr uint64_t kLacSweepIntervalMs = 30'000;
  uint64_t last_sweep = MonotonicNanos() / 1'000'000;
  MutexLock lock(monitor_mu_);
  while (!stopping_) {
    monitor_cv_.WaitFor(monitor_mu_, options_.disk_check_interval,
                        [this]() QUIRE_REQUIRES(monitor_mu_) { return stopping_; });
    if (stopping_) break;
    lock.Unlock();
    CheckDisksAndHealth();
    uint64_t now = MonotonicNanos() / 1'000'000;
    if (now - last_sweep >= kLacSweepIntervalMs) {
      last_sweep = now;
      processor_->SweepIdle();
    }
    {
      // Registration lagging behind the state (a failed SetMode earlier): try again.
      MutexLock rl(registration_mu_);
      auto want = status_.writable() ? metadata::BookieMode::kWritable
                                     : metadata::BookieMode::kReadOnly;
      if (registration_ && registration_->mode() != want) {
        registration_->SetMode(want).IgnoreError();
        NoteRegisteredModeLocked();
      }
    }
    lock.Lock();
  }
}

void Bookie::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    MutexLock lock(monitor_mu_);
    stopping_ = true;
  }
  monitor_cv_.NotifyAll();
  if (monitor_.joinable()) monitor_.join();
  // The admin endpoint goes first: its handlers read what is torn down below.
  ready_.store(false, std::memory_order_release);
  if (http_) http_->Stop();
  {
    MutexLock lock(autorecovery_mu_);
    autorecovery_.reset();  // it speaks to other bookies, not to this one's storage
  }
  gc_.reset();  // stops at its next safe point; it uses the engine and the metadata store
  if (server_) {
    server_->StopAccepting();
    if (processor_) processor_->AbortLongPolls();
    server_->Shutdown(options_.shutdown_drain);
  }
  // The I/O threads stop before the processor goes: Shutdown only asks the connections to close
  // (on their own threads), and until they do, one may still hand the processor a request it
  // had already read (ASan caught that use after free in a rolling-restart test). Then the
  // requests still running finish on the worker threads, and the processor waits for the
  // engine's callbacks of those it handed on (ASan again: a journal group synced after the
  // processor was gone); their answers go nowhere.
  io_.Stop();
  processor_.reset();
  server_.reset();
  engine_.reset();  // flush + checkpoint
  {
    MutexLock lock(registration_mu_);
    registration_.reset();  // deregister
    NoteRegisteredModeLocked();
  }
  metadata_.reset();
  spdlog::info("bookie {} stopped", options_.bookie_id);
}

Result<storage::GarbageCollector*> Bookie::Gc() {
  if (!ready_.load(std::memory_order_acquire) || !gc_) {
    return FailedPrecondition("the bookie is starting or stopping");
  }
  return gc_.get();
}

Result<uint64_t> Bookie::TriggerGc(storage::CompactionKind compaction) {
  QUIRE_ASSIGN_OR_RETURN(storage::GarbageCollector * gc, Gc());
  return gc->Trigger(compaction);
}

Result<storage::GcStatus> Bookie::GcStatus() {
  QUIRE_ASSIGN_OR_RETURN(storage::GarbageCollector * gc, Gc());
  return gc->status();
}

namespace {

// The garbage collector's part of /metrics (storage/garbage_collector.h).
void GcMetrics(const storage::GcStatus& g, MetricsWriter* w) {
  struct Counter {
    const char* name;
    const char* help;
    uint64_t storage::GcStatus::*value;
  };
  static constexpr Counter kCounters[] = {
      {"quire_gc_passes_total", "Garbage-collection passes finished", &storage::GcStatus::passes},
      {"quire_gc_ledgers_deleted_total",
       "Ledgers deleted because the metadata store confirmed them gone",
       &storage::GcStatus::ledgers_deleted},
      {"quire_gc_logs_deleted_total", "Entry logs deleted with nothing live in them",
       &storage::GcStatus::logs_deleted},
      {"quire_gc_logs_compacted_total",
       "Entry logs emptied by compaction (live entries copied), then deleted",
       &storage::GcStatus::logs_compacted},
      {"quire_gc_entries_moved_total", "Entries compaction copied to new entry logs",
       &storage::GcStatus::entries_moved},
      {"quire_gc_bytes_moved_total", "Entry bytes compaction copied to new entry logs",
       &storage::GcStatus::bytes_moved},
      {"quire_gc_bytes_reclaimed_total",
       "Bytes of entry logs given back: deleted minus what compaction wrote",
       &storage::GcStatus::bytes_reclaimed},
  };
  // Passes take from milliseconds (nothing to do) to hours (a throttled major compaction).
  static constexpr double kPassSecondsBounds[] = {0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 14400};
  static constexpr double kFractionBounds[] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  for (const Counter& c : kCounters) w->Counter(c.name, c.help, static_cast<double>(g.*c.value));
  w->Histogram("quire_gc_pass_duration_seconds", "Garbage-collection pass duration",
               g.pass_duration_ms, 1e-3, {}, kPassSecondsBounds);
  w->Histogram("quire_gc_entry_log_live_fraction",
               "Live fraction of each entry log now (the current one excepted): compaction "
               "rewrites those below the thresholds",
               g.live_fractions, kFractionBounds);
}

// Used and free space of the disk of each journal and ledger directory. A directory whose disk
// cannot be asked is left out: its series go missing rather than read 0.
void DiskMetrics(FileSystem* fs, const storage::StorageOptions& o, MetricsWriter* w) {
  for (const auto& [kind, dirs] : {std::pair{"journal", &o.journal_dirs},
                                   std::pair{"ledger", &o.ledger_dirs}}) {
    for (const std::string& dir : *dirs) {
      auto space = fs->Space(dir);
      if (!space.ok()) continue;
      MetricsWriter::Labels l{{"kind", kind}, {"directory", dir}};
      w->Gauge("quire_bookie_disk_used_bytes",
               "Bytes of the directory's disk an unprivileged writer cannot use (used / (used + "
               "free) is what diskUsageThreshold is compared with)",
               static_cast<double>(space->used_bytes()), l);
      w->Gauge("quire_bookie_disk_free_bytes",
               "Bytes of the directory's disk available to an unprivileged writer",
               static_cast<double>(space->available_bytes), l);
    }
  }
}

}  // namespace

std::string Bookie::MetricsText() {
  using Labels = MetricsWriter::Labels;
  static constexpr double kCountBounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
  MetricsWriter w;
  // Prometheus's "info" idiom: a constant 1 whose labels say what runs, for joins and dashboards.
  w.Gauge("quire_build_info", "Always 1; the labels are the Quire version and git commit",
          1, {{"version", std::string(QuireVersion())}, {"commit", std::string(QuireCommit())}});
  bool ready = ready_.load(std::memory_order_acquire);
  w.Gauge("quire_bookie_writable", "1 when the bookie takes writes, 0 when read-only",
          ready && status_.writable() ? 1 : 0);
  if (!ready) return w.Text();  // starting or stopping: the rest is not built, or torn down
  {
    MutexLock lock(autorecovery_mu_);
    if (autorecovery_) autorecovery_->WriteMetrics(w);
  }
  if (server_) {
    ServerMetrics& m = server_->metrics();
    w.Gauge("quire_bookie_connections", "Open client connections",
            static_cast<double>(m.connections_open.load()));
    w.Counter("quire_bookie_connections_accepted_total", "Client connections accepted",
              static_cast<double>(m.connections_accepted.load()));
    m.requests.Write(
        &w, "quire_bookie_requests_total", "Requests answered, by operation and status",
        "quire_bookie_request_latency_seconds",
        "Requests by operation and status: from the request read to its answer queued");
    w.Counter("quire_bookie_bad_frames_total", "Frames refused (bad length); connection closed",
              static_cast<double>(m.bad_frames.load()));
    w.Counter("quire_bookie_network_read_bytes_total", "Bytes read from clients",
              static_cast<double>(m.bytes_read.load()));
    w.Counter("quire_bookie_network_written_bytes_total", "Bytes written to clients",
              static_cast<double>(m.bytes_written.load()));
    w.Gauge("quire_bookie_inflight_bytes",
            "Bytes of requests in flight and responses not yet written",
            static_cast<double>(m.inflight_bytes.load()));
    w.Histogram("quire_bookie_dispatch_seconds",
                "One read's requests dispatched by an I/O thread (an inline journal write "
                "included): its other connections wait meanwhile",
                m.dispatch_ns.Take(), 1e-9);
    w.Counter("quire_bookie_read_pauses_total",
              "Times a connection stopped being read because of back-pressure",
              static_cast<double>(m.paused_reads.load()));
    w.Counter("quire_bookie_tls_handshake_failures_total",
              "TLS handshakes that failed (bad or missing client certificate, bad bytes)",
              static_cast<double>(m.tls_handshake_failures.load()));
    w.Counter("quire_bookie_plaintext_refused_total",
              "Plaintext connections refused because of tlsRequired",
              static_cast<double>(m.plaintext_refused.load()));
  }
  if (processor_) {
    w.Gauge("quire_bookie_long_polls", "Long-poll reads waiting for the LAC to advance",
            static_cast<double>(processor_->long_polls()));
    w.Gauge("quire_bookie_known_lacs",
            "Ledgers whose last add confirmed the bookie keeps in memory (idle ones are forgotten)",
            static_cast<double>(processor_->known_lacs()));
  }
  if (gc_) GcMetrics(gc_->status(), &w);
  DiskMetrics(fs_.get(), options_.storage, &w);
  if (engine_) {
    // Left out if an index cannot be read (the bookie reports that error where it matters).
    auto inventory = engine_->Inventory();
    for (size_t i = 0; inventory.ok() && i < inventory->size(); ++i) {
      Labels l{{"directory", options_.storage.ledger_dirs[i]}};
      w.Gauge("quire_storage_ledgers",
              "Ledgers in the ledger directory's index (a new ledger counts from its first flush)",
              static_cast<double>((*inventory)[i].ledgers), l);
      w.Gauge("quire_storage_entry_logs",
              "Entry log files in the ledger directory, the one being written included",
              static_cast<double>((*inventory)[i].entry_logs), l);
    }
    storage::StorageStats s = engine_->stats();
    w.Counter("quire_storage_added_entries_total", "Entries made durable",
              static_cast<double>(s.adds));
    w.Counter("quire_storage_added_bytes_total", "Entry bytes made durable",
              static_cast<double>(s.add_bytes));
    w.Counter("quire_storage_read_entries_total", "Entries read", static_cast<double>(s.reads));
    w.Counter("quire_storage_read_bytes_total", "Entry bytes read",
              static_cast<double>(s.read_bytes));
    w.Counter("quire_storage_flushes_total", "Write-cache flushes to entry logs",
              static_cast<double>(s.flushes));
    w.Histogram("quire_storage_flush_latency_seconds",
                "Write-cache flush duration, not counting a paced flush's waits",
                s.flush_latency_ns, 1e-9);
    w.Counter("quire_storage_flush_paced_seconds_total",
              "Time periodic flushes waited to spread their entry-log writes (flushPacing)",
              static_cast<double>(s.flush_paced_ns) * 1e-9);
    w.Counter("quire_storage_write_cache_waits_total",
              "Adds that waited for write-cache room", static_cast<double>(s.write_cache_waits));
    w.Gauge("quire_storage_callback_queue", "Completions waiting for the callback threads",
            static_cast<double>(s.callback_queue));
    w.Gauge("quire_storage_cached_ledgers",
            "Ledger states held in memory (idle ones are evicted and reloaded from the index)",
            static_cast<double>(s.cached_ledgers));
    w.Counter("quire_storage_flushes_held_back_total",
              "Write-cache flushes held back by a full ledger disk (retried; the bookie is "
              "read-only meanwhile)",
              static_cast<double>(s.flush_failures));
    for (size_t i = 0; i < s.journals.size(); ++i) {
      const storage::JournalStats& j = s.journals[i];
      Labels l{{"journal", std::to_string(i)}};
      w.Counter("quire_journal_syncs_total", "Journal fdatasyncs", static_cast<double>(j.syncs), l);
      w.Counter("quire_journal_writes_total", "Journal group writes",
                static_cast<double>(j.writes), l);
      w.Counter("quire_journal_bytes_total", "Journal bytes written", static_cast<double>(j.bytes),
                l);
      w.Gauge("quire_journal_queue", "Records waiting for the journal thread",
              static_cast<double>(j.queued_records), l);
      w.Counter("quire_journal_files_started_total", "Journal files started (reused ones included)",
                static_cast<double>(j.files_started), l);
      w.Counter("quire_journal_files_reused_total",
                "Journal files started by writing over a checkpointed file",
                static_cast<double>(j.files_reused), l);
      w.Counter("quire_journal_zeroed_bytes_total",
                "Zeros written ahead of the journal's data while idle (journalZeroAheadKB)",
                static_cast<double>(j.zeroed_bytes), l);
      w.Counter("quire_journal_inline_writes_total",
                "Journal groups written and synced by the I/O thread that read them "
                "(journalWriteInline)",
                static_cast<double>(j.inline_writes), l);
      Histogram::Snapshot sync = j.sync_latency_ns;
      sync.Merge(j.sync_latency_in_flush_ns);
      w.Histogram("quire_journal_sync_latency_seconds", "Journal fdatasync duration", sync, 1e-9,
                  l);
      w.Histogram("quire_journal_records_per_sync", "Records made durable by one fdatasync",
                  j.records_per_sync, 1.0, l, kCountBounds);
    }
    uint64_t hits_write = 0, hits_read = 0, disk = 0, cache_bytes = 0;
    for (const storage::LedgerDirectoryStats& d : s.directories) {
      hits_write += d.write_cache_hits;
      hits_read += d.read_cache_hits;
      disk += d.entry_log_reads;
      cache_bytes += d.write_cache_bytes;
    }
    w.Counter("quire_storage_read_hits_total", "Reads served from a cache, by cache",
              static_cast<double>(hits_write), {{"cache", "write"}});
    w.Counter("quire_storage_read_hits_total", "Reads served from a cache, by cache",
              static_cast<double>(hits_read), {{"cache", "read_ahead"}});
    w.Counter("quire_storage_entry_log_reads_total", "Reads that went to an entry log",
              static_cast<double>(disk));
    w.Gauge("quire_storage_write_cache_bytes", "Bytes in the write caches",
            static_cast<double>(cache_bytes));
  }
  return w.Text();
}

}  // namespace quire::bookie
