#include "autorecovery/autorecovery.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "autorecovery/policy.h"
#include "client/digest.h"
#include "client/read_handle.h"
#include "client/recovery.h"
#include "metadata/ledger_scan.h"
#include "metadata/records.h"
#include "metadata/update.h"

namespace quire::autorecovery {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kMarkerPage = 1'000;
// A worker orders (closed first) only the first this many markers it can take: each costs a
// metadata read per poll.
constexpr size_t kConsidered = 64;
constexpr int64_t kMaxCounted = 100'000;  // status counts markers up to this many

std::string ReplicationLock(LedgerId id) { return fmt::format("replicate-{}", id); }

// The replicas of a closed ledger that are missing or corrupt, by bookie. Bookies that could not
// be asked are left out: whether they are gone is the missing-bookie rule's business.
Result<std::set<BookieId>> BadReplicas(const std::shared_ptr<client::ClientContext>& ctx,
                                       LedgerId id,
                                       const metadata::Versioned<LedgerMetadata>& md) {
  std::set<BookieId> bad;
  if (md.value.last_entry_id < 0) return bad;
  QUIRE_ASSIGN_OR_RETURN(client::LedgerKeys keys, client::RepairKeys(id, md.value, ""));
  std::unique_ptr<ReadHandle> handle = client::NewReadHandle(ctx, id, md, keys);
  QUIRE_ASSIGN_OR_RETURN(std::vector<ReplicaProblem> problems,
                         handle->CheckReplicas(0, md.value.last_entry_id));
  for (const ReplicaProblem& p : problems) {
    if (p.code == StatusCode::kNoSuchEntry || p.code == StatusCode::kCorruption) {
      bad.insert(p.bookie_id);
    }
  }
  return bad;
}

}  // namespace

