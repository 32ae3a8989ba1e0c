#include "metadata/zk_session.h"

#include <cstring>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/logging.h"
#include "common/check.h"
#include "common/mutex.h"

namespace quire::metadata {

// One zhandle_t. The watcher context points here, so that events from a handle that has been
// replaced are recognised and ignored. Closing happens in the destructor, when the last call
// using the handle has dropped its reference; never on a C client thread.
struct ZkSession::Handle {
  ZkSession* owner = nullptr;
  zhandle_t* zh = nullptr;
  int state QUIRE_GUARDED_BY(owner->mu_) = 0;  // last ZOO_*_STATE seen (StateOf)

  ~Handle() {
    if (zh != nullptr) zookeeper_close(zh);
  }
};

namespace {

using Clock = std::chrono::steady_clock;

// The state a completion fills in. Shared between the waiting caller and the completion, so that
// a caller that gave up (deadline) leaves it to the completion to free.
struct Call {
  Mutex mu;
  CondVar cv;
  bool done QUIRE_GUARDED_BY(mu) = false;
  ZkSession::Reply reply QUIRE_GUARDED_BY(mu);
  // Multi: the request and its results must outlive the call.
  std::vector<zoo_op_t> ops;
  std::vector<zoo_op_result_t> results;
  std::vector<ZkSession::MultiOp> op_storage;

