#include "client/recovery.h"

#include <future>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "client/digest.h"
#include "client/metadata_changes.h"
#include "client/quorum.h"
#include "client/read_handle.h"

namespace quire::client {
namespace {

// A fence-only read asks for an entry that cannot exist, so the bookie fences and answers
// NO_SUCH_ENTRY with its LAC without reading anything.
constexpr EntryId kFenceOnlyEntry = INT64_MAX;

bool NoSuchEntry(const Status& s) {
  return s.Is(StatusCode::kNoSuchEntry) || s.Is(StatusCode::kNoSuchLedger);
}

proto::Request FencedRead(LedgerId id, EntryId entry, const std::string& key) {
  proto::Request r = ReadEntryRequest(id, entry);
  proto::ReadRequest* read = r.mutable_read();
  read->set_fence(true);
  read->set_master_key(key);
  return r;
}

// The keys to fence and re-write with: the password's, checked against the metadata, or (no
// password: an operator's tool) the ones the metadata keeps.
Result<LedgerKeys> KeysFor(LedgerId id, const LedgerMetadata& md,
                           std::optional<std::string_view> password) {
  if (!password) return RepairKeys(id, md, "");
  QUIRE_RETURN_IF_ERROR(CheckPassword(id, md, *password));
  return DeriveLedgerKeys(md.digest_type, *password);
}

}  // namespace

Result<metadata::Versioned<LedgerMetadata>> RecoverLedger(ClientContext& ctx, LedgerId id,
                                                          std::optional<std::string_view> password,
                                                          const RecoveryHooks& hooks) {
  metadata::MetadataStore& store = ctx.store();
  // Step 1: OPEN -> IN_RECOVERY, so that the writer's next metadata update (an ensemble change,
  // its close) fails and it learns it was fenced.
  QUIRE_ASSIGN_OR_RETURN(
      metadata::Versioned<LedgerMetadata> md,
      metadata::UpdateLedgerMetadata(store, id, MarkInRecovery([&](const LedgerMetadata& now) {
                                       return KeysFor(id, now, password).status();
                                     })));
  if (md.value.closed()) return md;
  const LedgerMetadata& m = md.value;
  const Ensemble& last_ensemble = m.LastEnsemble();
  QUIRE_ASSIGN_OR_RETURN(const LedgerKeys keys, KeysFor(id, m, password));
  const Digest digest(m.digest_type, keys);
  const std::string& key = keys.master_key;
  const auto timeout = ctx.options().read_timeout;
  spdlog::info("ledger {}: recovering ({})", id, m.Summary());

  // Step 2: fence the last ensemble.
  auto fenced = CallAll(
      ctx.bookies(), last_ensemble.bookies,
      [&](size_t) { return FencedRead(id, kFenceOnlyEntry, key); }, timeout);
  std::vector<bool> answered(last_ensemble.bookies.size(), false);
  EntryId max_lac = kNoEntry;
  std::vector<std::string> errors;
  for (size_t i = 0; i < fenced.size(); ++i) {
    Status s = ResponseStatus(last_ensemble.bookies[i], fenced[i]);
    if (s.Is(StatusCode::kUnauthorized)) {
      return s.WithContext(fmt::format("fencing ledger {}", id));
    }
    if (s.ok() || NoSuchEntry(s)) {
      answered[i] = true;
      // Only what the writer signed counts: a bookie's LAC number alone could make recovery skip
      // re-writing entries that fewer than Qa bookies hold.
      const proto::ReadResponse& r = fenced[i]->read();
      max_lac = std::max(
          max_lac, digest.ProvenLac(id, r.explicit_lac_body(), {r.last_entry_body()},
                                    ctx.BadCopyReporter(id, last_ensemble.bookies[i])));
    } else {
      errors.push_back(s.ToString());
    }
  }
  const Quorums quorums = QuorumsOf(m);
  if (!quorums.FencedEnough([&](int pos) { return answered[static_cast<size_t>(pos)]; })) {
    return Status(StatusCode::kUnavailable,
                  fmt::format("ledger {}: cannot fence it, too many bookies unreachable: {}", id,
                              fmt::join(errors, "; ")));
  }

  if (hooks.after_fencing) hooks.after_fencing();

  // Step 3: from the highest LAC on, every entry any bookie holds is re-replicated; the first
  // that Qw - Qa + 1 bookies do not hold cannot have been acknowledged and ends the ledger.
  EntryId start = std::max(max_lac, last_ensemble.first_entry_id - 1);
  uint64_t length = 0;
  if (start >= 0) {
    std::promise<Result<Digest::DecodedEntry>> p;
    auto f = p.get_future();
    ReadEntryAsync(ctx, m, id, digest, start,
                   [&p](Result<Digest::DecodedEntry> r) { p.set_value(std::move(r)); });
    Result<Digest::DecodedEntry> r = f.get();
    if (!r.ok()) {
      return r.status().WithContext(fmt::format("ledger {}: reading entry {} (the LAC)", id, start));
    }
    length = r->header.length;
  }
  const int qw = m.write_quorum_size, qa = m.ack_quorum_size;
  EntryId end = start;
  // Entries are read kWindow at a time, in parallel, then decided in order.
  constexpr EntryId kWindow = 64;
  for (EntryId first = start + 1;; first += kWindow) {
    std::vector<std::pair<BookieId, proto::Request>> requests;
    for (EntryId e = first; e < first + kWindow; ++e) {
      for (const BookieId& b : m.WriteSet(e)) requests.emplace_back(b, FencedRead(id, e, key));
    }
    auto reads = CallAll(ctx.bookies(), std::move(requests), timeout);
    bool found_end = false;
    // The entries of this window that exist, to re-write: (entry, body).
    std::vector<std::pair<EntryId, std::string>> found;
    uint64_t found_length = length;
    for (EntryId e = first; e < first + kWindow && !found_end; ++e) {
      std::vector<BookieId> write_set = m.WriteSet(e);
      size_t base = static_cast<size_t>(e - first) * static_cast<size_t>(qw);
      std::optional<std::string> body;
      int no_such_entry = 0;
      errors.clear();
      for (size_t i = 0; i < write_set.size(); ++i) {
        const Result<proto::Response>& read = reads[base + i];
        Status s = ResponseStatus(write_set[i], read);
        if (s.ok()) {
          Result<Digest::DecodedEntry> d = digest.DecodeEntry(id, e, read->read().body());
          if (d.ok()) {
            if (!body) {
              body = read->read().body();
              found_length = d->header.length;
            }
            continue;
          }
          ctx.ReportBadCopy({id, e, write_set[i], d.status().message()});
          s = d.status();
        }
        if (NoSuchEntry(s)) {
          ++no_such_entry;
        } else {
          errors.push_back(s.ToString());
        }
      }
      if (body) {
        found.emplace_back(e, std::move(*body));
        continue;
      }
      if (no_such_entry >= quorums.NoSuchEntryToEnd()) {  // never acknowledged: the end is e - 1
        found_end = true;
        break;
      }
      return Status(StatusCode::kUnavailable,
                    fmt::format("ledger {}: cannot tell whether entry {} exists: only {} of its "
                                "bookies said it does not (need {}): {}",
                                id, e, no_such_entry, quorums.NoSuchEntryToEnd(),
                                fmt::join(errors, "; ")));
    }
    // Re-write what was found to whole write sets (recovery adds pass the fence).
    std::vector<std::pair<BookieId, proto::Request>> adds;
    for (auto& [e, body] : found) {
      for (const BookieId& b : m.WriteSet(e)) {
        adds.emplace_back(b, RecoveryAddRequest(id, e, key, body));
      }
    }
    auto added = CallAllRetryingBusy(ctx.bookies(), adds, ctx.options().add_timeout,
                                     ctx.busy_retry());
    for (size_t k = 0; k < found.size(); ++k) {
      EntryId e = found[k].first;
      std::vector<BookieId> write_set = m.WriteSet(e);
      int acks = 0;
      errors.clear();
      for (size_t i = 0; i < write_set.size(); ++i) {
        Status s = ResponseStatus(write_set[i], added[k * static_cast<size_t>(qw) + i]);
        if (s.ok()) {
          ++acks;
        } else {
          errors.push_back(s.ToString());
        }
      }
      if (acks < qa) {
        return Status(StatusCode::kUnavailable,
                      fmt::format("ledger {}: recovery could re-write entry {} to only {} of its "
                                  "{} bookies (Qa {}): {}",
                                  id, e, acks, qw, qa, fmt::join(errors, "; ")));
      }
      end = e;
    }
    length = found_length;
    if (found_end) break;
  }

  // Step 4: close. A ledger found closed was closed by another recovery, which found the same
  // end (every recovery ends at the first entry fewer than Qa bookies could have acknowledged).
  Result<metadata::Versioned<LedgerMetadata>> closed =
      metadata::UpdateLedgerMetadata(store, id, CloseRecovered(end, length), std::move(md));
  if (!closed.ok()) return closed.status().WithContext(fmt::format("closing ledger {}", id));
  spdlog::info("ledger {}: recovered and closed at entry {} ({} bytes)", id,
               closed->value.last_entry_id, closed->value.length);
  return closed;
}

}  // namespace quire::client
