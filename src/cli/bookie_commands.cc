// quire bookie list|info|readonly|format|sanity|decommission (and gc: bookie_gc.cc; recover:
// autorecovery_commands.cc).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bookie/bookie_config.h"
#include "cli/admin_http_client.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "common/file_system.h"
#include "metadata/ledger_scan.h"
#include "metadata/metadata_store.h"

namespace quire::cli {
namespace {

using nlohmann::json;

void AddList(CLI::App& bookie, GlobalOptions& g) {
  auto* cmd = bookie.add_subcommand(
      "list",
      "List the writable bookies (or the read-only ones); with --json, each one's Quire version "
      "too");
  auto readonly = std::make_shared<bool>(false);
  cmd->add_flag("--readonly", *readonly, "List the read-only bookies instead");
  cmd->callback([&g, readonly] {
    const char* name = "bookie list";
    if (g.json) {
      // What each bookie's registration says, its version included.
      auto registrations = OpenStore(g, name)->ListRegistrations();
      if (!registrations.ok()) Fail(name, registrations.status());
      json out = json::array();
      auto wanted = *readonly ? metadata::BookieMode::kReadOnly : metadata::BookieMode::kWritable;
      for (const metadata::RegisteredBookie& r : *registrations) {
        if (r.mode != wanted) continue;
        out.push_back({{"bookie", r.bookie_id},
                       {"mode", metadata::BookieModeName(r.mode)},
                       {"version", r.version.empty() ? json(nullptr) : json(r.version)}});
      }
      fmt::print("{}\n", out.dump());
      return;
    }
    auto client = OpenClient(g, name);
    auto list = client->ListBookies();
    if (!list.ok()) Fail(name, list.status());
    for (const BookieId& id : *readonly ? list->read_only : list->writable) fmt::print("{}\n", id);
  });
}

void AddInfo(CLI::App& bookie, GlobalOptions& g) {
  auto* cmd = bookie.add_subcommand("info", "Ask a bookie for its state and disk space");
  auto id = std::make_shared<std::string>();
  cmd->add_option("id", *id, "Bookie id (host:port)")->required();
  cmd->callback([&g, id] {
    auto client = OpenClient(g, "bookie info");
    auto info = client->GetBookieInfo(*id);
    if (!info.ok()) Fail("bookie info", info.status());
    if (g.json) {
      fmt::print("{}\n", json{{"bookie_id", info->bookie_id},
                              {"writable", info->writable},
                              {"read_only_reason", info->read_only_reason},
                              {"total_bytes", info->total_bytes},
                              {"free_bytes", info->free_bytes},
                              {"http_port", info->http_port}}
                             .dump(2));
      return;
    }
    fmt::print("bookie        {}\nstate         {}{}\ndisk          {:.1f} GiB free of {:.1f} GiB\n"
               "admin http    {}\n",
               info->bookie_id, info->writable ? "writable" : "read-only",
               info->read_only_reason.empty() ? "" : " (" + info->read_only_reason + ")",
               static_cast<double>(info->free_bytes) / (1 << 30),
               static_cast<double>(info->total_bytes) / (1 << 30),
               info->http_port == 0 ? std::string("off (or not reported)")
                                    : AdminEndpointOf(info->bookie_id, info->http_port).ToString());
  });
}

void AddReadOnly(CLI::App& bookie, GlobalOptions& g) {
  auto* cmd = bookie.add_subcommand(
      "readonly",
      "Make a bookie read-only by hand (--on), e.g. before a decommission, or lift that (--off)");
  cmd->footer(
      "A read-only bookie refuses new entries (clients write to other bookies) and goes on\n"
      "serving reads. The manual mode is kept on the bookie's disk, so it survives restarts until\n"
      "--off lifts it; --off does not make writable a bookie that is read-only for another\n"
      "reason (a full disk, an I/O error): the answer says why it still is. Through the bookie's\n"
      "admin HTTP endpoint (PUT /api/v1/bookie/state/readonly, as BookKeeper's).");
  auto id = std::make_shared<std::string>();
  auto on = std::make_shared<bool>(false);
  auto off = std::make_shared<bool>(false);
  cmd->add_option("id", *id, "Bookie id (host:port)")->required();
  auto* on_flag = cmd->add_flag("--on", *on, "Make the bookie read-only until --off");
  auto* off_flag = cmd->add_flag("--off", *off, "Lift the manual read-only mode");
  on_flag->excludes(off_flag);
  auto admin = std::make_shared<AdminAccessFlags>();
  admin->AddTo(cmd);
  cmd->callback([&g, id, on, off, admin] {
    const char* name = "bookie readonly";
    if (!*on && !*off) FailUsage(name, "give --on or --off");
    auto access = admin->Resolve(g);
    if (!access.ok()) Fail(name, access.status());
    auto client = OpenClient(g, name);
    auto endpoint = FindAdminEndpoint(*client, *id, *access);
    if (!endpoint.ok()) Fail(name, endpoint.status().WithContext("bookie " + *id));
    auto answer = CallAdminJson(*endpoint, "PUT", "/api/v1/bookie/state/readonly",
                                json{{"readOnly", *on}}.dump(), std::chrono::seconds(30));
    if (!answer.ok()) Fail(name, answer.status().WithContext("bookie " + *id));
    if (g.json) {
      fmt::print("{}\n", answer->dump(2));
      return;
    }
    bool read_only = answer->value("readOnly", *on);
    std::string reason = answer->value("reason", std::string());
    if (*on) {
      fmt::print("bookie {} is read-only until `quire bookie readonly --off {}`\n", *id, *id);
    } else if (read_only) {
      fmt::print("bookie {}: manual read-only mode lifted, but it is still read-only: {}\n", *id,
                 reason);
    } else {
      fmt::print("bookie {} is writable\n", *id);
    }
  });
}

void AddSanity(CLI::App& bookie, GlobalOptions& g) {
  auto* cmd = bookie.add_subcommand(
      "sanity", "Write, read back and delete a small ledger on one bookie");
  auto id = std::make_shared<std::string>();
  auto entries = std::make_shared<int>(10);
  cmd->add_option("id", *id, "Bookie id (host:port)")->required();
  cmd->add_option("--entries", *entries, "Entries to write")->check(CLI::Range(1, 100000));
  cmd->callback([&g, id, entries] {
    const char* name = "bookie sanity";
    auto client = OpenClient(g, name);
    auto writer = client->CreateLedger({.ensemble_size = 1, .write_quorum_size = 1,
                                        .ack_quorum_size = 1, .bookies = {*id}});
    if (!writer.ok()) Fail(name, writer.status());
    LedgerId ledger = (*writer)->id();
    for (int i = 0; i < *entries; ++i) {
      auto r = (*writer)->Append(fmt::format("sanity-{}", i));
      if (!r.ok()) Fail(name, r.status().WithContext(fmt::format("writing to bookie {}", *id)));
    }
    if (Status s = (*writer)->Close(); !s.ok()) Fail(name, s);
    auto reader = client->OpenLedger(ledger, "");
    if (!reader.ok()) Fail(name, reader.status());
    auto got = (*reader)->Read(0, *entries - 1);
    if (!got.ok()) Fail(name, got.status().WithContext(fmt::format("reading from bookie {}", *id)));
    for (const Entry& e : *got) {
      if (e.payload != fmt::format("sanity-{}", e.id)) {
        Fail(name, Corruption(fmt::format("bookie {} returned a different entry {}", *id, e.id)));
      }
    }
    if (Status s = client->DeleteLedger(ledger); !s.ok()) Fail(name, s);
    if (g.json) {
      fmt::print("{}\n", json{{"bookie", *id}, {"sane", true}, {"entries", *entries},
                              {"ledger_id", ledger}}.dump());
      return;
    }
    fmt::print("bookie {} is sane: wrote, read back and deleted {} entries (ledger {})\n", *id,
               *entries, ledger);
  });
}

void AddFormat(CLI::App& bookie, GlobalOptions& g) {
  auto* cmd = bookie.add_subcommand(
      "format",
      "Wipe a STOPPED bookie's journal and ledger directories and its cookie in the metadata, so "
      "that it starts as a new, empty bookie. Its ledgers must then be re-replicated "
      "(decommission it first). Needs --yes");
  auto conf = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto yes = std::make_shared<bool>(false);
  cmd->add_option("-c,--conf", *conf, "The bookie's configuration file")->required();
  cmd->add_option("-s,--set", *sets, "Override one key, as for quire-bookie (repeatable)");
  auto force = std::make_shared<bool>(false);
  cmd->add_flag("--yes", *yes, "Confirm: delete the bookie's data");
  cmd->add_flag("--force", *force,
                "Format even though ledgers that are not closed list the bookie (printed as a "
                "warning): a recovery may then cut acknowledged entries off");
  cmd->callback([&g, conf, sets, yes, force] {
    const char* name = "bookie format";
    auto config = Config::Load(bookie::BookieConfigSchema(), *conf);
    if (!config.ok()) FailUsage(name, config.status().message());
    for (const std::string& kv : *sets) {
      if (Status s = config->SetFromString(kv); !s.ok()) FailUsage(name, s.message());
    }
    auto options = bookie::BookieOptionsFromConfig(*config);
    if (!options.ok()) FailUsage(name, options.status().message());
    if (!*yes) {
      FailUsage(name, fmt::format("this deletes every entry bookie {} holds; add --yes to confirm",
                                  options->bookie_id));
    }
    // Checked before anything is wiped: a missing file:// store (a wrong metadataServiceUri) must
    // not be created just to delete a cookie from it.
    if (Status s = RequireExistingStore(options->metadata_uri); !s.ok()) Fail(name, s);
    auto store = metadata::OpenMetadataStore(options->metadata_uri, options->metadata);
    if (!store.ok()) Fail(name, store.status());
    // A formatted bookie answers "no such entry" for what it held. While a ledger that lists it
    // is not closed, a recovery counts such answers towards its end (Qw - Qa + 1 of them decide),
    // so an entry acknowledged by this bookie and one unreachable bookie could be cut off.
    auto using_it = metadata::LedgersUsingBookie(**store, options->bookie_id);
    if (!using_it.ok()) Fail(name, using_it.status());
    std::vector<std::string> open;
    for (const metadata::LedgerOfBookie& l : *using_it) {
      if (!l.metadata.closed()) {
        open.push_back(fmt::format("{} ({})", l.id, LedgerStateName(l.metadata.state)));
      }
    }
    if (!open.empty()) {
      std::string which = fmt::format("{}", fmt::join(open, ", "));
      if (!*force) {
        Fail(name, FailedPrecondition(fmt::format(
                       "{} ledger(s) that are not closed list bookie {}: {}; formatting it could "
                       "let a recovery cut acknowledged entries off. Recover them first (quire "
                       "ledger recover ID), or add --force",
                       open.size(), options->bookie_id, which)));
      }
      fmt::print(stderr,
                 "WARNING: formatting bookie {} although {} ledger(s) that are not closed list "
                 "it: {}. A recovery of these may cut acknowledged entries off.\n",
                 options->bookie_id, open.size(), which);
    }
    std::vector<std::string> dirs = options->storage.journal_dirs;
    dirs.insert(dirs.end(), options->storage.ledger_dirs.begin(), options->storage.ledger_dirs.end());
    // Hold every directory's lock while wiping: a running bookie holds them.
    std::vector<std::unique_ptr<FileLock>> locks;
    for (const std::string& dir : dirs) {
      if (!std::filesystem::exists(dir + "/current/LOCK")) continue;
      auto lock = DefaultFileSystem()->Lock(dir + "/current/LOCK");
      if (!lock.ok()) {
        Fail(name, lock.status().WithContext(fmt::format("{} is in use (is the bookie running?)", dir)));
      }
      locks.push_back(std::move(*lock));
    }
    for (const std::string& dir : dirs) {
      std::error_code ec;
      for (const auto& child : std::filesystem::directory_iterator(dir, ec)) {
        std::filesystem::remove_all(child.path(), ec);
        if (ec) Fail(name, IOError(fmt::format("removing {}: {}", child.path().string(), ec.message())));
      }
    }
    locks.clear();
    Status s = (*store)->DeleteCookie(options->bookie_id, metadata::kAnyVersion);
    if (!s.ok() && !s.Is(StatusCode::kNotFound)) Fail(name, s);
    fmt::print(stderr, "formatted bookie {}: {} directories wiped, cookie removed\n",
               options->bookie_id, dirs.size());
  });
  (void)g;
}

void AddDecommission(CLI::App& bookie, GlobalOptions& g) {
  auto* cmd = bookie.add_subcommand(
      "decommission",
      "Copy every entry a bookie holds of closed ledgers to other bookies, update the ensembles, "
      "then remove its cookie. Run it with the bookie stopped (or about to be)");
  auto id = std::make_shared<std::string>();
  auto password = std::make_shared<PasswordFlags>();
  cmd->add_option("id", *id, "Bookie id (host:port)")->required();
  password->AddTo(cmd,
                  "Needed only for ledgers whose metadata keeps no keys (written before "
                  "2026-12-04): their password (ledgers with another one are reported and "
                  "skipped)");
  cmd->callback([&g, id, password] {
    const char* name = "bookie decommission";
    std::string secret = password->Get(name);
    auto client = OpenClient(g, name);
    // First the ledgers to move, so that progress can say how many are left.
    int64_t listed = 0;
    std::unique_ptr<metadata::MetadataStore> store = OpenStore(g, name);
    auto using_it = metadata::LedgersUsingBookie(*store, *id, &listed);
    if (!using_it.ok()) Fail(name, using_it.status());
    std::vector<LedgerId> todo;
    for (const metadata::LedgerOfBookie& l : *using_it) todo.push_back(l.id);
    fmt::print(stderr, "{} of {} ledger(s) use bookie {}\n", todo.size(), listed, *id);
    Progress progress(std::cerr, "decommission of " + *id, "ledgers",
                      static_cast<int64_t>(todo.size()));
    json moved = json::array(), skipped = json::array();
    CopiedEntries total;
    for (LedgerId ledger : todo) {
      auto copied = client->ReplaceBookie(ledger, *id, secret);
      if (!copied.ok()) {
        fmt::print(stderr, "ledger {}: skipped: {}\n", ledger, copied.status().ToString());
        skipped.push_back({{"ledger_id", ledger}, {"error", copied.status().ToString()}});
        progress.Add(1, 0, 0);
        continue;
      }
      total.entries += copied->entries;
      total.bytes += copied->bytes;
      moved.push_back(
          {{"ledger_id", ledger}, {"entries", copied->entries}, {"bytes", copied->bytes}});
      if (!g.json) {
        fmt::print("ledger {}: {} entries ({} bytes) copied off {}\n", ledger, copied->entries,
                   copied->bytes, *id);
        std::fflush(stdout);
      }
      progress.Add(1, copied->entries, copied->bytes);
    }
    progress.Finish();
    fmt::print(stderr, "{} ledger(s) moved off bookie {} ({} entries, {} bytes), {} skipped\n",
               moved.size(), *id, total.entries, total.bytes, skipped.size());
    // The cookie goes only once nothing is left on the bookie and it no longer runs.
    bool registered = false, cookie_removed = false;
    if (skipped.empty()) {
      auto list = client->ListBookies();
      registered = list.ok() && (std::count(list->writable.begin(), list->writable.end(), *id) ||
                                 std::count(list->read_only.begin(), list->read_only.end(), *id));
      if (registered) {
        fmt::print(stderr, "bookie {} is still running: stop it; its cookie was left in place\n",
                   *id);
      } else {
        Status s = store->DeleteCookie(*id, metadata::kAnyVersion);
        if (!s.ok() && !s.Is(StatusCode::kNotFound)) Fail(name, s);
        cookie_removed = true;
        fmt::print(stderr, "bookie {} decommissioned (cookie removed)\n", *id);
      }
    }
    if (g.json) {
      fmt::print("{}\n", json{{"bookie", *id},
                              {"ledgers_using_bookie", todo.size()},
                              {"ledgers_moved", moved.size()},
                              {"entries", total.entries},
                              {"bytes", total.bytes},
                              {"moved", moved},
                              {"skipped", skipped},
                              {"still_registered", registered},
                              {"cookie_removed", cookie_removed}}
                             .dump(2));
      std::fflush(stdout);
    }
    if (!skipped.empty()) {
      Fail(name, Status(StatusCode::kFailedPrecondition,
                        fmt::format("{} ledger(s) still use bookie {}; fix what is reported above "
                                    "and run again",
                                    skipped.size(), *id)));
    }
  });
}

}  // namespace

void AddBookieCommands(CLI::App& app, GlobalOptions& g) {
  auto* bookie = app.add_subcommand(
      "bookie",
      "Bookies: list, info, read-only mode, sanity check, garbage collection, format, "
      "decommission");
  bookie->require_subcommand(1);
  AddList(*bookie, g);
  AddInfo(*bookie, g);
  AddReadOnly(*bookie, g);
  AddSanity(*bookie, g);
  AddBookieGcCommand(*bookie, g);
  AddBookieRecoverCommand(*bookie, g);
  AddFormat(*bookie, g);
  AddDecommission(*bookie, g);
}

}  // namespace quire::cli