const ConfigSchema& AutoRecoveryConfigSchema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s;
    s.Add({.name = "autoRecoveryDaemonEnabled", .type = ConfigType::kBool, .default_value = "true",
           .description = "Run autorecovery (the auditor election and a replication worker) "
                          "inside the bookie (docs/autorecovery.md). false: run `quire "
                          "autorecovery run` elsewhere, or nothing heals by itself."});
    s.Add({.name = "lostBookieRecoveryDelay", .type = ConfigType::kInt, .default_value = "0",
           .description = "Seconds a bookie may be missing from the registry (restarting, say) "
                          "before the auditor marks its ledgers under-replicated.",
           .min_int = 0, .max_int = 7 * 86400});
    s.Add({.name = "auditorPeriodicCheckInterval", .type = ConfigType::kInt,
           .default_value = "604800",
           .description = "Seconds between the auditor's reads of every replica of every closed "
                          "ledger (finds wiped or silently damaged copies); 0: never.",
           .min_int = 0, .max_int = 365 * 86400});
    s.Add({.name = "openLedgerRereplicationGracePeriod", .type = ConfigType::kInt,
           .default_value = "30000",
           .description = "Milliseconds an open ledger with a lost replica may go without a new "
                          "entry before its writer is deemed gone: it is then fenced, recovered "
                          "and replicated.",
           .min_int = 0, .max_int = 86'400'000});
    s.Add({.name = "rereplicationEntryBatchSize", .type = ConfigType::kInt, .default_value = "64",
           .description = "Entries read and written per round trip while copying.",
           .min_int = 1, .max_int = 10'000});
    s.Add({.name = "replicationRateByBytes", .type = ConfigType::kInt,
           .default_value = "10485760",
           .description = "Bytes per second each replication worker may copy (10 MiB/s; "
                          "BookKeeper's default is -1); -1: no limit. Unlimited, healing runs "
                          "at disk speed and foreground adds wait behind it "
                          "(docs/performance.md, \"Autorecovery\").",
           .min_int = -1});
    s.Add({.name = "autoRecoveryPollIntervalMs", .type = ConfigType::kInt,
           .default_value = "1000",
           .description = "How often a worker looks for marked ledgers and a standby auditor "
                          "tries to take over.",
           .min_int = 10, .max_int = 600'000});
    return s;
  }();
  return schema;
}

AutoRecoveryOptions AutoRecoveryOptionsFromConfig(const Config& config) {
  AutoRecoveryOptions o;
  o.lost_bookie_delay = std::chrono::seconds(config.GetInt("lostBookieRecoveryDelay"));
  o.periodic_check_interval = std::chrono::seconds(config.GetInt("auditorPeriodicCheckInterval"));
  o.open_ledger_grace = milliseconds(config.GetInt("openLedgerRereplicationGracePeriod"));
  o.batch_entries = static_cast<size_t>(config.GetInt("rereplicationEntryBatchSize"));
  o.rate_bytes_per_second = config.GetInt("replicationRateByBytes");
  o.poll_interval = milliseconds(config.GetInt("autoRecoveryPollIntervalMs"));
  o.client.metadata_uri = config.GetString("metadataServiceUri");
  o.client.metadata_timeout = milliseconds(config.GetInt("metadataOperationTimeoutMs"));
  o.client.metadata_session_timeout = milliseconds(config.GetInt("metadataSessionTimeoutMs"));
  return o;
}

// --- Status and the switch ---

Result<AutoRecoveryStatus> ReadStatus(metadata::MetadataStore& store) {
  AutoRecoveryStatus status;
  QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<metadata::AutoRecoveryState> rec,
                         store.ReadAutoRecovery());
  status.enabled = rec.value.enabled;
  status.missing_bookies = rec.value.missing_bookies;
  status.audit_time_ms = rec.value.audit_time_ms;
  status.last_check_time_ms = rec.value.last_check_time_ms;
  QUIRE_ASSIGN_OR_RETURN(status.auditor, store.LockOwner(std::string(kAuditorLock)));
  LedgerId from = 0;
  while (status.under_replicated_ledgers < kMaxCounted) {
    QUIRE_ASSIGN_OR_RETURN(std::vector<metadata::UnderReplicatedLedger> page,
                           store.ListUnderReplicated(from, kMarkerPage));
    if (page.empty()) break;
    status.under_replicated_ledgers += static_cast<int64_t>(page.size());
    if (page.back().ledger_id == kMaxLedgerId) break;
    from = page.back().ledger_id + 1;
  }
  status.count_truncated = status.under_replicated_ledgers >= kMaxCounted;
  return status;
}

nlohmann::json StatusToJson(const AutoRecoveryStatus& s, int64_t lost_delay_ms) {
  nlohmann::json missing = nlohmann::json::array();
  for (const metadata::MissingBookie& m : s.missing_bookies) {
    missing.push_back({{"bookieId", m.bookie_id}, {"missingSinceMs", m.missing_since_ms}});
  }
  nlohmann::json j = {{"enabled", s.enabled},
                      {"auditor", s.auditor ? nlohmann::json(*s.auditor) : nlohmann::json()},
                      {"missingBookies", missing},
                      {"underReplicatedLedgers", s.under_replicated_ledgers},
                      {"underReplicatedCountTruncated", s.count_truncated},
                      {"auditTimeMs", s.audit_time_ms},
                      {"lastCheckTimeMs", s.last_check_time_ms}};
  if (lost_delay_ms >= 0) j["lostBookieRecoveryDelayMs"] = lost_delay_ms;
  return j;
}

Status SetEnabled(metadata::MetadataStore& store, bool enabled) {
  bool changed = false;
  auto mutate = [&](const metadata::Versioned<metadata::AutoRecoveryState>& rec)
      -> metadata::Decision<metadata::AutoRecoveryState> {
    if (rec.value.enabled == enabled) return metadata::kUnchanged;
    metadata::AutoRecoveryState next = rec.value;
    next.enabled = enabled;
    changed = true;
    return next;
  };
  QUIRE_RETURN_IF_ERROR(metadata::UpdateAutoRecovery(store, mutate).status());
  if (changed) spdlog::info("autorecovery {} cluster-wide", enabled ? "enabled" : "disabled");
  return Status::Ok();
}

// --- Manual recovery of one bookie ---

Result<CopiedEntries> RecoverBookie(client::ClientContext& ctx, const BookieId& bookie,
                                    const client::ReplicationOptions& options,
                                    const std::function<void(const RecoverProgress&)>& progress) {
  QUIRE_ASSIGN_OR_RETURN(std::vector<metadata::LedgerOfBookie> ledgers,
                         metadata::LedgersUsingBookie(ctx.store(), bookie));
  RecoverProgress p;
  p.ledgers_total = static_cast<int64_t>(ledgers.size());
  for (const metadata::LedgerOfBookie& l : ledgers) {
    if (!l.metadata.closed()) {
      Result<metadata::Versioned<LedgerMetadata>> r =
          client::RecoverLedger(ctx, l.id, std::nullopt);
      if (!r.ok() && !r.status().Is(StatusCode::kNoSuchLedger)) {
        return r.status().WithContext(fmt::format("recovering ledger {} before copying it", l.id));
      }
    }
    Result<CopiedEntries> c = client::ReplaceBookie(ctx, l.id, bookie, "", options);
    if (!c.ok() && !c.status().Is(StatusCode::kNoSuchLedger)) {
      return c.status().WithContext(fmt::format("ledger {}", l.id));
    }
    if (c.ok()) {
      p.copied.entries += c->entries;
      p.copied.bytes += c->bytes;
    }
    ++p.ledgers_done;
    if (progress) progress(p);
  }
  return p.copied;
}

// --- The service ---

Result<std::unique_ptr<AutoRecovery>> AutoRecovery::Start(AutoRecoveryOptions options) {
  QUIRE_ASSIGN_OR_RETURN(std::shared_ptr<client::ClientContext> ctx,
                         client::OpenClientContext(options.client));
  if (options.name.empty()) options.name = metadata::ProcessOwnerString();
  std::unique_ptr<AutoRecovery> ar(new AutoRecovery(std::move(options), std::move(ctx)));
  ar->auditor_thread_ = std::thread([a = ar.get()] { a->AuditorLoop(); });
  if (ar->options_.worker) ar->worker_thread_ = std::thread([a = ar.get()] { a->WorkerLoop(); });
  spdlog::info("autorecovery started ({}; lostBookieRecoveryDelay {} s)", ar->options_.name,
               ar->options_.lost_bookie_delay.count() / 1000);
  return ar;
}

AutoRecovery::AutoRecovery(AutoRecoveryOptions options,
                           std::shared_ptr<client::ClientContext> context)
    : options_(std::move(options)), context_(std::move(context)) {}

AutoRecovery::~AutoRecovery() { Stop(); }

void AutoRecovery::Stop() {
  {
    MutexLock lock(mu_);
    if (stop_.exchange(true)) return;
  }
  wake_.NotifyAll();
  if (auditor_thread_.joinable()) auditor_thread_.join();
  if (worker_thread_.joinable()) worker_thread_.join();
}

bool AutoRecovery::WaitUntil(Clock::time_point deadline, bool wakeable) {
  MutexLock lock(mu_);
  wake_.WaitUntil(mu_, deadline,
                  [&]() QUIRE_REQUIRES(mu_) { return stop_.load() || (wakeable && audit_now_); });
  if (wakeable) audit_now_ = false;
  return !stop_.load();
}

void AutoRecovery::Wake() {
  {
    MutexLock lock(mu_);
    audit_now_ = true;
  }
  wake_.NotifyAll();
}

// --- Auditor ---

void AutoRecovery::AuditorLoop() {
  while (!stopping()) {
    Result<std::unique_ptr<metadata::OwnershipLock>> lock =
        store().TryLock(std::string(kAuditorLock), options_.name, [this] { Wake(); });
    if (lock.ok()) {
      spdlog::info("autorecovery: {} is the auditor", options_.name);
      is_auditor_ = true;
      Audit(**lock);
      is_auditor_ = false;
      if (!stopping()) spdlog::warn("autorecovery: {} lost the auditor lock", options_.name);
      continue;
    }
    if (!lock.status().Is(StatusCode::kAlreadyExists)) {
      spdlog::warn("autorecovery: cannot take part in the auditor election: {}",
                   lock.status().ToString());
    }
    WaitUntil(Clock::now() + options_.poll_interval, /*wakeable=*/true);
  }
}

void AutoRecovery::Audit(metadata::OwnershipLock& lock) {
  // Registration changes wake the auditor at once; the poll catches everything else.
  Result<std::unique_ptr<metadata::Watch>> watch =
      store().WatchBookies([this](const metadata::BookieList&) { Wake(); });
  if (!watch.ok()) {
    spdlog::warn("autorecovery: no watch on the registry: {}", watch.status().ToString());
  }
  MissingBookieTracker tracker(options_.lost_bookie_delay);
  bool restored = false;
  std::set<BookieId> marked_for;  // the lost bookies whose ledgers the last walk marked
  Clock::time_point last_walk{};
  while (!stopping() && lock.held()) {
    Clock::time_point next = Clock::now() + options_.poll_interval;
    Status s = [&]() -> Status {
      QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<metadata::AutoRecoveryState> rec,
                             store().ReadAutoRecovery());
      if (!restored) {  // continue the previous auditor's clocks
        tracker.Restore(rec.value.missing_bookies);
        restored = true;
      }
      if (!rec.value.enabled) return Status::Ok();
      QUIRE_ASSIGN_OR_RETURN(std::vector<BookieId> expected, store().ListCookies());
      QUIRE_ASSIGN_OR_RETURN(metadata::BookieList registered, store().ListBookies());
      std::set<BookieId> live(registered.writable.begin(), registered.writable.end());
      live.insert(registered.read_only.begin(), registered.read_only.end());
      const int64_t now_ms = metadata::NowUnixMillis();
      bool changed = tracker.Observe(expected, live, now_ms);
      std::set<BookieId> lost = tracker.Lost(now_ms);
      lost_bookies_ = static_cast<int64_t>(lost.size());
      if (changed || rec.value.auditor != options_.name) {
        for (const metadata::MissingBookie& m : tracker.missing()) {
          auto same = [&](const metadata::MissingBookie& o) { return o.bookie_id == m.bookie_id; };
          if (std::none_of(rec.value.missing_bookies.begin(), rec.value.missing_bookies.end(),
                           same)) {
            spdlog::warn("autorecovery: bookie {} is missing from the registry", m.bookie_id);
          }
        }
        metadata::AutoRecoveryState seen = rec.value;
        seen.missing_bookies = tracker.missing();
        seen.audit_time_ms = now_ms;
        seen.auditor = options_.name;
        // A lost race (an operator's switch) is read again on the next round.
        Result<metadata::Version> v = store().WriteAutoRecovery(seen, rec.version);
        if (!v.ok()) spdlog::info("autorecovery: record not updated: {}", v.status().ToString());
      }
      if (auto until = tracker.UntilNextLost(now_ms)) {
        next = std::min(next, Clock::now() + *until);
      }
      if (lost.empty()) {
        marked_for.clear();
      } else if (lost != marked_for || Clock::now() - last_walk >= options_.rescan_interval) {
        spdlog::warn("autorecovery: lost bookies [{}]: marking their ledgers",
                     fmt::join(lost, ", "));
        QUIRE_ASSIGN_OR_RETURN(int64_t marked, MarkLedgersOf(lost));
        spdlog::info("autorecovery: {} ledger(s) marked under-replicated", marked);
        marked_for = lost;
        last_walk = Clock::now();
      }
      if (options_.periodic_check_interval.count() > 0 &&
          now_ms - rec.value.last_check_time_ms >= options_.periodic_check_interval.count()) {
        QUIRE_RETURN_IF_ERROR(PeriodicCheck());
        QUIRE_RETURN_IF_ERROR(
            metadata::UpdateAutoRecovery(
                store(),
                [](const metadata::Versioned<metadata::AutoRecoveryState>& now)
                    -> metadata::Decision<metadata::AutoRecoveryState> {
                  metadata::AutoRecoveryState checked = now.value;
                  checked.last_check_time_ms = metadata::NowUnixMillis();
                  return checked;
                })
                .status());
      }
      return Status::Ok();
    }();
    if (!s.ok() && !stopping()) {
      failures_++;
      spdlog::warn("autorecovery: audit round failed (next in {} ms): {}",
                   options_.poll_interval.count(), s.ToString());
    }
    WaitUntil(next, /*wakeable=*/true);
  }
}

