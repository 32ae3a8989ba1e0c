#include "bookie/bookie_config.h"

#include <unistd.h>

#include <initializer_list>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace quire::bookie {

namespace {

ConfigSchema BookieKeys() {
  ConfigSchema s;
  s.Add({.name = "bookiePort", .type = ConfigType::kInt, .default_value = "3181",
         .description = "TCP port of the bookie protocol. 0 picks a free port (tests).",
         .min_int = 0, .max_int = 65535});
  s.Add({.name = "bookieBindAddress", .type = ConfigType::kString, .default_value = "0.0.0.0",
         .description = "Address the bookie listens on."});
  s.Add({.name = "advertisedAddress", .type = ConfigType::kString, .default_value = "",
         .description = "Address clients use to reach this bookie; with bookiePort it makes the "
                        "bookie id (advertisedAddress:bookiePort). Empty: this host's name. Keep "
                        "it stable: the bookie id is the bookie's identity (cookie)."});
  s.Add({.name = "numIoThreads", .type = ConfigType::kInt, .default_value = "2",
         .description = "Network I/O threads. Each connection stays on one of them, given "
                        "round-robin as it is accepted.",
         .min_int = 1, .max_int = 256});
  s.Add({.name = "numAddWorkerThreads", .type = ConfigType::kInt, .default_value = "1",
         .description = "Threads that hand adds, fences and LAC writes to the storage engine.",
         .min_int = 1, .max_int = 64});
  s.Add({.name = "numReadWorkerThreads", .type = ConfigType::kInt, .default_value = "4",
         .description = "Threads that serve reads (entry logs, index).", .min_int = 1,
         .max_int = 256});
  s.Add({.name = "maxFrameSizeBytes", .type = ConfigType::kInt, .default_value = "5242880",
         .description = "Largest request frame. A larger one is answered with bad-request and "
                        "its connection closed.",
         .min_int = 1024, .max_int = 1 << 30});
  s.Add({.name = "maxInflightBytesPerConnection", .type = ConfigType::kInt,
         .default_value = "67108864",
         .description = "A connection stops being read while its requests in flight plus its "
                        "unwritten responses exceed this many bytes.",
         .min_int = 1 << 16, .max_int = INT64_MAX});
  s.Add({.name = "maxInflightBytes", .type = ConfigType::kInt, .default_value = "536870912",
         .description = "All connections stop being read while the bookie's total of the above "
                        "exceeds this.",
         .min_int = 1 << 16, .max_int = INT64_MAX});
  s.Add({.name = "maxReadsInFlightPerConnection", .type = ConfigType::kInt, .default_value = "64",
         .description = "A connection stops being read while this many of its reads are in "
                        "flight (a read's answer can be as large as an entry).",
         .min_int = 1, .max_int = 1 << 20});
  s.Add({.name = "connectionIdleTimeoutMs", .type = ConfigType::kInt, .default_value = "600000",
         .description = "A connection with nothing read and nothing in flight for this long is "
                        "closed.",
         .min_int = 100, .max_int = INT64_MAX});
  s.Add({.name = "longPollMaxTimeoutMs", .type = ConfigType::kInt, .default_value = "60000",
         .description = "Upper bound of the wait a long-poll read may ask for.", .min_int = 0,
         .max_int = 3600000});
  s.Add({.name = "tlsCertificatePath", .type = ConfigType::kString, .default_value = "",
         .description = "The bookie's TLS certificate chain (PEM). With tlsKeyPath it turns TLS on "
                        "for the bookie port (docs/security.md); empty: no TLS."});
  s.Add({.name = "tlsKeyPath", .type = ConfigType::kString, .default_value = "",
         .description = "The private key of tlsCertificatePath (PEM, unencrypted; keep it "
                        "readable by the bookie's user only)."});
  s.Add({.name = "tlsTrustStorePath", .type = ConfigType::kString, .default_value = "",
         .description = "CA certificates (PEM bundle) that sign client certificates. A client "
                        "certificate that does not verify against it is refused."});
  s.Add({.name = "tlsRequired", .type = ConfigType::kBool, .default_value = "false",
         .description = "Refuse plaintext connections (answered with an unauthenticated error, "
                        "then closed). false: plaintext and TLS on the same port."});
  s.Add({.name = "tlsClientAuthentication", .type = ConfigType::kBool, .default_value = "false",
         .description = "A TLS client must present a certificate signed by a CA of "
                        "tlsTrustStorePath (mutual TLS)."});
  s.Add({.name = "tlsCertFilesRefreshDurationSeconds", .type = ConfigType::kInt,
         .default_value = "300",
         .description = "How often, at most, the bookie looks whether tlsCertificatePath, "
                        "tlsKeyPath or tlsTrustStorePath changed; changed files are loaded for "
                        "new connections (open ones keep theirs), files that cannot be used are "
                        "logged and the old ones kept. 0: never (read once, at start-up).",
         .min_int = 0, .max_int = 31536000});
  s.Add({.name = "authorizedWriteRoles", .type = ConfigType::kString, .default_value = "",
         .description = "Principals that may write: add entries, write LACs, force ledgers and "
                        "fence them (recovery). Comma-separated names; a client certificate's "
                        "names are its subject's CN and its DNS and URI subject alt names "
                        "(docs/security.md). Empty: everyone. A list needs tlsTrustStorePath."});
  s.Add({.name = "authorizedReadRoles", .type = ConfigType::kString, .default_value = "",
         .description = "Principals that may read entries and LACs (long polls and entry "
                        "listings included), as authorizedWriteRoles. Empty: everyone."});
  s.Add({.name = "authorizedAdminRoles", .type = ConfigType::kString, .default_value = "",
         .description = "Principals that may send admin requests on the bookie port (bookie "
                        "info, as `quire bookie info`), as authorizedWriteRoles. Empty: "
                        "everyone. The admin HTTP port is not covered."});
  s.Add({.name = "httpServerEnabled", .type = ConfigType::kBool, .default_value = "true",
         .description = "Serve the admin HTTP endpoint (/metrics, /health, /api/v1/bookie/...)."});
  s.Add({.name = "httpServerAddress", .type = ConfigType::kString, .default_value = "0.0.0.0",
         .description = "Address of the admin HTTP endpoint."});
  s.Add({.name = "httpServerPort", .type = ConfigType::kInt, .default_value = "8080",
         .description = "Port of the admin HTTP endpoint. 0 picks a free port. It speaks "
                        "HTTPS, with tlsCertificatePath, whenever TLS is configured.",
         .min_int = 0, .max_int = 65535});
  s.Add({.name = "httpServerAuthTokenFile", .type = ConfigType::kString, .default_value = "",
         .description = "A file whose first line is the admin HTTP endpoint's bearer token, "
                        "read at start (keep it 0600). With it, or with tlsClientAuthentication, "
                        "every change (PUT) needs `Authorization: Bearer <token>` or a verified "
                        "client certificate, else 401 (docs/security.md). Empty: no token."});
  s.Add({.name = "httpServerAuthReadEndpoints", .type = ConfigType::kBool,
         .default_value = "false",
         .description = "Once admin HTTP authentication is on (httpServerAuthTokenFile or "
                        "tlsClientAuthentication), require it on GET and HEAD too (/metrics "
                        "included); /health, /health/live, /health/ready and /heartbeat stay "
                        "open for probes."});
  s.Add({.name = "diskUsageThreshold", .type = ConfigType::kDouble, .default_value = "0.95",
         .description = "The bookie turns read-only when a ledger directory's disk is fuller "
                        "than this fraction.",
         .min_double = 0.0, .max_double = 1.0});
  s.Add({.name = "diskUsageLwmThreshold", .type = ConfigType::kDouble, .default_value = "0.9",
         .description = "A bookie read-only for disk usage turns writable again below this "
                        "fraction (not one read-only after an I/O error).",
         .min_double = 0.0, .max_double = 1.0});
  s.Add({.name = "diskCheckIntervalMs", .type = ConfigType::kInt, .default_value = "5000",
         .description = "How often disk usage and storage health are checked.", .min_int = 10,
         .max_int = 3600000});
  s.Add({.name = "shutdownDrainTimeoutMs", .type = ConfigType::kInt, .default_value = "10000",
         .description = "On SIGTERM, how long requests in flight may take to finish.",
         .min_int = 0, .max_int = 3600000});
  s.Add({.name = "logLevel", .type = ConfigType::kString, .default_value = "info",
         .description = "trace, debug, info, warn, error, critical or off.",
         .choices = {"trace", "debug", "info", "warn", "error", "critical", "off"}});
  s.Add({.name = "logFile", .type = ConfigType::kString, .default_value = "",
         .description = "Log to this file; empty: standard error. SIGHUP makes the bookie close "
                        "and reopen it (after logrotate moved it)."});
  s.Add({.name = "logFormat", .type = ConfigType::kString, .default_value = "text",
         .description = "text: one line per event, \"<ISO 8601 UTC time> <level> [<thread>] "
                        "<message>\"; json: one JSON object per line with time, level, thread "
                        "and message (for log shippers).",
         .choices = {"text", "json"}});
  s.Add({.name = "logMaxSizeMB", .type = ConfigType::kInt, .default_value = "100",
         .description = "With logFile: when the log would grow past this size it is renamed with "
                        "an index before its extension (bookie.log to bookie.1.log; older ones "
                        "shift to .2, ...) and a new one is started. 0: never (leave rotation to "
                        "logrotate, with SIGHUP).",
         .min_int = 0, .max_int = 1 << 20});
  s.Add({.name = "logMaxFiles", .type = ConfigType::kInt, .default_value = "10",
         .description = "With logFile and logMaxSizeMB: rotated files kept; the oldest beyond "
                        "this is deleted.",
         .min_int = 1, .max_int = 1000});
  return s;
}

// The TLS keys, checked together: a half-configured TLS must stop the bookie at start-up, naming
// the key that is missing, rather than leave a port open in plaintext.
Result<ServerTlsOptions> TlsOptionsFromConfig(const Config& c) {
  ServerTlsOptions t;
  t.files.certificate_path = c.GetString("tlsCertificatePath");
  t.files.key_path = c.GetString("tlsKeyPath");
  t.files.trust_store_path = c.GetString("tlsTrustStorePath");
  t.required = c.GetBool("tlsRequired");
  t.client_authentication = c.GetBool("tlsClientAuthentication");
  t.refresh = std::chrono::seconds(c.GetInt("tlsCertFilesRefreshDurationSeconds"));
  bool any = !t.files.certificate_path.empty() || !t.files.key_path.empty() ||
             !t.files.trust_store_path.empty() || t.required || t.client_authentication;
  if (!any) return t;
  auto missing = [](std::string_view key, std::string_view why) {
    return InvalidArgument(fmt::format("TLS is half configured: {} is missing ({})", key, why));
  };
  if (t.files.certificate_path.empty()) {
    return missing("tlsCertificatePath", "the bookie's certificate, with tlsKeyPath");
  }
  if (t.files.key_path.empty()) return missing("tlsKeyPath", "the key of tlsCertificatePath");
  if (t.client_authentication && t.files.trust_store_path.empty()) {
    return missing("tlsTrustStorePath",
                   "tlsClientAuthentication = true checks client certificates against it");
  }
  t.enabled = true;
  return t;
}

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

}  // namespace

