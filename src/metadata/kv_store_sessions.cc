// KvMetadataStore: sessions (leases), bookie registrations and locks.
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/logging.h"
#include "metadata/kv_store.h"
#include "metadata/layout.h"
#include "metadata/records.h"
#include "metadata/store_handles.h"

namespace quire::metadata {
namespace {

std::string SessionKey(const std::string& id) { return fmt::format("{}/{}", kSessionsDir, id); }
std::string RegistrationKey(const BookieId& id) { return fmt::format("{}/{}", kBookiesDir, id); }
std::string LockKey(const std::string& name) { return fmt::format("{}/{}", kLocksDir, name); }

// A concurrent writer changed the record between our read and our write: read again.
bool LostRace(const Status& s) {
  return s.Is(StatusCode::kBadVersion) || s.Is(StatusCode::kAlreadyExists) ||
         s.Is(StatusCode::kNotFound);
}

}  // namespace

int64_t KvMetadataStore::NowMillis() { return NowUnixMillis(); }

// --- Sessions ---

Result<std::string> KvMetadataStore::EnsureSessionLocked(Deadline deadline) {
  if (session_) return session_->id;
  const int64_t timeout = options_.session_timeout.count();
  SessionInfo info{RandomHex(16), owner_, NowMillis() + timeout, timeout};
  Result<Version> v =
      kv_->Put(SessionKey(info.session_id), EncodeSession(info), kNewRecord, deadline);
  if (!v.ok()) {
    if (v.status().Is(StatusCode::kFailedPrecondition)) return NotInitialised();
    return v.status().WithContext(fmt::format("{}: start a session", uri_));
  }
  session_ = Session{info.session_id, *v, info.lease_expiry_ms};
  lease_expiry_ms_ = info.lease_expiry_ms;
  spdlog::info("metadata store {}: session {} started (lease {} ms)", uri_, info.session_id,
               timeout);
  lease_cv_.NotifyAll();
  return info.session_id;
}

Result<KvMetadataStore::Liveness> KvMetadataStore::ReapIfDead(const std::string& session_id,
                                                              Deadline deadline) {
  if (session_ && session_->id == session_id) return Liveness::kAlive;
  std::string key = SessionKey(session_id);
  while (true) {
    QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
    if (!record) return Liveness::kDead;
    Result<SessionInfo> info = DecodeSession(record->value, kv_->Describe(key));
    if (info.ok() && info->lease_expiry_ms > NowMillis()) return Liveness::kAlive;
    if (!info.ok()) spdlog::warn("removing unreadable session: {}", info.status().ToString());
    // Its lease lapsed. Deleting it by compare-and-set races the owner's renewal, which is a
    // compare-and-set too: if the owner renewed first, look again.
    Status s = kv_->Delete(key, record->version, deadline);
    if (s.ok() || s.Is(StatusCode::kNotFound)) return Liveness::kDead;
    if (!s.Is(StatusCode::kBadVersion)) return s;
  }
}

bool KvMetadataStore::LooksAlive(const std::string& session_id,
                                 std::map<std::string, bool>* cache) {
  auto it = cache->find(session_id);
  if (it != cache->end()) return it->second;
  bool alive = false;
  std::string key = SessionKey(session_id);
  Result<std::optional<KvRecord>> record = kv_->Get(key);
  if (record.ok() && *record) {
    Result<SessionInfo> info = DecodeSession((*record)->value, kv_->Describe(key));
    alive = info.ok() && info->lease_expiry_ms > NowMillis();
  }
  cache->emplace(session_id, alive);
  return alive;
}

void KvMetadataStore::ExpireLocked(std::string_view reason) {
  spdlog::warn(
      "metadata store {}: session {} expired ({}); {} registration(s) will be restored in a new "
      "session, {} lock(s) are lost",
      uri_, session_ ? session_->id : "?", reason, registrations_.size(), locks_.size());
  session_.reset();
  lease_expiry_ms_ = 0;
  if (options_.on_session_event) {
    watches_.Post([cb = options_.on_session_event] {
      cb(SessionEvent{SessionEventKind::kExpired, Status::Ok()});
    });
  }
  for (auto& [name, lock] : locks_) {
    lock.held->store(false);
    if (lock.on_lost) watches_.Post(lock.on_lost);
  }
  locks_.clear();
  restore_pending_ = true;
  RestoreLocked(NewDeadline()).IgnoreError();  // retried by the lease thread until it works
}

Status KvMetadataStore::RestoreLocked(Deadline deadline) {
  QUIRE_ASSIGN_OR_RETURN(std::string sid, EnsureSessionLocked(deadline));
  Status result;
  for (auto& [id, reg] : registrations_) {
    Result<Version> v = ClaimRegistrationLocked(id, reg.mode, reg.takeover_key, deadline);
    if (v.ok()) {
      reg.version = *v;
      continue;
    }
    spdlog::error("metadata store {}: could not restore the registration of bookie {}: {}", uri_,
                  id, v.status().ToString());
    if (result.ok()) result = v.status();
  }
  restore_pending_ = false;
  spdlog::info("metadata store {}: session {} restored {} registration(s)", uri_, sid,
               registrations_.size());
  if (options_.on_session_event) {
    watches_.Post([cb = options_.on_session_event, result] {
      cb(SessionEvent{SessionEventKind::kRestored, result});
    });
  }
  watches_.TriggerAll();
  return result;
}

void KvMetadataStore::LeaseLoop() {
  SetThreadName("md-lease");
  const auto period = std::max(options_.session_timeout / 3, std::chrono::milliseconds(10));
  const int64_t timeout = options_.session_timeout.count();
  MutexLock lock(mu_);
  uint64_t ticks = 0;
  while (!stop_) {
    lease_cv_.WaitFor(mu_, period);
    if (stop_) break;
    if (lease_paused_) continue;
    if (restore_pending_) {
      Status s = RestoreLocked(std::chrono::steady_clock::now() + period);
      if (!s.ok()) spdlog::warn("metadata store {}: restoring session: {}", uri_, s.ToString());
      continue;
    }
    if (!session_) continue;
    int64_t now = NowMillis();
    if (now >= session_->expiry_ms) {
      ExpireLocked("its lease lapsed before it could be renewed");
      continue;
    }
    SessionInfo info{session_->id, owner_, now + timeout, timeout};
    Result<Version> v = kv_->Put(SessionKey(info.session_id), EncodeSession(info),
                                 session_->version, std::chrono::steady_clock::now() + period);
    if (v.ok()) {
      session_->version = *v;
      session_->expiry_ms = info.lease_expiry_ms;
      lease_expiry_ms_ = info.lease_expiry_ms;
    } else if (LostRace(v.status())) {
      ExpireLocked("another process found its lease lapsed and removed it");
    } else {
      spdlog::warn("metadata store {}: could not renew the lease of session {}: {}", uri_,
                   info.session_id, v.status().ToString());
    }
    if (++ticks % 16 == 0) {
      lock.Unlock();
      CollectDeadSessions();
      lock.Lock();
    }
  }
}

// Sessions of dead processes would otherwise pile up; one lease period of grace keeps this from
// racing a takeover in progress.
void KvMetadataStore::CollectDeadSessions() {
  Result<std::vector<std::string>> names = kv_->List(std::string(kSessionsDir));
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    std::string key = SessionKey(name);
    Result<std::optional<KvRecord>> record = kv_->Get(key);
    if (!record.ok() || !*record) continue;
    Result<SessionInfo> info = DecodeSession((*record)->value, kv_->Describe(key));
    if (info.ok() && info->lease_expiry_ms + info->lease_timeout_ms > NowMillis()) continue;
    kv_->Delete(key, (*record)->version, NewDeadline()).IgnoreError();
  }
}