  void Finish(int rc) {
    MutexLock lock(mu);
    reply.rc = rc;
    done = true;
    cv.NotifyAll();
  }
  // False if the deadline passed first.
  bool Wait(Deadline deadline) {
    MutexLock lock(mu);
    return cv.WaitUntil(mu, deadline, [&]() QUIRE_REQUIRES(mu) { return done; });
  }
};

using CallPtr = std::shared_ptr<Call>;

// The `data` pointer handed to the C client: owns a reference to the call until the completion.
const void* Ctx(const CallPtr& call) { return new CallPtr(call); }
CallPtr TakeCtx(const void* data) {
  auto* holder = static_cast<CallPtr*>(const_cast<void*>(data));
  CallPtr call = std::move(*holder);
  delete holder;
  return call;
}
void DropCtx(const void* data) { TakeCtx(data); }

void DataCompletion(int rc, const char* value, int len, const Stat* stat, const void* data) {
  CallPtr call = TakeCtx(data);
  {
    MutexLock lock(call->mu);
    if (rc == ZOK && value != nullptr && len > 0) {
      call->reply.data.assign(value, static_cast<size_t>(len));
    }
    if (rc == ZOK && stat != nullptr) call->reply.stat = *stat;
  }
  call->Finish(rc);
}

void StatCompletion(int rc, const Stat* stat, const void* data) {
  CallPtr call = TakeCtx(data);
  {
    MutexLock lock(call->mu);
    if (rc == ZOK && stat != nullptr) call->reply.stat = *stat;
  }
  call->Finish(rc);
}

void StringsCompletion(int rc, const String_vector* strings, const void* data) {
  CallPtr call = TakeCtx(data);
  {
    MutexLock lock(call->mu);
    if (rc == ZOK && strings != nullptr) {
      for (int32_t i = 0; i < strings->count; ++i)
        call->reply.children.emplace_back(strings->data[i]);
    }
  }
  call->Finish(rc);
}

void StringStatCompletion(int rc, const char* value, const Stat* stat, const void* data) {
  CallPtr call = TakeCtx(data);
  {
    MutexLock lock(call->mu);
    if (rc == ZOK && value != nullptr) call->reply.path = value;
    if (rc == ZOK && stat != nullptr) call->reply.stat = *stat;
  }
  call->Finish(rc);
}

void VoidCompletion(int rc, const void* data) { TakeCtx(data)->Finish(rc); }

void SyncCompletion(int rc, const char*, const void* data) { TakeCtx(data)->Finish(rc); }

void LogFromClient(const char* message) { spdlog::debug("zookeeper client: {}", message); }

std::string_view StateName(int state) {
  if (state == ZOO_CONNECTED_STATE) return "connected";
  if (state == ZOO_CONNECTING_STATE) return "connecting";
  if (state == ZOO_ASSOCIATING_STATE) return "associating";
  if (state == ZOO_EXPIRED_SESSION_STATE) return "expired";
  if (state == ZOO_AUTH_FAILED_STATE) return "auth-failed";
  if (state == ZOO_NOTCONNECTED_STATE) return "not-connected";
  return "unknown";
}

// Runs a request: `submit` queues it with the completion's data pointer. Waits until `deadline`.
template <typename Submit>
ZkSession::Reply Run(const std::shared_ptr<ZkSession::Handle>& handle, Deadline deadline,
                     Submit submit) {
  if (!handle) return ZkSession::Reply{ZINVALIDSTATE};
  CallPtr call = std::make_shared<Call>();
  const void* ctx = Ctx(call);
  int rc = submit(handle->zh, ctx);
  if (rc != ZOK) {
    // Not queued: the completion will not run.
    DropCtx(ctx);
    return ZkSession::Reply{rc};
  }
  if (!call->Wait(deadline)) return ZkSession::Reply{ZOPERATIONTIMEOUT};
  MutexLock lock(call->mu);
  return std::move(call->reply);
}

}  // namespace

bool ZkUncertain(int rc) {
  return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT || rc == ZSESSIONEXPIRED ||
         rc == ZINVALIDSTATE || rc == ZSESSIONMOVED || rc == ZCLOSING || rc == ZTHROTTLEDOP;
}

Status ZkStatus(int rc, std::string_view op, const std::string& path, const std::string& hosts) {
  std::string msg = fmt::format("ZooKeeper {}: {} {}: {}", hosts, op, path, zerror(rc));
  switch (rc) {
    case ZOK:
      return Status::Ok();
    case ZNONODE:
      return NotFound(std::move(msg));
    case ZNODEEXISTS:
      return Status(StatusCode::kAlreadyExists, std::move(msg));
    case ZBADVERSION:
      return Status(StatusCode::kBadVersion, std::move(msg));
    case ZNOTEMPTY:
      return FailedPrecondition(std::move(msg));
    case ZNOAUTH:
    case ZAUTHFAILED:
      return Status(StatusCode::kUnauthorized,
                    msg + " (the node's ACL does not admit this session: give the cluster's "
                          "ZooKeeper credentials with zkAclCredentialsFile, "
                          "ClientOptions::metadata_credentials_file or "
                          "QUIRE_ZK_ACL_CREDENTIALS_FILE; docs/security.md)");
    case ZOPERATIONTIMEOUT:
      return Status(StatusCode::kTimeout, std::move(msg));
    case ZCONNECTIONLOSS:
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZSESSIONMOVED:
    case ZCLOSING:
    case ZTHROTTLEDOP:
      return Status(StatusCode::kUnavailable, std::move(msg));
    default:
      return Internal(std::move(msg));
  }
}

ZkSession::ZkSession(std::string hosts, const MetadataOptions& options,
                     ZkCredentials credentials, Listener* listener)
    : hosts_(std::move(hosts)),
      options_(options),
      credentials_(std::move(credentials)),
      acl_(credentials_),
      listener_(listener) {}

Result<std::unique_ptr<ZkSession>> ZkSession::Open(const std::string& hosts,
                                                   const MetadataOptions& options,
                                                   Listener* listener) {
  static std::once_flag quiet;
  // The client logs every failed connect at WARN to stderr by default; ours go to spdlog.
  std::call_once(quiet, [] { zoo_set_debug_level(ZOO_LOG_LEVEL_WARN); });
  QUIRE_ASSIGN_OR_RETURN(ZkCredentials credentials, LoadZkCredentials(options));
  std::unique_ptr<ZkSession> session(
      new ZkSession(hosts, options, std::move(credentials), listener));
  std::shared_ptr<Handle> handle = session->NewHandle();
  if (!handle) {
    return Status(StatusCode::kUnavailable,
                  fmt::format("ZooKeeper {}: cannot create a client handle: {}", hosts,
                              std::strerror(errno)));
  }
  if (!session->WaitHandleConnected(handle, Clock::now() + options.operation_timeout)) {
    return Status(StatusCode::kUnavailable, fmt::format("ZooKeeper {}: no connection within {} ms",
                                                        hosts, options.operation_timeout.count()));
  }
  {
    MutexLock lock(session->mu_);
    session->current_ = std::move(handle);
  }
  spdlog::info("ZooKeeper {}: connected, session {:#x}, timeout {} ms{}", hosts,
               session->session_id(), session->negotiated_timeout().count(),
               session->credentials_.empty()
                   ? std::string()
                   : fmt::format(", digest ACLs for {} identities from {}",
                                 session->credentials_.ids.size(), session->credentials_.file));
  return session;
}

void ZkSession::Start() {
  QUIRE_CHECK(!session_thread_.joinable());
  session_thread_ = std::thread([this] { SessionLoop(); });
}

void ZkSession::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.NotifyAll();
  if (session_thread_.joinable()) session_thread_.join();
}