Result<int64_t> AutoRecovery::MarkLedgersOf(const std::set<BookieId>& lost) {
  int64_t marked = 0;
  Status walked = metadata::ForEachLedger(store(), [&](LedgerId id) -> Status {
    if (stopping()) return Status(StatusCode::kAborted, "stopping");
    Result<metadata::Versioned<LedgerMetadata>> md = store().ReadLedger(id);
    if (!md.ok()) return md.status().Is(StatusCode::kNoSuchLedger) ? Status::Ok() : md.status();
    std::vector<BookieId> of = LostBookiesOf(md->value, lost);
    for (const BookieId& b : of) QUIRE_RETURN_IF_ERROR(store().MarkUnderReplicated(id, b));
    if (!of.empty()) {
      ++marked;
      ledgers_marked_++;
    }
    return Status::Ok();
  });
  QUIRE_RETURN_IF_ERROR(walked);
  return marked;
}

Status AutoRecovery::PeriodicCheck() {
  spdlog::info("autorecovery: periodic check of every closed ledger's replicas");
  int64_t checked = 0, marked = 0;
  Status walked = metadata::ForEachLedger(store(), [&](LedgerId id) -> Status {
    if (stopping()) return Status(StatusCode::kAborted, "stopping");
    Result<metadata::Versioned<LedgerMetadata>> md = store().ReadLedger(id);
    if (!md.ok()) return md.status().Is(StatusCode::kNoSuchLedger) ? Status::Ok() : md.status();
    if (!md->value.closed()) return Status::Ok();  // its writer's (or a recovery's) business
    Result<std::set<BookieId>> bad = BadReplicas(context_, id, *md);
    if (!bad.ok()) {
      spdlog::warn("autorecovery: cannot check ledger {}: {}", id, bad.status().ToString());
      return Status::Ok();
    }
    ++checked;
    for (const BookieId& b : *bad) {
      spdlog::warn("autorecovery: ledger {}: bookie {} has missing or damaged copies", id, b);
      QUIRE_RETURN_IF_ERROR(store().MarkUnderReplicated(id, b));
    }
    if (!bad->empty()) {
      ++marked;
      ledgers_marked_++;
    }
    return Status::Ok();
  });
  QUIRE_RETURN_IF_ERROR(walked);
  spdlog::info("autorecovery: periodic check done: {} ledger(s) checked, {} marked", checked,
               marked);
  return Status::Ok();
}

