// The zk:// driver: the metadata store on ZooKeeper (docs/metadata.md, "ZooKeeper driver").
//
// Layout under the root (default /quire), layout version 1:
//   cluster                              ClusterRecord; its presence means "initialised"
//   idgen/epoch-NNNNNNNNNN               ledger-id epochs; ids come from sequential children
//   ledgers/ddd/dddd/dddd/dddd/Ldddd     LedgerMetadataRecord (layout.h)
//   bookies/writable/<id>, bookies/readonly/<id>   ephemeral RegistrationRecord
//   cookies/<id>                         CookieRecord
//   underreplicated/ddd/.../Ldddd        UnderReplicatedRecord
//   locks/<name>                         ephemeral LockRecord
//
// Connection loss. A mutation whose answer is lost (ZCONNECTIONLOSS, a deadline, a session
// expiry) is resolved before the caller hears anything: the driver waits for a connection,
// syncs, re-reads the znode and compares it with what it wrote. Applied: success. Not applied:
// the request is sent again. Changed by someone else: kBadVersion (or kAlreadyExists for a
// create). Only when the deadline passes first is the answer kTimeout/kUnavailable.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "metadata/metadata_store.h"
#include "metadata/watch_executor.h"
#include "metadata/zk_session.h"

namespace quire::metadata {

Result<std::unique_ptr<MetadataStore>> OpenZkMetadataStore(const std::string& uri,
                                                           const std::string& hosts,
                                                           const std::string& root,
                                                           const MetadataOptions& options);

class ZkMetadataStore final : public MetadataStore, private ZkSession::Listener {
 public:
  static Result<std::unique_ptr<ZkMetadataStore>> Open(const std::string& uri,
                                                       const std::string& hosts,
                                                       const std::string& root,
                                                       const MetadataOptions& options);
  ~ZkMetadataStore() override;

  const std::string& uri() const override { return uri_; }

  Result<ClusterInfo> InitCluster() override;
  Result<ClusterInfo> GetClusterInfo() override;
  Status Nuke(bool force) override;

  Result<LedgerId> AllocateLedgerId() override;

  Result<Version> CreateLedger(LedgerId id, const LedgerMetadata& metadata) override;
  Result<Versioned<LedgerMetadata>> ReadLedger(LedgerId id) override;
  Result<Version> UpdateLedger(LedgerId id, const LedgerMetadata& metadata,
                               Version expected) override;
  Status DeleteLedger(LedgerId id, Version expected) override;
  Result<std::vector<LedgerId>> ListLedgers(LedgerId from, size_t max) override;
  Result<std::unique_ptr<Watch>> WatchLedger(LedgerId id, LedgerWatchFn callback) override;

  Result<std::unique_ptr<BookieRegistration>> RegisterBookie(
      const BookieId& bookie_id, BookieMode mode, const std::string& takeover_key) override;
  Result<BookieList> ListBookies() override;
  Result<std::vector<RegisteredBookie>> ListRegistrations() override;
  Result<std::unique_ptr<Watch>> WatchBookies(BookieWatchFn callback) override;

  Result<Versioned<Cookie>> ReadCookie(const BookieId& bookie_id) override;
  Result<Version> WriteCookie(const Cookie& cookie, Version expected) override;
  Status DeleteCookie(const BookieId& bookie_id, Version expected) override;
  Result<std::vector<BookieId>> ListCookies() override;
  Result<Versioned<AutoRecoveryState>> ReadAutoRecovery() override;
  Result<Version> WriteAutoRecovery(const AutoRecoveryState& state, Version expected) override;

  Status MarkUnderReplicated(LedgerId ledger, const BookieId& lost_bookie) override;
  Result<std::vector<UnderReplicatedLedger>> ListUnderReplicated(LedgerId from,
                                                                 size_t max) override;
  Status ClearUnderReplicated(LedgerId ledger) override;

  Result<std::unique_ptr<OwnershipLock>> TryLock(const std::string& name, const std::string& owner,
                                                 std::function<void()> on_lost) override;
  Result<std::optional<std::string>> LockOwner(const std::string& name) override;

  // For the handles (store_handles.h).
  Status SetRegistrationMode(const BookieId& bookie_id, BookieMode mode);
  void Unregister(const BookieId& bookie_id);
  void ReleaseLock(const std::string& name, uint64_t token);
  // The session is the lease: a handle cut off from ZooKeeper for most of the session timeout
  // may already have lost it on the server, before it can hear so.
  bool LeaseHeld() const { return session_->ProbablyAlive(); }

