// quire simpletest: an end-to-end smoke test of a cluster - write, read back, check, delete.
#include <chrono>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"

namespace quire::cli {

void AddSimpleTestCommand(CLI::App& app, GlobalOptions& g) {
  auto* cmd = app.add_subcommand(
      "simpletest", "Write entries to a new ledger, read them back, verify and delete it");
  auto entries = std::make_shared<int>(1000);
  auto e = std::make_shared<int>(0), qw = std::make_shared<int>(0), qa = std::make_shared<int>(0);
  cmd->add_option("--entries", *entries, "Entries to write")->check(CLI::Range(1, 10'000'000))
      ->capture_default_str();
  cmd->add_option("-e,--ensemble", *e, "Ensemble size (default: 3, or fewer if fewer bookies)");
  cmd->add_option("-w,--write-quorum", *qw, "Write quorum (default: the ensemble size)");
  cmd->add_option("-a,--ack-quorum", *qa, "Ack quorum (default: a majority of the write quorum)");
  cmd->callback([&g, entries, e, qw, qa] {
    const char* name = "simpletest";
    auto client = OpenClient(g, name);
    CreateLedgerOptions o;
    o.ensemble_size = *e;
    if (o.ensemble_size == 0) {
      auto bookies = client->ListBookies();
      if (!bookies.ok()) Fail(name, bookies.status());
      o.ensemble_size = std::max<int>(1, std::min<int>(3, static_cast<int>(bookies->writable.size())));
    }
    o.write_quorum_size = *qw > 0 ? *qw : o.ensemble_size;
    o.ack_quorum_size = *qa > 0 ? *qa : o.write_quorum_size / 2 + 1;
    auto start = std::chrono::steady_clock::now();
    auto writer = client->CreateLedger(o);
    if (!writer.ok()) Fail(name, writer.status());
    LedgerId id = (*writer)->id();
    std::vector<std::future<Result<EntryId>>> acks;
    acks.reserve(static_cast<size_t>(*entries));
    for (int i = 0; i < *entries; ++i) acks.push_back((*writer)->AppendAsync(fmt::format("simpletest-{}", i)));
    for (auto& f : acks) {
      Result<EntryId> r = f.get();
      if (!r.ok()) Fail(name, r.status().WithContext(fmt::format("writing ledger {}", id)));
    }
    if (Status s = (*writer)->Close(); !s.ok()) Fail(name, s);
    auto written = std::chrono::steady_clock::now();
    auto reader = client->OpenLedger(id, "");
    if (!reader.ok()) Fail(name, reader.status());
    auto got = (*reader)->Read(0, *entries - 1);
    if (!got.ok()) Fail(name, got.status().WithContext(fmt::format("reading ledger {}", id)));
    for (const Entry& entry : *got) {
      if (entry.payload != fmt::format("simpletest-{}", entry.id)) {
        Fail(name, Corruption(fmt::format("ledger {} entry {} read back different", id, entry.id)));
      }
    }
    auto read = std::chrono::steady_clock::now();
    if (Status s = client->DeleteLedger(id); !s.ok()) Fail(name, s);
    auto ms = [](auto a, auto b) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
    };
    if (g.json) {
      fmt::print("{}\n", nlohmann::json{{"ok", true},
                                        {"ledger_id", id},
                                        {"ensemble_size", o.ensemble_size},
                                        {"write_quorum_size", o.write_quorum_size},
                                        {"ack_quorum_size", o.ack_quorum_size},
                                        {"entries", *entries},
                                        {"write_ms", ms(start, written)},
                                        {"read_ms", ms(written, read)}}
                             .dump());
      return;
    }
    fmt::print("simpletest OK: ledger {} (E/Qw/Qa {}/{}/{}) wrote {} entries in {} ms, read them "
               "back in {} ms, deleted it\n",
               id, o.ensemble_size, o.write_quorum_size, o.ack_quorum_size, *entries,
               ms(start, written), ms(written, read));
  });
}

}  // namespace quire::cli
