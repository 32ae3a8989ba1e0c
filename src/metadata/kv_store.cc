// KvMetadataStore: cluster, ids, ledgers, cookies, under-replication markers and watches.
// Sessions, registrations and locks are in kv_store_sessions.cc.
#include "metadata/kv_store.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "metadata/layout.h"
#include "metadata/records.h"
#include "common/check.h"

namespace quire::metadata {
namespace {

std::string LedgerKey(LedgerId id) { return fmt::format("{}/{}", kLedgersDir, LedgerIdPath(id)); }
std::string MarkerKey(LedgerId id) {
  return fmt::format("{}/{}", kUnderReplicatedDir, LedgerIdPath(id));
}
std::string CookieKey(const BookieId& id) { return fmt::format("{}/{}", kCookiesDir, id); }

Status CheckLedgerId(LedgerId id) {
  if (id < 0) return InvalidArgument(fmt::format("ledger id {} is negative", id));
  return Status::Ok();
}

}  // namespace

KvMetadataStore::KvMetadataStore(std::string uri, std::unique_ptr<KvBackend> backend,
                                 MetadataOptions options)
    : uri_(std::move(uri)),
      kv_(std::move(backend)),
      options_(std::move(options)),
      owner_(ProcessOwnerString()),
      watches_(options_.watch_poll_interval, options_.watch_poll_interval) {
  lease_thread_ = std::thread([this] { LeaseLoop(); });
}

KvMetadataStore::~KvMetadataStore() {
  watches_.Stop();
  {
    MutexLock lock(mu_);
    QUIRE_CHECK_MSG(registrations_.empty() && locks_.empty(),
                    "registrations and locks must be destroyed before their store");
    stop_ = true;
  }
  lease_cv_.NotifyAll();
  lease_thread_.join();
  // Leave no lease behind: registrations and locks are gone, and other processes need not wait
  // for it to expire.
  MutexLock lock(mu_);
  if (session_) {
    kv_->Delete(fmt::format("{}/{}", kSessionsDir, session_->id), session_->version, NewDeadline())
        .IgnoreError();
  }
}

Deadline KvMetadataStore::NewDeadline() const {
  return std::chrono::steady_clock::now() + options_.operation_timeout;
}

Status KvMetadataStore::NotInitialised() const {
  return FailedPrecondition(
      fmt::format("metadata store {} is not initialised (run `quire cluster init`)", uri_));
}

std::string KvMetadataStore::RecordMissing(std::string_view what, std::string_view key) const {
  return fmt::format("{}: no such {} ({})", uri_, what, kv_->Describe(key));
}

// --- Cluster ---

Result<ClusterInfo> KvMetadataStore::InitCluster() {
  Deadline deadline = NewDeadline();
  for (std::string_view dir :
       {kLedgersDir, kBookiesDir, kCookiesDir, kUnderReplicatedDir, kLocksDir, kSessionsDir}) {
    QUIRE_RETURN_IF_ERROR(kv_->CreateTopDir(std::string(dir)));
  }
  Result<Version> counter =
      kv_->Put(std::string(kIdGenNode), EncodeIdCounter(0), kNewRecord, deadline);
  if (!counter.ok() && !counter.status().Is(StatusCode::kAlreadyExists)) return counter.status();
  ClusterInfo info;
  info.instance_id = RandomHex(32);
  info.layout_version = kLayoutVersion;
  info.creation_time_ms = NowUnixMillis();
  info.service_uri = uri_;
  Result<Version> created =
      kv_->Put(std::string(kClusterNode), EncodeClusterInfo(info), kNewRecord, deadline);
  if (created.ok()) {
    spdlog::info("metadata store {}: initialised cluster, instance id {}", uri_, info.instance_id);
    return info;
  }
  if (created.status().Is(StatusCode::kAlreadyExists)) return GetClusterInfo();
  return created.status();
}

Result<ClusterInfo> KvMetadataStore::GetClusterInfo() {
  std::string key(kClusterNode);
  QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
  if (!record) return NotInitialised();
  QUIRE_ASSIGN_OR_RETURN(ClusterInfo info, DecodeClusterInfo(record->value, kv_->Describe(key)));
  info.service_uri = uri_;
  return info;
}

Status KvMetadataStore::Nuke(bool force) {
  Result<BookieList> bookies = ListBookies();
  if (bookies.ok() && !force && (!bookies->writable.empty() || !bookies->read_only.empty())) {
    return FailedPrecondition(fmt::format(
        "refusing to nuke {}: bookies are registered (writable: [{}], read-only: [{}]); stop "
        "them first or force",
        uri_, fmt::join(bookies->writable, ", "), fmt::join(bookies->read_only, ", ")));
  }
  if (!bookies.ok() && !bookies.status().Is(StatusCode::kFailedPrecondition) && !force) {
    return bookies.status().WithContext("cannot check for registered bookies before nuking");
  }
  QUIRE_RETURN_IF_ERROR(kv_->DeleteEverything(NewDeadline()));
  spdlog::warn("metadata store {}: nuked (all metadata deleted)", uri_);
  MutexLock lock(mu_);
  session_.reset();
  lease_expiry_ms_ = 0;
  return Status::Ok();
}

// --- Ledger ids ---

Result<LedgerId> KvMetadataStore::AllocateLedgerId() {
  std::string key(kIdGenNode);
  LedgerId allocated = -1;
  // One read-modify-write under the store lock: concurrent allocators queue instead of losing
  // compare-and-set races.
  Result<Version> v = kv_->Update(
      key,
      [&](const KvRecord& record) -> Result<std::string> {
        QUIRE_ASSIGN_OR_RETURN(LedgerId next, DecodeIdCounter(record.value, kv_->Describe(key)));
        if (next == kMaxLedgerId) return FailedPrecondition("ledger ids are exhausted");
        allocated = next;
        return EncodeIdCounter(next + 1);
      },
      NewDeadline());
  if (!v.ok() && v.status().Is(StatusCode::kNotFound)) return NotInitialised();
  QUIRE_RETURN_IF_ERROR(v.status());
  return allocated;
}

// --- Ledgers ---

Result<Version> KvMetadataStore::CreateLedger(LedgerId id, const LedgerMetadata& metadata) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(id));
  QUIRE_RETURN_IF_ERROR(metadata.Validate());
  std::string key = LedgerKey(id);
  Result<Version> v = kv_->Put(key, EncodeLedgerMetadata(metadata), kNewRecord, NewDeadline());
  if (!v.ok() && v.status().Is(StatusCode::kAlreadyExists)) {
    return Status(StatusCode::kAlreadyExists,
                  fmt::format("ledger {} already exists ({})", id, kv_->Describe(key)));
  }
  return v;
}

