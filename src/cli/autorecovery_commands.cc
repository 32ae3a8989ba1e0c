// quire autorecovery status|enable|disable|run, and quire bookie recover (docs/autorecovery.md).
#include <signal.h>

#include <cstdio>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <thread>

#include "autorecovery/autorecovery.h"
#include "bookie/bookie_config.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "common/config.h"
#include "metadata/metadata_store.h"
#include "metadata/records.h"

namespace quire::cli {
namespace {

using json = nlohmann::json;

std::string Ago(int64_t then_ms, int64_t now_ms) {
  if (then_ms <= 0) return "never";
  return fmt::format("{:.0f} s ago", static_cast<double>(now_ms - then_ms) / 1000.0);
}

void AddStatus(CLI::App& ar, GlobalOptions& g) {
  auto* cmd = ar.add_subcommand(
      "status",
      "Show whether autorecovery is enabled, which process is the auditor, the missing bookies "
      "and since when, and how many ledgers are under-replicated");
  cmd->callback([&g] {
    const char* name = "autorecovery status";
    auto store = OpenStore(g, name);
    auto status = autorecovery::ReadStatus(*store);
    if (!status.ok()) Fail(name, status.status());
    if (g.json) {
      fmt::print("{}\n", autorecovery::StatusToJson(*status).dump(2));
      return;
    }
    const int64_t now = metadata::NowUnixMillis();
    fmt::print("autorecovery          {}\n", status->enabled ? "enabled" : "DISABLED");
    fmt::print("auditor               {}\n", status->auditor.value_or("none (no autorecovery "
                                                                     "process is running)"));
    fmt::print("under-replicated      {}{} ledger(s)\n", status->count_truncated ? ">= " : "",
               status->under_replicated_ledgers);
    fmt::print("missing bookies       {}\n", status->missing_bookies.size());
    for (const metadata::MissingBookie& m : status->missing_bookies) {
      fmt::print("  {}  missing since {} ms ({})\n", m.bookie_id, m.missing_since_ms,
                 Ago(m.missing_since_ms, now));
    }
    fmt::print("last audit            {}\n", Ago(status->audit_time_ms, now));
    fmt::print("last replica check    {}\n", Ago(status->last_check_time_ms, now));
  });
}

void AddSwitch(CLI::App& ar, GlobalOptions& g, bool enable) {
  auto* cmd = ar.add_subcommand(
      enable ? "enable" : "disable",
      enable ? "Turn autorecovery on cluster-wide (the default)"
             : "Turn autorecovery off cluster-wide: auditors mark nothing and workers copy nothing "
               "until `quire autorecovery enable` (e.g. during planned maintenance)");
  cmd->callback([&g, enable] {
    const char* name = enable ? "autorecovery enable" : "autorecovery disable";
    auto store = OpenStore(g, name);
    Status s = autorecovery::SetEnabled(*store, enable);
    if (!s.ok()) Fail(name, s);
    fmt::print(stderr, "autorecovery {} cluster-wide\n", enable ? "enabled" : "disabled");
  });
}

void AddRun(CLI::App& ar, GlobalOptions& g) {
  auto* cmd = ar.add_subcommand(
      "run",
      "Run an auditor candidate and a replication worker in this process until SIGTERM or "
      "SIGINT: for clusters whose bookies run with autoRecoveryDaemonEnabled=false. Takes the "
      "autorecovery keys of bookie.conf (--conf, --set)");
  auto conf = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto no_worker = std::make_shared<bool>(false);
  cmd->add_option("--conf", *conf,
                  "A bookie.conf: metadataServiceUri, the metadata timeouts and the autorecovery "
                  "keys are used, the others ignored");
  cmd->add_option("--set", *sets, "key=value over the file (repeatable)");
  cmd->add_flag("--auditor-only", *no_worker, "Take part in the auditor election only");
  cmd->callback([&g, conf, sets, no_worker] {
    const char* name = "autorecovery run";
    // bookie.conf's schema: its file can be given as it is (the keys that are not ours are
    // checked, then ignored).
    Config config(bookie::BookieConfigSchema());
    if (!conf->empty()) {
      auto loaded = Config::Load(bookie::BookieConfigSchema(), *conf);
      if (!loaded.ok()) Fail(name, loaded.status());
      config = std::move(*loaded);
    }
    for (const std::string& kv : *sets) {
      if (Status s = config.SetFromString(kv); !s.ok()) Fail(name, s);
    }
    autorecovery::AutoRecoveryOptions o = autorecovery::AutoRecoveryOptionsFromConfig(config);
    if (!g.metadata_uri.empty() || !config.IsSet("metadataServiceUri")) {
      o.client.metadata_uri = g.MetadataUri();
    }
    if (Status s = RequireExistingStore(o.client.metadata_uri); !s.ok()) Fail(name, s);
    g.tls.ApplyTo(&o.client);
    o.worker = !*no_worker;
    o.name = "autorecovery " + metadata::ProcessOwnerString();
    // Signals go to sigwait below; the threads started from here on inherit the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    auto running = autorecovery::AutoRecovery::Start(o);
    if (!running.ok()) Fail(name, running.status());
    fmt::print("autorecovery running as \"{}\" against {} (lostBookieRecoveryDelay {} s)\n",
               o.name, o.client.metadata_uri,
               std::chrono::duration_cast<std::chrono::seconds>(o.lost_bookie_delay).count());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    fmt::print(stderr, "autorecovery: signal {}, stopping\n", sig);
    (*running)->Stop();
  });
}

}  // namespace

void AddAutoRecoveryCommands(CLI::App& app, GlobalOptions& g) {
  auto* ar = app.add_subcommand(
      "autorecovery",
      "Autorecovery: the auditor and replication workers that copy a lost bookie's entries "
      "elsewhere (docs/autorecovery.md)");
  ar->require_subcommand(1);
  AddStatus(*ar, g);
  AddSwitch(*ar, g, true);
  AddSwitch(*ar, g, false);
  AddRun(*ar, g);
}

void AddBookieRecoverCommand(CLI::App& bookie, GlobalOptions& g) {
  auto* cmd = bookie.add_subcommand(
      "recover",
      "Re-replicate now everything a (dead) bookie held, as autorecovery would: open ledgers "
      "naming it are recovered (fenced and closed) first, then each ledger's entries on it are "
      "copied to another bookie and the ensembles updated. Prints progress and a total. The "
      "bookie's cookie stays (`quire bookie decommission` removes it)");
  auto id = std::make_shared<std::string>();
  auto batch = std::make_shared<size_t>(64);
  auto rate_limit = std::make_shared<int64_t>(-1);
  cmd->add_option("id", *id, "Bookie id (host:port)")->required();
  cmd->add_option("--batch", *batch, "Entries per round trip (rereplicationEntryBatchSize)")
      ->check(CLI::Range(1, 10'000));
  cmd->add_option("--rate", *rate_limit, "Bytes per second to copy at most; -1: no limit");
  cmd->callback([&g, id, batch, rate_limit] {
    const char* name = "bookie recover";
    auto ctx = client::OpenClientContext(CliClientOptions(g, name));
    if (!ctx.ok()) Fail(name, ctx.status());
    auto live = (*ctx)->store().ListBookies();
    if (live.ok() && (std::count(live->writable.begin(), live->writable.end(), *id) ||
                      std::count(live->read_only.begin(), live->read_only.end(), *id))) {
      fmt::print(stderr,
                 "note: bookie {} is registered (running): its open ledgers will be fenced and "
                 "its copies moved all the same\n",
                 *id);
    }
    client::ReplicationOptions ro;
    ro.batch_entries = *batch;
    autorecovery::ByteRate rate(*rate_limit);
    if (rate.limited()) {
      ro.after_batch = [&rate](const CopiedEntries& b) {
        std::this_thread::sleep_until(rate.After(b.bytes, std::chrono::steady_clock::now()));
        return true;
      };
    }
    std::unique_ptr<Progress> progress;
    int64_t last_done = 0;
    CopiedEntries last;
    auto copied = autorecovery::RecoverBookie(
        **ctx, *id, ro, [&](const autorecovery::RecoverProgress& p) {
          if (!progress) {
            progress = std::make_unique<Progress>(std::cerr, "recovery of " + *id, "ledgers",
                                                  p.ledgers_total);
          }
          progress->Add(p.ledgers_done - last_done, p.copied.entries - last.entries,
                        p.copied.bytes - last.bytes);
          last_done = p.ledgers_done;
          last = p.copied;
        });
    if (progress) progress->Finish();
    if (!copied.ok()) Fail(name, copied.status());
    if (g.json) {
      fmt::print("{}\n", json{{"bookie", *id},
                              {"ledgers", last_done},
                              {"entries", copied->entries},
                              {"bytes", copied->bytes}}
                             .dump(2));
    } else {
      fmt::print("bookie {}: {} ledger(s), {} entries ({} bytes) copied to other bookies\n", *id,
                 last_done, copied->entries, copied->bytes);
    }
  });
}

}  // namespace quire::cli
