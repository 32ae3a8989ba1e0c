// quire cluster init|info|nuke.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "metadata/metadata_store.h"

namespace quire::cli {
namespace {

using nlohmann::json;

void PrintInfo(const GlobalOptions& g, const metadata::ClusterInfo& info,
               const metadata::BookieList* bookies) {
  if (g.json) {
    json j = {{"instance_id", info.instance_id},
              {"layout_version", info.layout_version},
              {"creation_time_ms", info.creation_time_ms},
              {"metadata_uri", info.service_uri}};
    if (bookies) {
      j["writable_bookies"] = bookies->writable;
      j["read_only_bookies"] = bookies->read_only;
    }
    fmt::print("{}\n", j.dump(2));
    return;
  }
  fmt::print("metadata      {}\ninstance id   {}\nlayout        {}\ncreated       {} (ms since epoch)\n",
             info.service_uri, info.instance_id, info.layout_version, info.creation_time_ms);
  if (bookies) {
    fmt::print("bookies       {} writable, {} read-only\n", bookies->writable.size(),
               bookies->read_only.size());
  }
}

}  // namespace

void AddClusterCommands(CLI::App& app, GlobalOptions& g) {
  auto* cluster = app.add_subcommand("cluster", "The cluster's metadata: init, info, nuke");
  cluster->require_subcommand(1);

  cluster->add_subcommand("init", "Initialise the metadata (harmless if already done)")
      ->callback([&g] {
        auto store = OpenStore(g, "cluster init", IfNoStore::kCreate);
        auto info = store->InitCluster();
        if (!info.ok()) Fail("cluster init", info.status());
        PrintInfo(g, *info, nullptr);
      });

  cluster->add_subcommand("info", "Show the cluster's instance id and its bookies")
      ->callback([&g] {
        auto store = OpenStore(g, "cluster info");
        auto info = store->GetClusterInfo();
        if (!info.ok()) Fail("cluster info", info.status());
        auto bookies = store->ListBookies();
        if (!bookies.ok()) Fail("cluster info", bookies.status());
        PrintInfo(g, *info, &*bookies);
      });

  auto* nuke = cluster->add_subcommand(
      "nuke", "Delete ALL metadata: every ledger becomes unreadable. Needs --yes");
  auto yes = std::make_shared<bool>(false);
  auto force = std::make_shared<bool>(false);
  nuke->add_flag("--yes", *yes, "Confirm: delete everything");
  nuke->add_flag("--force", *force, "Even while bookies are registered");
  nuke->callback([&g, yes, force] {
    if (!*yes) FailUsage("cluster nuke", "this deletes every ledger's metadata; add --yes to confirm");
    auto store = OpenStore(g, "cluster nuke");
    if (Status s = store->Nuke(*force); !s.ok()) Fail("cluster nuke", s);
    fmt::print(stderr, "deleted all metadata at {}\n", g.MetadataUri());
  });
}

}  // namespace quire::cli