Result<Versioned<LedgerMetadata>> KvMetadataStore::ReadLedger(LedgerId id) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(id));
  std::string key = LedgerKey(id);
  QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
  if (!record) {
    return Status(StatusCode::kNoSuchLedger,
                  fmt::format("ledger {}: no metadata ({})", id, kv_->Describe(key)));
  }
  QUIRE_ASSIGN_OR_RETURN(LedgerMetadata md,
                         DecodeLedgerMetadata(record->value, kv_->Describe(key)));
  return Versioned<LedgerMetadata>{std::move(md), record->version};
}

Result<Version> KvMetadataStore::UpdateLedger(LedgerId id, const LedgerMetadata& metadata,
                                              Version expected) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(id));
  QUIRE_RETURN_IF_ERROR(metadata.Validate());
  if (expected < 0)
    return InvalidArgument(fmt::format("update of ledger {}: version {}", id, expected));
  std::string key = LedgerKey(id);
  Result<Version> v = kv_->Put(key, EncodeLedgerMetadata(metadata), expected, NewDeadline());
  if (!v.ok() && v.status().Is(StatusCode::kNotFound)) {
    return Status(StatusCode::kNoSuchLedger,
                  fmt::format("ledger {}: no metadata ({})", id, kv_->Describe(key)));
  }
  return v;
}

