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
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

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

  // For the handles.
  Status SetRegistrationMode(const BookieId& bookie_id, BookieMode mode);
  void Unregister(const BookieId& bookie_id);
  void ReleaseLock(const std::string& name, uint64_t token);
  bool LeaseValid() const { return NowMillis() < lease_expiry_ms_.load(); }

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

  // Sessions (mu_ held).
  Result<std::string> EnsureSessionLocked(Deadline deadline);
  Status RestoreLocked(Deadline deadline);
  void ExpireLocked(std::string_view reason);
  // kAlive, or kDead once the session's record is gone (reaping it by CAS if its lease lapsed).
  Result<Liveness> ReapIfDead(const std::string& session_id, Deadline deadline);
  // Alive without reaping, for listings; `cache` avoids re-reading a session.
  bool LooksAlive(const std::string& session_id, std::map<std::string, bool>* cache);
  void LeaseLoop();
  void CollectDeadSessions();

  // Writes bookies/<id> for this session, taking it over from a dead session, or from one whose
  // record carries `takeover_key` (RegisterBookie), if needed. kAlreadyExists (with the holder)
  // if another live session holds it.
  Result<Version> ClaimRegistrationLocked(const BookieId& bookie_id, BookieMode mode,
                                          const std::string& takeover_key, Deadline deadline);

  std::string RecordMissing(std::string_view what, std::string_view key) const;

  const std::string uri_;
  const std::unique_ptr<KvBackend> kv_;
  const MetadataOptions options_;
  const std::string owner_;  // host:pid

  std::mutex mu_;  // guards everything below; held across backend writes of these records
  std::condition_variable lease_cv_;
  std::optional<Session> session_;
  bool restore_pending_ = false;  // a new session could not be fully restored yet
  std::map<BookieId, RegState> registrations_;
  std::map<std::string, LockState> locks_;
  uint64_t next_lock_token_ = 1;
  bool stop_ = false;
  bool lease_paused_ = false;
  std::atomic<int64_t> lease_expiry_ms_{0};

  std::thread lease_thread_;
  WatchExecutor watches_;  // last: stopped first
};

}  // namespace quire::metadata
