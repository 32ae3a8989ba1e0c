// ZkMetadataStore: the definite-outcome mutations, cluster, ids, ledgers, cookies and
// under-replication markers. Registrations, locks and session events are in zk_store_registry.cc.
#include "metadata/zk_store.h"

#include <algorithm>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "metadata/layout.h"
#include "metadata/records.h"
#include "common/check.h"

namespace quire::metadata {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kDefaultIdsPerEpoch = (int64_t{1} << 31) - (int64_t{1} << 20);
constexpr std::string_view kEpochPrefix = "epoch-";
constexpr std::string_view kIdPrefix = "id-";

Status CheckLedgerId(LedgerId id) {
  if (id < 0) return InvalidArgument(fmt::format("ledger id {} is negative", id));
  return Status::Ok();
}

Status CheckVersion(Version v, std::string_view what) {
  if (v < 0 || v > INT32_MAX) return InvalidArgument(fmt::format("{}: version {}", what, v));
  return Status::Ok();
}

std::optional<int64_t> ParseDigits(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

Result<std::unique_ptr<MetadataStore>> OpenZkMetadataStore(const std::string& uri,
                                                           const std::string& hosts,
                                                           const std::string& root,
                                                           const MetadataOptions& options) {
  QUIRE_ASSIGN_OR_RETURN(auto store, ZkMetadataStore::Open(uri, hosts, root, options));
  return std::unique_ptr<MetadataStore>(std::move(store));
}

ZkMetadataStore::ZkMetadataStore(std::string uri, std::string root, MetadataOptions options)
    : uri_(std::move(uri)),
      root_(std::move(root)),
      options_(std::move(options)),
      owner_(ProcessOwnerString()),
      ids_per_epoch_(options_.test_hooks.zk_ids_per_epoch > 0 ? options_.test_hooks.zk_ids_per_epoch
                                                              : kDefaultIdsPerEpoch),
      watches_(std::chrono::milliseconds(0), std::chrono::milliseconds(200)) {}

Result<std::unique_ptr<ZkMetadataStore>> ZkMetadataStore::Open(const std::string& uri,
                                                               const std::string& hosts,
                                                               const std::string& root,
                                                               const MetadataOptions& options) {
  std::unique_ptr<ZkMetadataStore> store(new ZkMetadataStore(uri, root, options));
  QUIRE_ASSIGN_OR_RETURN(store->session_, ZkSession::Open(hosts, options, store.get()));
  store->session_->Start();
  return store;
}

ZkMetadataStore::~ZkMetadataStore() {
  watches_.Stop();
  if (session_) session_->Stop();
  MutexLock lock(mu_);
  QUIRE_CHECK_MSG(registrations_.empty() && locks_.empty(),
                  "registrations and locks must be destroyed before their store");
}

Deadline ZkMetadataStore::NewDeadline() const { return Clock::now() + options_.operation_timeout; }

std::string ZkMetadataStore::Path(std::string_view relative) const {
  return fmt::format("{}/{}", root_, relative);
}

std::string ZkMetadataStore::LedgerPath(LedgerId id) const {
  return fmt::format("{}/{}/{}", root_, kLedgersDir, LedgerIdPath(id));
}

Status ZkMetadataStore::NotInitialised() const {
  return FailedPrecondition(
      fmt::format("metadata store {} is not initialised (run `quire cluster init`)", uri_));
}

Status ZkMetadataStore::Error(int rc, std::string_view op, const std::string& path) const {
  return ZkStatus(rc, op, path, session_->hosts());
}

// --- Retries and definite outcomes ---

void ZkMetadataStore::PauseBeforeRetry(std::string_view op, const std::string& path, int rc,
                                       int attempt, Deadline deadline) {
  if (options_.test_hooks.on_retry) options_.test_hooks.on_retry(FaultPoint{op, path}, rc);
  spdlog::debug("ZooKeeper {}: {} {}: {}; retrying", session_->hosts(), op, path, zerror(rc));
  // A lost connection is re-established by the client; wait for it rather than spin. The pause
  // after that only matters when the answers keep being uncertain while connected.
  session_->WaitConnected(deadline);
  if (attempt >= 2) {
    auto pause = std::chrono::milliseconds(10 << std::min(attempt - 2, 4));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    std::this_thread::sleep_for(std::max(std::chrono::milliseconds(0), std::min(pause, left)));
  }
}

ZkSession::Reply ZkMetadataStore::ReadRetrying(std::string_view op, const std::string& path,
                                               Deadline deadline,
                                               const std::function<ZkSession::Reply()>& attempt) {
  for (int n = 0;; ++n) {
    ZkSession::Reply r = attempt();
    if (!ZkUncertain(r.rc) || Clock::now() >= deadline) return r;
    PauseBeforeRetry(op, path, r.rc, n, deadline);
  }
}

namespace {

// The answer when the deadline passed while the outcome was still unknown.
Status OutcomeUnknown(int rc, std::string_view op, const std::string& path,
                      const std::string& hosts) {
  return Status(rc == ZOPERATIONTIMEOUT ? StatusCode::kTimeout : StatusCode::kUnavailable,
                fmt::format("ZooKeeper {}: {} {}: {}; whether it was applied is unknown (read it "
                            "again)",
                            hosts, op, path, zerror(rc)));
}

}  // namespace

Result<ZkSession::Reply> ZkMetadataStore::ReadAfterUncertain(std::string_view op,
                                                             const std::string& path, int rc,
                                                             int& attempt, Deadline deadline,
                                                             bool data) {
  if (Clock::now() >= deadline) return OutcomeUnknown(rc, op, path, session_->hosts());
  PauseBeforeRetry(op, path, rc, attempt++, deadline);
  ZkSession::Reply now = ReadRetrying(op, path, deadline, [&] {
    ZkSession::Reply sync = session_->Sync(path, deadline);
    if (ZkUncertain(sync.rc)) return sync;
    return data ? session_->Get(path, false, deadline) : session_->Exists(path, false, deadline);
  });
  if (ZkUncertain(now.rc)) return OutcomeUnknown(now.rc, op, path, session_->hosts());
  return now;
}

Result<Version> ZkMetadataStore::CreateNode(const std::string& path, std::string_view data,
                                            int flags, Deadline deadline) {
  const bool ephemeral = (flags & ZOO_EPHEMERAL) != 0;
  int attempt = 0;
  while (true) {
    ZkSession::Reply r = session_->Create(path, data, flags, deadline);
    if (r.rc == ZOK) return Version{r.stat.version};
    if (!ZkUncertain(r.rc)) return Error(r.rc, "create", path);
    // The create may or may not have been applied: look.
    QUIRE_ASSIGN_OR_RETURN(ZkSession::Reply now,
                           ReadAfterUncertain("create", path, r.rc, attempt, deadline));
    if (now.rc == ZNONODE) continue;  // not applied: send it again
    if (now.rc != ZOK) return Error(now.rc, "get", path);
    bool ours = now.data == data && (ephemeral ? now.stat.ephemeralOwner == session_->session_id()
                                               : now.stat.version == 0);
    if (ours) return Version{now.stat.version};
    return Status(StatusCode::kAlreadyExists,
                  fmt::format("ZooKeeper {}: create {}: another client created it while the "
                              "answer to ours was lost",
                              session_->hosts(), path));
  }
}

Result<Version> ZkMetadataStore::SetNode(const std::string& path, std::string_view data,
                                         Version expected, Deadline deadline) {
  QUIRE_RETURN_IF_ERROR(CheckVersion(expected, path));
  const int version = static_cast<int>(expected);
  int attempt = 0;
  while (true) {
    ZkSession::Reply r = session_->Set(path, data, version, deadline);
    if (r.rc == ZOK) return Version{r.stat.version};
    if (!ZkUncertain(r.rc)) return Error(r.rc, "set", path);
    QUIRE_ASSIGN_OR_RETURN(ZkSession::Reply now,
                           ReadAfterUncertain("set", path, r.rc, attempt, deadline));
    if (now.rc != ZOK) return Error(now.rc, "set", path);
    if (now.stat.version == version) continue;  // not applied: send it again
    if (now.stat.version == version + 1) {
      // Version + 1 with our bytes is our write. (Another writer's identical bytes at the same
      // version would be indistinguishable, and equally harmless: the record is what we
      // wanted.) Other bytes at version + 1: another writer's update won, ours did not apply.
      if (now.data == data) return Version{version + 1};
      return Status(StatusCode::kBadVersion,
                    fmt::format("ZooKeeper {}: set {}: version is now {}, not {} (changed by "
                                "another writer)",
                                session_->hosts(), path, now.stat.version, version));
    }
    // Further on: ours may have applied and been overwritten since, or never applied. The
    // contract forbids kBadVersion for a write that applied, so this is an unknown outcome.
    return Status(StatusCode::kUnavailable,
                  fmt::format("ZooKeeper {}: set {}: {}; the node is now at version {}, {} "
                              "past {}: whether this write was applied is unknown (read it "
                              "again)",
                              session_->hosts(), path, zerror(r.rc), now.stat.version,
                              now.stat.version - version, version));
  }
}

Status ZkMetadataStore::DeleteNode(const std::string& path, Version expected, Deadline deadline) {
  if (expected != kAnyVersion) QUIRE_RETURN_IF_ERROR(CheckVersion(expected, path));
  const int version = expected == kAnyVersion ? -1 : static_cast<int>(expected);
  int attempt = 0;
  while (true) {
    ZkSession::Reply r = session_->Delete(path, version, deadline);
    if (r.rc == ZOK) return Status::Ok();
    if (!ZkUncertain(r.rc)) return Error(r.rc, "delete", path);
    QUIRE_ASSIGN_OR_RETURN(ZkSession::Reply now, ReadAfterUncertain("delete", path, r.rc, attempt,
                                                                    deadline, /*data=*/false));
    if (now.rc == ZNONODE) return Status::Ok();  // gone: ours, or deleted anyway
    if (now.rc != ZOK) return Error(now.rc, "delete", path);
    if (version == -1 || now.stat.version == version) continue;  // not applied: again
    return Status(StatusCode::kBadVersion,
                  fmt::format("ZooKeeper {}: delete {}: version is now {}, not {}",
                              session_->hosts(), path, now.stat.version, version));
  }
}

Status ZkMetadataStore::EnsureNode(const std::string& path, Deadline deadline) {
  Result<Version> v = CreateNode(path, "", 0, deadline);
  if (v.ok() || v.status().Is(StatusCode::kAlreadyExists)) return Status::Ok();
  return v.status();
}

Result<Version> ZkMetadataStore::CreateWithParents(const std::string& top, const std::string& path,
                                                   std::string_view data, Deadline deadline) {
  Result<Version> v = CreateNode(path, data, 0, deadline);
  if (v.ok() || !v.status().Is(StatusCode::kNotFound)) return v;
  for (size_t pos = path.find('/', top.size() + 1); pos != std::string::npos;
       pos = path.find('/', pos + 1)) {
    Status s = EnsureNode(path.substr(0, pos), deadline);
    if (s.Is(StatusCode::kNotFound)) return NotInitialised();
    QUIRE_RETURN_IF_ERROR(s);
  }
  v = CreateNode(path, data, 0, deadline);
  if (!v.ok() && v.status().Is(StatusCode::kNotFound)) return NotInitialised();
  return v;
}

Result<std::vector<std::string>> ZkMetadataStore::ChildrenOf(const std::string& path, bool watch,
                                                             Deadline deadline) {
  ZkSession::Reply r = ReadRetrying("get-children", path, deadline,
                                    [&] { return session_->Children(path, watch, deadline); });
  if (r.rc != ZOK) return Error(r.rc, "get-children", path);
  return std::move(r.children);
}

// --- Cluster ---

Result<ClusterInfo> ZkMetadataStore::InitCluster() {
  Deadline deadline = NewDeadline();
  for (size_t pos = root_.find('/', 1); pos != std::string::npos; pos = root_.find('/', pos + 1)) {
    QUIRE_RETURN_IF_ERROR(EnsureNode(root_.substr(0, pos), deadline));
  }
  QUIRE_RETURN_IF_ERROR(EnsureNode(root_, deadline));
  for (std::string_view dir :
       {kLedgersDir, kBookiesDir, kCookiesDir, kUnderReplicatedDir, kLocksDir, kIdGenNode}) {
    QUIRE_RETURN_IF_ERROR(EnsureNode(Path(dir), deadline));
  }
  QUIRE_RETURN_IF_ERROR(EnsureNode(Path("bookies/writable"), deadline));
  QUIRE_RETURN_IF_ERROR(EnsureNode(Path("bookies/readonly"), deadline));
  QUIRE_RETURN_IF_ERROR(
      EnsureNode(fmt::format("{}/{}{:010d}", Path(kIdGenNode), kEpochPrefix, 0), deadline));
  ClusterInfo info;
  info.instance_id = RandomHex(32);
  info.layout_version = kLayoutVersion;
  info.creation_time_ms = NowUnixMillis();
  info.service_uri = uri_;
  Result<Version> created = CreateNode(Path(kClusterNode), EncodeClusterInfo(info), 0, deadline);
  if (created.ok()) {
    spdlog::info("metadata store {}: initialised cluster, instance id {}", uri_, info.instance_id);
    return info;
  }
  if (created.status().Is(StatusCode::kAlreadyExists)) return GetClusterInfo();
  return created.status();
}

Result<ClusterInfo> ZkMetadataStore::GetClusterInfo() {
  std::string path = Path(kClusterNode);
  Deadline deadline = NewDeadline();
  ZkSession::Reply r =
      ReadRetrying("get", path, deadline, [&] { return session_->Get(path, false, deadline); });
  if (r.rc == ZNONODE) return NotInitialised();
  if (r.rc != ZOK) return Error(r.rc, "get", path);
  QUIRE_ASSIGN_OR_RETURN(ClusterInfo info, DecodeClusterInfo(r.data, "znode " + path));
  info.service_uri = uri_;
  return info;
}

Status ZkMetadataStore::DeleteTree(const std::string& path, Deadline deadline) {
  Result<std::vector<std::string>> children = ChildrenOf(path, false, deadline);
  if (!children.ok()) {
    return children.status().Is(StatusCode::kNotFound) ? Status::Ok() : children.status();
  }
  std::vector<std::string> paths;
  paths.reserve(children->size());
  for (const std::string& child : *children) paths.push_back(path + "/" + child);
  // Leaves go in one pipelined batch; the others (ZNOTEMPTY, or an uncertain answer) one by one.
  std::vector<int> codes = session_->DeleteMany(paths, deadline);
  for (size_t i = 0; i < paths.size(); ++i) {
    if (codes[i] == ZOK || codes[i] == ZNONODE) continue;
    if (codes[i] != ZNOTEMPTY && !ZkUncertain(codes[i])) return Error(codes[i], "delete", paths[i]);
    if (Clock::now() >= deadline)
      return OutcomeUnknown(codes[i], "delete", paths[i], session_->hosts());
    QUIRE_RETURN_IF_ERROR(DeleteTree(paths[i], deadline));
  }
  Status s = DeleteNode(path, kAnyVersion, deadline);
  if (s.ok() || s.Is(StatusCode::kNotFound)) return Status::Ok();
  if (s.Is(StatusCode::kFailedPrecondition)) return DeleteTree(path, deadline);  // a new child
  return s;
}

Status ZkMetadataStore::Nuke(bool force) {
  Result<BookieList> bookies = ListBookiesImpl(false);
  if (bookies.ok() && !force && (!bookies->writable.empty() || !bookies->read_only.empty())) {
    return FailedPrecondition(fmt::format(
        "refusing to nuke {}: bookies are registered (writable: [{}], read-only: [{}]); stop "
        "them first or force",
        uri_, fmt::join(bookies->writable, ", "), fmt::join(bookies->read_only, ", ")));
  }
  if (!bookies.ok() && !bookies.status().Is(StatusCode::kFailedPrecondition) && !force) {
    return bookies.status().WithContext("cannot check for registered bookies before nuking");
  }
  // A whole tree of ledgers takes longer than one operation.
  Deadline deadline = Clock::now() + std::max<std::chrono::milliseconds>(options_.operation_timeout,
                                                                         std::chrono::minutes(5));
  QUIRE_RETURN_IF_ERROR(DeleteTree(root_, deadline));
  epoch_ = -1;
  spdlog::warn("metadata store {}: nuked (all metadata deleted)", uri_);
  return Status::Ok();
}

// --- Ledger ids ---
//
// Ids come from ephemeral sequential znodes created under idgen/epoch-<e> and deleted at once:
// the server numbers them from the parent's child-change counter, so numbers only grow. The
// counter is a signed 32-bit int, so an epoch hands out ids_per_epoch_ numbers (2^31 - 2^20)
// and then everyone moves on to epoch e + 1: id = e * ids_per_epoch_ + number. A create whose
// answer was lost is simply retried: the number it may have taken is skipped, and the znode, being
// ephemeral, cannot outlive the session.

Result<int64_t> ZkMetadataStore::CurrentEpoch(Deadline deadline) {
  int64_t epoch = epoch_.load();
  if (epoch >= 0) return epoch;
  Result<std::vector<std::string>> names = ChildrenOf(Path(kIdGenNode), false, deadline);
  if (!names.ok() && names.status().Is(StatusCode::kNotFound)) return NotInitialised();
  QUIRE_RETURN_IF_ERROR(names.status());
  epoch = -1;
  for (const std::string& name : *names) {
    if (name.rfind(kEpochPrefix, 0) != 0) continue;
    if (auto e = ParseDigits(std::string_view(name).substr(kEpochPrefix.size()))) {
      epoch = std::max(epoch, *e);
    }
  }
  if (epoch < 0) return NotInitialised();
  int64_t seen = -1;
  epoch_.compare_exchange_strong(seen, epoch);
  return epoch_.load();
}

Result<LedgerId> ZkMetadataStore::AllocateLedgerId() {
  Deadline deadline = NewDeadline();
  for (int attempt = 0;; ++attempt) {
    QUIRE_ASSIGN_OR_RETURN(int64_t epoch, CurrentEpoch(deadline));
    std::string dir = fmt::format("{}/{}{:010d}", Path(kIdGenNode), kEpochPrefix, epoch);
    ZkSession::Reply r = session_->Create(dir + "/" + std::string(kIdPrefix), "",
                                          ZOO_EPHEMERAL_SEQUENTIAL, deadline);
    if (r.rc == ZNONODE) {
      // The epoch vanished (the store was nuked and re-initialised): read the epochs again.
      epoch_.compare_exchange_strong(epoch, -1);
      if (attempt > 3) return NotInitialised();
      continue;
    }
    if (ZkUncertain(r.rc)) {
      if (Clock::now() >= deadline) return OutcomeUnknown(r.rc, "create", dir, session_->hosts());
      PauseBeforeRetry("create", dir, r.rc, attempt, deadline);
      continue;
    }
    if (r.rc != ZOK) return Error(r.rc, "create", dir);
    session_->DeleteNoWait(r.path);
    size_t dash = r.path.rfind('-');
    std::optional<int64_t> number = dash == std::string::npos
                                        ? std::nullopt
                                        : ParseDigits(std::string_view(r.path).substr(dash + 1));
    if (!number) {
      return Corruption(fmt::format("ZooKeeper {}: sequential znode with an unexpected name {}",
                                    session_->hosts(), r.path));
    }
    if (*number < ids_per_epoch_) return epoch * ids_per_epoch_ + *number;
    // This epoch is used up: open the next one (whoever gets there first creates it).
    if (epoch + 1 > kMaxLedgerId / ids_per_epoch_ - 1) {
      return FailedPrecondition("ledger ids are exhausted");
    }
    QUIRE_RETURN_IF_ERROR(EnsureNode(
        fmt::format("{}/{}{:010d}", Path(kIdGenNode), kEpochPrefix, epoch + 1), deadline));
    epoch_.compare_exchange_strong(epoch, epoch + 1);
    spdlog::info("metadata store {}: ledger id epoch {} is used up; moving to epoch {}", uri_,
                 epoch, epoch + 1);
  }
}

// --- Ledgers ---

Result<Version> ZkMetadataStore::CreateLedger(LedgerId id, const LedgerMetadata& metadata) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(id));
  QUIRE_RETURN_IF_ERROR(metadata.Validate());
  std::string path = LedgerPath(id);
  Result<Version> v =
      CreateWithParents(Path(kLedgersDir), path, EncodeLedgerMetadata(metadata), NewDeadline());
  if (!v.ok() && v.status().Is(StatusCode::kAlreadyExists)) {
    return Status(StatusCode::kAlreadyExists,
                  fmt::format("ledger {} already exists (znode {})", id, path));
  }
  return v;
}