  // For tests that force an expiry (tests/util/zookeeper_server.h).
  int64_t session_id() const { return session_->session_id(); }
  std::string session_password() const { return session_->session_password(); }
  const std::string& root() const { return root_; }

 private:
  ZkMetadataStore(std::string uri, std::string root, MetadataOptions options);

  // ZkSession::Listener
  void OnWatchEvent(const std::string& path) override;
  void OnSessionExpired() override;
  void OnSessionRestored() override;

  Deadline NewDeadline() const;
  std::string Path(std::string_view relative) const;
  std::string LedgerPath(LedgerId id) const;
  std::string RegistrationPath(const BookieId& id, BookieMode mode) const;
  Status NotInitialised() const;
  Status Error(int rc, std::string_view op, const std::string& path) const;

  // Retries a read until it has a definite answer or the deadline passes.
  ZkSession::Reply ReadRetrying(std::string_view op, const std::string& path, Deadline deadline,
                                const std::function<ZkSession::Reply()>& attempt);
  // Waits for a connection before a retry (bounded by the deadline) and calls the test hook.
  void PauseBeforeRetry(std::string_view op, const std::string& path, int rc, int attempt,
                        Deadline deadline);
  // After the uncertain answer `rc` to the mutation `op` of `path`: the node as the ensemble
  // holds it now (its data too when `data`), read after a pause (counted in `attempt`) and a
  // sync so that a write of ours that applied shows; the read is retried (ReadRetrying) while
  // it is uncertain too. kTimeout/kUnavailable (the outcome unknown) when the deadline passes
  // first.
  Result<ZkSession::Reply> ReadAfterUncertain(std::string_view op, const std::string& path, int rc,
                                              int& attempt, Deadline deadline, bool data = true);

  // Mutations with definite outcomes (see the file comment). Codes: kNotFound (no such znode or
  // parent), kAlreadyExists, kBadVersion, kTimeout/kUnavailable (deadline passed, outcome
  // unknown), others from ZkStatus.
  Result<Version> CreateNode(const std::string& path, std::string_view data, int flags,
                             Deadline deadline);
  Result<Version> SetNode(const std::string& path, std::string_view data, Version expected,
                          Deadline deadline);
  Status DeleteNode(const std::string& path, Version expected, Deadline deadline);
  // Creates `path` and, if its parent is missing, the parents below `top` (which must exist).
  Result<Version> CreateWithParents(const std::string& top, const std::string& path,
                                    std::string_view data, Deadline deadline);
  // Persistent, empty, ZNODEEXISTS is fine.
  Status EnsureNode(const std::string& path, Deadline deadline);
  Result<std::vector<std::string>> ChildrenOf(const std::string& path, bool watch,
                                              Deadline deadline);

  Result<Versioned<LedgerMetadata>> ReadLedgerImpl(LedgerId id, bool watch);
  Result<BookieList> ListBookiesImpl(bool watch);
  Result<int64_t> CurrentEpoch(Deadline deadline);
  struct RegState {
    BookieMode mode;
    std::string takeover_key;
  };
  // Creates the registration znode of `bookie_id` for this session (RegisterBookie's contract:
  // one of another session is removed first if it carries reg.takeover_key, else
  // kAlreadyExists).
  Status RegisterLocked(const BookieId& bookie_id, const RegState& reg, Deadline deadline)
      QUIRE_REQUIRES(mu_);
  // Before (re)creating a registration: removes `path` if it is ours (`ours_goes`) or carries
  // `takeover_key`; kAlreadyExists if another session holds it.
  Status ClearRegistrationPath(const BookieId& bookie_id, const std::string& path, bool ours_goes,
                               const std::string& takeover_key, Deadline deadline);
  Status DeleteTree(const std::string& path, Deadline deadline);

  const std::string uri_;
  const std::string root_;
  const MetadataOptions options_;
  const std::string owner_;  // host:pid
  const int64_t ids_per_epoch_;
  std::unique_ptr<ZkSession> session_;
  std::atomic<int64_t> epoch_{-1};  // id-generator epoch in use; -1 until read

  struct LockState {
    uint64_t token;
    std::shared_ptr<std::atomic<bool>> held;
    std::function<void()> on_lost;
  };
  Mutex mu_;
  std::map<BookieId, RegState> registrations_ QUIRE_GUARDED_BY(mu_);
  std::map<std::string, LockState> locks_ QUIRE_GUARDED_BY(mu_);
  uint64_t next_lock_token_ QUIRE_GUARDED_BY(mu_) = 1;

  WatchExecutor watches_;
};

}  // namespace quire::metadata