// --- Replication worker ---

void AutoRecovery::WorkerLoop() {
  WriterActivity activity(options_.open_ledger_grace);
  while (!stopping()) {
    Result<metadata::Versioned<metadata::AutoRecoveryState>> rec = store().ReadAutoRecovery();
    bool worked = false;
    if (rec.ok() && rec->value.enabled) {
      Result<bool> r = ReplicateOne(activity);
      if (!r.ok() && !stopping()) {
        failures_++;
        spdlog::warn("autorecovery: replication failed (retried in {} ms): {}",
                     options_.poll_interval.count(), r.status().ToString());
      }
      worked = r.ok() && *r;
    } else if (!rec.ok()) {
      spdlog::warn("autorecovery: cannot read the autorecovery record: {}",
                   rec.status().ToString());
    }
    if (!worked) {
      WaitUntil(Clock::now() + options_.poll_interval, /*wakeable=*/false);  // nothing to take now
    }
  }
}

Result<bool> AutoRecovery::ReplicateOne(WriterActivity& activity) {
  QUIRE_ASSIGN_OR_RETURN(std::vector<metadata::UnderReplicatedLedger> markers,
                         store().ListUnderReplicated(0, kMarkerPage));
  under_replicated_ = static_cast<int64_t>(markers.size());
  if (markers.empty()) return false;
  std::vector<std::pair<LedgerId, LedgerState>> states;
  std::vector<const metadata::UnderReplicatedLedger*> of_state;
  const auto now = Clock::now();
  std::erase_if(retry_after_, [&](const auto& r) { return r.second <= now; });
  for (const metadata::UnderReplicatedLedger& m : markers) {
    if (states.size() >= kConsidered) break;
    if (retry_after_.count(m.ledger_id)) continue;  // failed a moment ago: give it time
    Result<metadata::Versioned<LedgerMetadata>> md = store().ReadLedger(m.ledger_id);
    if (!md.ok() && md.status().Is(StatusCode::kNoSuchLedger)) {
      QUIRE_RETURN_IF_ERROR(store().ClearUnderReplicated(m.ledger_id));  // deleted: nothing to heal
      continue;
    }
    QUIRE_RETURN_IF_ERROR(md.status());
    states.emplace_back(m.ledger_id, md->value.state);
    of_state.push_back(&m);
  }
  for (size_t i : WorkOrder(states)) {
    if (stopping()) return false;
    const metadata::UnderReplicatedLedger& marker = *of_state[i];
    const LedgerId id = marker.ledger_id;
    Result<std::unique_ptr<metadata::OwnershipLock>> lock =
        store().TryLock(ReplicationLock(id), options_.name, nullptr);
    if (!lock.ok()) {
      if (lock.status().Is(StatusCode::kAlreadyExists)) continue;  // another worker has it
      return lock.status();
    }
    QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<LedgerMetadata> md, store().ReadLedger(id));
    Action action = Decide(md.value, marker);
    spdlog::debug("autorecovery: ledger {} marked for [{}]: {}", id,
                  fmt::join(marker.lost_bookies, ","), ActionName(action));
    if (action == Action::kClearMarker) {
      QUIRE_RETURN_IF_ERROR(store().ClearUnderReplicated(id));
      activity.Forget(id);
      return true;
    }
    if (action == Action::kCheckWriter) {
      QUIRE_ASSIGN_OR_RETURN(client::LedgerKeys keys, client::RepairKeys(id, md.value, ""));
      Result<EntryId> lac = client::NewReadHandle(context_, id, md, keys)->ReadLac();
      if (!lac.ok()) {
        spdlog::info("autorecovery: ledger {}: cannot read its LAC: {}", id,
                     lac.status().ToString());
        continue;
      }
      if (!activity.Quiet(id, *lac, metadata::NowUnixMillis())) continue;  // its writer is alive
      spdlog::warn("autorecovery: ledger {} is {} and its LAC ({}) has not moved for {} ms: "
                   "recovering it before it is replicated",
                   id, LedgerStateName(md.value.state), *lac, options_.open_ledger_grace.count());
      if (Status s = client::RecoverLedger(*context_, id, std::nullopt).status(); !s.ok()) {
        retry_after_[id] = Clock::now() + 5 * options_.poll_interval;
        return s.WithContext(fmt::format("recovering ledger {}", id));
      }
      ledgers_recovered_++;
      activity.Forget(id);
    }
    if (Status s = Replicate(marker); !s.ok()) {
      retry_after_[id] = Clock::now() + 5 * options_.poll_interval;
      return s;
    }
    return true;
  }
  return false;
}

