// quire ledger ...: list, metadata, create, delete, write, read, tail, recover, check.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/pipe_io.h"
#include "common/mutex.h"
#include "metadata/metadata_store.h"

namespace quire::cli {
namespace {

using nlohmann::json;

// Options shared by the commands that create a ledger.
struct CreateFlags {
  int ensemble = 3, write_quorum = 3, ack_quorum = 2;
  std::string digest = "crc32c";
  std::vector<std::string> custom;  // key=value

  void Add(CLI::App* cmd) {
    cmd->add_option("-e,--ensemble", ensemble, "Ensemble size E")->capture_default_str();
    cmd->add_option("-w,--write-quorum", write_quorum, "Write quorum Qw")->capture_default_str();
    cmd->add_option("-a,--ack-quorum", ack_quorum, "Ack quorum Qa")->capture_default_str();
    cmd->add_option("--digest", digest, "Entry digest: crc32c or hmac (HMAC-SHA256 with the password)")
        ->check(CLI::IsMember({"crc32c", "hmac"}))
        ->capture_default_str();
    cmd->add_option("--custom", custom, "Custom metadata key=value (repeatable)");
  }

  CreateLedgerOptions Options(const std::string& password, std::string_view command) const {
    CreateLedgerOptions o;
    o.ensemble_size = ensemble;
    o.write_quorum_size = write_quorum;
    o.ack_quorum_size = ack_quorum;
    o.digest_type = digest == "hmac" ? DigestType::kHmacSha256 : DigestType::kCrc32c;
    o.password = password;
    for (const std::string& kv : custom) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        FailUsage(command, fmt::format("--custom '{}' is not key=value", kv));
      }
      o.custom_metadata[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return o;
  }
};

json MetadataJson(LedgerId id, const LedgerMetadata& md) {
  json ensembles = json::array();
  for (const Ensemble& e : md.ensembles) {
    ensembles.push_back({{"first_entry_id", e.first_entry_id}, {"bookies", e.bookies}});
  }
  return {{"ledger_id", id},
          {"state", LedgerStateName(md.state)},
          {"ensemble_size", md.ensemble_size},
          {"write_quorum_size", md.write_quorum_size},
          {"ack_quorum_size", md.ack_quorum_size},
          {"digest_type", DigestTypeName(md.digest_type)},
          {"has_password", !md.password_hash.empty()},
          {"last_entry_id", md.last_entry_id},
          {"length", md.length},
          {"creation_time_ms", md.creation_time_ms},
          {"creator", md.creator},
          {"custom_metadata", md.custom_metadata},
          {"ensembles", ensembles}};
}

std::string Hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) fmt::format_to(std::back_inserter(out), "{:02x}", c);
  return out;
}

// Prints one entry in `format`: raw (the payload and a newline), hex or json (one object a line).
void PrintEntry(LedgerId id, const Entry& e, const std::string& format) {
  if (format == "raw") {
    std::fwrite(e.payload.data(), 1, e.payload.size(), stdout);
    std::fputc('\n', stdout);
  } else if (format == "hex") {
    fmt::print("{} {}\n", e.id, Hex(e.payload));
  } else {
    json j = {{"ledger_id", id}, {"entry_id", e.id}, {"size", e.payload.size()},
              {"payload", e.payload}};
    fmt::print("{}\n", j.dump(-1, ' ', false, json::error_handler_t::replace));
  }
}

