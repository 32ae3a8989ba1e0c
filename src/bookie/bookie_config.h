// The configuration of quire-bookie: the bookie's own keys, the storage keys
// (storage/storage_options.h) and the metadata keys (metadata/metadata_store.h), one schema.
// conf/bookie.conf documents every key; tests/bookie/bookie_config_test.cc keeps them in step.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "autorecovery/options.h"
#include "bookie/http/admin_http_auth.h"
#include "bookie/request_processor.h"
#include "bookie/server.h"
#include "common/config.h"
#include "common/logging.h"
#include "metadata/metadata_store.h"
#include "storage/storage_options.h"

namespace quire::bookie {

struct BookieOptions {
  std::string bookie_id;  // advertisedAddress:bookiePort
  std::string metadata_uri;
  metadata::MetadataOptions metadata;
  storage::StorageOptions storage;
  IoBackend io_backend = IoBackend::kSyscalls;
  ServerOptions server;
  size_t io_threads = 2;
  RequestProcessorOptions processor;
  bool http_enabled = true;
  std::string http_address = "0.0.0.0";
  uint16_t http_port = 8080;
  // httpServerAuthTokenFile's token (read at start), tlsClientAuthentication,
  // httpServerAuthReadEndpoints. HTTPS comes with server.tls.
  AdminAuthOptions http_auth;
  double disk_usage_threshold = 0.95;
  double disk_usage_lwm_threshold = 0.90;
  std::chrono::milliseconds disk_check_interval{5000};
  std::chrono::milliseconds shutdown_drain{10000};
  LoggingOptions logging;  // logLevel, logFile, logFormat, logMaxSizeMB, logMaxFiles
  // autoRecoveryDaemonEnabled, and autorecovery's keys (docs/autorecovery.md). Its client
  // reaches the other bookies with this bookie's TLS files.
  bool autorecovery_enabled = true;
  autorecovery::AutoRecoveryOptions autorecovery;
};

// Every key quire-bookie accepts, and BookKeeperKeyNames() as aliases.
const ConfigSchema& BookieConfigSchema();

// The bk_server.conf names quire-bookie accepts for keys that mean the same thing, unit
// included: the one table of them. docs/coming-from-bookkeeper.md lists each (a test checks
// it); quire-bookie logs a note for each one a configuration uses.
const std::vector<ConfigAlias>& BookKeeperKeyNames();

// The documented default configuration: every key with its description and default, grouped by
// layer. conf/bookie.conf is exactly this text (a test checks it); `quire-bookie
// --print-default-conf` prints it.
std::string DocumentedDefaultConfig();

// Options from a checked configuration; kInvalidArgument when keys disagree (e.g. thresholds).
Result<BookieOptions> BookieOptionsFromConfig(const Config& config);

// The takeover key of the bookie's registration (MetadataStore::RegisterBookie): this machine's
// host name and the bookie's directories. A bookie registers only while it holds the locks of
// those directories, so a registration carrying its key was left by a previous process of the
// same bookie, now dead: a restart after kill -9 takes it over at once instead of waiting for
// that process's session to expire. Another bookie configured with the same id on another
// machine, or on other directories, has another key and is refused as before.
std::string RegistrationTakeoverKey(const BookieOptions& options);

}  // namespace quire::bookie