void KvMetadataStore::PauseLeaseRenewalForTesting(bool paused) {
  MutexLock lock(mu_);
  lease_paused_ = paused;
}

// --- Bookie registry ---

Result<Version> KvMetadataStore::ClaimRegistrationLocked(const BookieId& bookie_id, BookieMode mode,
                                                         const std::string& takeover_key,
                                                         Deadline deadline) {
  QUIRE_ASSIGN_OR_RETURN(std::string sid, EnsureSessionLocked(deadline));
  std::string key = RegistrationKey(bookie_id);
  while (true) {
    QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
    Version expected = kNewRecord;
    if (record) {
      Result<RegistrationInfo> holder = DecodeRegistration(record->value, kv_->Describe(key));
      if (!holder.ok()) {
        spdlog::warn("overwriting an unreadable registration: {}", holder.status().ToString());
      } else if (holder->session_id != sid) {
        if (!takeover_key.empty() && holder->takeover_key == takeover_key) {
          // Left by a previous process of this bookie, gone though its lease may run on.
          spdlog::info(
              "metadata store {}: bookie {}: taking over the registration of its previous "
              "process {} (session {}) without waiting for its lease",
              uri_, bookie_id, holder->owner, holder->session_id);
        } else {
          QUIRE_ASSIGN_OR_RETURN(Liveness liveness, ReapIfDead(holder->session_id, deadline));
          if (liveness == Liveness::kAlive) {
            return Status(StatusCode::kAlreadyExists,
                          fmt::format("bookie {} is registered by another live session {} ({})",
                                      bookie_id, holder->session_id, holder->owner));
          }
        }
      }
      expected = record->version;
    }
    RegistrationInfo info{bookie_id, mode, sid, owner_};
    info.takeover_key = takeover_key;
    Result<Version> v = kv_->Put(key, EncodeRegistration(info), expected, deadline);
    if (v.ok() || !LostRace(v.status())) return v;
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(StatusCode::kTimeout,
                    fmt::format("registering bookie {}: too much contention", bookie_id));
    }
  }
}