void AddList(CLI::App& ledger, GlobalOptions& g) {
  auto* cmd = ledger.add_subcommand("list", "List ledger ids, ascending (one per line)");
  auto from = std::make_shared<LedgerId>(0);
  auto under_replicated = std::make_shared<bool>(false);
  cmd->add_option("--from", *from, "First ledger id to list");
  cmd->add_flag("--under-replicated", *under_replicated,
                "Only the ledgers marked under-replicated (autorecovery), each with the bookies "
                "it lost: \"ID lost BOOKIE[,BOOKIE...] since MS\" (docs/autorecovery.md)");
  cmd->callback([&g, from, under_replicated] {
    const char* name = "ledger list";
    json out = json::array();
    constexpr size_t kPage = 10'000;
    LedgerId next = *from;
    if (*under_replicated) {
      std::unique_ptr<metadata::MetadataStore> store = OpenStore(g, name);
      for (;;) {
        auto page = store->ListUnderReplicated(next, kPage);
        if (!page.ok()) Fail(name, page.status());
        if (page->empty()) break;
        for (const metadata::UnderReplicatedLedger& m : *page) {
          if (g.json) {
            out.push_back({{"ledger_id", m.ledger_id},
                           {"lost_bookies", m.lost_bookies},
                           {"marked_time_ms", m.marked_time_ms}});
          } else {
            fmt::print("{} lost {} since {}\n", m.ledger_id, fmt::join(m.lost_bookies, ","),
                       m.marked_time_ms);
          }
        }
        next = page->back().ledger_id + 1;
      }
      if (g.json) fmt::print("{}\n", out.dump());
      return;
    }
    auto client = OpenClient(g, name);
    for (;;) {
      auto page = client->ListLedgers(next, kPage);
      if (!page.ok()) Fail(name, page.status());
      if (page->empty()) break;
      for (LedgerId id : *page) {
        if (g.json) out.push_back(id);
        else fmt::print("{}\n", id);
      }
      next = page->back() + 1;
    }
    if (g.json) fmt::print("{}\n", out.dump());
  });
}

void AddMetadata(CLI::App& ledger, GlobalOptions& g) {
  auto* cmd = ledger.add_subcommand("metadata", "Show a ledger's metadata");
  auto id = std::make_shared<LedgerId>(-1);
  cmd->add_option("id", *id, "Ledger id")->required();
  cmd->callback([&g, id] {
    auto client = OpenClient(g, "ledger metadata");
    auto md = client->ReadLedgerMetadata(*id);
    if (!md.ok()) Fail("ledger metadata", md.status());
    if (g.json) {
      fmt::print("{}\n", MetadataJson(*id, *md).dump(2));
      return;
    }
    fmt::print("ledger        {}\nstate         {}\nE/Qw/Qa       {}/{}/{}\ndigest        {}\n"
               "lastEntryId   {}\nlength        {}\ncreated       {} (ms since epoch) by {}\n",
               *id, LedgerStateName(md->state), md->ensemble_size, md->write_quorum_size,
               md->ack_quorum_size, DigestTypeName(md->digest_type), md->last_entry_id,
               md->length, md->creation_time_ms, md->creator);
    for (const Ensemble& e : md->ensembles) {
      fmt::print("ensemble      from entry {}: {}\n", e.first_entry_id, fmt::join(e.bookies, " "));
    }
    for (const auto& [k, v] : md->custom_metadata) fmt::print("custom        {} = {}\n", k, v);
  });
}

void AddCreate(CLI::App& ledger, GlobalOptions& g) {
  auto* cmd = ledger.add_subcommand(
      "create", "Create an empty ledger and print its id; `ledger write <id>` becomes its writer");
  auto flags = std::make_shared<CreateFlags>();
  auto password = std::make_shared<PasswordFlags>();
  flags->Add(cmd);
  password->AddTo(cmd);
  cmd->callback([&g, flags, password] {
    auto client = OpenClient(g, "ledger create");
    auto id = client->CreateEmptyLedger(
        flags->Options(password->Get("ledger create"), "ledger create"));
    if (!id.ok()) Fail("ledger create", id.status());
    if (g.json) fmt::print("{}\n", json{{"ledger_id", *id}}.dump());
    else fmt::print("{}\n", *id);
  });
}

