// The metadata service: where bookies, clients and tools keep the state they share.
//
// A MetadataStore holds the cluster record (instance id, layout version), the ledger id counter,
// one record per ledger, the bookie registry, bookie cookies, under-replication markers and named
// single-owner locks. It is opened by URI (docs/metadata.md has the details of each driver):
//
//   zk://host:port[,host:port...]/path   ZooKeeper, for clusters (path defaults to /quire)
//   file:///absolute/path                the embedded store: one machine, no server needed;
//                                        several processes on that machine may share it
//   mem://name                           in-process only, for tests; every store opened with the
//                                        same name in one process shares the same data
//
// Contract, common to every driver (tests/metadata/conformance_test.cc checks it on each):
//
//  * Thread safety. Every method may be called from any thread, concurrently.
//  * Blocking with a deadline. Every call returns within MetadataOptions::operation_timeout
//    (plus the time of one last local I/O); transient failures (lost connection, busy lock) are
//    retried inside that budget.
//  * Definite outcomes. An OK means the change is durable in the service. An error other than
//    kTimeout/kUnavailable means it was not applied. kTimeout and kUnavailable on a mutation are
//    the only "unknown outcome" answers: the caller must re-read before deciding. In particular
//    a lost connection is never turned into a silent double apply, nor into a false kBadVersion
//    for a write that did apply: the ZooKeeper driver re-reads and compares (docs/metadata.md).
//  * Versions. Each record has a version, 0 when created and +1 on each update. Updates and
//    deletes take the version the caller read (compare-and-set).
//  * Errors, by code:
//      kNoSuchLedger       the ledger has no metadata (never created, or deleted)
//      kNotFound           another named record (cookie, lock, marker) does not exist
//      kAlreadyExists      create of something that exists; a bookie id or lock held by another
//                          live session
//      kBadVersion         compare-and-set lost: the record's version is not the one given
//      kCorruption         a stored record failed validation (bad bytes, or a format version
//                          newer than this build); the message names the record and where it is
//      kFailedPrecondition the cluster is not initialised (run InitCluster), or Nuke refused
//      kInvalidArgument    the caller passed something malformed (bad id, invalid metadata)
//      kTimeout            the service did not answer in time; outcome of a mutation unknown
//      kUnavailable        the service could not be reached; outcome of a mutation unknown
//      kAborted            the store is shutting down
//      kIOError            the file store's disk failed
//  * Sessions. A store has a session with the service: ZooKeeper's session, or for file:// and
//    mem:// a lease renewed every session_timeout/3 by a store thread. Bookie registrations
//    and locks are bound to it: they vanish when the process dies or stops renewing (hangs)
//    for longer than session_timeout. When a store finds that its session expired, it opens a
//    new one, re-creates its registrations, marks its locks lost, re-arms its watches, and
//    reports it through MetadataOptions::on_session_event.
//  * Callbacks (watches, lock loss, session events) run on one thread the store owns, named
//    "md-watch", one at a time. They may call the store. A slow callback delays the others.
//  * Handles (watches, registrations, locks) must be destroyed before the store.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/mutex.h"
#include "quire/ledger_metadata.h"
#include "quire/status.h"

namespace quire {
class FileSystem;
}

