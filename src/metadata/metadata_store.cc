#include "metadata/metadata_store.h"

#include <algorithm>
#include <cctype>
#include <thread>

#include <fmt/format.h>

#include "metadata/kv_backend.h"
#include "metadata/kv_store.h"
#include "metadata/zk_store.h"

namespace quire::metadata {
namespace {

constexpr std::string_view kDefaultZkRoot = "/quire";

bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (s->substr(0, prefix.size()) != prefix) return false;
  s->remove_prefix(prefix.size());
  return true;
}

Status BadUri(std::string_view uri, std::string_view why) {
  return InvalidArgument(fmt::format("metadata service URI '{}': {}", uri, why));
}

// "host:port[,host:port...]": each host non-empty, each port 1..65535.
Status CheckZkHosts(std::string_view uri, std::string_view hosts) {
  if (hosts.empty()) return BadUri(uri, "no ZooKeeper host");
  size_t start = 0;
  while (start <= hosts.size()) {
    size_t comma = hosts.find(',', start);
    std::string_view one =
        hosts.substr(start, comma == std::string_view::npos ? hosts.npos : comma - start);
    size_t colon = one.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == one.size()) {
      return BadUri(uri, fmt::format("'{}' is not host:port", one));
    }
    int port = 0;
    for (char c : one.substr(colon + 1)) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || port > 65535) {
        return BadUri(uri, fmt::format("bad port in '{}'", one));
      }
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return BadUri(uri, fmt::format("bad port in '{}'", one));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return Status::Ok();
}

// An absolute path of non-empty components other than "." and "..", without a trailing '/'.
Result<std::string> CleanPath(std::string_view uri, std::string_view path) {
  if (path.empty() || path.front() != '/') return BadUri(uri, "the path must be absolute");
  std::string out;
  size_t start = 1;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    std::string_view part =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (part == "." || part == "..") return BadUri(uri, "'.' and '..' are not allowed");
    if (!part.empty()) {
      out.push_back('/');
      out.append(part);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

}  // namespace

std::string_view BookieModeName(BookieMode mode) {
  return mode == BookieMode::kWritable ? "writable" : "read-only";
}

Status ValidateName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > 255) {
    return InvalidArgument(fmt::format("{} '{}' must have 1 to 255 characters", what, name));
  }
  if (name.front() == '.') {
    return InvalidArgument(fmt::format("{} '{}' must not start with '.'", what, name));
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' &&
        c != '-') {
      return InvalidArgument(
          fmt::format("{} '{}' has a character outside [A-Za-z0-9._:-]", what, name));
    }
  }
  return Status::Ok();
}

Result<std::optional<std::string>> FileStoreRoot(const std::string& uri) {
  std::string_view rest = uri;
  if (!ConsumePrefix(&rest, "file://")) return std::optional<std::string>();
  QUIRE_ASSIGN_OR_RETURN(std::string root, CleanPath(uri, rest));
  if (root.empty()) return BadUri(uri, "the file store cannot be the root directory");
  return std::optional<std::string>(std::move(root));
}

Result<std::unique_ptr<MetadataStore>> OpenMetadataStore(const std::string& uri,
                                                         const MetadataOptions& options) {
  std::string_view rest = uri;
  if (ConsumePrefix(&rest, "mem://")) {
    QUIRE_RETURN_IF_ERROR(ValidateName("memory store name", rest).WithContext(uri));
    return std::unique_ptr<MetadataStore>(
        std::make_unique<KvMetadataStore>(uri, OpenMemBackend(std::string(rest)), options));
  }
  QUIRE_ASSIGN_OR_RETURN(std::optional<std::string> file_root, FileStoreRoot(uri));
  if (file_root) {
    QUIRE_ASSIGN_OR_RETURN(auto backend, OpenFileBackend(*file_root, options.file_system));
    return std::unique_ptr<MetadataStore>(
        std::make_unique<KvMetadataStore>(uri, std::move(backend), options));
  }
  if (ConsumePrefix(&rest, "zk://")) {
    size_t slash = rest.find('/');
    std::string_view hosts = rest.substr(0, slash);
    QUIRE_RETURN_IF_ERROR(CheckZkHosts(uri, hosts));
    std::string root(kDefaultZkRoot);
    if (slash != std::string_view::npos) {
      QUIRE_ASSIGN_OR_RETURN(root, CleanPath(uri, rest.substr(slash)));
      if (root.empty()) root = kDefaultZkRoot;
    }
    if (root == "/zookeeper" || root.rfind("/zookeeper/", 0) == 0) {
      return BadUri(uri, "/zookeeper belongs to ZooKeeper itself");
    }
    return OpenZkMetadataStore(uri, std::string(hosts), root, options);
  }
  return BadUri(uri, "expected zk://host:port[,host:port...]/path, file:///path or mem://name");
}