Result<Versioned<LedgerMetadata>> ZkMetadataStore::ReadLedgerImpl(LedgerId id, bool watch) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(id));
  std::string path = LedgerPath(id);
  Deadline deadline = NewDeadline();
  ZkSession::Reply r =
      ReadRetrying("get", path, deadline, [&] { return session_->Get(path, watch, deadline); });
  if (r.rc == ZNONODE) {
    return Status(StatusCode::kNoSuchLedger,
                  fmt::format("ledger {}: no metadata (znode {})", id, path));
  }
  if (r.rc != ZOK) return Error(r.rc, "get", path);
  QUIRE_ASSIGN_OR_RETURN(LedgerMetadata md, DecodeLedgerMetadata(r.data, "znode " + path));
  return Versioned<LedgerMetadata>{std::move(md), r.stat.version};
}

Result<Versioned<LedgerMetadata>> ZkMetadataStore::ReadLedger(LedgerId id) {
  return ReadLedgerImpl(id, false);
}

Result<Version> ZkMetadataStore::UpdateLedger(LedgerId id, const LedgerMetadata& metadata,
                                              Version expected) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(id));
  QUIRE_RETURN_IF_ERROR(metadata.Validate());
  std::string path = LedgerPath(id);
  Result<Version> v = SetNode(path, EncodeLedgerMetadata(metadata), expected, NewDeadline());
  if (!v.ok() && v.status().Is(StatusCode::kNotFound)) {
    return Status(StatusCode::kNoSuchLedger,
                  fmt::format("ledger {}: no metadata (znode {})", id, path));
  }
  return v;
}