namespace quire::metadata {

using Version = int64_t;
// For WriteCookie: create the record; fails with kAlreadyExists if it exists.
inline constexpr Version kNewRecord = -1;
// For deletes: whatever the current version is.
inline constexpr Version kAnyVersion = -2;

template <typename T>
struct Versioned {
  T value;
  Version version = 0;
};

struct ClusterInfo {
  std::string instance_id;  // random, fixed when the cluster was initialised
  uint32_t layout_version = 0;
  int64_t creation_time_ms = 0;
  std::string service_uri;  // the URI the store was opened with
};

enum class BookieMode { kWritable, kReadOnly };
std::string_view BookieModeName(BookieMode mode);  // "writable", "read-only"

// Live bookies, each list sorted.
struct BookieList {
  std::vector<BookieId> writable;
  std::vector<BookieId> read_only;
  friend bool operator==(const BookieList&, const BookieList&) = default;
};

// A live bookie as its registration record describes it.
struct RegisteredBookie {
  BookieId bookie_id;
  BookieMode mode = BookieMode::kWritable;
  std::string version;  // its Quire version; empty when it is older than the record's field
  std::string owner;    // "host:pid"
  friend bool operator==(const RegisteredBookie&, const RegisteredBookie&) = default;
};

// A bookie's identity, kept both in the metadata store and in each of its directories
// (docs/semantics.md): a bookie whose directories do not match refuses to start.
struct Cookie {
  BookieId bookie_id;
  std::string instance_id;
  std::vector<std::string> journal_dirs;
  std::vector<std::string> ledger_dirs;
  std::vector<std::string> index_dirs;
  int64_t creation_time_ms = 0;
  friend bool operator==(const Cookie&, const Cookie&) = default;
};

struct UnderReplicatedLedger {
  LedgerId ledger_id = 0;
  std::vector<BookieId> lost_bookies;  // sorted
  int64_t marked_time_ms = 0;
};

// A bookie with a cookie (formatted into the cluster, not decommissioned) but no registration.
struct MissingBookie {
  BookieId bookie_id;
  int64_t missing_since_ms = 0;  // Unix time, ms
  friend bool operator==(const MissingBookie&, const MissingBookie&) = default;
};

// Autorecovery's cluster-wide record (docs/autorecovery.md): the operator's switch and what the
// auditor last saw.
struct AutoRecoveryState {
  bool enabled = true;
  std::vector<MissingBookie> missing_bookies;  // sorted by id
  int64_t audit_time_ms = 0;                   // when the auditor last wrote missing_bookies
  std::string auditor;                         // the auditor that wrote them
  int64_t last_check_time_ms = 0;              // when the last periodic replica check ended
  friend bool operator==(const AutoRecoveryState&, const AutoRecoveryState&) = default;
};

enum class SessionEventKind {
  kExpired,   // the session expired: registrations vanished meanwhile, locks are lost
  kRestored,  // a new session is up and registrations were re-created (status says if all were)
};
struct SessionEvent {
  SessionEventKind kind;
  Status status;
};

// Test-only fault injection at the boundary between a driver and its service (ZooKeeper).
enum class InjectedFault {
  kNone,
  kDropRequest,  // act as if the connection dropped before the request was sent
  kDropReply,    // send the request, let it apply, then act as if the reply was lost
};
struct FaultPoint {
  std::string_view op;    // "create", "set", "delete", "multi"
  std::string_view path;  // the znode
};
struct TestHooks {
  // Called before each mutating request.
  std::function<InjectedFault(const FaultPoint&)> before_request;
  // Called when a dropped reply's request has been applied, before the loss is reported: a test
  // can change the record here to race the driver's re-read.
  std::function<void(const FaultPoint&)> after_dropped_reply;
  // Called each time a request is retried after an uncertain outcome, with the ZooKeeper code.
  std::function<void(const FaultPoint&, int zk_code)> on_retry;
  // ZooKeeper: ids per id-generator epoch (docs/metadata.md); 0 means the default, 2^31 - 2^20.
  int64_t zk_ids_per_epoch = 0;
};

struct MetadataOptions {
  // Budget of each call, retries included.
  std::chrono::milliseconds operation_timeout{10'000};
  // ZooKeeper session timeout (negotiated by the server, which clamps it to its own bounds), or
  // the lease of a file:// or mem:// session. Registrations and locks of a dead or hung process
  // vanish after about this long.
  std::chrono::milliseconds session_timeout{10'000};
  // file:// and mem://: how often watches re-read what they watch.
  std::chrono::milliseconds watch_poll_interval{100};
  // Called on the md-watch thread when the session expires and when a new one is restored.
  std::function<void(const SessionEvent&)> on_session_event;
  // zk://: a file of "user:password" lines; the session authenticates with them and creates
  // nodes with a digest ACL for them. Empty: $QUIRE_ZK_ACL_CREDENTIALS_FILE, else none
  // (metadata/zk_acl.h, docs/security.md).
  std::string zk_acl_credentials_file;
  // file://: the file system to use; null means DefaultFileSystem(). Not owned.
  FileSystem* file_system = nullptr;
  TestHooks test_hooks;
};

// Configuration keys for programs that open a store: metadataServiceUri and the options above
// (metadataOperationTimeoutMs, metadataSessionTimeoutMs, metadataWatchPollIntervalMs,
// zkAclCredentialsFile).
const ConfigSchema& MetadataConfigSchema();
MetadataOptions MetadataOptionsFromConfig(const Config& config);

// A handle on a watch; destroying it cancels the watch. Once the destructor returns, the
// callback is not running and will not be called again (unless the destructor runs inside the
// callback itself, which is allowed).
class Watch {
 public:
  virtual ~Watch() = default;
};

// Called with the ledger's metadata when the watch is set and after each change. Changes may be
// coalesced (the callback sees the latest version, not necessarily each one) but never missed:
// after a change the callback is eventually called with that version or a newer one.
// kNoSuchLedger means the ledger was deleted (or never existed): the last call of the watch.
// kCorruption is reported once per corrupt version.
using LedgerWatchFn = std::function<void(const Result<Versioned<LedgerMetadata>>&)>;
// Called with the live bookies when the watch is set and after each change (coalesced likewise).
using BookieWatchFn = std::function<void(const BookieList&)>;

// A bookie's registration, bound to the store's session. Destroying it unregisters.
class BookieRegistration {
 public:
  virtual ~BookieRegistration() = default;
  virtual const BookieId& bookie_id() const = 0;
  virtual BookieMode mode() const = 0;
  // Moves the registration between the writable and read-only lists (atomically: a reader never
  // sees the bookie in both or neither).
  virtual Status SetMode(BookieMode mode) = 0;
};

// A named lock held by at most one live session. Destroying it releases it.
class OwnershipLock {
 public:
  virtual ~OwnershipLock() = default;
  // False once the lock is lost (the session expired); the holder must stop acting as owner.
  virtual bool held() const = 0;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // The URI the store was opened with.
  virtual const std::string& uri() const = 0;

  // --- Cluster ---
  // Creates the layout and a random instance id. Running it again (or concurrently) is harmless:
  // it returns the existing cluster's info.
  virtual Result<ClusterInfo> InitCluster() = 0;
  // kFailedPrecondition if the cluster is not initialised.
  virtual Result<ClusterInfo> GetClusterInfo() = 0;
  // Deletes everything. Refused (kFailedPrecondition, naming them) while bookies are registered,
  // unless `force`. Not atomic with concurrent registrations: an operator action on a stopped
  // cluster.
  virtual Status Nuke(bool force) = 0;

  // --- Ledger ids ---
  // A fresh ledger id, never returned before by any store on this service (any process), and
  // larger than every id this store returned before.
  virtual Result<LedgerId> AllocateLedgerId() = 0;

  // --- Ledger metadata ---
  // Creates the ledger's record (version 0). kAlreadyExists if the id has metadata.
  // kInvalidArgument if `metadata` fails Validate().
  virtual Result<Version> CreateLedger(LedgerId id, const LedgerMetadata& metadata) = 0;
  virtual Result<Versioned<LedgerMetadata>> ReadLedger(LedgerId id) = 0;
  // Replaces the record if its version is still `expected`; returns the new version.
  // kBadVersion if it changed, kNoSuchLedger if it was deleted.
  virtual Result<Version> UpdateLedger(LedgerId id, const LedgerMetadata& metadata,
                                       Version expected) = 0;
  // kBadVersion if `expected` is not kAnyVersion and differs; kNoSuchLedger if absent.
  virtual Status DeleteLedger(LedgerId id, Version expected) = 0;
  // Up to `max` ledger ids >= `from`, ascending. Iterate by calling again from last + 1 until a
  // page comes back empty. A ledger that exists during the whole iteration is returned exactly
  // once; one created or deleted meanwhile may or may not be.
  virtual Result<std::vector<LedgerId>> ListLedgers(LedgerId from, size_t max) = 0;
  virtual Result<std::unique_ptr<Watch>> WatchLedger(LedgerId id, LedgerWatchFn callback) = 0;

  // --- Bookie registry ---
  // Registers `bookie_id` in `mode` for as long as the returned handle lives and the session
  // lasts. kAlreadyExists at once if this store already holds the id.
  //
  // If the id is registered by another session:
  //  * whose record carries the same non-empty `takeover_key`, the registration is replaced at
  //    once, though that session may not have expired yet. The key is the caller's proof that
  //    the process that registered is gone: only a process that holds what the key names can
  //    present it. A bookie's key names its host and its directories, whose locks it holds while
  //    it runs (Bookie::Init), so a process presenting it is the only one using them, and a
  //    registration with it was left by a previous process of the same bookie, now dead (e.g.
  //    killed by SIGKILL). The replaced session keeps its other records until it expires.
  //  * otherwise (another key, or none: possibly another live bookie configured with the same
  //    id), waits up to 1.5 x session_timeout for that registration to expire, then
  //    kAlreadyExists naming the holder.
  // The key is stored with the registration and kept when it is restored after an expiry or
  // moved by SetMode.
  virtual Result<std::unique_ptr<BookieRegistration>> RegisterBookie(
      const BookieId& bookie_id, BookieMode mode, const std::string& takeover_key) = 0;
  virtual Result<BookieList> ListBookies() = 0;
  // The live bookies with what their registration records say, sorted by id. Reads every record
  // (ListBookies may not): for operators, not for hot paths.
  virtual Result<std::vector<RegisteredBookie>> ListRegistrations() = 0;
  virtual Result<std::unique_ptr<Watch>> WatchBookies(BookieWatchFn callback) = 0;

  // --- Cookies (persistent, one per bookie id) ---
  // kNotFound if the bookie has none.
  virtual Result<Versioned<Cookie>> ReadCookie(const BookieId& bookie_id) = 0;
  // Creates (expected == kNewRecord) or replaces (expected == the version read) the cookie of
  // cookie.bookie_id; returns the new version. kAlreadyExists, kBadVersion, kNotFound.
  virtual Result<Version> WriteCookie(const Cookie& cookie, Version expected) = 0;
  virtual Status DeleteCookie(const BookieId& bookie_id, Version expected) = 0;
  // The ids of every bookie that has a cookie, sorted: the bookies the cluster expects to see.
  virtual Result<std::vector<BookieId>> ListCookies() = 0;

  // --- Autorecovery record (one per cluster) ---
  // The defaults at version kNewRecord when it was never written.
  virtual Result<Versioned<AutoRecoveryState>> ReadAutoRecovery() = 0;
  // Creates (expected == kNewRecord) or replaces (expected == the version read) the record;
  // kBadVersion (or kAlreadyExists) when it changed since it was read.
  virtual Result<Version> WriteAutoRecovery(const AutoRecoveryState& state, Version expected) = 0;

  // --- Under-replication markers ---
  // Records that `ledger` lost its replica on `lost_bookie` (adds to the set; idempotent).
  virtual Status MarkUnderReplicated(LedgerId ledger, const BookieId& lost_bookie) = 0;
  // Up to `max` markers for ledgers >= `from`, ascending (paged like ListLedgers).
  virtual Result<std::vector<UnderReplicatedLedger>> ListUnderReplicated(LedgerId from,
                                                                         size_t max) = 0;
  // Removes the marker; OK if there is none.
  virtual Status ClearUnderReplicated(LedgerId ledger) = 0;

  // --- Single-owner locks (with a lease: the session) ---
  // Takes lock `name` for `owner` (free text) or fails with kAlreadyExists naming the holder.
  // `on_lost`, if set, is called on the md-watch thread when the lock is lost to a session
  // expiry.
  virtual Result<std::unique_ptr<OwnershipLock>> TryLock(const std::string& name,
                                                         const std::string& owner,
                                                         std::function<void()> on_lost) = 0;
  // The owner of lock `name`, or nullopt if free.
  virtual Result<std::optional<std::string>> LockOwner(const std::string& name) = 0;
};

// For a file:// URI, the directory of the store (which OpenMetadataStore creates if it does not
// exist); nullopt for other URIs. kInvalidArgument for a malformed file:// URI.
Result<std::optional<std::string>> FileStoreRoot(const std::string& uri);

// Opens the store named by `uri`. Does not require the cluster to be initialised.
// kInvalidArgument for a malformed URI, kUnavailable if the service cannot be reached in
// operation_timeout.
Result<std::unique_ptr<MetadataStore>> OpenMetadataStore(const std::string& uri,
                                                         const MetadataOptions& options);

// The drivers' RegisterBookie around their own claim of the registration. Under `mu`: fails
// with kAlreadyExists if `held_here()` (this store holds the id already), else calls `claim`.
// While `claim` answers kAlreadyExists (another live session holds the id), calls it again after
// a pause, for up to 1.5 x session_timeout (or operation_timeout if longer): a registration left
// by a killed process without a matching takeover key lasts until its session expires. `mu` is
// released in the pauses; the functions run with it held (their lambdas say QUIRE_REQUIRES).
Status ClaimWhileHeldElsewhere(const MetadataOptions& options, const BookieId& bookie_id,
                               Mutex& mu, const std::function<bool()>& held_here,
                               const std::function<Status()>& claim) QUIRE_EXCLUDES(mu);

// Calls `fn` for every ledger id, in ascending order, reading pages of `page_size`.
Status ForEachLedger(MetadataStore& store, const std::function<Status(LedgerId)>& fn,
                     size_t page_size = 10'000);

// Bookie ids and lock names become znode and file names: 1..255 characters of [A-Za-z0-9._:-],
// not starting with '.'.
Status ValidateName(std::string_view what, std::string_view name);

}  // namespace quire::metadata