void AddDelete(CLI::App& ledger, GlobalOptions& g) {
  auto* cmd = ledger.add_subcommand(
      "delete",
      "Delete a ledger's metadata. Bookies give its space back in their next garbage-collection "
      "pass (within gcWaitTime, default 10 minutes; entry logs shared with live ledgers at their "
      "next compaction); `quire bookie gc --all` runs one now");
  auto id = std::make_shared<LedgerId>(-1);
  cmd->add_option("id", *id, "Ledger id")->required();
  cmd->callback([&g, id] {
    auto client = OpenClient(g, "ledger delete");
    if (Status s = client->DeleteLedger(*id); !s.ok()) Fail("ledger delete", s);
    fmt::print(stderr, "deleted ledger {}\n", *id);
  });
}

void AddWrite(CLI::App& ledger, GlobalOptions& g) {
  auto* cmd = ledger.add_subcommand(
      "write",
      "Append each line of standard input as an entry; print '<ledgerId> <entryId>' as each is "
      "acknowledged (with --json: {\"ledger_id\": L, \"entry_id\": E} a line); close the "
      "ledger at end of input");
  auto id = std::make_shared<LedgerId>(-1);
  auto is_new = std::make_shared<bool>(false);
  auto flags = std::make_shared<CreateFlags>();
  auto password = std::make_shared<PasswordFlags>();
  cmd->add_option("id", *id, "Ledger id made by `ledger create` (or use --new)");
  cmd->add_flag("--new", *is_new, "Create a new ledger");
  flags->Add(cmd);
  password->AddTo(cmd);
  cmd->callback([&g, id, is_new, flags, password] {
    const char* name = "ledger write";
    if (*is_new == (*id >= 0)) FailUsage(name, "give either a ledger id or --new");
    std::string secret = password->Get(name);
    auto client = OpenClient(g, name);
    Result<std::unique_ptr<WriteHandle>> writer =
        *is_new ? client->CreateLedger(flags->Options(secret, name))
                : client->OpenLedgerForWriting(*id, secret);
    if (!writer.ok()) Fail(name, writer.status());
    LedgerId ledger_id = (*writer)->id();
    fmt::print(stderr, "writing to ledger {}\n", ledger_id);
    // Acknowledgements arrive in order, on the client's callback thread; the printer writes
    // them from its own (a pipe sees each at once, and many per write under load).
    struct Acks {
      LedgerId ledger_id;
      bool as_json;
      LinePrinter printer{STDOUT_FILENO};
      std::atomic<bool> failed{false};
      Mutex mu;
      Status first_error QUIRE_GUARDED_BY(mu);
    } acks{ledger_id, g.json};
    // One pointer: the callback is stored in std::function without an allocation per entry.
    auto on_ack = [a = &acks](Result<EntryId> r) {
      if (r.ok()) {
        char text[96];  // two 64-bit numbers and the JSON keys
        auto out = a->as_json ? fmt::format_to_n(text, sizeof(text),
                                                 "{{\"ledger_id\":{},\"entry_id\":{}}}\n",
                                                 a->ledger_id, *r)
                              : fmt::format_to_n(text, sizeof(text), "{} {}\n", a->ledger_id, *r);
        a->printer.Print(std::string_view(text, out.size));
        return;
      }
      MutexLock lock(a->mu);
      if (a->first_error.ok()) a->first_error = r.status();
      a->failed.store(true, std::memory_order_relaxed);
    };
    LineReader input(STDIN_FILENO);
    Status read_error;
    while (!acks.failed.load(std::memory_order_relaxed)) {
      Result<std::optional<std::string>> line = input.Next();
      if (!line.ok()) {
        read_error = line.status();
        break;
      }
      if (!*line) break;
      (*writer)->AppendAsync(std::move(**line), on_ack);
    }
    Status closed = (*writer)->Close();  // every callback has run when it returns
    // Written out before any error below ends the process.
    Status printed = acks.printer.Finish();
    MutexLock lock(acks.mu);
    if (!acks.first_error.ok()) {
      Fail(name, acks.first_error.WithContext(fmt::format("ledger {}", ledger_id)));
    }
    if (!read_error.ok()) Fail(name, read_error);
    if (!closed.ok()) Fail(name, closed);
    if (!printed.ok()) Fail(name, printed);
    fmt::print(stderr, "closed ledger {} at entry {}\n", ledger_id, (*writer)->last_add_confirmed());
  });
}

