// The Quire client library: write and read replicated ledgers.
//
//   auto client = quire::Client::Open({.metadata_uri = "zk://127.0.0.1:2181/quire"});
//   auto writer = (*client)->CreateLedger({.ensemble_size = 3, .write_quorum_size = 3,
//                                           .ack_quorum_size = 2, .password = "secret"});
//   quire::Result<quire::EntryId> id = (*writer)->Append("hello");
//   (*writer)->Close();
//   auto reader = (*client)->OpenLedger((*writer)->id(), "secret");
//   auto entries = (*reader)->Read(0, (*reader)->last_add_confirmed());
//
// The guarantees are those of docs/semantics.md (docs/client.md explains how the library keeps
// them): an append completes OK only once Qa bookies of its write set hold it durably and every
// earlier entry completed; completions come in entry order; a ledger has exactly one writer, and
// once someone else recovers it the old writer's appends fail with StatusCode::kFenced.
//
// Threading. A Client owns a small pool of I/O threads (ClientOptions::io_threads) that talk to
// bookies, and one callback thread ("quire-cb") that runs every application callback, one at a
// time. Completions of one handle run in entry order. A callback may call the library, but
// blocking calls (Append, Close, Read) inside a callback wait for callbacks that cannot run until
// it returns: use the asynchronous forms there. Every method of Client, WriteHandle and
// ReadHandle may be called from any thread. A handle keeps what it needs of its Client alive: the
// client's threads and connections stop when the Client and all its handles are gone.
// Do not drop the last of them inside a callback: the callback thread cannot join itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quire/ledger_metadata.h"
#include "quire/status.h"