Status ZkMetadataStore::DeleteLedger(LedgerId id, Version expected) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(id));
  std::string path = LedgerPath(id);
  Status s = DeleteNode(path, expected, NewDeadline());
  if (s.Is(StatusCode::kNotFound)) {
    return Status(StatusCode::kNoSuchLedger,
                  fmt::format("ledger {}: no metadata (znode {})", id, path));
  }
  return s;
}

Result<std::vector<LedgerId>> ZkMetadataStore::ListLedgers(LedgerId from, size_t max) {
  Deadline deadline = NewDeadline();
  auto list = [&](const std::string& dir) { return ChildrenOf(dir, false, deadline); };
  Result<std::vector<LedgerId>> ids = ListLedgerHierarchy(list, Path(kLedgersDir), from, max);
  if (!ids.ok() && ids.status().Is(StatusCode::kNotFound)) return NotInitialised();
  return ids;
}

Result<std::unique_ptr<Watch>> ZkMetadataStore::WatchLedger(LedgerId id, LedgerWatchFn callback) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(id));
  auto refresh =
      MakeLedgerRefresh([this, id] { return ReadLedgerImpl(id, true); }, std::move(callback));
  return watches_.MakeHandle(watches_.Add({LedgerPath(id)}, std::move(refresh)));
}