struct ReadFlags {
  PasswordFlags password;
  std::string format = "raw";
  CLI::Option* format_option = nullptr;
  void Add(CLI::App* cmd) {
    password.AddTo(cmd);
    format_option =
        cmd->add_option("--format", format,
                        "raw (payload per line), hex, json (one object per line; the default "
                        "with --json)")
            ->check(CLI::IsMember({"raw", "hex", "json"}))
            ->capture_default_str();
  }
  // --format if given, else json with --json, else raw.
  std::string Format(const GlobalOptions& g) const {
    return g.json && format_option->count() == 0 ? "json" : format;
  }
};

void AddRead(CLI::App& ledger, GlobalOptions& g) {
  auto* cmd = ledger.add_subcommand(
      "read", "Print entries of a ledger (up to its last entry, or the LAC if it is open)");
  auto id = std::make_shared<LedgerId>(-1);
  auto first = std::make_shared<EntryId>(0);
  auto last = std::make_shared<EntryId>(-1);
  auto flags = std::make_shared<ReadFlags>();
  cmd->add_option("id", *id, "Ledger id")->required();
  cmd->add_option("--first", *first, "First entry id");
  cmd->add_option("--last", *last, "Last entry id (default: the last readable)");
  flags->Add(cmd);
  cmd->callback([&g, id, first, last, flags] {
    const char* name = "ledger read";
    std::string secret = flags->password.Get(name);
    auto client = OpenClient(g, name);
    auto reader = client->OpenLedger(*id, secret);
    if (!reader.ok()) Fail(name, reader.status());
    EntryId end = (*reader)->last_add_confirmed();
    if (!(*reader)->closed()) {
      auto lac = (*reader)->ReadLac();
      if (!lac.ok()) Fail(name, lac.status());
      end = *lac;
    }
    if (*last >= 0) {
      if (*last > end) {
        Fail(name, Status(StatusCode::kInvalidArgument,
                          fmt::format("entry {} is beyond the last readable entry {} of ledger {}",
                                      *last, end, *id)));
      }
      end = *last;
    }
    constexpr EntryId kChunk = 1'000;
    for (EntryId from = *first; from <= end; from += kChunk) {
      auto entries = (*reader)->Read(from, std::min(end, from + kChunk - 1));
      if (!entries.ok()) Fail(name, entries.status());
      for (const Entry& e : *entries) PrintEntry(*id, e, flags->Format(g));
    }
    std::fflush(stdout);
  });
}

