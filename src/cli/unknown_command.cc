// Unknown commands: `quire ledgr list` says that "ledgr" is not a command and suggests "ledger",
// where CLI11 alone would only say that a subcommand is required.
#include <fmt/format.h>

#include "cli/cli.h"
#include "common/closest_name.h"

namespace quire::cli {
namespace {

// The option named `arg` ("--metadata", "-e") of `app` or of the commands above it (their options
// may follow a subcommand: fallthrough), or nullptr.
const CLI::Option* FindOption(const CLI::App* app, const std::string& arg) {
  for (; app != nullptr; app = app->get_parent()) {
    if (const CLI::Option* o = app->get_option_no_throw(arg)) return o;
  }
  return nullptr;
}

}  // namespace

std::string UnknownCommandMessage(CLI::App& app, const std::vector<std::string>& args) {
  CLI::App* command = &app;
  std::string path = app.get_name();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.size() > 1 && arg[0] == '-') {
      // Skip the option and, unless given as --name=value, the value it takes.
      const CLI::Option* option = FindOption(command, arg);
      if (option != nullptr && arg.find('=') == std::string::npos &&
          option->get_items_expected_min() > 0) {
        ++i;
      }
      continue;
    }
    std::vector<CLI::App*> subcommands = command->get_subcommands([](CLI::App*) { return true; });
    if (subcommands.empty()) break;  // a command's own arguments follow
    CLI::App* next = nullptr;
    for (CLI::App* s : subcommands) {
      if (s->check_name(arg)) next = s;
    }
    if (next != nullptr) {
      command = next;
      path += " " + arg;
      continue;
    }
    // A command with both subcommands and positional arguments may take `arg` as one of them.
    if (!command->get_options([](const CLI::Option* o) { return !o->nonpositional(); }).empty()) {
      break;
    }
    std::vector<std::string_view> names;
    std::string listed;
    for (CLI::App* s : subcommands) {
      names.push_back(s->get_name());
      listed += (listed.empty() ? "" : ", ") + s->get_name();
    }
    std::string nearest = ClosestName(arg, names);
    return fmt::format("{}: unknown command '{}'{}\nCommands of `{}`: {}\nRun `{} --help` for more.",
                       path, arg,
                       nearest.empty() ? "" : fmt::format("; did you mean '{}'?", nearest), path,
                       listed, path);
  }
  return "";
}

}  // namespace quire::cli
