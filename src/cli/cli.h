// The `quire` command line: shared plumbing for its commands.
//
// Each group of commands lives in its own file and registers itself on the CLI11 app with an
// Add*Commands function. A command that fails prints "quire <command>: <what failed>: <why>" on
// standard error and exits with kExitError; CLI11 itself exits with kExitUsage on bad usage.
// Data goes to standard output, logs to standard error (level from --log-level, default warn).
#pragma once

#include <memory>
#include <future>
#include <string>

#include <CLI/CLI.hpp>

#include "quire/client.h"
#include "quire/status.h"

namespace quire::metadata {
class MetadataStore;
}

namespace quire::cli {

// Exit codes (docs/cli.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

// Where the standalone cluster keeps its data unless --data-dir says otherwise, and hence the
// metadata URI every command uses by default.
std::string DefaultDataDir();
std::string DefaultMetadataUri();
// The metadata URI a program uses: `flag` (its --metadata) if given, else $QUIRE_METADATA_URI,
// else DefaultMetadataUri(). quire-bench resolves it the same way.
std::string MetadataUriOf(const std::string& flag);

// TLS to the bookies, for `quire` and quire-bench alike: --tls-cert, --tls-key and --tls-ca, each
// else $QUIRE_TLS_CERT, $QUIRE_TLS_KEY, $QUIRE_TLS_CA. Any of them set turns TLS on; the CA alone
// is TLS without a client certificate (docs/security.md).
struct TlsFlags {
  std::string cert, key, ca;
  void AddTo(CLI::App& app);
  // Sets options->use_tls and the paths from the flags, else the environment.
  void ApplyTo(ClientOptions* options) const;
};

// A ledger password, for every command that takes one: -p/--password, else the first line of
// --password-file (its trailing newline stripped), else $QUIRE_LEDGER_PASSWORD, else none (""). A
// password on the command line is visible to every user of the machine (`ps`), so -p warns on
// standard error (docs/security.md).
struct PasswordFlags {
  std::string password;  // -p, --password
  std::string file;      // --password-file
  CLI::Option* password_option = nullptr;

  // `help` describes the password; -p's warning, --password-file and the variable follow it.
  void AddTo(CLI::App* cmd, const std::string& help = "Ledger password");
  // The password as above. -p prints "<program>: warning: ..." on standard error. kIOError
  // naming the file when --password-file cannot be read.
  Result<std::string> Resolve(std::string_view program) const;
  // Resolve("quire <command>"), failing `command` (exit 1) on an error.
  std::string Get(std::string_view command) const;
};

struct GlobalOptions {
  std::string metadata_uri;  // --metadata; empty: QUIRE_METADATA_URI, else the standalone default
  std::string log_level = "warn";
  bool json = false;  // --json where output is data
  TlsFlags tls;

  std::string MetadataUri() const;  // MetadataUriOf(metadata_uri)
};

// Thrown by commands: CLI11 turns it into the process's exit code (after printing the message).
// Use Fail() rather than building one.
[[noreturn]] void Fail(std::string_view command, const Status& status);
[[noreturn]] void FailUsage(std::string_view command, std::string_view message);

// A file:// store must exist already before a program opens it: opening one creates its
// directory, and a command that only reads (or a typo in --metadata) must not leave an empty
// store behind. Only `cluster init` and `quire standalone` create one. kNotFound, saying how to
// get a store, when `uri` names a file:// store that does not exist; OK for any other URI.
// quire-bench calls it too.
Status RequireExistingStore(const std::string& uri);

// Opening the metadata store and the client, with the error reported for `command`; both call
// RequireExistingStore first (unless kCreate).
enum class IfNoStore { kFail, kCreate };
std::unique_ptr<metadata::MetadataStore> OpenStore(const GlobalOptions& g, std::string_view command,
                                                   IfNoStore if_none = IfNoStore::kFail);
std::unique_ptr<Client> OpenClient(const GlobalOptions& g, std::string_view command);
// The options OpenClient opens with (the store checked to exist), for commands that need the
// client's internals (`bookie recover`).
ClientOptions CliClientOptions(const GlobalOptions& g, std::string_view command);

// When `args` (the command line without the program name) names a command that `app` does not
// have, e.g. `ledgr list`: the message that says so, with the nearest command's name and the
// commands there are. Empty when every command word is known.
std::string UnknownCommandMessage(CLI::App& app, const std::vector<std::string>& args);

void AddClusterCommands(CLI::App& app, GlobalOptions& g);
void AddBookieCommands(CLI::App& app, GlobalOptions& g);
void AddBookieGcCommand(CLI::App& bookie, GlobalOptions& g);  // bookie_gc.cc, under `bookie`
void AddLedgerCommands(CLI::App& app, GlobalOptions& g);
void AddOfflineCommands(CLI::App& app, GlobalOptions& g);  // journal, entrylog, index
void AddStandaloneCommand(CLI::App& app, GlobalOptions& g);
void AddAutoRecoveryCommands(CLI::App& app, GlobalOptions& g);  // autorecovery_commands.cc
void AddBookieRecoverCommand(CLI::App& bookie, GlobalOptions& g);  // ditto, under `bookie`
void AddSimpleTestCommand(CLI::App& app, GlobalOptions& g);

}  // namespace quire::cli
