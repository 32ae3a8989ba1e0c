// The MetadataStore of the file:// and mem:// drivers, built on a KvBackend.
//
// Sessions are leases (docs/metadata.md, "Sessions and leases"): a store that needs one (to
// register a bookie or take a lock) writes sessions/<id> with an expiry time and a thread,
// "md-lease", renews it every session_timeout/3. Registrations and locks name their session and
// count only while its lease is unexpired, so they vanish when the process dies or hangs.
//
// Taking over a record from a session that looks expired first deletes that session's record by
// compare-and-set; the owner renews by compare-and-set too. Of "owner renews just in time" and
// "someone takes over", exactly one wins, and an owner whose renewal fails knows it has lost its
// session.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "metadata/kv_backend.h"
#include "metadata/metadata_store.h"
#include "metadata/watch_executor.h"

namespace quire::metadata {

class KvMetadataStore final : public MetadataStore {
 public:
  KvMetadataStore(std::string uri, std::unique_ptr<KvBackend> backend, MetadataOptions options);
  ~KvMetadataStore() override;

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
  bool LeaseHeld() const { return NowMillis() < lease_expiry_ms_.load(); }

  // Test-only: stops renewing the lease, as a hung process would.
  void PauseLeaseRenewalForTesting(bool paused);

 private:
  struct Session {
    std::string id;
    Version version = 0;
    int64_t expiry_ms = 0;
  };
  struct RegState {
    BookieMode mode;
    Version version;
    std::string takeover_key;
  };
  struct LockState {
    std::string owner;
    Version version;
    uint64_t token;  // tells this holding apart from a later one of the same name
    std::shared_ptr<std::atomic<bool>> held;
    std::function<void()> on_lost;
  };
  // What a record's owning session looks like to another process.
  enum class Liveness { kAlive, kDead };

  static int64_t NowMillis();
  Deadline NewDeadline() const;
  Status NotInitialised() const;

  // Sessions.
  Result<std::string> EnsureSessionLocked(Deadline deadline) QUIRE_REQUIRES(mu_);
  Status RestoreLocked(Deadline deadline) QUIRE_REQUIRES(mu_);
  void ExpireLocked(std::string_view reason) QUIRE_REQUIRES(mu_);
  // kAlive, or kDead once the session's record is gone (reaping it by CAS if its lease lapsed).
  Result<Liveness> ReapIfDead(const std::string& session_id, Deadline deadline)
      QUIRE_REQUIRES(mu_);
  // Alive without reaping, for listings; `cache` avoids re-reading a session.
  bool LooksAlive(const std::string& session_id, std::map<std::string, bool>* cache);
  void LeaseLoop();
  void CollectDeadSessions();

  // Writes bookies/<id> for this session, taking it over from a dead session, or from one whose
  // record carries `takeover_key` (RegisterBookie), if needed. kAlreadyExists (with the holder)
  // if another live session holds it.
  Result<Version> ClaimRegistrationLocked(const BookieId& bookie_id, BookieMode mode,
                                          const std::string& takeover_key, Deadline deadline)
      QUIRE_REQUIRES(mu_);

  std::string RecordMissing(std::string_view what, std::string_view key) const;

  const std::string uri_;
  const std::unique_ptr<KvBackend> kv_;
  const MetadataOptions options_;
  const std::string owner_;  // host:pid

  Mutex mu_;  // held across backend writes of the records below
  CondVar lease_cv_;
  std::optional<Session> session_ QUIRE_GUARDED_BY(mu_);
  // A new session could not be fully restored yet.
  bool restore_pending_ QUIRE_GUARDED_BY(mu_) = false;
  std::map<BookieId, RegState> registrations_ QUIRE_GUARDED_BY(mu_);
  std::map<std::string, LockState> locks_ QUIRE_GUARDED_BY(mu_);
  uint64_t next_lock_token_ QUIRE_GUARDED_BY(mu_) = 1;
  bool stop_ QUIRE_GUARDED_BY(mu_) = false;
  bool lease_paused_ QUIRE_GUARDED_BY(mu_) = false;
  // The lease's expiry (0: no session): written under mu_, read without it (LeaseHeld).
  std::atomic<int64_t> lease_expiry_ms_{0};

  std::thread lease_thread_;
  WatchExecutor watches_;  // last: stopped first
};

}  // namespace quire::metadata