// --- Cookies ---

Result<Versioned<Cookie>> ZkMetadataStore::ReadCookie(const BookieId& bookie_id) {
  QUIRE_RETURN_IF_ERROR(ValidateName("bookie id", bookie_id));
  std::string path = Path(fmt::format("{}/{}", kCookiesDir, bookie_id));
  Deadline deadline = NewDeadline();
  ZkSession::Reply r =
      ReadRetrying("get", path, deadline, [&] { return session_->Get(path, false, deadline); });
  if (r.rc != ZOK) return Error(r.rc, "get cookie", path);
  QUIRE_ASSIGN_OR_RETURN(Cookie cookie, DecodeCookie(r.data, "znode " + path));
  if (cookie.bookie_id != bookie_id) {
    return Corruption(fmt::format("znode {}: cookie of bookie {}", path, cookie.bookie_id));
  }
  return Versioned<Cookie>{std::move(cookie), r.stat.version};
}

Result<Version> ZkMetadataStore::WriteCookie(const Cookie& cookie, Version expected) {
  QUIRE_RETURN_IF_ERROR(ValidateName("bookie id", cookie.bookie_id));
  if (cookie.instance_id.empty()) return InvalidArgument("cookie without an instance id");
  std::string path = Path(fmt::format("{}/{}", kCookiesDir, cookie.bookie_id));
  if (expected == kNewRecord) {
    Result<Version> v = CreateNode(path, EncodeCookie(cookie), 0, NewDeadline());
    if (!v.ok() && v.status().Is(StatusCode::kNotFound)) return NotInitialised();
    return v;
  }
  return SetNode(path, EncodeCookie(cookie), expected, NewDeadline());
}

