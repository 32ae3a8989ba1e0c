// Autorecovery's options and configuration keys (docs/autorecovery.md), apart from the service
// (autorecovery.h) so that the bookie's configuration does not pull the whole client in.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/config.h"
#include "quire/client.h"

namespace quire::autorecovery {

inline constexpr std::string_view kAuditorLock = "auditor";

struct AutoRecoveryOptions {
  // lostBookieRecoveryDelay: how long a bookie must be missing before its ledgers are marked.
  std::chrono::milliseconds lost_bookie_delay{0};
  // auditorPeriodicCheckInterval: the replica check of every closed ledger; 0 turns it off.
  std::chrono::milliseconds periodic_check_interval{std::chrono::hours(24 * 7)};
  // openLedgerRereplicationGracePeriod: an open ledger whose LAC has not moved for this long has
  // lost its writer and is recovered before it is replicated.
  std::chrono::milliseconds open_ledger_grace{30'000};
  // rereplicationEntryBatchSize and replicationRateByBytes (bytes/s; <= 0: unlimited).
  size_t batch_entries = 64;
  int64_t rate_bytes_per_second = 10 << 20;
  // How often the worker looks for marked ledgers and the auditor re-reads the registrations
  // (it also wakes on every registration change).
  std::chrono::milliseconds poll_interval{1'000};
  // While bookies are lost, how often the auditor walks the ledgers again to mark any it missed
  // (a marker cleared by a worker that raced a new loss, a ledger closed since).
  std::chrono::milliseconds rescan_interval{60'000};
  // Run the worker (true) or only take part in the auditor election (false).
  bool worker = true;
  // Who this process is, for the lock owners and logs ("bookie 10.0.0.1:3181" or "host:pid").
  std::string name;
  // How to reach the bookies and the metadata store (TLS included).
  ClientOptions client;
};

// autoRecoveryDaemonEnabled and the keys above, for bookie.conf and `quire autorecovery run`.
const ConfigSchema& AutoRecoveryConfigSchema();
// The options of a checked configuration (client.metadata_uri from metadataServiceUri).
AutoRecoveryOptions AutoRecoveryOptionsFromConfig(const Config& config);

}  // namespace quire::autorecovery