ZkSession::~ZkSession() {
  Stop();
  std::shared_ptr<Handle> last;
  {
    MutexLock lock(mu_);
    last = std::move(current_);
  }
  last.reset();  // closes the session (outside mu_: closing joins the thread that takes it)
}

std::shared_ptr<ZkSession::Handle> ZkSession::NewHandle() {
  auto handle = std::make_shared<Handle>();
  handle->owner = this;
  handle->zh = zookeeper_init2(hosts_.c_str(), &ZkSession::Watcher,
                               static_cast<int>(options_.session_timeout.count()), nullptr,
                               handle.get(), 0, &LogFromClient);
  if (handle->zh == nullptr) return nullptr;
  // Queued before the first request and sent again on every reconnection by the C client. A
  // digest is not checked when added: a wrong password shows as ZNOAUTH on the nodes it guards.
  for (const std::string& auth : credentials_.auths) {
    zoo_add_auth(handle->zh, "digest", auth.data(), static_cast<int>(auth.size()), nullptr,
                 nullptr);
  }
  return handle;
}

std::shared_ptr<ZkSession::Handle> ZkSession::Current() const {
  MutexLock lock(mu_);
  return current_;
}

int& ZkSession::StateOf(Handle& handle) const {
  handle.owner->mu_.AssertHeld();  // it is mu_: NewHandle makes every handle's owner this
  return handle.state;
}

void ZkSession::Watcher(zhandle_t*, int type, int state, const char* path, void* ctx) {
  auto* handle = static_cast<Handle*>(ctx);
  handle->owner->OnEvent(handle, type, state, path);
}

void ZkSession::OnEvent(Handle* handle, int type, int state, const char* path) {
  if (type == ZOO_SESSION_EVENT) {
    MutexLock lock(mu_);
    int previous = StateOf(*handle);
    StateOf(*handle) = state;
    bool current = current_.get() == handle;
    if (current && state != previous) {
      if (state == ZOO_CONNECTED_STATE) {
        if (disconnected_since_ != Clock::time_point{}) {
          spdlog::info("ZooKeeper {}: reconnected", hosts_);
        }
        disconnected_since_ = Clock::time_point{};
      } else if (previous == ZOO_CONNECTED_STATE) {
        spdlog::warn("ZooKeeper {}: connection lost ({}); reconnecting", hosts_, StateName(state));
        disconnected_since_ = Clock::now();
      }
      if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
        expired_ = true;
      }
    }
    cv_.NotifyAll();
    return;
  }
  if (type == ZOO_NOTWATCHING_EVENT || path == nullptr) return;
  {
    MutexLock lock(mu_);
    if (current_.get() != handle) return;
  }
  listener_->OnWatchEvent(path);
}

bool ZkSession::WaitHandleConnected(const std::shared_ptr<Handle>& handle, Deadline deadline) {
  MutexLock lock(mu_);
  return cv_.WaitUntil(mu_, deadline, [&]() QUIRE_REQUIRES(mu_) {
    return stop_ || StateOf(*handle) == ZOO_CONNECTED_STATE;
  }) && StateOf(*handle) == ZOO_CONNECTED_STATE;
}

bool ZkSession::WaitConnected(Deadline deadline) {
  MutexLock lock(mu_);
  return cv_.WaitUntil(mu_, deadline,
                       [&]() QUIRE_REQUIRES(mu_) {
                         return stop_ || (current_ && StateOf(*current_) == ZOO_CONNECTED_STATE);
                       }) &&
         current_ && StateOf(*current_) == ZOO_CONNECTED_STATE;
}

bool ZkSession::ProbablyAlive() const {
  MutexLock lock(mu_);
  if (expired_ || !current_) return false;
  if (disconnected_since_ == Clock::time_point{}) return true;
  auto timeout = std::chrono::milliseconds(zoo_recv_timeout(current_->zh));
  return Clock::now() - disconnected_since_ < timeout * 2 / 3;
}

int64_t ZkSession::session_id() const {
  auto h = Current();
  return h ? zoo_client_id(h->zh)->client_id : 0;
}