Status ZkMetadataStore::DeleteCookie(const BookieId& bookie_id, Version expected) {
  QUIRE_RETURN_IF_ERROR(ValidateName("bookie id", bookie_id));
  return DeleteNode(Path(fmt::format("{}/{}", kCookiesDir, bookie_id)), expected, NewDeadline());
}

Result<std::vector<BookieId>> ZkMetadataStore::ListCookies() {
  Result<std::vector<std::string>> names = ChildrenOf(Path(kCookiesDir), false, NewDeadline());
  if (!names.ok() && names.status().Is(StatusCode::kNotFound)) return NotInitialised();
  QUIRE_RETURN_IF_ERROR(names.status());
  std::sort(names->begin(), names->end());
  return std::move(*names);
}

// --- Autorecovery record ---

Result<Versioned<AutoRecoveryState>> ZkMetadataStore::ReadAutoRecovery() {
  std::string path = Path(kAutoRecoveryNode);
  Deadline deadline = NewDeadline();
  ZkSession::Reply r =
      ReadRetrying("get", path, deadline, [&] { return session_->Get(path, false, deadline); });
  if (r.rc == ZNONODE) return Versioned<AutoRecoveryState>{AutoRecoveryState{}, kNewRecord};
  if (r.rc != ZOK) return Error(r.rc, "get", path);
  QUIRE_ASSIGN_OR_RETURN(AutoRecoveryState state, DecodeAutoRecovery(r.data, "znode " + path));
  return Versioned<AutoRecoveryState>{std::move(state), r.stat.version};
}