Status KvMetadataStore::DeleteLedger(LedgerId id, Version expected) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(id));
  std::string key = LedgerKey(id);
  Status s = kv_->Delete(key, expected, NewDeadline());
  if (s.Is(StatusCode::kNotFound)) {
    return Status(StatusCode::kNoSuchLedger,
                  fmt::format("ledger {}: no metadata ({})", id, kv_->Describe(key)));
  }
  return s;
}

Result<std::vector<LedgerId>> KvMetadataStore::ListLedgers(LedgerId from, size_t max) {
  auto list = [this](const std::string& dir) { return kv_->List(dir); };
  Result<std::vector<LedgerId>> ids =
      ListLedgerHierarchy(list, std::string(kLedgersDir), from, max);
  if (!ids.ok() && ids.status().Is(StatusCode::kNotFound)) return NotInitialised();
  return ids;
}

Result<std::unique_ptr<Watch>> KvMetadataStore::WatchLedger(LedgerId id, LedgerWatchFn callback) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(id));
  auto refresh = MakeLedgerRefresh([this, id] { return ReadLedger(id); }, std::move(callback));
  return watches_.MakeHandle(watches_.Add({LedgerKey(id)}, std::move(refresh)));
}

Result<std::unique_ptr<Watch>> KvMetadataStore::WatchBookies(BookieWatchFn callback) {
  auto refresh = MakeBookiesRefresh([this] { return ListBookies(); }, std::move(callback));
  return watches_.MakeHandle(watches_.Add({std::string(kBookiesDir)}, std::move(refresh)));
}

// --- Cookies ---

Result<Versioned<Cookie>> KvMetadataStore::ReadCookie(const BookieId& bookie_id) {
  QUIRE_RETURN_IF_ERROR(ValidateName("bookie id", bookie_id));
  std::string key = CookieKey(bookie_id);
  QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
  if (!record) return NotFound(RecordMissing("cookie", key));
  QUIRE_ASSIGN_OR_RETURN(Cookie cookie, DecodeCookie(record->value, kv_->Describe(key)));
  if (cookie.bookie_id != bookie_id) {
    return Corruption(fmt::format("{}: cookie of bookie {} stored under {}", kv_->Describe(key),
                                  cookie.bookie_id, bookie_id));
  }
  return Versioned<Cookie>{std::move(cookie), record->version};
}

Result<Version> KvMetadataStore::WriteCookie(const Cookie& cookie, Version expected) {
  QUIRE_RETURN_IF_ERROR(ValidateName("bookie id", cookie.bookie_id));
  if (cookie.instance_id.empty()) return InvalidArgument("cookie without an instance id");
  if (expected < kNewRecord) return InvalidArgument(fmt::format("cookie version {}", expected));
  std::string key = CookieKey(cookie.bookie_id);
  Result<Version> v = kv_->Put(key, EncodeCookie(cookie), expected, NewDeadline());
  if (!v.ok() && v.status().Is(StatusCode::kNotFound)) {
    return NotFound(RecordMissing("cookie", key));
  }
  return v;
}

Status KvMetadataStore::DeleteCookie(const BookieId& bookie_id, Version expected) {
  QUIRE_RETURN_IF_ERROR(ValidateName("bookie id", bookie_id));
  std::string key = CookieKey(bookie_id);
  Status s = kv_->Delete(key, expected, NewDeadline());
  if (s.Is(StatusCode::kNotFound)) return NotFound(RecordMissing("cookie", key));
  return s;
}

