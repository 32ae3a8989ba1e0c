// ZkMetadataStore: bookie registrations and locks (ephemeral znodes), watches, session events.
#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "metadata/layout.h"
#include "metadata/records.h"
#include "metadata/store_handles.h"
#include "metadata/zk_store.h"

namespace quire::metadata {
namespace {

using Clock = std::chrono::steady_clock;

BookieMode Other(BookieMode mode) {
  return mode == BookieMode::kWritable ? BookieMode::kReadOnly : BookieMode::kWritable;
}

}  // namespace

std::string ZkMetadataStore::RegistrationPath(const BookieId& id, BookieMode mode) const {
  return fmt::format("{}/{}/{}/{}", root_, kBookiesDir,
                     mode == BookieMode::kWritable ? "writable" : "readonly", id);
}

// --- Bookie registry ---

Status ZkMetadataStore::ClearRegistrationPath(const BookieId& bookie_id, const std::string& path,
                                              bool ours_goes, const std::string& takeover_key,
                                              Deadline deadline) {
  ZkSession::Reply r =
      ReadRetrying("get", path, deadline, [&] { return session_->Get(path, false, deadline); });
  if (r.rc == ZNONODE) return Status::Ok();
  if (r.rc != ZOK) return Error(r.rc, "get", path);
  if (r.stat.ephemeralOwner == session_->session_id()) {
    return ours_goes ? DeleteNode(path, r.stat.version, deadline) : Status::Ok();
  }
  Result<RegistrationInfo> holder = DecodeRegistration(r.data, "znode " + path);
  if (!takeover_key.empty() && holder.ok() && holder->takeover_key == takeover_key) {
    // Left by a previous process of this bookie, gone though the server has not expired its
    // session yet. ZooKeeper lets any session delete another's ephemeral znode.
    spdlog::info(
        "metadata store {}: bookie {}: taking over the registration of its previous process {} "
        "(session {:#x}) without waiting for the session to expire",
        uri_, bookie_id, holder->owner, r.stat.ephemeralOwner);
    Status s = DeleteNode(path, r.stat.version, deadline);
    return s.Is(StatusCode::kNotFound) ? Status::Ok() : s;
  }
  return Status(StatusCode::kAlreadyExists,
                fmt::format("bookie {} is registered ({}) by another live session {:#x}", bookie_id,
                            path, r.stat.ephemeralOwner));
}

Status ZkMetadataStore::RegisterLocked(const BookieId& bookie_id, const RegState& reg,
                                       Deadline deadline) {
  const std::string path = RegistrationPath(bookie_id, reg.mode);
  const std::string other = RegistrationPath(bookie_id, Other(reg.mode));
  // The same id in the other list is a live bookie too (or ours, left from before a move).
  QUIRE_RETURN_IF_ERROR(
      ClearRegistrationPath(bookie_id, other, /*ours_goes=*/true, reg.takeover_key, deadline));
  QUIRE_RETURN_IF_ERROR(
      ClearRegistrationPath(bookie_id, path, /*ours_goes=*/false, reg.takeover_key, deadline));
  RegistrationInfo info{bookie_id, reg.mode, "", owner_};
  info.takeover_key = reg.takeover_key;
  Result<Version> v = CreateNode(path, EncodeRegistration(info), ZOO_EPHEMERAL, deadline);
  if (v.ok()) return Status::Ok();
  if (v.status().Is(StatusCode::kNotFound)) return NotInitialised();
  if (!v.status().Is(StatusCode::kAlreadyExists)) return v.status();
  // Ours already (a restore after a lost reply), or another process's made meanwhile.
  ZkSession::Reply r = ReadRetrying("exists", path, deadline,
                                    [&] { return session_->Exists(path, false, deadline); });
  if (r.rc == ZOK && r.stat.ephemeralOwner == session_->session_id()) return Status::Ok();
  if (r.rc == ZNONODE) {
    return Status(
        StatusCode::kAlreadyExists,
        fmt::format("bookie {}: registration {} vanished while registering", bookie_id, path));
  }
  return Status(StatusCode::kAlreadyExists,
                fmt::format("bookie {} is registered ({}) by another live session {:#x}", bookie_id,
                            path, r.stat.ephemeralOwner));
}

Result<std::unique_ptr<BookieRegistration>> ZkMetadataStore::RegisterBookie(
    const BookieId& bookie_id, BookieMode mode, const std::string& takeover_key) {
  QUIRE_RETURN_IF_ERROR(ValidateName("bookie id", bookie_id));
  Status registered = ClaimWhileHeldElsewhere(
      options_, bookie_id, mu_,
      [&]() QUIRE_REQUIRES(mu_) { return registrations_.count(bookie_id) > 0; },
      [&]() QUIRE_REQUIRES(mu_) -> Status {
        RegState reg{mode, takeover_key};
        QUIRE_RETURN_IF_ERROR(RegisterLocked(bookie_id, reg, NewDeadline()));
        registrations_[bookie_id] = std::move(reg);
        return Status::Ok();
      });
  QUIRE_RETURN_IF_ERROR(registered);
  spdlog::info("metadata store {}: registered bookie {} as {}", uri_, bookie_id,
               BookieModeName(mode));
  return std::unique_ptr<BookieRegistration>(
      std::make_unique<StoreRegistration<ZkMetadataStore>>(this, bookie_id, mode));
}

Status ZkMetadataStore::SetRegistrationMode(const BookieId& bookie_id, BookieMode mode) {
  MutexLock lock(mu_);
  auto it = registrations_.find(bookie_id);
  if (it == registrations_.end()) return Internal("SetMode on an unknown registration");
  if (it->second.mode == mode) return Status::Ok();
  const std::string from = RegistrationPath(bookie_id, it->second.mode);
  const std::string to = RegistrationPath(bookie_id, mode);
  Deadline deadline = NewDeadline();
  RegistrationInfo info{bookie_id, mode, "", owner_};
  info.takeover_key = it->second.takeover_key;
  std::vector<ZkSession::MultiOp> ops = {
      {ZkSession::MultiOp::Kind::kDelete, from, "", 0, -1},
      {ZkSession::MultiOp::Kind::kCreate, to, EncodeRegistration(info), ZOO_EPHEMERAL, -1},
  };
  // One transaction, so that no reader sees the bookie in both lists or in neither.
  for (int attempt = 0;; ++attempt) {
    ZkSession::Reply r = session_->Multi(ops, deadline);
    if (r.rc == ZOK) break;
    if (!ZkUncertain(r.rc)) {
      // E.g. the old registration is gone (lost with a session and not restored): register anew.
      spdlog::warn("metadata store {}: moving bookie {} to {}: {}; registering again", uri_,
                   bookie_id, BookieModeName(mode), zerror(r.rc));
      QUIRE_RETURN_IF_ERROR(
          RegisterLocked(bookie_id, RegState{mode, it->second.takeover_key}, deadline));
      break;
    }
    if (Clock::now() >= deadline) return Error(r.rc, "move registration", to);
    PauseBeforeRetry("multi", to, r.rc, attempt, deadline);
    ZkSession::Reply now =
        ReadRetrying("exists", to, deadline, [&] { return session_->Exists(to, false, deadline); });
    if (now.rc == ZOK && now.stat.ephemeralOwner == session_->session_id()) break;  // applied
  }
  it->second.mode = mode;
  spdlog::info("metadata store {}: bookie {} is now {}", uri_, bookie_id, BookieModeName(mode));
  return Status::Ok();
}

void ZkMetadataStore::Unregister(const BookieId& bookie_id) {
  MutexLock lock(mu_);
  auto it = registrations_.find(bookie_id);
  if (it == registrations_.end()) return;
  const std::string path = RegistrationPath(bookie_id, it->second.mode);
  registrations_.erase(it);
  Deadline deadline = NewDeadline();
  ZkSession::Reply r = ReadRetrying("exists", path, deadline,
                                    [&] { return session_->Exists(path, false, deadline); });
  if (r.rc != ZOK || r.stat.ephemeralOwner != session_->session_id()) return;
  Status s = DeleteNode(path, r.stat.version, deadline);
  if (!s.ok() && !s.Is(StatusCode::kNotFound)) {
    spdlog::warn("metadata store {}: unregistering bookie {}: {}", uri_, bookie_id, s.ToString());
  }
}

Result<BookieList> ZkMetadataStore::ListBookiesImpl(bool watch) {
  Deadline deadline = NewDeadline();
  BookieList list;
  for (BookieMode mode : {BookieMode::kWritable, BookieMode::kReadOnly}) {
    std::string dir = Path(mode == BookieMode::kWritable ? "bookies/writable" : "bookies/readonly");
    Result<std::vector<std::string>> names = ChildrenOf(dir, watch, deadline);
    if (!names.ok() && names.status().Is(StatusCode::kNotFound)) return NotInitialised();
    QUIRE_RETURN_IF_ERROR(names.status());
    auto& out = mode == BookieMode::kWritable ? list.writable : list.read_only;
    out = std::move(*names);
    std::sort(out.begin(), out.end());
  }
  return list;
}

Result<BookieList> ZkMetadataStore::ListBookies() { return ListBookiesImpl(false); }

Result<std::vector<RegisteredBookie>> ZkMetadataStore::ListRegistrations() {
  QUIRE_ASSIGN_OR_RETURN(BookieList list, ListBookiesImpl(false));
  Deadline deadline = NewDeadline();
  std::vector<RegisteredBookie> out;
  for (BookieMode mode : {BookieMode::kWritable, BookieMode::kReadOnly}) {
    for (const BookieId& id : mode == BookieMode::kWritable ? list.writable : list.read_only) {
      const std::string path = RegistrationPath(id, mode);
      ZkSession::Reply r = ReadRetrying("get", path, deadline,
                                        [&] { return session_->Get(path, false, deadline); });
      if (r.rc == ZNONODE) continue;  // it left (or moved) since the listing
      if (r.rc != ZOK) return Error(r.rc, "get", path);
      Result<RegistrationInfo> info = DecodeRegistration(r.data, "znode " + path);
      if (!info.ok()) {
        spdlog::warn("skipping a registration: {}", info.status().ToString());
        continue;
      }
      out.push_back({id, mode, info->version, info->owner});
    }
  }
  std::sort(out.begin(), out.end(), [](const RegisteredBookie& a, const RegisteredBookie& b) {
    return a.bookie_id < b.bookie_id;
  });
  return out;
}

Result<std::unique_ptr<Watch>> ZkMetadataStore::WatchBookies(BookieWatchFn callback) {
  auto refresh = MakeBookiesRefresh([this] { return ListBookiesImpl(true); }, std::move(callback));
  return watches_.MakeHandle(
      watches_.Add({Path("bookies/writable"), Path("bookies/readonly")}, std::move(refresh)));
}

// --- Locks ---

Result<std::unique_ptr<OwnershipLock>> ZkMetadataStore::TryLock(const std::string& name,
                                                                const std::string& owner,
                                                                std::function<void()> on_lost) {
  QUIRE_RETURN_IF_ERROR(ValidateName("lock name", name));
  MutexLock lock(mu_);
  if (locks_.count(name) > 0) {
    return Status(StatusCode::kAlreadyExists,
                  fmt::format("lock {} is already held by this store", name));
  }
  const std::string path = Path(fmt::format("{}/{}", kLocksDir, name));
  Deadline deadline = NewDeadline();
  while (true) {
    Result<Version> v = CreateNode(path, EncodeLock({owner, ""}), ZOO_EPHEMERAL, deadline);
    if (v.ok()) break;
    if (v.status().Is(StatusCode::kNotFound)) return NotInitialised();
    if (!v.status().Is(StatusCode::kAlreadyExists)) return v.status();
    ZkSession::Reply r =
        ReadRetrying("get", path, deadline, [&] { return session_->Get(path, false, deadline); });
    if (r.rc == ZNONODE && Clock::now() < deadline) continue;  // released meanwhile: try again
    if (r.rc != ZOK) return Error(r.rc, "get", path);
    Result<LockInfo> holder = DecodeLock(r.data, "znode " + path);
    return Status(StatusCode::kAlreadyExists,
                  fmt::format("lock {} is held by {}", name,
                              holder.ok() ? holder->owner : holder.status().message()));
  }
  uint64_t token = next_lock_token_++;
  auto held = std::make_shared<std::atomic<bool>>(true);
  locks_[name] = LockState{token, held, std::move(on_lost)};
  spdlog::info("metadata store {}: {} took lock {}", uri_, owner, name);
  return std::unique_ptr<OwnershipLock>(
      std::make_unique<StoreLock<ZkMetadataStore>>(this, name, token, held));
}

void ZkMetadataStore::ReleaseLock(const std::string& name, uint64_t token) {
  MutexLock lock(mu_);
  auto it = locks_.find(name);
  if (it == locks_.end() || it->second.token != token) return;
  locks_.erase(it);
  const std::string path = Path(fmt::format("{}/{}", kLocksDir, name));
  Deadline deadline = NewDeadline();
  ZkSession::Reply r = ReadRetrying("exists", path, deadline,
                                    [&] { return session_->Exists(path, false, deadline); });
  if (r.rc == ZOK && r.stat.ephemeralOwner == session_->session_id()) {
    DeleteNode(path, r.stat.version, deadline).IgnoreError();
  }
}

Result<std::optional<std::string>> ZkMetadataStore::LockOwner(const std::string& name) {
  QUIRE_RETURN_IF_ERROR(ValidateName("lock name", name));
  const std::string path = Path(fmt::format("{}/{}", kLocksDir, name));
  Deadline deadline = NewDeadline();
  ZkSession::Reply r =
      ReadRetrying("get", path, deadline, [&] { return session_->Get(path, false, deadline); });
  if (r.rc == ZNONODE) return std::optional<std::string>();
  if (r.rc != ZOK) return Error(r.rc, "get", path);
  QUIRE_ASSIGN_OR_RETURN(LockInfo info, DecodeLock(r.data, "znode " + path));
  return std::optional<std::string>(info.owner);
}

// --- Session events ---

void ZkMetadataStore::OnWatchEvent(const std::string& path) { watches_.Trigger(path); }

void ZkMetadataStore::OnSessionExpired() {
  MutexLock lock(mu_);
  spdlog::warn(
      "metadata store {}: session expired; {} registration(s) will be restored, {} "
      "lock(s) are lost",
      uri_, registrations_.size(), locks_.size());
  if (options_.on_session_event) {
    watches_.Post([cb = options_.on_session_event] {
      cb(SessionEvent{SessionEventKind::kExpired, Status::Ok()});
    });
  }
  for (auto& [name, state] : locks_) {
    state.held->store(false);
    if (state.on_lost) watches_.Post(state.on_lost);
  }
  locks_.clear();
}

void ZkMetadataStore::OnSessionRestored() {
  MutexLock lock(mu_);
  Status result;
  for (const auto& [id, reg] : registrations_) {
    Status s = RegisterLocked(id, reg, NewDeadline());
    if (s.ok()) continue;
    spdlog::error("metadata store {}: could not restore the registration of bookie {}: {}", uri_,
                  id, s.ToString());
    if (result.ok()) result = s;
  }
  spdlog::info("metadata store {}: restored {} registration(s) in the new session", uri_,
               registrations_.size());
  if (options_.on_session_event) {
    watches_.Post([cb = options_.on_session_event, result] {
      cb(SessionEvent{SessionEventKind::kRestored, result});
    });
  }
  // Watches were lost with the old session: re-read everything and re-arm.
  watches_.TriggerAll();
}

}  // namespace quire::metadata