Result<Version> ZkMetadataStore::WriteAutoRecovery(const AutoRecoveryState& state,
                                                   Version expected) {
  if (expected < kNewRecord) {
    return InvalidArgument(fmt::format("autorecovery record version {}", expected));
  }
  std::string path = Path(kAutoRecoveryNode);
  if (expected == kNewRecord) {
    Result<Version> v = CreateNode(path, EncodeAutoRecovery(state), 0, NewDeadline());
    if (!v.ok() && v.status().Is(StatusCode::kNotFound)) return NotInitialised();
    return v;
  }
  return SetNode(path, EncodeAutoRecovery(state), expected, NewDeadline());
}

// --- Under-replication markers ---

Status ZkMetadataStore::MarkUnderReplicated(LedgerId ledger, const BookieId& lost_bookie) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(ledger));
  QUIRE_RETURN_IF_ERROR(ValidateName("bookie id", lost_bookie));
  Deadline deadline = NewDeadline();
  std::string top = Path(kUnderReplicatedDir);
  std::string path = fmt::format("{}/{}", top, LedgerIdPath(ledger));
  while (true) {
    ZkSession::Reply r =
        ReadRetrying("get", path, deadline, [&] { return session_->Get(path, false, deadline); });
    UnderReplicatedLedger marker;
    Result<Version> written = Version{0};
    if (r.rc == ZNONODE) {
      marker.lost_bookies = {lost_bookie};
      marker.marked_time_ms = NowUnixMillis();
      written = CreateWithParents(top, path, EncodeUnderReplicated(marker), deadline);
    } else if (r.rc == ZOK) {
      QUIRE_ASSIGN_OR_RETURN(marker, DecodeUnderReplicated(r.data, "znode " + path));
      if (std::binary_search(marker.lost_bookies.begin(), marker.lost_bookies.end(), lost_bookie)) {
        return Status::Ok();
      }
      marker.lost_bookies.push_back(lost_bookie);
      std::sort(marker.lost_bookies.begin(), marker.lost_bookies.end());
      written = SetNode(path, EncodeUnderReplicated(marker), r.stat.version, deadline);
    } else {
      return Error(r.rc, "get", path);
    }
    if (written.ok()) return Status::Ok();
    const Status& s = written.status();
    if (!s.Is(StatusCode::kBadVersion) && !s.Is(StatusCode::kAlreadyExists) &&
        !s.Is(StatusCode::kNotFound)) {
      return s;
    }
    if (Clock::now() >= deadline) {
      return Status(StatusCode::kTimeout,
                    fmt::format("marking ledger {}: too much contention", ledger));
    }
  }
}

