// A ZooKeeper session for the zk:// driver: the zhandle_t of the multithreaded C client, calls
// with a deadline, and recovery from session expiry.
//
// Calls. Each call is one asynchronous request whose completion wakes the caller; the caller
// waits no later than its deadline and then gets ZOPERATIONTIMEOUT (the request may still be
// applied later; the completion, which owns its own state, is then discarded). There are no
// retries here: the store decides what an uncertain answer (ZCONNECTIONLOSS, ZOPERATIONTIMEOUT,
// ZSESSIONEXPIRED, ...) means for each operation (zk_store.cc).
//
// Threads. The C client runs two threads per handle (I/O and completions); completions and the
// watcher run on the completion thread and never block. The session's own thread,
// "md-zk-session", replaces the handle when the session expires: it opens a new one, waits until
// it is connected, swaps it in, and tells the Listener (OnSessionExpired before, OnSessionRestored
// after). Calls in flight on the old handle fail with ZCLOSING or ZSESSIONEXPIRED.
//
// ACLs (zk_acl.h): with credentials every handle adds them before its first request, and Create
// and Multi's creates give new nodes their digest ACL.
//
// Test hooks (MetadataOptions::test_hooks) act on mutating calls: a dropped request is never
// sent; a dropped reply is applied and then reported as ZCONNECTIONLOSS.
#pragma once

#include <zookeeper/zookeeper.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "metadata/kv_backend.h"
#include "metadata/metadata_store.h"
#include "metadata/zk_acl.h"

namespace quire::metadata {

class ZkSession {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    // A watch left by a read of `path` fired. Runs on the C client's completion thread: must
    // neither block nor call the session.
    virtual void OnWatchEvent(const std::string& path) = 0;
    // On md-zk-session: the session expired (its ephemeral znodes and watches are gone).
    virtual void OnSessionExpired() = 0;
    // On md-zk-session: a new session is connected.
    virtual void OnSessionRestored() = 0;
  };

  struct Reply {
    int rc = ZOK;
    std::string data;                   // Get
    Stat stat{};                        // Get, Exists, Set, Create (of the new node)
    std::vector<std::string> children;  // Children
    std::string path;                   // Create: the created path (with a sequence suffix)
  };

  struct MultiOp {
    enum class Kind { kCreate, kDelete };
    Kind kind;
    std::string path;
    std::string data;  // kCreate
    int flags = 0;     // kCreate: ZOO_EPHEMERAL, ...
    int version = -1;  // kDelete
  };

  // Connects to `hosts` ("h:p,h:p"), waiting up to options.operation_timeout, with the ACL
  // credentials `options` lead to (LoadZkCredentials' errors). Expiries are recovered (and the
  // Listener told) once Start() has been called.
  static Result<std::unique_ptr<ZkSession>> Open(const std::string& hosts,
                                                 const MetadataOptions& options,
                                                 Listener* listener);
  // Starts md-zk-session; the Listener must be ready for its calls.
  void Start();
  ~ZkSession();
  ZkSession(const ZkSession&) = delete;
  // Stops md-zk-session (waiting for a Listener call in progress). Calls still work afterwards,
  // but an expiry is no longer recovered. Idempotent; the destructor calls it.
  void Stop();
  ZkSession& operator=(const ZkSession&) = delete;

  Reply Get(const std::string& path, bool watch, Deadline deadline);
  Reply Exists(const std::string& path, bool watch, Deadline deadline);
  Reply Children(const std::string& path, bool watch, Deadline deadline);
  Reply Sync(const std::string& path, Deadline deadline);
  Reply Create(const std::string& path, std::string_view data, int flags, Deadline deadline);
  Reply Set(const std::string& path, std::string_view data, int version, Deadline deadline);
  Reply Delete(const std::string& path, int version, Deadline deadline);
  Reply Multi(const std::vector<MultiOp>& ops, Deadline deadline);
  // Deletes each path (any version) with the requests pipelined; the code of each.
  std::vector<int> DeleteMany(const std::vector<std::string>& paths, Deadline deadline);
  // Deletes without waiting for the answer (cleanup whose failure does not matter).
  void DeleteNoWait(const std::string& path);

  // Waits until the current handle is connected; false if `deadline` passed first.
  bool WaitConnected(Deadline deadline);
  // False once the handle has been disconnected for most of the session timeout: the server may
  // have expired the session by now.
  bool ProbablyAlive() const;

  const std::string& hosts() const { return hosts_; }
  // Of the current handle: session id, its 16-byte password, negotiated timeout.
  int64_t session_id() const;
  std::string session_password() const;
  std::chrono::milliseconds negotiated_timeout() const;

  struct Handle;  // one zhandle_t; public for the C callbacks

 private:
  ZkSession(std::string hosts, const MetadataOptions& options, ZkCredentials credentials,
            Listener* listener);

  std::shared_ptr<Handle> NewHandle();
  std::shared_ptr<Handle> Current() const;
  // handle->state, guarded by its owner's mu_: ours, as every handle is this session's.
  int& StateOf(Handle& handle) const QUIRE_REQUIRES(mu_);
  bool WaitHandleConnected(const std::shared_ptr<Handle>& handle, Deadline deadline)
      QUIRE_EXCLUDES(mu_);
  void OnEvent(Handle* handle, int type, int state, const char* path);
  void SessionLoop();
  InjectedFault BeforeRequest(std::string_view op, const std::string& path) const;
  void AfterDroppedReply(std::string_view op, const std::string& path) const;

  static void Watcher(zhandle_t* zh, int type, int state, const char* path, void* ctx);

  const std::string hosts_;
  const MetadataOptions options_;
  const ZkCredentials credentials_;
  ZkAcl acl_;  // for new nodes; immutable (the C client only reads it)
  Listener* const listener_;

  mutable Mutex mu_;
  CondVar cv_;  // handle state changed, expiry, stop
  std::shared_ptr<Handle> current_ QUIRE_GUARDED_BY(mu_);
  bool expired_ QUIRE_GUARDED_BY(mu_) = false;
  bool stop_ QUIRE_GUARDED_BY(mu_) = false;
  // Zero when connected.
  std::chrono::steady_clock::time_point disconnected_since_ QUIRE_GUARDED_BY(mu_) = {};

  std::thread session_thread_;
};

// A Status for ZooKeeper code `rc` of `op` on `path`.
Status ZkStatus(int rc, std::string_view op, const std::string& path, const std::string& hosts);

// Codes that leave a request's outcome unknown (it may or may not have been applied).
bool ZkUncertain(int rc);

}  // namespace quire::metadata
