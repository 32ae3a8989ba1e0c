// The bookie's admin HTTP handlers (bookie/http/admin_http_routes.h says what each route answers),
// health, and the manual read-only mode.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "autorecovery/autorecovery.h"
#include "bookie/bookie.h"
#include "bookie/gc_json.h"
#include "bookie/http/admin_http_server.h"
#include "common/tls_reload.h"
#include "bookie/read_only_format.h"
#include "common/build_info.h"
#include "common/clock.h"

namespace quire::bookie {
namespace {

// GET /api/v1/bookie/list_ledger lists at most this many ledgers: the answer is built in memory.
// `quire ledger list` pages through any number.
constexpr size_t kMaxListedLedgers = 100'000;
constexpr size_t kLedgerPage = 1'000;
// GET /api/v1/autorecovery/list_under_replicated_ledger lists at most about this many.
constexpr size_t kMaxListedMarkers = 10'000;

Status NotServing() { return FailedPrecondition("the bookie is starting or stopping"); }

}  // namespace

Bookie::DiskSpace Bookie::LedgerDiskSpace() const {
  DiskSpace total;
  for (const std::string& dir : options_.storage.ledger_dirs) {
    auto space = fs_->Space(dir);
    if (!space.ok()) continue;
    total.total_bytes += space->total_bytes;
    total.free_bytes += space->available_bytes;
  }
  return total;
}

bool Bookie::Ready(std::string* reason) const {
  if (!ready_.load(std::memory_order_acquire)) {
    *reason = "starting or stopping";
    return false;
  }
  if (!status_.writable()) {
    *reason = status_.read_only_reason();
    return false;
  }
  if (!registered_writable_.load(std::memory_order_acquire)) {
    *reason = "writable, but the metadata store does not list it as writable yet";
    return false;
  }
  return true;
}

nlohmann::json Bookie::ReadOnlyJson() const {
  return nlohmann::json{{"readOnly", !status_.writable()},
                        {"manual", status_.manual()},
                        {"reason", status_.read_only_reason()}};
}

Result<nlohmann::json> Bookie::SetManualReadOnly(bool on) {
  if (!ready_.load(std::memory_order_acquire)) return NotServing();
  {
    // One change at a time, so that the flag on disk and the state agree.
    MutexLock lock(manual_mu_);
    if (status_.manual() != on) {
      // On disk first: once the operator has the answer, a restart keeps it.
      Status s = WriteReadOnlyFlag(fs_.get(), options_.storage.ledger_dirs.front(),
                                   on ? std::optional<int64_t>(static_cast<int64_t>(UnixMillis()))
                                      : std::nullopt);
      if (!s.ok()) {
        return s.WithContext(fmt::format("{} the manual read-only flag", on ? "setting" : "clearing"));
      }
      status_.SetManual(on);
      if (on) {
        spdlog::warn("bookie {} is read-only by operator request until it is lifted "
                     "(PUT /api/v1/bookie/state/readonly {{\"readOnly\": false}})",
                     options_.bookie_id);
      } else if (status_.writable()) {
        spdlog::info("bookie {}: operator lifted the manual read-only mode; writable again",
                     options_.bookie_id);
      } else {
        spdlog::warn("bookie {}: operator lifted the manual read-only mode; still read-only: {}",
                     options_.bookie_id, status_.read_only_reason());
      }
    }
  }
  ApplyMode();
  return ReadOnlyJson();
}

void Bookie::LoadManualReadOnly() {
  const std::string& dir = options_.storage.ledger_dirs.front();
  auto flag = ReadReadOnlyFlag(fs_.get(), dir);
  if (!flag.ok()) {
    // A bookie an operator made read-only must not come up writable because its flag is damaged.
    spdlog::error("bookie {}: {}; staying read-only", options_.bookie_id,
                  flag.status().ToString());
    status_.SetManual(true);
    return;
  }
  if (!*flag) return;
  status_.SetManual(true);
  spdlog::warn("bookie {} starts read-only: an operator made it read-only at {} (Unix ms) and has "
               "not lifted it ({})",
               options_.bookie_id, **flag, ReadOnlyFlagPath(dir));
}

Status Bookie::StartHttp() {
  if (!options_.http_enabled) return Status::Ok();
  AdminHttpOptions ho;
  ho.bind_address = options_.http_address;
  ho.port = options_.http_port;
  ho.auth = options_.http_auth;
  if (const ServerTlsOptions& tls = options_.server.tls; tls.enabled) {
    // The bookie's files, in a context of the admin port's own: a client certificate there is
    // optional (a scraper needs none) but verified when sent, and it follows rotated files too.
    TlsPeerCheck check =
        tls.files.trust_store_path.empty() ? TlsPeerCheck::kNone : TlsPeerCheck::kIfSent;
    QUIRE_ASSIGN_OR_RETURN(ho.tls, ReloadingTlsContext::Make(TlsSide::kServer, tls.files, check,
                                                             tls.refresh, "admin HTTP"));
  }
  AdminHandlers h;
  h.metrics_text = [this] { return MetricsText(); };
  h.info = [this] {
    nlohmann::json j{{"bookieId", options_.bookie_id},
                     {"version", QuireVersion()},
                     {"commit", QuireCommit()},
                     {"malloc", MallocName()},
                     {"bookiePort", port()},
                     {"httpServerPort", http_port()},
                     {"metadataServiceUri", options_.metadata_uri},
                     {"journalDirectories", options_.storage.journal_dirs},
                     {"ledgerDirectories", options_.storage.ledger_dirs}};
    if (ready_.load(std::memory_order_acquire)) {
      DiskSpace space = LedgerDiskSpace();  // BookKeeper's names
      j["freeSpace"] = space.free_bytes;
      j["totalSpace"] = space.total_bytes;
    }
    return j;
  };
  h.state = [this] {
    if (!ready_.load(std::memory_order_acquire)) {
      return nlohmann::json{{"bookieId", options_.bookie_id},
                            {"writable", false},
                            {"readOnlyReason", "starting"}};
    }
    nlohmann::json disks = nlohmann::json::array();
    for (const std::string& dir : options_.storage.ledger_dirs) {
      auto space = fs_->Space(dir);
      if (!space.ok()) continue;
      disks.push_back({{"directory", dir},
                       {"totalBytes", space->total_bytes},
                       {"availableBytes", space->available_bytes}});
    }
    return nlohmann::json{{"bookieId", options_.bookie_id},
                          {"writable", status_.writable()},
                          {"readOnlyReason", status_.read_only_reason()},
                          {"manualReadOnly", status_.manual()},
                          {"storageHealthy", engine_ && engine_->health().ok()},
                          {"ledgerDisks", disks}};
  };
  h.ready = [this](std::string* reason) { return Ready(reason); };
  h.read_only = [this]() -> Result<nlohmann::json> {
    if (!ready_.load(std::memory_order_acquire)) return NotServing();
    return ReadOnlyJson();
  };
  h.set_read_only = [this](bool on) { return SetManualReadOnly(on); };
  h.list_bookies = [this](bool read_only, bool print_hostnames) -> Result<nlohmann::json> {
    if (!ready_.load(std::memory_order_acquire)) return NotServing();
    QUIRE_ASSIGN_OR_RETURN(metadata::BookieList list, metadata_->ListBookies());
    nlohmann::json out = nlohmann::json::object();
    for (const BookieId& id : read_only ? list.read_only : list.writable) {
      std::string host = id.substr(0, id.rfind(':'));
      out[id] = print_hostnames ? nlohmann::json(host) : nlohmann::json(nullptr);
    }
    return out;
  };
  h.list_ledgers = [this]() -> Result<nlohmann::json> {
    if (!ready_.load(std::memory_order_acquire)) return NotServing();
    nlohmann::json out = nlohmann::json::object();
    LedgerId from = 0;
    for (size_t listed = 0;;) {
      QUIRE_ASSIGN_OR_RETURN(std::vector<LedgerId> page, metadata_->ListLedgers(from, kLedgerPage));
      if (page.empty()) return out;
      listed += page.size();
      if (listed > kMaxListedLedgers) {
        return Status(StatusCode::kTooManyRequests,
                      fmt::format("the cluster has more than {} ledgers; `quire ledger list` "
                                  "lists any number",
                                  kMaxListedLedgers));
      }
      for (LedgerId id : page) out[std::to_string(id)] = nullptr;
      from = page.back() + 1;
    }
  };
  h.trigger_gc = [this](std::string_view compaction) -> Result<nlohmann::json> {
    QUIRE_ASSIGN_OR_RETURN(storage::CompactionKind kind, ParseCompactionKind(compaction));
    QUIRE_ASSIGN_OR_RETURN(uint64_t pass, TriggerGc(kind));
    spdlog::info("bookie {}: garbage collection pass {} requested over admin HTTP ({} compaction)",
                 options_.bookie_id, pass, compaction);
    return nlohmann::json{{"bookieId", options_.bookie_id},
                          {"passId", pass},
                          {"compaction", compaction},
                          {"message", "Triggered GC on BookieServer: " + options_.bookie_id}};
  };
  h.gc_state = [this]() -> Result<nlohmann::json> {
    QUIRE_ASSIGN_OR_RETURN(storage::GcStatus gc, GcStatus());
    return GcStateJson(gc);
  };
  h.gc_details = [this]() -> Result<nlohmann::json> {
    QUIRE_ASSIGN_OR_RETURN(storage::GcStatus gc, GcStatus());
    nlohmann::json j = GcDetailsJson(gc);
    j["bookieId"] = options_.bookie_id;
    return j;
  };
  h.suspend_compaction = [this](bool suspend, bool major,
                                bool minor) -> Result<nlohmann::json> {
    QUIRE_ASSIGN_OR_RETURN(storage::GarbageCollector * gc, Gc());
    const storage::CompactionSuspension which{.major = major, .minor = minor};
    if (suspend) {
      gc->SuspendCompaction(which);
    } else {
      gc->ResumeCompaction(which);
    }
    return CompactionSuspensionJson(gc->compaction_suspension());
  };
  h.compaction_suspension = [this]() -> Result<nlohmann::json> {
    QUIRE_ASSIGN_OR_RETURN(storage::GarbageCollector * gc, Gc());
    return CompactionSuspensionJson(gc->compaction_suspension());
  };
  h.autorecovery_status = [this]() -> Result<nlohmann::json> {
    if (!ready_.load(std::memory_order_acquire)) return NotServing();
    QUIRE_ASSIGN_OR_RETURN(autorecovery::AutoRecoveryStatus status,
                           autorecovery::ReadStatus(*metadata_));
    nlohmann::json j = autorecovery::StatusToJson(
        status, std::chrono::milliseconds(options_.autorecovery.lost_bookie_delay).count());
    j["daemonEnabledHere"] = options_.autorecovery_enabled;
    return j;
  };
  h.set_autorecovery = [this](bool enabled) -> Result<nlohmann::json> {
    if (!ready_.load(std::memory_order_acquire)) return NotServing();
    QUIRE_RETURN_IF_ERROR(autorecovery::SetEnabled(*metadata_, enabled));
    spdlog::info("bookie {}: autorecovery {} cluster-wide over admin HTTP", options_.bookie_id,
                 enabled ? "enabled" : "disabled");
    QUIRE_ASSIGN_OR_RETURN(autorecovery::AutoRecoveryStatus status,
                           autorecovery::ReadStatus(*metadata_));
    return autorecovery::StatusToJson(status);
  };
  h.list_under_replicated = [this]() -> Result<nlohmann::json> {
    if (!ready_.load(std::memory_order_acquire)) return NotServing();
    nlohmann::json out = nlohmann::json::object();
    LedgerId from = 0;
    for (size_t listed = 0; listed < kMaxListedMarkers;) {
      QUIRE_ASSIGN_OR_RETURN(std::vector<metadata::UnderReplicatedLedger> page,
                             metadata_->ListUnderReplicated(from, kLedgerPage));
      if (page.empty()) break;
      listed += page.size();
      for (const auto& m : page) out[std::to_string(m.ledger_id)] = m.lost_bookies;
      from = page.back().ledger_id + 1;
    }
    return out;
  };
  h.who_is_auditor = [this]() -> Result<nlohmann::json> {
    if (!ready_.load(std::memory_order_acquire)) return NotServing();
    QUIRE_ASSIGN_OR_RETURN(std::optional<std::string> owner,
                           metadata_->LockOwner(std::string(autorecovery::kAuditorLock)));
    return nlohmann::json{{"auditor", owner ? nlohmann::json(*owner) : nlohmann::json()}};
  };
  QUIRE_ASSIGN_OR_RETURN(http_, AdminHttpServer::Start(ho, std::move(h)));
  http_port_.store(http_->port(), std::memory_order_release);
  return Status::Ok();
}

}  // namespace quire::bookie