Result<std::vector<UnderReplicatedLedger>> ZkMetadataStore::ListUnderReplicated(LedgerId from,
                                                                                size_t max) {
  Deadline deadline = NewDeadline();
  std::string top = Path(kUnderReplicatedDir);
  auto list = [&](const std::string& dir) { return ChildrenOf(dir, false, deadline); };
  std::vector<UnderReplicatedLedger> out;
  while (out.empty()) {
    Result<std::vector<LedgerId>> ids = ListLedgerHierarchy(list, top, from, max);
    if (!ids.ok() && ids.status().Is(StatusCode::kNotFound)) return NotInitialised();
    QUIRE_RETURN_IF_ERROR(ids.status());
    if (ids->empty()) break;
    for (LedgerId id : *ids) {
      std::string path = fmt::format("{}/{}", top, LedgerIdPath(id));
      ZkSession::Reply r =
          ReadRetrying("get", path, deadline, [&] { return session_->Get(path, false, deadline); });
      if (r.rc == ZNONODE) continue;
      if (r.rc != ZOK) return Error(r.rc, "get", path);
      QUIRE_ASSIGN_OR_RETURN(UnderReplicatedLedger marker,
                             DecodeUnderReplicated(r.data, "znode " + path));
      marker.ledger_id = id;
      out.push_back(std::move(marker));
    }
    if (ids->back() == kMaxLedgerId) break;
    from = ids->back() + 1;
  }
  return out;
}

Status ZkMetadataStore::ClearUnderReplicated(LedgerId ledger) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(ledger));
  Status s = DeleteNode(fmt::format("{}/{}", Path(kUnderReplicatedDir), LedgerIdPath(ledger)),
                        kAnyVersion, NewDeadline());
  if (s.Is(StatusCode::kNotFound)) return Status::Ok();
  return s;
}

}  // namespace quire::metadata