Result<std::vector<BookieId>> KvMetadataStore::ListCookies() {
  Result<std::vector<std::string>> names = kv_->List(std::string(kCookiesDir));
  if (!names.ok() && names.status().Is(StatusCode::kNotFound)) return NotInitialised();
  QUIRE_RETURN_IF_ERROR(names.status());
  std::vector<BookieId> ids;
  for (std::string& name : *names) {
    if (ValidateName("bookie id", name).ok()) ids.push_back(std::move(name));  // not temp files
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// --- Autorecovery record ---

Result<Versioned<AutoRecoveryState>> KvMetadataStore::ReadAutoRecovery() {
  std::string key(kAutoRecoveryNode);
  QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
  if (!record) return Versioned<AutoRecoveryState>{AutoRecoveryState{}, kNewRecord};
  QUIRE_ASSIGN_OR_RETURN(AutoRecoveryState state,
                         DecodeAutoRecovery(record->value, kv_->Describe(key)));
  return Versioned<AutoRecoveryState>{std::move(state), record->version};
}

Result<Version> KvMetadataStore::WriteAutoRecovery(const AutoRecoveryState& state,
                                                   Version expected) {
  if (expected < kNewRecord) {
    return InvalidArgument(fmt::format("autorecovery record version {}", expected));
  }
  return kv_->Put(std::string(kAutoRecoveryNode), EncodeAutoRecovery(state), expected,
                  NewDeadline());
}

// --- Under-replication markers ---

Status KvMetadataStore::MarkUnderReplicated(LedgerId ledger, const BookieId& lost_bookie) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(ledger));
  QUIRE_RETURN_IF_ERROR(ValidateName("bookie id", lost_bookie));
  Deadline deadline = NewDeadline();
  std::string key = MarkerKey(ledger);
  while (true) {
    QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
    UnderReplicatedLedger marker;
    Version expected = kNewRecord;
    if (record) {
      QUIRE_ASSIGN_OR_RETURN(marker, DecodeUnderReplicated(record->value, kv_->Describe(key)));
      if (std::binary_search(marker.lost_bookies.begin(), marker.lost_bookies.end(), lost_bookie)) {
        return Status::Ok();
      }
      expected = record->version;
    } else {
      marker.marked_time_ms = NowUnixMillis();
    }
    marker.lost_bookies.push_back(lost_bookie);
    std::sort(marker.lost_bookies.begin(), marker.lost_bookies.end());
    Result<Version> put = kv_->Put(key, EncodeUnderReplicated(marker), expected, deadline);
    if (put.ok()) return Status::Ok();
    const Status& s = put.status();
    if (!s.Is(StatusCode::kBadVersion) && !s.Is(StatusCode::kAlreadyExists) &&
        !s.Is(StatusCode::kNotFound)) {
      return s;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(StatusCode::kTimeout,
                    fmt::format("marking ledger {}: too much contention", ledger));
    }
  }
}

Result<std::vector<UnderReplicatedLedger>> KvMetadataStore::ListUnderReplicated(LedgerId from,
                                                                                size_t max) {
  auto list = [this](const std::string& dir) { return kv_->List(dir); };
  std::vector<UnderReplicatedLedger> out;
  // Markers cleared between the walk and the read leave holes; keep going so that an empty page
  // still means "no more".
  while (out.empty()) {
    Result<std::vector<LedgerId>> ids =
        ListLedgerHierarchy(list, std::string(kUnderReplicatedDir), from, max);
    if (!ids.ok() && ids.status().Is(StatusCode::kNotFound)) return NotInitialised();
    QUIRE_RETURN_IF_ERROR(ids.status());
    if (ids->empty()) break;
    for (LedgerId id : *ids) {
      std::string key = MarkerKey(id);
      QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
      if (!record) continue;
      QUIRE_ASSIGN_OR_RETURN(UnderReplicatedLedger marker,
                             DecodeUnderReplicated(record->value, kv_->Describe(key)));
      marker.ledger_id = id;
      out.push_back(std::move(marker));
    }
    if (ids->back() == kMaxLedgerId) break;
    from = ids->back() + 1;
  }
  return out;
}

Status KvMetadataStore::ClearUnderReplicated(LedgerId ledger) {
  QUIRE_RETURN_IF_ERROR(CheckLedgerId(ledger));
  Status s = kv_->Delete(MarkerKey(ledger), kAnyVersion, NewDeadline());
  if (s.Is(StatusCode::kNotFound)) return Status::Ok();
  return s;
}

}  // namespace quire::metadata