Status ClaimWhileHeldElsewhere(const MetadataOptions& options, const BookieId& bookie_id,
                               Mutex& mu, const std::function<bool()>& held_here,
                               const std::function<Status()>& claim) {
  const auto wait = std::max(options.operation_timeout, options.session_timeout * 3 / 2);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  const auto pause = std::clamp(options.session_timeout / 10, std::chrono::milliseconds(10),
                                std::chrono::milliseconds(200));
  while (true) {
    {
      MutexLock lock(mu);
      if (held_here()) {
        return Status(StatusCode::kAlreadyExists,
                      fmt::format("bookie {} is already registered by this store", bookie_id));
      }
      Status s = claim();
      if (!s.Is(StatusCode::kAlreadyExists) ||
          std::chrono::steady_clock::now() + pause > deadline) {
        return s;
      }
    }
    std::this_thread::sleep_for(pause);  // the holder's session has not expired yet
  }
}

Status ForEachLedger(MetadataStore& store, const std::function<Status(LedgerId)>& fn,
                     size_t page_size) {
  LedgerId from = 0;
  while (true) {
    QUIRE_ASSIGN_OR_RETURN(std::vector<LedgerId> page, store.ListLedgers(from, page_size));
    if (page.empty()) return Status::Ok();
    for (LedgerId id : page) QUIRE_RETURN_IF_ERROR(fn(id));
    if (page.back() == kMaxLedgerId) return Status::Ok();
    from = page.back() + 1;
  }
}

const ConfigSchema& MetadataConfigSchema() {
  static const ConfigSchema* schema = [] {
    auto* s = new ConfigSchema();
    s->Add({.name = "metadataServiceUri",
            .type = ConfigType::kString,
            .default_value = "file:///var/lib/quire/metadata",
            .description = "Where the metadata lives: zk://host:port[,host:port...]/path "
                           "(ZooKeeper) or file:///path (one machine, no server)"});
    s->Add({.name = "metadataOperationTimeoutMs",
            .type = ConfigType::kInt,
            .default_value = "10000",
            .description = "Budget of one metadata call, retries included",
            .min_int = 100,
            .max_int = 600'000});
    s->Add({.name = "metadataSessionTimeoutMs",
            .type = ConfigType::kInt,
            .default_value = "10000",
            .description = "ZooKeeper session timeout, or file-store lease: a dead or hung "
                           "bookie leaves the registry after about this long",
            .min_int = 100,
            .max_int = 600'000});
    s->Add({.name = "metadataWatchPollIntervalMs",
            .type = ConfigType::kInt,
            .default_value = "100",
            .description = "file:// store: how often watches re-read what they watch",
            .min_int = 1,
            .max_int = 60'000});
    s->Add({.name = "zkAclCredentialsFile",
            .type = ConfigType::kString,
            .default_value = "",
            .description = "zk:// store: a file of user:password lines (keep it 0600). Every "
                           "session authenticates with them (digest) and every node Quire "
                           "creates gets an ACL granting ALL to them and nothing to anyone else; "
                           "clients need the same file (QUIRE_ZK_ACL_CREDENTIALS_FILE). Empty: "
                           "$QUIRE_ZK_ACL_CREDENTIALS_FILE, else open nodes (docs/security.md)"});
    return s;
  }();
  return *schema;
}

MetadataOptions MetadataOptionsFromConfig(const Config& config) {
  MetadataOptions o;
  o.operation_timeout = std::chrono::milliseconds(config.GetInt("metadataOperationTimeoutMs"));
  o.session_timeout = std::chrono::milliseconds(config.GetInt("metadataSessionTimeoutMs"));
  o.watch_poll_interval = std::chrono::milliseconds(config.GetInt("metadataWatchPollIntervalMs"));
  o.zk_acl_credentials_file = config.GetString("zkAclCredentialsFile");
  return o;
}

}  // namespace quire::metadata