Status AutoRecovery::Replicate(const metadata::UnderReplicatedLedger& marker) {
  const LedgerId id = marker.ledger_id;
  CopiedEntries total;
  for (const BookieId& b : marker.lost_bookies) {
    Result<CopiedEntries> c = client::ReplaceBookie(*context_, id, b, "", CopyOptions());
    if (!c.ok()) return c.status().WithContext(fmt::format("ledger {}: replacing {}", id, b));
    total.entries += c->entries;
    total.bytes += c->bytes;
  }
  // Each batch was read back from its replacement as it was copied (ReplicationOptions::verify);
  // the marker goes once no ensemble names a marked bookie. Whether the other replicas are whole
  // is the periodic check's business: reading them all here would cost three times the copy.
  QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<LedgerMetadata> md, store().ReadLedger(id));
  for (const BookieId& b : marker.lost_bookies) {
    if (md.value.UsesBookie(b)) {
      return Status(StatusCode::kBadVersion,
                    fmt::format("ledger {}: its ensembles still name {}; retrying", id, b));
    }
  }
  QUIRE_RETURN_IF_ERROR(store().ClearUnderReplicated(id));
  ledgers_replicated_++;
  int64_t healed_ms = std::max<int64_t>(0, metadata::NowUnixMillis() - marker.marked_time_ms);
  heal_ms_.Record(static_cast<uint64_t>(healed_ms));
  spdlog::info("autorecovery: ledger {} healed: [{}] replaced, {} entries ({} bytes) copied, "
               "{:.1f} s after it was marked",
               id, fmt::join(marker.lost_bookies, ", "), total.entries, total.bytes,
               static_cast<double>(healed_ms) / 1000.0);
  return Status::Ok();
}