void AddTail(CLI::App& ledger, GlobalOptions& g) {
  auto* cmd = ledger.add_subcommand(
      "tail", "Follow a ledger being written, printing entries as they are confirmed, until it "
              "is closed");
  auto id = std::make_shared<LedgerId>(-1);
  auto first = std::make_shared<EntryId>(0);
  auto flags = std::make_shared<ReadFlags>();
  cmd->add_option("id", *id, "Ledger id")->required();
  cmd->add_option("--first", *first, "First entry id");
  flags->Add(cmd);
  cmd->callback([&g, id, first, flags] {
    const char* name = "ledger tail";
    std::string secret = flags->password.Get(name);
    auto client = OpenClient(g, name);
    auto reader = client->OpenLedger(*id, secret);
    if (!reader.ok()) Fail(name, reader.status());
    EntryId next = *first;
    for (;;) {  // ends when the ledger is closed (or on an error)
      auto batch = (*reader)->ReadNext(next, 1'000, std::chrono::seconds(10));
      if (!batch.ok()) Fail(name, batch.status());
      for (const Entry& e : batch->entries) PrintEntry(*id, e, flags->Format(g));
      std::fflush(stdout);
      if (!batch->entries.empty()) next = batch->entries.back().id + 1;
      if (batch->end_of_ledger) break;
    }
  });
}

void AddRecover(CLI::App& ledger, GlobalOptions& g) {
  auto* cmd = ledger.add_subcommand(
      "recover", "Fence a ledger, recover its last entries and close it; print its lastEntryId");
  auto id = std::make_shared<LedgerId>(-1);
  auto password = std::make_shared<PasswordFlags>();
  cmd->add_option("id", *id, "Ledger id")->required();
  password->AddTo(cmd);
  cmd->callback([&g, id, password] {
    std::string secret = password->Get("ledger recover");
    auto client = OpenClient(g, "ledger recover");
    auto reader = client->RecoverLedger(*id, secret);
    if (!reader.ok()) Fail("ledger recover", reader.status());
    LedgerMetadata md = (*reader)->metadata();
    if (g.json) {
      fmt::print("{}\n", json{{"ledger_id", *id}, {"last_entry_id", md.last_entry_id},
                              {"length", md.length}}.dump());
    } else {
      fmt::print("{}\n", md.last_entry_id);
    }
  });
}

void AddCheck(CLI::App& ledger, GlobalOptions& g) {
  auto* cmd = ledger.add_subcommand(
      "check", "Read every entry from every replica; report missing or corrupt copies by bookie "
               "(exit 1 if there are any)");
  auto id = std::make_shared<LedgerId>(-1);
  auto password = std::make_shared<PasswordFlags>();
  cmd->add_option("id", *id, "Ledger id")->required();
  password->AddTo(cmd,
                  "Ledger password; needed only for ledgers whose metadata keeps no keys (written "
                  "before 2026-12-04)");
  cmd->callback([&g, id, password] {
    const char* name = "ledger check";
    std::string secret = password->Get(name);
    auto client = OpenClient(g, name);
    auto reader =
        secret.empty() ? client->OpenLedgerForRepair(*id) : client->OpenLedger(*id, secret);
    if (!reader.ok()) Fail(name, reader.status());
    EntryId last = (*reader)->last_add_confirmed();
    if (!(*reader)->closed()) {
      auto lac = (*reader)->ReadLac();
      if (!lac.ok()) Fail(name, lac.status());
      last = *lac;
    }
    std::vector<ReplicaProblem> problems;
    if (last >= 0) {
      auto checked = (*reader)->CheckReplicas(0, last);
      if (!checked.ok()) Fail(name, checked.status());
      problems = std::move(*checked);
    }
    if (g.json) {
      json out = json::array();
      for (const ReplicaProblem& p : problems) {
        out.push_back({{"entry_id", p.entry_id}, {"bookie", p.bookie_id},
                       {"problem", StatusCodeName(p.code)}, {"detail", p.what}});
      }
      fmt::print("{}\n", json{{"ledger_id", *id}, {"entries", last + 1}, {"problems", out}}.dump(2));
    } else {
      for (const ReplicaProblem& p : problems) {
        fmt::print("entry {} on bookie {}: {} ({})\n", p.entry_id, p.bookie_id,
                   p.code == StatusCode::kNoSuchEntry  ? "missing"
                   : p.code == StatusCode::kCorruption ? "corrupt"
                                                       : "unreadable",
                   p.what);
      }
      fmt::print(stderr, "ledger {}: {} entries checked, {} bad replica(s)\n", *id, last + 1,
                 problems.size());
    }
    if (!problems.empty()) throw CLI::RuntimeError(kExitError);
  });
}

}  // namespace

void AddLedgerCommands(CLI::App& app, GlobalOptions& g) {
  auto* ledger = app.add_subcommand("ledger", "Ledgers: list, inspect, write, read, recover");
  ledger->require_subcommand(1);
  AddList(*ledger, g);
  AddMetadata(*ledger, g);
  AddCreate(*ledger, g);
  AddDelete(*ledger, g);
  AddWrite(*ledger, g);
  AddRead(*ledger, g);
  AddTail(*ledger, g);
  AddRecover(*ledger, g);
  AddCheck(*ledger, g);
}

}  // namespace quire::cli