Result<std::unique_ptr<BookieRegistration>> KvMetadataStore::RegisterBookie(
    const BookieId& bookie_id, BookieMode mode, const std::string& takeover_key) {
  QUIRE_RETURN_IF_ERROR(ValidateName("bookie id", bookie_id));
  Status registered = ClaimWhileHeldElsewhere(
      options_, bookie_id, mu_,
      [&]() QUIRE_REQUIRES(mu_) { return registrations_.count(bookie_id) > 0; },
      [&]() QUIRE_REQUIRES(mu_) -> Status {
        QUIRE_ASSIGN_OR_RETURN(
            Version v, ClaimRegistrationLocked(bookie_id, mode, takeover_key, NewDeadline()));
        registrations_[bookie_id] = RegState{mode, v, takeover_key};
        return Status::Ok();
      });
  QUIRE_RETURN_IF_ERROR(registered);
  spdlog::info("metadata store {}: registered bookie {} as {}", uri_, bookie_id,
               BookieModeName(mode));
  watches_.TriggerAll();
  return std::unique_ptr<BookieRegistration>(
      std::make_unique<StoreRegistration<KvMetadataStore>>(this, bookie_id, mode));
}

Status KvMetadataStore::SetRegistrationMode(const BookieId& bookie_id, BookieMode mode) {
  MutexLock lock(mu_);
  auto it = registrations_.find(bookie_id);
  if (it == registrations_.end()) return Internal("SetMode on an unknown registration");
  QUIRE_ASSIGN_OR_RETURN(
      Version v, ClaimRegistrationLocked(bookie_id, mode, it->second.takeover_key, NewDeadline()));
  it->second.mode = mode;
  it->second.version = v;
  watches_.TriggerAll();
  return Status::Ok();
}

void KvMetadataStore::Unregister(const BookieId& bookie_id) {
  MutexLock lock(mu_);
  auto it = registrations_.find(bookie_id);
  if (it == registrations_.end()) return;
  Status s = kv_->Delete(RegistrationKey(bookie_id), it->second.version, NewDeadline());
  if (!s.ok() && !LostRace(s)) {
    spdlog::warn("metadata store {}: unregistering bookie {}: {}", uri_, bookie_id, s.ToString());
  }
  registrations_.erase(it);
  watches_.TriggerAll();
}

Result<BookieList> KvMetadataStore::ListBookies() {
  QUIRE_ASSIGN_OR_RETURN(std::vector<RegisteredBookie> registrations, ListRegistrations());
  BookieList list;
  for (const RegisteredBookie& r : registrations) {
    (r.mode == BookieMode::kWritable ? list.writable : list.read_only).push_back(r.bookie_id);
  }
  return list;  // sorted, as `registrations` is
}