client::ReplicationOptions AutoRecovery::CopyOptions() {
  client::ReplicationOptions o;
  o.batch_entries = options_.batch_entries;
  o.after_batch = [this](const CopiedEntries& batch) {
    entries_copied_ += batch.entries;
    bytes_copied_ += batch.bytes;
    WaitUntil(copy_rate_.After(batch.bytes, Clock::now()), /*wakeable=*/false);
    return !stopping();
  };
  return o;
}

void AutoRecovery::WriteMetrics(MetricsWriter& w) const {
  auto g = [&](std::string_view name, std::string_view help, int64_t v) {
    w.Gauge(name, help, static_cast<double>(v));
  };
  auto c = [&](std::string_view name, std::string_view help, int64_t v) {
    w.Counter(name, help, static_cast<double>(v));
  };
  g("quire_autorecovery_is_auditor", "1 while this process is the cluster's auditor",
    is_auditor_ ? 1 : 0);
  g("quire_autorecovery_lost_bookies",
    "Bookies missing for longer than lostBookieRecoveryDelay (as this process's auditor saw; 0 "
    "when it is not the auditor)",
    is_auditor_ ? lost_bookies_.load() : 0);
  g("quire_autorecovery_under_replicated_ledgers",
    "Ledgers marked under-replicated, as this process's worker last listed them (up to 1000)",
    under_replicated_.load());
  c("quire_autorecovery_ledgers_marked_total", "Ledgers this process's auditor marked",
    ledgers_marked_.load());
  c("quire_autorecovery_ledgers_replicated_total",
    "Ledgers this process's worker healed (copied, verified, marker cleared)",
    ledgers_replicated_.load());
  c("quire_autorecovery_ledgers_recovered_total",
    "Open ledgers without a live writer this worker fenced and closed before copying",
    ledgers_recovered_.load());
  c("quire_autorecovery_entries_copied_total", "Entries copied to replacement bookies",
    entries_copied_.load());
  c("quire_autorecovery_bytes_copied_total", "Bytes copied to replacement bookies",
    bytes_copied_.load());
  c("quire_autorecovery_failures_total", "Audit rounds and replications that failed (retried)",
    failures_.load());
  static constexpr double kHealBounds[] = {1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400};
  w.Histogram("quire_autorecovery_heal_seconds",
              "Time from a ledger's marking to its marker's clearing, per ledger healed here",
              heal_ms_.Take(), 1e-3, {}, kHealBounds);
}

}  // namespace quire::autorecovery