namespace {

// "# " + text wrapped at 100 columns.
void AppendComment(std::string* out, std::string_view text) {
  std::string line = "#";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t space = text.find(' ', pos);
    std::string_view word = text.substr(pos, space == std::string_view::npos ? std::string_view::npos
                                                                              : space - pos);
    if (line.size() + 1 + word.size() > 100 && line.size() > 1) {
      *out += line + "\n";
      line = "#";
    }
    line += " ";
    line += word;
    if (space == std::string_view::npos) break;
    pos = space + 1;
  }
  *out += line + "\n";
}

void AppendSection(std::string* out, std::string_view title, const ConfigSchema& schema) {
  *out += fmt::format("\n{}\n# {}\n{}\n", std::string(78, '#'), title, std::string(78, '#'));
  for (const ConfigKey& key : schema.keys()) {
    *out += "\n";
    AppendComment(out, key.description);
    *out += fmt::format("# {} = {}\n", key.name, key.default_value);
  }
}

}  // namespace

std::string DocumentedDefaultConfig() {
  std::string out =
      "# Quire bookie configuration (quire-bookie --conf FILE).\n"
      "#\n"
      "# One `key = value` per line; lines starting with '#' are comments; lists are\n"
      "# comma-separated. Every key is listed below, commented out, with its default. Unknown keys\n"
      "# and bad values are refused at start-up, naming the file and line. Override a key on the\n"
      "# command line with --set key=value. BookKeeper's names for the keys that mean the same\n"
      "# thing (zkTimeout, flushInterval, ...) are accepted too: docs/coming-from-bookkeeper.md.\n"
      "#\n"
      "# This file is generated by `quire-bookie --print-default-conf`; a test keeps them equal.\n";
  AppendSection(&out, "Bookie: network, admin HTTP, read-only mode, logging", BookieKeys());
  AppendSection(&out, "Metadata store", metadata::MetadataConfigSchema());
  AppendSection(&out, "Storage: journal and ledger storage", storage::StorageConfigSchema());
  AppendSection(&out, "Autorecovery (docs/autorecovery.md)",
                autorecovery::AutoRecoveryConfigSchema());
  return out;
}

