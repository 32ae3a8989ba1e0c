#include "storage/garbage_collector.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/logging.h"
#include "storage/compactor.h"

namespace quire::storage {
namespace {

constexpr size_t kRecentPasses = 16;
constexpr size_t kThrottledIoBytes = 256u << 10;
constexpr std::chrono::milliseconds kPaceBurst{50};

// Compaction keeps this much free beyond what it copies: room for the index's writes.
uint64_t CompactionMargin(const LedgerDirectory& dir) {
  return std::max<uint64_t>(dir.options().reserved_bytes / 4, 1ull << 20);
}

}  // namespace

std::unique_ptr<GarbageCollector> GarbageCollector::Start(
    StorageEngine* engine, LedgerCatalog* catalog, const GcOptions& options,
    std::function<void(const std::vector<uint64_t>&)> on_deleted) {
  std::unique_ptr<GarbageCollector> gc(
      new GarbageCollector(engine, catalog, options, std::move(on_deleted)));
  gc->thread_ = std::thread([g = gc.get()] { g->Loop(); });
  return gc;
}

GarbageCollector::GarbageCollector(StorageEngine* engine, LedgerCatalog* catalog,
                                   const GcOptions& options,
                                   std::function<void(const std::vector<uint64_t>&)> on_deleted)
    : engine_(engine), catalog_(catalog), options_(options), on_deleted_(std::move(on_deleted)) {
  // Compaction is due one interval after start-up, not at once: a restarted bookie should not
  // begin by rewriting its disks.
  last_minor_ = last_major_ = std::chrono::steady_clock::now();
}

GarbageCollector::~GarbageCollector() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

uint64_t GarbageCollector::Trigger(CompactionKind compaction) {
  MutexLock lock(mu_);
  // A request made while a pass runs gets the next pass: the running one may be past the steps
  // the request wants.
  if (requested_ <= started_) requested_ = started_ + 1;
  requested_compaction_ = std::max(requested_compaction_, compaction);
  cv_.NotifyAll();
  return requested_;
}

bool GarbageCollector::WaitFor(uint64_t id, std::chrono::milliseconds timeout) {
  MutexLock lock(mu_);
  return cv_.WaitFor(mu_, timeout,
                     [&]() QUIRE_REQUIRES(mu_) { return completed_ >= id || stopping_; }) &&
         completed_ >= id;
}

void GarbageCollector::SuspendCompaction(CompactionSuspension which) {
  MutexLock lock(mu_);
  suspension_.major = suspension_.major || which.major;
  suspension_.minor = suspension_.minor || which.minor;
  cv_.NotifyAll();  // a throttled compaction of a suspended kind stops now, not after its sleep
  spdlog::info("garbage collection: major compaction {}, minor compaction {}",
               suspension_.major ? "suspended" : "allowed",
               suspension_.minor ? "suspended" : "allowed");
}

void GarbageCollector::ResumeCompaction(CompactionSuspension which) {
  MutexLock lock(mu_);
  suspension_.major = suspension_.major && !which.major;
  suspension_.minor = suspension_.minor && !which.minor;
  spdlog::info("garbage collection: major compaction {}, minor compaction {}",
               suspension_.major ? "suspended" : "allowed",
               suspension_.minor ? "suspended" : "allowed");
}

CompactionSuspension GarbageCollector::compaction_suspension() const {
  MutexLock lock(mu_);
  return suspension_;
}

bool GarbageCollector::MayCompact(CompactionKind kind) const {
  MutexLock lock(mu_);
  return !stopping_ && !suspension_.Suspends(kind);
}

bool GarbageCollector::stopping() const {
  MutexLock lock(mu_);
  return stopping_;
}

GcStatus GarbageCollector::status() const {
  GcStatus s;
  {
    MutexLock lock(mu_);
    s = totals_;
    s.requested = requested_;
    s.completed = completed_;
    s.recent.assign(recent_.begin(), recent_.end());
  }
  s.pass_duration_ms = pass_duration_ms_.Take();
  for (const auto& dir : engine_->directories()) {
    for (const LogUsage& u : dir->SettledUsage()) s.live_fractions.push_back(u.live_fraction());
  }
  return s;
}

void GarbageCollector::Publish(const GcPassReport& report) {
  MutexLock lock(mu_);
  if (!recent_.empty() && recent_.front().id == report.id) {
    recent_.front() = report;
  } else {
    recent_.push_front(report);
    if (recent_.size() > kRecentPasses) recent_.pop_back();
  }
}

void GarbageCollector::Loop() {
  SetThreadName("q-gc");
  SetThreadBackground();
  auto next_timer = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(options_.wait_time_ms);
  while (true) {
    GcPassReport report;
    {
      MutexLock lock(mu_);
      cv_.WaitUntil(mu_, next_timer,
                    [&]() QUIRE_REQUIRES(mu_) { return stopping_ || requested_ > started_; });
      if (stopping_) return;
      auto now = std::chrono::steady_clock::now();
      bool requested = requested_ > started_;
      if (!requested && now < next_timer) continue;  // spurious wake-up
      report.id = ++started_;
      requested_ = std::max(requested_, started_);
      report.trigger = requested ? "request" : "timer";
      if (requested) {
        report.compaction = requested_compaction_;
        requested_compaction_ = CompactionKind::kNone;
      } else {
        CompactionSchedule schedule{std::chrono::milliseconds(options_.minor_interval_ms),
                                    std::chrono::milliseconds(options_.major_interval_ms)};
        report.compaction = DueCompaction(now, last_minor_, last_major_, schedule);
      }
      CompactionKind allowed = AllowedCompaction(report.compaction, suspension_);
      if (allowed != report.compaction) {
        report.compaction_suspended =
            fmt::format("{} compaction suspended", CompactionKindName(report.compaction));
        report.compaction = allowed;
      }
      next_timer = now + std::chrono::milliseconds(options_.wait_time_ms);
    }
    report.start_unix_ms = UnixMillis();
    Publish(report);
    uint64_t start = MonotonicNanos();
    RunPass(&report);
    report.duration_ms = (MonotonicNanos() - start) / 1'000'000;
    report.finished = true;
    pass_duration_ms_.Record(report.duration_ms);
    // A compaction a suspension cut short is still due: the next pass after the resumption
    // runs it.
    bool cut_short = !report.compaction_suspended.empty();
    if (report.compaction == CompactionKind::kMajor && !cut_short) {
      last_major_ = std::chrono::steady_clock::now();
    }
    if (report.compaction == CompactionKind::kMinor && !cut_short) {
      last_minor_ = std::chrono::steady_clock::now();
    }
    spdlog::log(
        report.status.ok() ? spdlog::level::info : spdlog::level::warn,
        "garbage collection pass {} ({}, {} compaction) in {} ms: {} ledger(s) deleted of {} "
        "held; {} log(s) deleted, {} compacted ({} entries, {} bytes moved); {} bytes "
        "reclaimed{}{}{}",
        report.id, report.trigger, CompactionKindName(report.compaction), report.duration_ms,
        report.ledgers_deleted, report.ledgers_held, report.logs_deleted, report.logs_compacted,
        report.entries_moved, report.bytes_moved, report.bytes_reclaimed(),
        report.ledger_gc_skipped.empty() ? "" : "; ledgers kept: " + report.ledger_gc_skipped,
        report.compaction_suspended.empty() ? "" : "; " + report.compaction_suspended,
        report.status.ok() ? "" : "; stopped: " + report.status.ToString());
    Publish(report);
    MutexLock lock(mu_);
    completed_ = report.id;
    totals_.passes += 1;
    totals_.ledgers_deleted += report.ledgers_deleted;
    totals_.logs_deleted += report.logs_deleted;
    totals_.logs_compacted += report.logs_compacted;
    totals_.entries_moved += report.entries_moved;
    totals_.bytes_moved += report.bytes_moved;
    totals_.bytes_reclaimed += static_cast<uint64_t>(std::max<int64_t>(0, report.bytes_reclaimed()));
    cv_.NotifyAll();
  }
}

void GarbageCollector::RunPass(GcPassReport* report) {
  // 1. Flush: the index then has every ledger the bookie holds, and the journals are checkpointed
  //    past them. On a full disk the flush fails; the pass goes on (it is what frees space), and
  //    ledgers with unflushed writes are left alone by DeleteLedgers.
  Status flushed = engine_->Flush();
  if (!flushed.ok() && !engine_->health().ok()) {
    report->status = flushed.WithContext("flushing before garbage collection");
    return;
  }
  Status s = CollectLedgers(report);
  if (s.ok() && !stopping()) s = CollectLogs(report);
  if (!s.ok()) report->status = s;
}

Status GarbageCollector::CollectLedgers(GcPassReport* report) {
  // 2. The snapshot comes first: a ledger created after it is not in it, so it can never be a
  //    candidate, however the listing goes.
  QUIRE_ASSIGN_OR_RETURN(std::vector<uint64_t> held, engine_->HeldLedgers());
  report->ledgers_held = held.size();
  if (held.empty()) return Status::Ok();
  std::vector<uint64_t> listed;
  Status listing = catalog_->ForEachLedger([&](uint64_t id) {
    listed.push_back(id);
    return stopping() ? Status(StatusCode::kAborted, "stopping") : Status::Ok();
  });
  std::sort(listed.begin(), listed.end());
  Result<std::vector<uint64_t>> candidates = GarbageCandidates(held, listing, listed);
  if (!candidates.ok()) {
    report->ledger_gc_skipped = candidates.status().message();
    spdlog::warn("garbage collection: {}", report->ledger_gc_skipped);
    return Status::Ok();  // the rest of the pass (logs) does not depend on the listing
  }
  std::vector<uint64_t> garbage;
  auto next = std::chrono::steady_clock::now();
  for (uint64_t ledger : *candidates) {
    if (!Pace(1, options_.metadata_op_rate, &next)) return Status::Ok();
    if (IsConfirmedGarbage(catalog_->Exists(ledger))) {
      garbage.push_back(ledger);
    } else {
      report->ledgers_kept_unconfirmed += 1;
    }
  }
  QUIRE_ASSIGN_OR_RETURN(std::vector<uint64_t> deleted, engine_->DeleteLedgers(garbage));
  report->ledgers_deleted = deleted.size();
  if (!deleted.empty()) {
    spdlog::info("garbage collection: deleted ledger(s) {}{}",
                 fmt::join(deleted.begin(), deleted.begin() + std::min<size_t>(deleted.size(), 20),
                           ", "),
                 deleted.size() > 20 ? fmt::format(" ... ({} in all)", deleted.size()) : "");
    if (on_deleted_) on_deleted_(deleted);
  }
  return Status::Ok();
}

Status GarbageCollector::CollectLogs(GcPassReport* report) {
  Mutex& writer = engine_->index_writer();
  const double threshold = ThresholdOf(
      report->compaction, {options_.minor_threshold, options_.major_threshold});
  auto next = std::chrono::steady_clock::now();
  const CompactionKind kind = report->compaction;
  bool suspended = false;  // a suspension stopped the compaction
  for (const auto& dir : engine_->directories()) {
    // 3. Logs whose usage the index does not record.
    QUIRE_ASSIGN_OR_RETURN(std::vector<uint64_t> unknown, dir->UnknownLogs());
    for (uint64_t log : unknown) {
      if (stopping()) return Status::Ok();
      Status scanned = dir->RecordScannedUsage(log, &writer);
      if (!scanned.ok()) {
        // Never delete what could not be read: it stays until an operator looks.
        spdlog::warn("garbage collection: cannot account for {}: {}",
                     dir->entry_logger()->LogPath(log), scanned.ToString());
        continue;
      }
      report->logs_scanned += 1;
    }
    // 4 and 5.
    auto space = dir->fs()->Space(dir->directory());
    uint64_t free = space.ok() ? space->available_bytes : 0;
    LogPlan plan = PlanLogs(dir->SettledUsage(), threshold, free, CompactionMargin(*dir));
    for (uint64_t log : plan.delete_logs) {
      if (stopping()) return Status::Ok();
      uint64_t size = dir->usage()->Total(log) + kEntryLogHeaderSize;
      QUIRE_RETURN_IF_ERROR(dir->DeleteLog(log, &writer));
      report->logs_deleted += 1;
      report->bytes_deleted += size;
    }
    report->logs_skipped_no_room += plan.no_room.size();
    if (plan.compact_logs.empty()) continue;
    if (!MayCompact(kind)) {
      suspended = suspended || !stopping();
      continue;
    }
    CompactionStats stats;
    // Throttled, a switch batches about a second of copies (short index-writer lock holds and
    // RocksDB bursts) and I/O goes in small pieces, which disturb the journal's fdatasyncs less;
    // unthrottled, both are large, which goes faster (docs/performance.md has both).
    const uint64_t rate = options_.compaction_rate_bytes;
    uint64_t chunk = rate == 0 ? 64ull << 20 : std::clamp<uint64_t>(rate, 4ull << 20, 64ull << 20);
    size_t io = rate == 0 ? 4u << 20 : kThrottledIoBytes;
    Compactor compactor(
        dir.get(), &writer,
        [&](uint64_t bytes) {
          if (Pace(bytes, rate, &next, kind)) return true;
          suspended = !stopping();
          return false;
        },
        chunk, io);
    uint64_t started = MonotonicNanos();
    Status compacted = compactor.Compact(plan.compact_logs, CompactionMargin(*dir), &stats);
    report->compaction_ms += (MonotonicNanos() - started) / 1'000'000;
    report->logs_compacted += stats.logs_compacted;
    report->entries_moved += stats.entries_moved;
    report->bytes_moved += stats.bytes_moved;
    report->bytes_deleted += stats.bytes_deleted;
    report->bytes_written += stats.bytes_written;
    QUIRE_RETURN_IF_ERROR(compacted);
  }
  if (suspended) {
    report->compaction_suspended =
        fmt::format("{} compaction suspended while it ran", CompactionKindName(kind));
  }
  if (report->ledgers_deleted > 0 && !stopping()) {
    // The index's own space: rows of deleted ledgers are gone only once RocksDB compacts them.
    for (const auto& dir : engine_->directories()) QUIRE_RETURN_IF_ERROR(dir->index()->CompactAll());
  }
  return Status::Ok();
}

bool GarbageCollector::Pace(uint64_t amount, uint64_t rate,
                            std::chrono::steady_clock::time_point* next, CompactionKind kind) {
  MutexLock lock(mu_);
  auto go_on = [&]() QUIRE_REQUIRES(mu_) { return !stopping_ && !suspension_.Suspends(kind); };
  if (rate == 0 || !go_on()) return go_on();
  // `*next` is when the budget spent so far is earned back; sleeping until then keeps the
  // average at `rate`. Budget left unspent (while the pass walked the index, waited for a switch
  // or read slowly) is kept for kPaceBurst only: a catch-up burst at full disk speed is what
  // foreground adds would feel.
  auto now = std::chrono::steady_clock::now();
  if (*next < now - kPaceBurst) *next = now - kPaceBurst;
  *next += std::chrono::nanoseconds(amount * 1'000'000'000ull / rate);
  if (*next > now) cv_.WaitUntil(mu_, *next, [&]() QUIRE_REQUIRES(mu_) { return !go_on(); });
  return go_on();
}

}  // namespace quire::storage
