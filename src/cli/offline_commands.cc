// quire journal|entrylog|index: offline tools on a stopped bookie's files (no network, no
// metadata). The work is in offline_tools.h; this file only parses arguments.
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "cli/cli.h"
#include "cli/offline_tools.h"
#include "common/file_system.h"

namespace quire::cli {
namespace {

// Asks on the terminal; false on anything but yes.
bool ConfirmOnTerminal(const std::string& question) {
  fmt::print(stderr, "{} [y/N] ", question);
  std::fflush(stderr);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

void AddJournalCommands(CLI::App& app, GlobalOptions& g) {
  CLI::App* journal = app.add_subcommand("journal", "Inspect journal files (offline)");
  journal->require_subcommand(1);
  struct Args {
    std::string file;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* dump = journal->add_subcommand(
      "dump",
      "Print a journal file record by record, as start-up replay reads it: header, groups, adds, "
      "master keys, fences, explicit LACs. A torn tail is reported; damage before it fails with "
      "its offset");
  dump->add_option("file", args->file, "Journal file (<journalDir>/current/<id>.jnl)")
      ->required()
      ->check(CLI::ExistingFile);
  dump->add_flag("--json", args->json, "JSON lines: one object per line");
  dump->callback([args, &g] {
    Status s = DumpJournal(DefaultFileSystem(), args->file, args->json || g.json, std::cout);
    std::cout.flush();
    if (!s.ok()) Fail("journal dump", s);
  });
}

void AddEntryLogCommands(CLI::App& app, GlobalOptions& g) {
  CLI::App* entrylog = app.add_subcommand("entrylog", "Inspect entry logs (offline)");
  entrylog->require_subcommand(1);
  struct Args {
    std::string file;
    bool json = false;
    std::string payload = "none";
  };
  auto args = std::make_shared<Args>();
  CLI::App* dump = entrylog->add_subcommand(
      "dump",
      "Print an entry log record by record: offset, ledger, entry, size, CRC. Damaged records "
      "are listed and make the command fail naming the first offset");
  dump->add_option("file", args->file, "Entry log (<ledgerDir>/current/<id>.log)")
      ->required()
      ->check(CLI::ExistingFile);
  dump->add_flag("--json", args->json, "JSON lines: one object per line");
  dump->add_option("--payload", args->payload, "Print each payload: hex or none")
      ->check(CLI::IsMember({"hex", "none"}))
      ->capture_default_str();
  dump->callback([args, &g] {
    PayloadFormat payload = args->payload == "hex" ? PayloadFormat::kHex : PayloadFormat::kNone;
    Status s =
        DumpEntryLog(DefaultFileSystem(), args->file, args->json || g.json, payload, std::cout);
    std::cout.flush();
    if (!s.ok()) Fail("entrylog dump", s);
  });
}

void AddIndexCommands(CLI::App& app, GlobalOptions& g) {
  CLI::App* index = app.add_subcommand("index",
                                       "Inspect or rebuild a ledger directory's index "
                                       "(offline)");
  index->require_subcommand(1);

  struct DumpArgs {
    std::string dir;
    uint64_t ledger = 0;
    bool json = false;
  };
  auto dump_args = std::make_shared<DumpArgs>();
  CLI::App* dump = index->add_subcommand(
      "dump",
      "Print the index: per ledger its info (fenced, master key length, explicit LAC) and "
      "where each entry is (log id, offset). Read-only");
  dump->add_option("ledgerDir", dump_args->dir, "Ledger directory (as in ledgerDirectories)")
      ->required();
  CLI::Option* only = dump->add_option("--ledger", dump_args->ledger, "Only this ledger");
  dump->add_flag("--json", dump_args->json, "JSON lines: one object per line");
  dump->callback([dump_args, only, &g] {
    std::optional<uint64_t> ledger;
    if (only->count() > 0) ledger = dump_args->ledger;
    Status s = DumpIndex(DefaultFileSystem(), dump_args->dir, ledger, dump_args->json || g.json,
                         std::cout);
    std::cout.flush();
    if (!s.ok()) Fail("index dump", s);
  });

  struct RebuildArgs {
    RebuildOptions options;
    bool yes = false;
    bool json = false;
  };
  auto rebuild_args = std::make_shared<RebuildArgs>();
  CLI::App* rebuild = index->add_subcommand(
      "rebuild",
      "Rebuild the index from the entry logs into a new directory and swap it in, keeping the old "
      "one as current/index.old-<time>. Every ledger comes back fenced; master keys and explicit "
      "LACs come from the old index or the journals where they survive "
      "(docs/operations-offline.md). Refuses while a bookie uses the directory");
  rebuild
      ->add_option("ledgerDir", rebuild_args->options.ledger_dir,
                   "Ledger directory (as in ledgerDirectories)")
      ->required();
  rebuild->add_flag("--yes", rebuild_args->yes, "Swap the new index in without asking");
  rebuild->add_flag("--dry-run", rebuild_args->options.dry_run,
                    "Scan and report what a rebuild would do; write nothing");
  rebuild
      ->add_option("--journal-dir", rebuild_args->options.journal_dirs,
                   "Journal directory to recover master keys and explicit LACs from "
                   "(repeatable; default: those in the ledger directory's cookie)")
      ->allow_extra_args(false);
  rebuild->add_flag("--skip-damaged", rebuild_args->options.skip_damaged,
                    "Index around damaged entry-log records instead of refusing (the bookie then "
                    "answers \"no such entry\" for them)");
  rebuild->add_flag("--json", rebuild_args->json, "One JSON document");
  rebuild->callback([rebuild_args, &g] {
    RebuildOptions options = rebuild_args->options;
    options.json = rebuild_args->json || g.json;
    options.progress = &std::cerr;
    if (!rebuild_args->yes && !options.dry_run) {
      if (!isatty(STDIN_FILENO)) {
        FailUsage("index rebuild",
                  "replaces the index: pass --yes (standard input is not a "
                  "terminal to ask on)");
      }
      options.confirm = [dir = options.ledger_dir] {
        std::cout.flush();
        return ConfirmOnTerminal(fmt::format("Replace the index of {} with the rebuilt one?", dir));
      };
    }
    Status s = RebuildIndex(DefaultFileSystem(), options, std::cout);
    std::cout.flush();
    if (!s.ok()) Fail("index rebuild", s);
  });
}

}  // namespace

void AddOfflineCommands(CLI::App& app, GlobalOptions& g) {
  AddJournalCommands(app, g);
  AddEntryLogCommands(app, g);
  AddIndexCommands(app, g);
}

}  // namespace quire::cli