std::string RegistrationTakeoverKey(const BookieOptions& o) {
  return fmt::format("{}|journal={}|ledgers={}", HostName(), fmt::join(o.storage.journal_dirs, ","),
                     fmt::join(o.storage.ledger_dirs, ","));
}

const std::vector<ConfigAlias>& BookKeeperKeyNames() {
  // Only names whose value means exactly the same thing here, unit included: a BookKeeper key
  // whose unit or meaning differs (journalMaxGroupWaitMSec in ms vs journalMaxGroupWaitUs,
  // logSizeLimit in bytes vs entryLogSizeLimitMB, minorCompactionInterval in seconds, ...) is
  // refused as unknown, since its value would be silently wrong here.
  static const std::vector<ConfigAlias> names = [] {
    std::vector<ConfigAlias> v;
    for (auto [alias, key] : std::initializer_list<std::pair<const char*, const char*>>{
             {"serverNumIOThreads", "numIoThreads"},
             {"nettyMaxFrameSizeBytes", "maxFrameSizeBytes"},
             {"httpServerHost", "httpServerAddress"},
             {"diskCheckInterval", "diskCheckIntervalMs"},
             {"zkTimeout", "metadataSessionTimeoutMs"},
             {"journalDirectory", "journalDirectories"},
             {"skipReplayJournalInvalidRecord", "journalSkipCorruption"},
             {"numJournalCallbackThreads", "numCallbackThreads"},
             {"dbStorage_writeCacheMaxSizeMb", "writeCacheMaxSizeMB"},
             {"dbStorage_maxThrottleTimeMs", "writeCacheMaxWaitMs"},
             {"dbStorage_readAheadCacheMaxSizeMb", "readAheadCacheMaxSizeMB"},
             {"dbStorage_directIOEntryLogger", "entryLogDirectIO"},
             {"flushInterval", "flushIntervalMs"},
         }) {
      v.push_back({alias, key, "BookKeeper"});
    }
    return v;
  }();
  return names;
}