Result<std::vector<RegisteredBookie>> KvMetadataStore::ListRegistrations() {
  Result<std::vector<std::string>> names = kv_->List(std::string(kBookiesDir));
  if (!names.ok() && names.status().Is(StatusCode::kNotFound)) return NotInitialised();
  QUIRE_RETURN_IF_ERROR(names.status());
  std::vector<RegisteredBookie> list;
  std::map<std::string, bool> alive;
  for (const std::string& name : *names) {
    std::string key = RegistrationKey(name);
    QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
    if (!record) continue;
    Result<RegistrationInfo> info = DecodeRegistration(record->value, kv_->Describe(key));
    if (!info.ok()) {
      spdlog::warn("skipping a registration: {}", info.status().ToString());
      continue;
    }
    if (!LooksAlive(info->session_id, &alive)) continue;
    list.push_back({info->bookie_id, info->mode, info->version, info->owner});
  }
  std::sort(list.begin(), list.end(), [](const RegisteredBookie& a, const RegisteredBookie& b) {
    return a.bookie_id < b.bookie_id;
  });
  return list;
}

// --- Locks ---

Result<std::unique_ptr<OwnershipLock>> KvMetadataStore::TryLock(const std::string& name,
                                                                const std::string& owner,
                                                                std::function<void()> on_lost) {
  QUIRE_RETURN_IF_ERROR(ValidateName("lock name", name));
  MutexLock lock(mu_);
  if (locks_.count(name) > 0) {
    return Status(StatusCode::kAlreadyExists,
                  fmt::format("lock {} is already held by this store", name));
  }
  Deadline deadline = NewDeadline();
  QUIRE_ASSIGN_OR_RETURN(std::string sid, EnsureSessionLocked(deadline));
  std::string key = LockKey(name);
  Version version = 0;
  while (true) {
    QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
    Version expected = kNewRecord;
    if (record) {
      Result<LockInfo> holder = DecodeLock(record->value, kv_->Describe(key));
      if (!holder.ok()) {
        spdlog::warn("overwriting an unreadable lock: {}", holder.status().ToString());
      } else {
        QUIRE_ASSIGN_OR_RETURN(Liveness liveness, ReapIfDead(holder->session_id, deadline));
        if (liveness == Liveness::kAlive) {
          return Status(StatusCode::kAlreadyExists,
                        fmt::format("lock {} is held by {}", name, holder->owner));
        }
      }
      expected = record->version;
    }
    Result<Version> v = kv_->Put(key, EncodeLock({owner, sid}), expected, deadline);
    if (v.ok()) {
      version = *v;
      break;
    }
    if (!LostRace(v.status())) return v.status();
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(StatusCode::kTimeout, fmt::format("lock {}: too much contention", name));
    }
  }
  uint64_t token = next_lock_token_++;
  auto held = std::make_shared<std::atomic<bool>>(true);
  locks_[name] = LockState{owner, version, token, held, std::move(on_lost)};
  spdlog::info("metadata store {}: {} took lock {}", uri_, owner, name);
  return std::unique_ptr<OwnershipLock>(
      std::make_unique<StoreLock<KvMetadataStore>>(this, name, token, held));
}

void KvMetadataStore::ReleaseLock(const std::string& name, uint64_t token) {
  MutexLock lock(mu_);
  auto it = locks_.find(name);
  if (it == locks_.end() || it->second.token != token) return;
  kv_->Delete(LockKey(name), it->second.version, NewDeadline()).IgnoreError();
  locks_.erase(it);
}

Result<std::optional<std::string>> KvMetadataStore::LockOwner(const std::string& name) {
  QUIRE_RETURN_IF_ERROR(ValidateName("lock name", name));
  std::string key = LockKey(name);
  QUIRE_ASSIGN_OR_RETURN(std::optional<KvRecord> record, kv_->Get(key));
  if (!record) return std::optional<std::string>();
  QUIRE_ASSIGN_OR_RETURN(LockInfo info, DecodeLock(record->value, kv_->Describe(key)));
  std::map<std::string, bool> alive;
  if (!LooksAlive(info.session_id, &alive)) return std::optional<std::string>();
  return std::optional<std::string>(info.owner);
}

}  // namespace quire::metadata
