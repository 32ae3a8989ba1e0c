#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "cli/cli.h"
#include "metadata/metadata_store.h"

namespace quire::cli {

std::string DefaultDataDir() {
  const char* home = std::getenv("HOME");
  return fmt::format("{}/.quire/standalone", home && *home ? home : "/tmp");
}

std::string DefaultMetadataUri() { return "file://" + DefaultDataDir() + "/metadata"; }

std::string GlobalOptions::MetadataUri() const {
  if (!metadata_uri.empty()) return metadata_uri;
  const char* env = std::getenv("QUIRE_METADATA_URI");
  if (env && *env) return env;
  return DefaultMetadataUri();
}

void Fail(std::string_view command, const Status& status) {
  fmt::print(stderr, "quire {}: {}\n", command, status.ToString());
  throw CLI::RuntimeError(kExitError);
}

void FailUsage(std::string_view command, std::string_view message) {
  fmt::print(stderr, "quire {}: {}\n", command, message);
  throw CLI::RuntimeError(kExitUsage);
}

namespace {

// Fails `command` when `uri` names a file:// store that does not exist (see OpenStore).
void RequireExistingStore(const std::string& uri, std::string_view command) {
  auto root = metadata::FileStoreRoot(uri);
  if (!root.ok()) Fail(command, root.status());
  if (!*root) return;
  std::error_code ec;
  if (std::filesystem::exists(**root, ec)) return;
  if (ec) Fail(command, IOError(fmt::format("checking {}: {}", **root, ec.message())));
  Fail(command,
       Status(StatusCode::kNotFound,
              fmt::format("no metadata store at {} ({} does not exist): start a local cluster with "
                          "`quire standalone`, name one with --metadata or QUIRE_METADATA_URI, or "
                          "create this one with `quire cluster init`",
                          uri, **root)));
}

}  // namespace

std::unique_ptr<metadata::MetadataStore> OpenStore(const GlobalOptions& g, std::string_view command,
                                                   IfNoStore if_none) {
  std::string uri = g.MetadataUri();
  if (if_none == IfNoStore::kFail) RequireExistingStore(uri, command);
  auto store = metadata::OpenMetadataStore(uri, {});
  if (!store.ok()) Fail(command, store.status().WithContext("opening the metadata store " + uri));
  return std::move(*store);
}

std::unique_ptr<Client> OpenClient(const GlobalOptions& g, std::string_view command) {
  ClientOptions options;
  options.metadata_uri = g.MetadataUri();
  RequireExistingStore(options.metadata_uri, command);
  auto client = Client::Open(options);
  if (!client.ok()) Fail(command, client.status());
  return std::move(*client);
}

}  // namespace quire::cli