const ConfigSchema& BookieConfigSchema() {
  static const ConfigSchema schema = [] {
    ConfigSchema s = BookieKeys();
    s.Merge(metadata::MetadataConfigSchema());
    s.Merge(storage::StorageConfigSchema());
    s.Merge(autorecovery::AutoRecoveryConfigSchema());
    for (const ConfigAlias& alias : BookKeeperKeyNames()) s.AddAlias(alias);
    return s;
  }();
  return schema;
}

Result<BookieOptions> BookieOptionsFromConfig(const Config& c) {
  BookieOptions o;
  QUIRE_ASSIGN_OR_RETURN(o.storage, storage::StorageOptionsFromConfig(c));
  QUIRE_ASSIGN_OR_RETURN(o.io_backend, ParseIoBackend(c.GetString("ioBackend")));
  o.metadata_uri = c.GetString("metadataServiceUri");
  o.metadata = metadata::MetadataOptionsFromConfig(c);
  o.server.bind_address = c.GetString("bookieBindAddress");
  o.server.port = static_cast<uint16_t>(c.GetInt("bookiePort"));
  o.server.max_frame_size = static_cast<uint32_t>(c.GetInt("maxFrameSizeBytes"));
  o.server.max_inflight_bytes_per_connection =
      static_cast<uint64_t>(c.GetInt("maxInflightBytesPerConnection"));
  o.server.max_inflight_bytes = static_cast<uint64_t>(c.GetInt("maxInflightBytes"));
  o.server.max_reads_in_flight_per_connection =
      static_cast<uint64_t>(c.GetInt("maxReadsInFlightPerConnection"));
  o.server.idle_timeout = std::chrono::milliseconds(c.GetInt("connectionIdleTimeoutMs"));
  QUIRE_ASSIGN_OR_RETURN(o.server.tls, TlsOptionsFromConfig(c));
  o.server.authorization.write_roles = SplitRoles(c.GetString("authorizedWriteRoles"));
  o.server.authorization.read_roles = SplitRoles(c.GetString("authorizedReadRoles"));
  o.server.authorization.admin_roles = SplitRoles(c.GetString("authorizedAdminRoles"));
  if (o.server.authorization.any() && o.server.tls.files.trust_store_path.empty()) {
    // Principals come from verified client certificates only: without a trust store every
    // client would be anonymous, and every listed permission refused to all.
    return InvalidArgument(
        "authorizedWriteRoles, authorizedReadRoles and authorizedAdminRoles name principals "
        "from client certificates: they need TLS with tlsTrustStorePath (and, so that every "
        "client has one, tlsClientAuthentication = true)");
  }
  // A frame length whose first byte is a TLS record's would be taken for a TLS handshake.
  constexpr uint32_t kFirstTlsLookalike = uint32_t{kTlsHandshakeRecordType} << 24;
  if (o.server.tls.enabled && o.server.max_frame_size >= kFirstTlsLookalike) {
    return InvalidArgument(fmt::format(
        "maxFrameSizeBytes ({}) must be below {} with TLS: a longer frame's first byte reads as "
        "a TLS handshake (docs/protocol.md, \"TLS\")",
        o.server.max_frame_size, kFirstTlsLookalike));
  }
  o.io_threads = static_cast<size_t>(c.GetInt("numIoThreads"));
  o.processor.write_threads = static_cast<size_t>(c.GetInt("numAddWorkerThreads"));
  o.processor.read_threads = static_cast<size_t>(c.GetInt("numReadWorkerThreads"));
  o.processor.max_long_poll = std::chrono::milliseconds(c.GetInt("longPollMaxTimeoutMs"));
  o.http_enabled = c.GetBool("httpServerEnabled");
  o.http_address = c.GetString("httpServerAddress");
  o.http_port = static_cast<uint16_t>(c.GetInt("httpServerPort"));
  if (std::string token_file = c.GetString("httpServerAuthTokenFile"); !token_file.empty()) {
    QUIRE_ASSIGN_OR_RETURN(o.http_auth.token, ReadAdminToken(token_file));
  }
  o.http_auth.client_certificates = o.server.tls.enabled && o.server.tls.client_authentication;
  o.http_auth.read_endpoints = c.GetBool("httpServerAuthReadEndpoints");
  o.disk_usage_threshold = c.GetDouble("diskUsageThreshold");
  o.disk_usage_lwm_threshold = c.GetDouble("diskUsageLwmThreshold");
  if (o.disk_usage_lwm_threshold > o.disk_usage_threshold) {
    return InvalidArgument(fmt::format(
        "diskUsageLwmThreshold ({}) must not be above diskUsageThreshold ({})",
        o.disk_usage_lwm_threshold, o.disk_usage_threshold));
  }
  o.disk_check_interval = std::chrono::milliseconds(c.GetInt("diskCheckIntervalMs"));
  o.shutdown_drain = std::chrono::milliseconds(c.GetInt("shutdownDrainTimeoutMs"));
  o.logging.level = c.GetString("logLevel");
  o.logging.file = c.GetString("logFile");
  o.logging.format = c.GetString("logFormat");
  o.logging.max_file_bytes = static_cast<uint64_t>(c.GetInt("logMaxSizeMB")) << 20;
  o.logging.max_files = static_cast<size_t>(c.GetInt("logMaxFiles"));
  std::string address = c.GetString("advertisedAddress");
  if (address.empty()) address = HostName();
  // With bookiePort 0 the id is completed once the port is known (Bookie::Start).
  o.bookie_id = fmt::format("{}:{}", address, o.server.port);
  o.storage.bookie_id = o.bookie_id;
  o.autorecovery_enabled = c.GetBool("autoRecoveryDaemonEnabled");
  o.autorecovery = autorecovery::AutoRecoveryOptionsFromConfig(c);
  // Autorecovery's client speaks to the other bookies and to ZooKeeper as this bookie: its
  // certificate, its CA, its ZooKeeper credentials.
  o.autorecovery.client.metadata_credentials_file = o.metadata.zk_acl_credentials_file;
  if (o.server.tls.enabled && !o.server.tls.files.trust_store_path.empty()) {
    o.autorecovery.client.use_tls = true;
    o.autorecovery.client.tls_ca_path = o.server.tls.files.trust_store_path;
    o.autorecovery.client.tls_certificate_path = o.server.tls.files.certificate_path;
    o.autorecovery.client.tls_key_path = o.server.tls.files.key_path;
  }
  return o;
}

}  // namespace quire::bookie
