// A real Quire cluster for client tests: a metadata service (an embedded file:// store, or a real
// ZooKeeper server) and N real quire-bookie processes on free loopback ports, each with its own
// directories under one TempDir (kept with QUIRE_KEEP_TEST_DATA=1 for a post-mortem).
//
//   auto cluster = TestCluster::Start({.metadata = ClusterOptions::Metadata::kZooKeeper});
//   ClientOptions options{.metadata_uri = (*cluster)->metadata_uri()};
//   ...
//   (*cluster)->Kill(1);      // SIGKILL: its registration lingers until its session expires
//   (*cluster)->Restart(1);   // same port, same directories
//
// Bookies are addressed by index, 0..size()-1, in the order they were started; an index stays
// valid for the life of the cluster (a killed or stopped bookie keeps its index and can be
// restarted). Every process is stopped by the destructor (SIGKILL), ZooKeeper after the bookies.
//
// Not thread-safe: call from the test's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bookie/bookie_process.h"
#include "quire/ledger_metadata.h"
#include "quire/status.h"
#include "util/temp_dir.h"
#include "util/zookeeper_server.h"

namespace quire::client::testing {

struct ClusterOptions {
  enum class Metadata { kFile, kZooKeeper };
  Metadata metadata = Metadata::kFile;
  int bookies = 3;
  // "key = value" settings (conf/bookie.conf) for every bookie, over the harness's defaults
  // (bookie_process.cc's, plus a short shutdown drain).
  std::vector<std::string> bookie_settings;
};

class TestCluster {
 public:
  // Starts the metadata service, initialises the cluster and starts `options.bookies` bookies,
  // each ready (registered and serving) when this returns.
  static Result<std::unique_ptr<TestCluster>> Start(const ClusterOptions& options);
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  // file:///<dir>/metadata or zk://127.0.0.1:<port>/quire.
  const std::string& metadata_uri() const { return metadata_uri_; }
  // The ZooKeeper server (for Stop/Pause/ExpireSession), or nullptr with file:// metadata.
  quire::testing::ZookeeperServer* zookeeper() { return zookeeper_.get(); }
  // The cluster's directory: metadata/ (file://) and bookie-<i>/.
  const std::string& dir() const { return dir_.path(); }

  // Bookies ever started (running or not).
  int size() const { return static_cast<int>(bookies_.size()); }
  // "127.0.0.1:<port>" of each bookie, by index; ids do not change across restarts.
  std::vector<BookieId> bookie_ids() const;
  BookieId bookie_id(int i) const { return bookie(i).bookie_id(); }
  // The index of a bookie id, or -1.
  int IndexOf(const BookieId& bookie_id) const;
  bookie::testing::BookieProcess& bookie(int i);
  const bookie::testing::BookieProcess& bookie(int i) const;
  // Bookie i's root directory: journal in <root>/journal, ledgers in <root>/ledgers.
  std::string root(int i) const;

  // SIGKILL bookie i (no flush: its write cache is lost, the journal replays at restart).
  // Returns the wait status. Its registration lingers in the metadata until its session (2 s in
  // tests) expires.
  int Kill(int i);
  // SIGTERM bookie i and wait (bounded) for a clean exit: flushes, checkpoints, unregisters.
  // Returns the wait status (0 for a clean exit).
  int Stop(int i);
  // Starts bookie i again (after Kill or Stop; a running one is killed first) on the same ports
  // and directories. After a Kill, start-up waits up to 1.5 session timeouts for the old
  // registration to expire.
  Status Restart(int i);
  // Starts one more bookie (with `extra_settings` over the cluster's); returns its index.
  Result<int> AddBookie(const std::vector<std::string>& extra_settings = {});

 private:
  explicit TestCluster(const ClusterOptions& options);

  ClusterOptions options_;
  // Destroyed in reverse order: bookies, then ZooKeeper, then the directory.
  quire::testing::TempDir dir_;
  std::unique_ptr<quire::testing::ZookeeperServer> zookeeper_;
  std::string metadata_uri_;
  std::vector<std::unique_ptr<bookie::testing::BookieProcess>> bookies_;
};

// How CorruptEntry damages the stored copy.
enum class CorruptionKind {
  // The entry log record's own CRC is recomputed: the bookie serves the damaged body as a good
  // one (READ_ENTRY answers OK); only the client's digest check can notice.
  kSilent,
  // The record CRC is left as it was: the bookie's read check fails and READ_ENTRY answers
  // CORRUPTION (naming the log file and offset).
  kDetectedByBookie,
};

// Flips one byte (the last one) of the stored body of (ledger, entry) on a STOPPED bookie whose
// root directory is `bookie_root` (the layout of BookieProcess: entry logs in
// <root>/ledgers/current/*.log). It scans the entry logs record by record, without the index,
// and damages every copy it finds (a re-added entry may have several; the index points to one).
//
// The bookie must have been stopped cleanly (TestCluster::Stop: its write cache is flushed to the
// entry logs and its journal checkpointed, so a restart neither replays the entry into the write
// cache nor reads it from anywhere but the damaged record). After a Kill the entry may be only in
// the journal: then kNotFound. kFailedPrecondition if the bookie is running (its directory lock
// is held); kNotFound if no entry log holds the entry; kCorruption if a log cannot be parsed.
Status CorruptEntry(const std::string& bookie_root, LedgerId ledger, EntryId entry,
                    CorruptionKind kind = CorruptionKind::kSilent);

// The entry ids bookie `bookie_id` ("127.0.0.1:<port>") stores for the ledger, ascending
// (LIST_ENTRIES over the wire protocol; kNoSuchLedger if the bookie never saw the ledger).
Result<std::vector<int64_t>> ListEntriesOn(const std::string& bookie_id, LedgerId ledger);

}  // namespace quire::client::testing