namespace quire {

// A copy of an entry that a bookie returned but that failed its digest (or did not match the
// entry asked for). The read goes on with another replica; this is reported so that an operator
// can repair the bookie.
struct BadCopy {
  LedgerId ledger_id = 0;
  EntryId entry_id = 0;
  BookieId bookie_id;
  std::string what;  // e.g. "digest mismatch"
};

struct ClientOptions {
  // Where the metadata lives: zk://host:port[,host:port...]/path or file:///path (docs/metadata.md).
  std::string metadata_uri;
  // Budget of each metadata call, retries included; and the metadata session's timeout.
  std::chrono::milliseconds metadata_timeout{10'000};
  std::chrono::milliseconds metadata_session_timeout{10'000};
  // zk://: the cluster's ZooKeeper ACL credentials, a file of "user:password" lines (the
  // bookies' zkAclCredentialsFile). Empty: $QUIRE_ZK_ACL_CREDENTIALS_FILE, else none. Without
  // them a cluster whose nodes have ACLs refuses this client with kUnauthorized
  // (docs/security.md, "ZooKeeper").
  std::string metadata_credentials_file;

  // Threads that run the bookie connections and timers.
  int io_threads = 1;
  // A request to a bookie that gets no answer within its timeout fails (kTimeout); for an add
  // this counts as the bookie failing, and the writer replaces it (ensemble change).
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds add_timeout{10'000};
  std::chrono::milliseconds read_timeout{10'000};
  // A read that has no answer after this long is also sent to the next replica; the first good
  // answer wins. Once the client has read a few entries it speculates sooner, after 3x the p99
  // of its recent reads (at least 5 ms), so that a hung replica costs milliseconds; this stays the
  // upper bound. Recovery waits this long for answers it could do without (docs/client.md). 0
  // disables speculative reads.
  std::chrono::milliseconds speculative_read_timeout{400};
  // After a connection fails, requests to that bookie fail fast (kUnavailable) until the next
  // reconnect attempt; the wait doubles from min to max while attempts keep failing.
  std::chrono::milliseconds reconnect_backoff_min{100};
  std::chrono::milliseconds reconnect_backoff_max{5'000};

  // Outstanding (sent, not yet completed) appends per WriteHandle. At the bound, Append and
  // AppendAsync block the calling thread until an earlier append completes.
  size_t max_outstanding_adds = 1'000;
  // The bookies' maxFrameSizeBytes (conf/bookie.conf; this default is theirs): the largest request
  // they accept. A bookie closes the connection on a larger one, so an append whose payload is
  // more than this less 256 bytes (the add request's other fields and the entry's header and
  // digest) is refused with kInvalidArgument, naming both sizes, before it gets an entry id; the
  // ledger stays writable. Set it to the bookies' value if they were configured otherwise.
  uint32_t bookie_max_frame_size = 5'242'880;
  // Adds to one bookie wait while this many add requests to it are unanswered, then leave
  // together as one request (Nagle's rule, paced by the bookie's answers; no timer). Under load
  // many adds then cost one frame, one journal write and one answer; an add answered before the
  // next is appended never waits. 0 sends each add at once (docs/client.md, "Connections").
  size_t add_coalescing_window = 1;
  // A writer that has been idle this long sends its LAC to the bookies (explicit LAC) so that
  // readers see its last entries. 0 disables.
  std::chrono::milliseconds explicit_lac_interval{1'000};
  // How long one long poll of a tailing reader waits at a bookie.
  std::chrono::milliseconds long_poll_timeout{5'000};

  // TLS to the bookies (docs/security.md). With use_tls every bookie connection is TLS 1.2 or
  // newer; the bookie's certificate must be signed by a CA of tls_ca_path (PEM bundle, required)
  // and name the host of the bookie id (a DNS subject alt name, or an IP one for an address).
  // tls_certificate_path and tls_key_path (PEM), both or neither, are this client's certificate
  // for bookies with tlsClientAuthentication. A handshake the bookie or the client refuses fails
  // the requests to that bookie with kUnauthenticated and OpenSSL's reason. Bad files make
  // Client::Open fail (kInvalidArgument).
  bool use_tls = false;
  std::string tls_ca_path;
  std::string tls_certificate_path;
  std::string tls_key_path;
  // Certificate rotation: at most this often, a new connection looks whether the three files
  // changed and, if so, uses them (connections already open keep theirs). Files that cannot be
  // used (half written, a key that does not match) are logged and the old ones kept. Zero: the
  // files are read once, by Client::Open. BookKeeper's tlsCertFilesRefreshDurationSeconds.
  std::chrono::seconds tls_files_refresh_interval{300};

  // Recorded in the metadata of ledgers this client creates; empty means "<hostname>:<pid>".
  std::string creator;
  // Called (on the callback thread) for each bad replica a read finds. Also logged.
  std::function<void(const BadCopy&)> on_bad_copy;
};

struct CreateLedgerOptions {
  int ensemble_size = 3;      // E
  int write_quorum_size = 3;  // Qw
  int ack_quorum_size = 2;    // Qa
  DigestType digest_type = DigestType::kCrc32c;
  // Needed to write, recover or (with HMAC) read the ledger. May be empty.
  std::string password;
  std::map<std::string, std::string> custom_metadata;
  // The ensemble to use, in order; empty means the client picks E writable bookies, spreading
  // ledgers over the cluster.
  std::vector<BookieId> bookies;
};

struct Entry {
  EntryId id = kNoEntry;
  std::string payload;
};

// One replica of one entry that is not as it should be (ReadHandle::CheckReplicas).
struct ReplicaProblem {
  EntryId entry_id = kNoEntry;
  BookieId bookie_id;
  StatusCode code = StatusCode::kOk;  // kNoSuchEntry (missing), kCorruption (bad copy), or why
                                      // the bookie could not be asked (kUnavailable, kTimeout)
  std::string what;
};

// A bookie's own report (BOOKIE_INFO).
struct BookieInfo {
  BookieId bookie_id;
  uint64_t total_bytes = 0;  // of its ledger directories
  uint64_t free_bytes = 0;
  bool writable = false;
  std::string read_only_reason;
  // Its admin HTTP port (/metrics, /api/v1/bookie/*) on the host of bookie_id; 0 when the bookie
  // runs without the admin endpoint or is too old to say.
  uint16_t http_port = 0;
};

// What Client::ReplaceBookie copied.
struct CopiedEntries {
  int64_t entries = 0;
  int64_t bytes = 0;  // as stored and sent: each payload with its header and digest
};

// Live bookies as the registry lists them, each list sorted.
struct BookieListing {
  std::vector<BookieId> writable;
  std::vector<BookieId> read_only;
};

// What a tailing reader got: the next entries in order (possibly none), and whether the ledger
// is closed and every entry of it has been returned.
struct TailBatch {
  std::vector<Entry> entries;
  bool end_of_ledger = false;
};

// The one writer of a ledger.
class QUIRE_EXPORT WriteHandle {
 public:
  using AddCallback = std::function<void(Result<EntryId>)>;
  virtual ~WriteHandle() = default;  // does not close the ledger

  virtual LedgerId id() const = 0;
  // The current metadata as this writer knows it (ensemble changes included).
  virtual LedgerMetadata metadata() const = 0;
  // The last entry id acknowledged to the application, or kNoEntry.
  virtual EntryId last_add_confirmed() const = 0;

  // Appends `payload`; `callback` gets its entry id once it is durable on Qa bookies of its write
  // set, or the error that ended the writer (kFenced: someone recovered the ledger;
  // kUnavailable: not enough bookies left; kLedgerClosed: Close was called). Once an append has
  // failed, every later one fails the same way. Blocks while max_outstanding_adds are pending.
  virtual void AppendAsync(std::string payload, AddCallback callback) = 0;
  std::future<Result<EntryId>> AppendAsync(std::string payload);
  // Appends and waits.
  Result<EntryId> Append(std::string payload);
  // Appends each payload in order and waits for all; returns the last entry id.
  Result<EntryId> AppendBatch(std::vector<std::string> payloads);

  // Waits for pending appends, then closes the ledger in the metadata with lastEntryId = the
  // LAC. Fails with kFenced if someone else recovered the ledger to a different end. When it
  // returns, every append's callback has run (unless Close is called from a callback).
  virtual Status Close() = 0;
};

// A reader of a ledger, open or closed.
class QUIRE_EXPORT ReadHandle {
 public:
  virtual ~ReadHandle() = default;

  virtual LedgerId id() const = 0;
  virtual LedgerMetadata metadata() const = 0;
  // True once the ledger is CLOSED (the handle watches the metadata).
  virtual bool closed() const = 0;
  // The highest entry id known to be readable: lastEntryId of a closed ledger, else the highest
  // LAC learned from bookies (see ReadLac). kNoEntry if none.
  virtual EntryId last_add_confirmed() const = 0;

  // Entries first..last, in order. Each entry comes from one replica of its write set, checked
  // against its digest; a slow or failing replica makes the read go on to the next.
  // kInvalidArgument if last > last_add_confirmed(); kNoSuchEntry if no replica has an entry.
  virtual Result<std::vector<Entry>> Read(EntryId first, EntryId last) = 0;
  // Asks the bookies of the last ensemble for the LAC and returns the highest the writer signed
  // (also updates last_add_confirmed()). Answers once every write set has Qw - Qa + 1 answers
  // (one of them holds any acknowledged entry) and the other bookies answered or let a grace of
  // speculative_read_timeout pass, so a hung bookie does not hold it up to read_timeout. For a
  // closed ledger, its lastEntryId.
  virtual Result<EntryId> ReadLac() = 0;
  // Tailing: entries from `next` on (at most `max`), waiting up to `wait` for the writer to
  // confirm more (long polls to the bookies). Loop with next = last returned id + 1 until
  // end_of_ledger.
  virtual Result<TailBatch> ReadNext(EntryId next, size_t max, std::chrono::milliseconds wait) = 0;

  // Reads entries first..last from every bookie of their write sets (not just one) and returns
  // each copy that is missing or bad. Empty means every replica is present and intact. kUnavailable
  // only if the metadata cannot be read; an unreachable bookie is reported as a problem.
  virtual Result<std::vector<ReplicaProblem>> CheckReplicas(EntryId first, EntryId last) = 0;
};

class QUIRE_EXPORT Client {
 public:
  static Result<std::unique_ptr<Client>> Open(const ClientOptions& options);
  virtual ~Client() = default;

  // Creates a ledger (new id, metadata OPEN) and returns its writer.
  virtual Result<std::unique_ptr<WriteHandle>> CreateLedger(const CreateLedgerOptions& options) = 0;
  // Creates a ledger without becoming its writer (`quire ledger create`): the first
  // OpenLedgerForWriting of it does.
  virtual Result<LedgerId> CreateEmptyLedger(const CreateLedgerOptions& options) = 0;
  // Becomes the writer of a ledger made by CreateEmptyLedger that has no writer yet. The claim is
  // a compare-and-set in the metadata (custom key "quire.writer"), so at most one process ever
  // gets it. kAlreadyExists if the ledger has a writer; kLedgerClosed if it is not OPEN;
  // kFailedPrecondition if a bookie holds entries of it (asked like ReadLac: a hung bookie
  // costs a grace, not read_timeout).
  virtual Result<std::unique_ptr<WriteHandle>> OpenLedgerForWriting(LedgerId id,
                                                                    std::string_view password) = 0;
  // Opens a ledger for reading without disturbing its writer. kUnauthorized for a wrong
  // password.
  virtual Result<std::unique_ptr<ReadHandle>> OpenLedger(LedgerId id, std::string_view password) = 0;
  // Opens a ledger for reading as an operator's tool does (`quire ledger check`): with the keys
  // its metadata keeps (LedgerMetadata::master_key) instead of its password. kUnauthorized for a
  // ledger whose metadata keeps none (written before they were kept); open it with its password.
  virtual Result<std::unique_ptr<ReadHandle>> OpenLedgerForRepair(LedgerId id) = 0;
  // Opens a ledger that may still have a writer, making sure it has none: fences it, finds the
  // last entry that may have been acknowledged, re-replicates the tail and closes it
  // (docs/semantics.md, "Fencing and recovery"). A closed ledger is just opened. Fails (and may be
  // retried) when too many bookies are unreachable to decide.
  virtual Result<std::unique_ptr<ReadHandle>> RecoverLedger(LedgerId id,
                                                            std::string_view password) = 0;
  // Removes the ledger's metadata. Bookies give its space back in their next garbage-collection
  // pass (every gcWaitTime, default 10 minutes; entry logs shared with live ledgers at their next
  // compaction), or at once with `quire bookie gc` (docs/operations.md, "Space reclamation").
  virtual Status DeleteLedger(LedgerId id) = 0;
  // Up to `max` ledger ids >= `from`, ascending; page by calling again from the last + 1.
  virtual Result<std::vector<LedgerId>> ListLedgers(LedgerId from, size_t max) = 0;
  virtual Result<LedgerMetadata> ReadLedgerMetadata(LedgerId id) = 0;

  // Moves every copy that `bookie` holds (or should hold) of a CLOSED ledger to other writable
  // bookies: each entry whose write set includes it is read from another replica, written to a
  // replacement chosen per ensemble, and the ensembles are updated by compare-and-set. Returns
  // how many entries (and bytes) were copied. kFailedPrecondition for an open ledger (its
  // writer, or a recovery, owns its ensembles); kUnavailable if no replacement or no good copy is available.
  // No password is needed when the metadata keeps the ledger's keys (LedgerMetadata::master_key);
  // `password`, when given, is checked; for older records it must be the ledger's.
  virtual Result<CopiedEntries> ReplaceBookie(LedgerId id, const BookieId& bookie,
                                              std::string_view password) = 0;

  // The registered bookies, and one bookie's own report of its disks and state.
  virtual Result<BookieListing> ListBookies() = 0;
  virtual Result<BookieInfo> GetBookieInfo(const BookieId& bookie) = 0;

  // This client's metrics since Open(), in the Prometheus text format (version 0.0.4), for the
  // application to append to what its own /metrics endpoint serves: appends and entry reads by
  // status with their latency, ensemble changes, speculative reads, bad copies. Every name
  // starts with quire_client_ (docs/client.md, "Metrics"). Two clients in one process export the
  // same names: serve one client's.
  virtual std::string MetricsText() const = 0;
};

// The custom-metadata key that names a ledger's writer (set by CreateLedger and
// OpenLedgerForWriting). Keys starting with "quire." are reserved.
inline constexpr const char* kWriterMetadataKey = "quire.writer";

}  // namespace quire