std::string ZkSession::session_password() const {
  auto h = Current();
  if (!h) return {};
  const clientid_t* id = zoo_client_id(h->zh);
  return std::string(id->passwd, sizeof(id->passwd));
}

std::chrono::milliseconds ZkSession::negotiated_timeout() const {
  auto h = Current();
  return std::chrono::milliseconds(h ? zoo_recv_timeout(h->zh) : 0);
}

void ZkSession::SessionLoop() {
  SetThreadName("md-zk-session");
  MutexLock lock(mu_);
  while (true) {
    cv_.Wait(mu_, [&]() QUIRE_REQUIRES(mu_) { return stop_ || expired_; });
    if (stop_) return;
    spdlog::warn("ZooKeeper {}: session {:#x} expired; opening a new one", hosts_,
                 current_ ? zoo_client_id(current_->zh)->client_id : 0);
    lock.Unlock();
    listener_->OnSessionExpired();
    std::shared_ptr<Handle> fresh;
    while (true) {
      {
        MutexLock check(mu_);
        if (stop_) return;
      }
      fresh = NewHandle();
      if (fresh && WaitHandleConnected(fresh, Clock::now() + options_.session_timeout)) break;
      fresh.reset();
      spdlog::warn("ZooKeeper {}: no new session yet; retrying", hosts_);
      MutexLock pause(mu_);
      cv_.WaitFor(mu_, std::chrono::milliseconds(200), [&]() QUIRE_REQUIRES(mu_) { return stop_; });
    }
    std::shared_ptr<Handle> old;
    lock.Lock();
    old = std::move(current_);
    current_ = std::move(fresh);
    expired_ = false;
    disconnected_since_ = Clock::time_point{};
    cv_.NotifyAll();
    lock.Unlock();
    old.reset();  // closes the expired handle; its pending calls complete with ZCLOSING
    spdlog::info("ZooKeeper {}: new session {:#x}", hosts_, session_id());
    listener_->OnSessionRestored();
    lock.Lock();
  }
}

InjectedFault ZkSession::BeforeRequest(std::string_view op, const std::string& path) const {
  if (!options_.test_hooks.before_request) return InjectedFault::kNone;
  return options_.test_hooks.before_request(FaultPoint{op, path});
}

void ZkSession::AfterDroppedReply(std::string_view op, const std::string& path) const {
  if (options_.test_hooks.after_dropped_reply) {
    options_.test_hooks.after_dropped_reply(FaultPoint{op, path});
  }
}

ZkSession::Reply ZkSession::Get(const std::string& path, bool watch, Deadline deadline) {
  return Run(Current(), deadline, [&](zhandle_t* zh, const void* ctx) {
    return zoo_aget(zh, path.c_str(), watch ? 1 : 0, &DataCompletion, ctx);
  });
}

ZkSession::Reply ZkSession::Exists(const std::string& path, bool watch, Deadline deadline) {
  return Run(Current(), deadline, [&](zhandle_t* zh, const void* ctx) {
    return zoo_aexists(zh, path.c_str(), watch ? 1 : 0, &StatCompletion, ctx);
  });
}

ZkSession::Reply ZkSession::Children(const std::string& path, bool watch, Deadline deadline) {
  return Run(Current(), deadline, [&](zhandle_t* zh, const void* ctx) {
    return zoo_aget_children(zh, path.c_str(), watch ? 1 : 0, &StringsCompletion, ctx);
  });
}

ZkSession::Reply ZkSession::Sync(const std::string& path, Deadline deadline) {
  return Run(Current(), deadline, [&](zhandle_t* zh, const void* ctx) {
    return zoo_async(zh, path.c_str(), &SyncCompletion, ctx);
  });
}

ZkSession::Reply ZkSession::Create(const std::string& path, std::string_view data, int flags,
                                   Deadline deadline) {
  InjectedFault fault = BeforeRequest("create", path);
  if (fault == InjectedFault::kDropRequest) return Reply{ZCONNECTIONLOSS};
  Reply r = Run(Current(), deadline, [&](zhandle_t* zh, const void* ctx) {
    return zoo_acreate2(zh, path.c_str(), data.data(), static_cast<int>(data.size()),
                        acl_.get(), flags, &StringStatCompletion, ctx);
  });
  if (fault == InjectedFault::kDropReply) {
    AfterDroppedReply("create", path);
    return Reply{ZCONNECTIONLOSS};
  }
  return r;
}

