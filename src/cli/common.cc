#include <cstdlib>

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

std::unique_ptr<metadata::MetadataStore> OpenStore(const GlobalOptions& g, std::string_view command) {
  std::string uri = g.MetadataUri();
  auto store = metadata::OpenMetadataStore(uri, {});
  if (!store.ok()) Fail(command, store.status().WithContext("opening the metadata store " + uri));
  return std::move(*store);
}

std::unique_ptr<Client> OpenClient(const GlobalOptions& g, std::string_view command) {
  ClientOptions options;
  options.metadata_uri = g.MetadataUri();
  auto client = Client::Open(options);
  if (!client.ok()) Fail(command, client.status());
  return std::move(*client);
}

}  // namespace quire::cli
