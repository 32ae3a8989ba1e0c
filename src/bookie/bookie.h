// A running bookie: storage engine + network server + registration + admin HTTP.
//
// Start-up, in order (each step's failure stops the start with a message saying what to do):
//  1. listen on bookiePort (finds a port in use first; with port 0, fixes the bookie id);
//  2. read the cluster's instance id from the metadata store;
//  3. check the bookie's identity: the cookie in its directories and the one in the metadata
//     store must agree (docs/semantics.md: a wiped disk must not answer "no such entry"); a
//     new bookie writes its cookie to the metadata store first;
//  4. open the storage engine: lock the directories, replay the journals;
//  5. register in the metadata store (writable, or read-only if the disks are full or an operator
//     made it read-only), taking over at once a registration its previous process left
//     (RegistrationTakeoverKey: after kill -9 it does not wait for that session to expire);
//  6. accept connections; start the admin HTTP server and the disk monitor.
// Stop(): stop accepting, answer long polls, wait (shutdownDrainTimeoutMs) for requests in
// flight, close connections, flush and checkpoint storage, deregister.
//
// Read-only mode: the disk monitor (every diskCheckIntervalMs) turns the bookie read-only when a
// ledger directory's disk is fuller than diskUsageThreshold or a flush is held back by a full
// disk (storage_engine.h), and writable again once flushes succeed and usage is below
// diskUsageLwmThreshold; a storage I/O error makes it read-only for good. An operator can also make
// it read-only (PUT /api/v1/bookie/state/readonly), until they lift it, across restarts
// (bookie_status.h, read_only_format.h). Each change moves the registration between the writable
// and read-only lists.
//
// Health (admin HTTP): /health/live answers 200 while the process serves, read-only or not;
// /health/ready answers 200 only when the bookie is writable and registered as writable.
//
// Garbage collection (storage/garbage_collector.h) runs from step 6 on, against the metadata
// store; TriggerGc() asks for a pass now (admin HTTP PUT /api/v1/bookie/gc).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "bookie/bookie_config.h"
#include "bookie/bookie_status.h"
#include "bookie/request_processor.h"
#include "bookie/server.h"
#include "common/io_context_pool.h"
#include "common/mutex.h"
#include "metadata/metadata_store.h"
#include "storage/garbage_collector.h"
#include "storage/storage_engine.h"

namespace quire::autorecovery {
class AutoRecovery;
}

namespace quire::bookie {

class AdminHttpServer;

class Bookie {
 public:
  static Result<std::unique_ptr<Bookie>> Start(BookieOptions options);
  ~Bookie();
  Bookie(const Bookie&) = delete;
  Bookie& operator=(const Bookie&) = delete;

  // Graceful shutdown (see above). Idempotent.
  void Stop();

  const std::string& bookie_id() const { return options_.bookie_id; }
  uint16_t port() const;
  uint16_t http_port() const;
  const BookieStatus& status() const { return status_; }
  // True if the network threads run a task posted to them within `timeout`: what the systemd
  // watchdog is fed on (systemd_notify.h). Call only between Start() and Stop().
  bool Responsive(std::chrono::milliseconds timeout);

  // For /metrics and tests.
  std::string MetricsText();

  // Garbage collection: asks for a pass now (see GarbageCollector::Trigger) and reports on them.
  // kFailedPrecondition while the bookie is starting or stopping.
  Result<uint64_t> TriggerGc(storage::CompactionKind compaction);
  Result<storage::GcStatus> GcStatus();

 private:
  explicit Bookie(BookieOptions options);
  Status Init();
  Status CheckIdentity(const std::string& instance_id);
  // The garbage collector; kFailedPrecondition while the bookie is starting or stopping.
  Result<storage::GarbageCollector*> Gc();
  // The admin endpoint and what it calls (bookie_admin.cc).
  Status StartHttp();
  void StartAutoRecovery();
  bool Ready(std::string* reason) const;
  nlohmann::json ReadOnlyJson() const;
  Result<nlohmann::json> SetManualReadOnly(bool on);
  void LoadManualReadOnly();  // at start-up, from the flag on disk
  struct DiskSpace {
    uint64_t total_bytes = 0;
    uint64_t free_bytes = 0;
  };
  DiskSpace LedgerDiskSpace() const;  // summed over the ledger directories

  void CheckDisksAndHealth();
  void MonitorLoop();
  void ApplyMode();
  // registered_writable_ from registration_.
  void NoteRegisteredModeLocked() QUIRE_REQUIRES(registration_mu_);

  BookieOptions options_;
  std::unique_ptr<FileSystem> fs_;
  std::unique_ptr<metadata::MetadataStore> metadata_;
  std::unique_ptr<storage::StorageEngine> engine_;
  std::unique_ptr<storage::LedgerCatalog> catalog_;
  std::unique_ptr<storage::GarbageCollector> gc_;
  BookieStatus status_;

  IoContextPool io_;  // "q-io-N": the connections, numIoThreads of them
  std::unique_ptr<BookieServer> server_;
  std::unique_ptr<RequestProcessor> processor_;

  Mutex registration_mu_;
  std::unique_ptr<metadata::BookieRegistration> registration_ QUIRE_GUARDED_BY(registration_mu_);
  // Whether the metadata store lists the bookie as writable, for /health/ready without waiting
  // for registration_mu_ (held across metadata calls). Set after each registration change.
  std::atomic<bool> registered_writable_{false};
  Mutex manual_mu_;  // serializes manual read-only changes (flag on disk, then state)

  // Autorecovery (autoRecoveryDaemonEnabled), from step 6 on; under autorecovery_mu_ because
  // the /metrics handler reads it while Init() and Stop() set it.
  Mutex autorecovery_mu_;
  std::unique_ptr<autorecovery::AutoRecovery> autorecovery_ QUIRE_GUARDED_BY(autorecovery_mu_);
  std::unique_ptr<AdminHttpServer> http_;
  std::atomic<uint16_t> http_port_{0};  // read by the admin handlers while Init() runs
  // Set once the bookie serves and is registered; until then the admin endpoint answers
  // "starting" and touches nothing that Init() is still building.
  std::atomic<bool> ready_{false};

  Mutex monitor_mu_;
  CondVar monitor_cv_;
  bool stopping_ QUIRE_GUARDED_BY(monitor_mu_) = false;
  std::thread monitor_;
  bool stopped_ = false;
};

}  // namespace quire::bookie