ZkSession::Reply ZkSession::Set(const std::string& path, std::string_view data, int version,
                                Deadline deadline) {
  InjectedFault fault = BeforeRequest("set", path);
  if (fault == InjectedFault::kDropRequest) return Reply{ZCONNECTIONLOSS};
  Reply r = Run(Current(), deadline, [&](zhandle_t* zh, const void* ctx) {
    return zoo_aset(zh, path.c_str(), data.data(), static_cast<int>(data.size()), version,
                    &StatCompletion, ctx);
  });
  if (fault == InjectedFault::kDropReply) {
    AfterDroppedReply("set", path);
    return Reply{ZCONNECTIONLOSS};
  }
  return r;
}

ZkSession::Reply ZkSession::Delete(const std::string& path, int version, Deadline deadline) {
  InjectedFault fault = BeforeRequest("delete", path);
  if (fault == InjectedFault::kDropRequest) return Reply{ZCONNECTIONLOSS};
  Reply r = Run(Current(), deadline, [&](zhandle_t* zh, const void* ctx) {
    return zoo_adelete(zh, path.c_str(), version, &VoidCompletion, ctx);
  });
  if (fault == InjectedFault::kDropReply) {
    AfterDroppedReply("delete", path);
    return Reply{ZCONNECTIONLOSS};
  }
  return r;
}

ZkSession::Reply ZkSession::Multi(const std::vector<MultiOp>& ops, Deadline deadline) {
  const std::string& first = ops.empty() ? hosts_ : ops.front().path;
  InjectedFault fault = BeforeRequest("multi", first);
  if (fault == InjectedFault::kDropRequest) return Reply{ZCONNECTIONLOSS};
  std::shared_ptr<Handle> handle = Current();
  if (!handle) return Reply{ZINVALIDSTATE};
  CallPtr call = std::make_shared<Call>();
  call->op_storage = ops;
  call->ops.resize(ops.size());
  call->results.resize(ops.size());
  for (size_t i = 0; i < ops.size(); ++i) {
    const MultiOp& op = call->op_storage[i];
    if (op.kind == MultiOp::Kind::kCreate) {
      zoo_create_op_init(&call->ops[i], op.path.c_str(), op.data.data(),
                         static_cast<int>(op.data.size()), acl_.get(), op.flags, nullptr, 0);
    } else {
      zoo_delete_op_init(&call->ops[i], op.path.c_str(), op.version);
    }
  }
  const void* ctx = Ctx(call);
  int rc = zoo_amulti(handle->zh, static_cast<int>(ops.size()), call->ops.data(),
                      call->results.data(), &VoidCompletion, ctx);
  Reply r;
  if (rc != ZOK) {
    DropCtx(ctx);
    r.rc = rc;
  } else if (!call->Wait(deadline)) {
    r.rc = ZOPERATIONTIMEOUT;
  } else {
    MutexLock lock(call->mu);
    r = std::move(call->reply);
  }
  if (fault == InjectedFault::kDropReply) {
    AfterDroppedReply("multi", first);
    return Reply{ZCONNECTIONLOSS};
  }
  return r;
}

std::vector<int> ZkSession::DeleteMany(const std::vector<std::string>& paths, Deadline deadline) {
  std::vector<int> codes(paths.size(), ZINVALIDSTATE);
  std::shared_ptr<Handle> handle = Current();
  if (!handle) return codes;
  std::vector<CallPtr> calls(paths.size());
  for (size_t i = 0; i < paths.size(); ++i) {
    CallPtr call = std::make_shared<Call>();
    const void* ctx = Ctx(call);
    codes[i] = zoo_adelete(handle->zh, paths[i].c_str(), -1, &VoidCompletion, ctx);
    if (codes[i] != ZOK) {
      DropCtx(ctx);
      continue;
    }
    calls[i] = std::move(call);
  }
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!calls[i]) continue;
    if (!calls[i]->Wait(deadline)) {
      codes[i] = ZOPERATIONTIMEOUT;
      continue;
    }
    MutexLock lock(calls[i]->mu);
    codes[i] = calls[i]->reply.rc;
  }
  return codes;
}

void ZkSession::DeleteNoWait(const std::string& path) {
  std::shared_ptr<Handle> handle = Current();
  if (!handle) return;
  const void* ctx = Ctx(std::make_shared<Call>());
  if (zoo_adelete(handle->zh, path.c_str(), -1, &VoidCompletion, ctx) != ZOK) DropCtx(ctx);
}

}  // namespace quire::metadata
