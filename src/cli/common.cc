#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "cli/cli.h"
#include "common/secret_file.h"
#include "metadata/metadata_store.h"

namespace quire::cli {

std::string DefaultDataDir() {
  const char* home = std::getenv("HOME");
  return fmt::format("{}/.quire/standalone", home && *home ? home : "/tmp");
}

std::string DefaultMetadataUri() { return "file://" + DefaultDataDir() + "/metadata"; }

std::string MetadataUriOf(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("QUIRE_METADATA_URI");
  if (env && *env) return env;
  return DefaultMetadataUri();
}

std::string GlobalOptions::MetadataUri() const { return MetadataUriOf(metadata_uri); }

void TlsFlags::AddTo(CLI::App& app) {
  app.add_option("--tls-cert", cert,
                 "Client certificate (PEM) for bookies with tlsClientAuthentication; with "
                 "--tls-key. Default: $QUIRE_TLS_CERT");
  app.add_option("--tls-key", key, "Private key (PEM) of --tls-cert. Default: $QUIRE_TLS_KEY");
  app.add_option("--tls-ca", ca,
                 "CA bundle (PEM) that signs the bookies' certificates; turns TLS on. Default: "
                 "$QUIRE_TLS_CA");
}

void TlsFlags::ApplyTo(ClientOptions* options) const {
  auto flag_or_env = [](const std::string& flag, const char* env) {
    if (!flag.empty()) return flag;
    const char* value = std::getenv(env);
    return std::string(value ? value : "");
  };
  options->tls_certificate_path = flag_or_env(cert, "QUIRE_TLS_CERT");
  options->tls_key_path = flag_or_env(key, "QUIRE_TLS_KEY");
  options->tls_ca_path = flag_or_env(ca, "QUIRE_TLS_CA");
  options->use_tls = !options->tls_certificate_path.empty() || !options->tls_key_path.empty() ||
                     !options->tls_ca_path.empty();
}

void PasswordFlags::AddTo(CLI::App* cmd, const std::string& help) {
  password_option = cmd->add_option(
      "-p,--password", password,
      help + ". Visible to other users of this machine (ps): prefer --password-file or "
             "$QUIRE_LEDGER_PASSWORD");
  cmd->add_option("--password-file", file,
                  "Read the ledger password from the first line of this file (used when -p is "
                  "not given; else $QUIRE_LEDGER_PASSWORD)");
}

Result<std::string> PasswordFlags::Resolve(std::string_view program) const {
  if (password_option != nullptr && password_option->count() > 0) {
    fmt::print(stderr,
               "{}: warning: a password given with -p/--password is visible to other users of "
               "this machine (ps); use --password-file or QUIRE_LEDGER_PASSWORD\n",
               program);
    return password;
  }
  if (!file.empty()) return ReadSecretLine(file, "the password file");
  const char* env = std::getenv("QUIRE_LEDGER_PASSWORD");
  return std::string(env ? env : "");
}

std::string PasswordFlags::Get(std::string_view command) const {
  auto resolved = Resolve(fmt::format("quire {}", command));
  if (!resolved.ok()) Fail(command, resolved.status());
  return std::move(*resolved);
}

void Fail(std::string_view command, const Status& status) {
  fmt::print(stderr, "quire {}: {}\n", command, status.ToString());
  throw CLI::RuntimeError(kExitError);
}

void FailUsage(std::string_view command, std::string_view message) {
  fmt::print(stderr, "quire {}: {}\n", command, message);
  throw CLI::RuntimeError(kExitUsage);
}

Status RequireExistingStore(const std::string& uri) {
  QUIRE_ASSIGN_OR_RETURN(std::optional<std::string> root, metadata::FileStoreRoot(uri));
  if (!root) return Status::Ok();
  std::error_code ec;
  if (std::filesystem::exists(*root, ec)) return Status::Ok();
  if (ec) return IOError(fmt::format("checking {}: {}", *root, ec.message()));
  return Status(StatusCode::kNotFound,
                fmt::format("no metadata store at {} ({} does not exist): start a local cluster "
                            "with `quire standalone`, name one with --metadata or "
                            "QUIRE_METADATA_URI, or create this one with `quire cluster init`",
                            uri, *root));
}

std::unique_ptr<metadata::MetadataStore> OpenStore(const GlobalOptions& g, std::string_view command,
                                                   IfNoStore if_none) {
  std::string uri = g.MetadataUri();
  if (if_none == IfNoStore::kFail) {
    if (Status s = RequireExistingStore(uri); !s.ok()) Fail(command, s);
  }
  auto store = metadata::OpenMetadataStore(uri, {});
  if (!store.ok()) Fail(command, store.status().WithContext("opening the metadata store " + uri));
  return std::move(*store);
}

ClientOptions CliClientOptions(const GlobalOptions& g, std::string_view command) {
  ClientOptions options;
  options.metadata_uri = g.MetadataUri();
  g.tls.ApplyTo(&options);
  if (Status s = RequireExistingStore(options.metadata_uri); !s.ok()) Fail(command, s);
  return options;
}

std::unique_ptr<Client> OpenClient(const GlobalOptions& g, std::string_view command) {
  auto client = Client::Open(CliClientOptions(g, command));
  if (!client.ok()) Fail(command, client.status());
  return std::move(*client);
}

}  // namespace quire::cli
