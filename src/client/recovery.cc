#include "client/recovery.h"

#include <algorithm>
#include <future>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "client/digest.h"
#include "client/metadata_changes.h"
#include "client/quorum.h"
#include "client/read_handle.h"
#include "client/recovery_core.h"

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

// How long recovery waits for the answers it could do without (a late copy of an entry at the
// end, the rest of a write set once Qa stored a re-write): the speculative read timeout, the
// client's measure of "slow". A bookie that lets a grace pass is not waited for again
// (SlowBookies), so a hung bookie costs one grace per kind of wait, not one per window.
Grace RecoveryGrace(ClientContext& ctx) {
  return {ctx.options().speculative_read_timeout, &ctx.slow_bookies()};
}

// Entries are read kRecoveryWindow at a time, in parallel, then decided in order.
constexpr EntryId kRecoveryWindow = 64;

struct FoundEntry {
  EntryId entry;
  uint64_t length;   // the ledger's length up to and including it
  std::string body;  // exactly as its writer built it
};
struct Window {
  std::vector<FoundEntry> found;  // in order, from the window's first entry
  bool ended = false;             // the entry after the last found was never acknowledged
};

// Reads entries first .. first + kRecoveryWindow - 1 from their write sets (fencing reads) until
// each is decided in order (EntryVerdict): those that exist, up to the first that was never
// acknowledged. A bookie that does not answer costs nothing once the others decided.
Result<Window> ReadWindow(ClientContext& ctx, LedgerId id, const LedgerMetadata& m,
                          const Digest& digest, const std::string& key, EntryId first) {
  const Quorums quorums = QuorumsOf(m);
  const size_t qw = static_cast<size_t>(m.write_quorum_size);
  std::vector<EntryVerdict> verdicts;
  std::vector<std::pair<BookieId, proto::Request>> requests;
  std::vector<BookieId> asked;
  for (EntryId e = first; e < first + kRecoveryWindow; ++e) {
    verdicts.emplace_back(quorums, m.write_quorum_size);
    for (const BookieId& b : m.WriteSet(e)) {
      requests.emplace_back(b, FencedRead(id, e, key));
      asked.push_back(b);
    }
  }
  // Enough once every entry in order exists, up to one that does not or cannot be known. An end
  // decided by Qw - Qa + 1 "no such entry" answers waits a grace for the rest: a copy they bring
  // is kept (EntryVerdict), so that recoveries agree when every bookie answers in time.
  auto decided = [&] {
    bool settled = true;
    for (const EntryVerdict& v : verdicts) {
      EntryVerdict::Fate fate = v.fate();
      if (fate == EntryVerdict::Fate::kUndecided) return Enough::kNo;
      settled = settled && v.settled();
      if (fate != EntryVerdict::Fate::kExists) break;
    }
    return settled ? Enough::kYes : Enough::kAfterGrace;
  };
  CallUntil(ctx.bookies(), std::move(requests), ctx.options().read_timeout,
            [&](size_t k, const Result<proto::Response>& answer) {
              const EntryId e = first + static_cast<EntryId>(k / qw);
              EntryVerdict& verdict = verdicts[k / qw];
              Status s = ResponseStatus(asked[k], answer);
              if (s.ok()) {
                Result<Digest::DecodedEntry> d = digest.DecodeEntry(id, e, answer->read().body());
                if (d.ok()) {
                  verdict.Found(answer->read().body());
                  return decided();
                }
                ctx.ReportBadCopy({id, e, asked[k], d.status().message()});
                s = d.status();
              }
              if (NoSuchEntry(s)) {
                verdict.Missing();
              } else {
                verdict.Failed(s.ToString());
              }
              return decided();
            },
            RecoveryGrace(ctx));
  Window window;
  for (size_t i = 0; i < verdicts.size(); ++i) {
    const EntryId e = first + static_cast<EntryId>(i);
    switch (verdicts[i].fate()) {
      case EntryVerdict::Fate::kExists: {
        // The length the entry carries (its digest checked when it was found).
        uint64_t length = digest.DecodeEntry(id, e, verdicts[i].body())->header.length;
        window.found.push_back({e, length, verdicts[i].body()});
        continue;
      }
      case EntryVerdict::Fate::kNeverAcknowledged:
        window.ended = true;
        return window;
      case EntryVerdict::Fate::kUnknowable:
      case EntryVerdict::Fate::kUndecided:
        return Status(StatusCode::kUnavailable,
                      fmt::format("ledger {}: cannot tell whether entry {} exists: only {} of its "
                                  "bookies said it does not (need {}): {}",
                                  id, e, verdicts[i].missing(), quorums.NoSuchEntryToEnd(),
                                  verdicts[i].Errors()));
    }
  }
  return window;
}

// Re-writes the found entries to their whole write sets (recovery adds pass the fence) until each
// is on Qa bookies (RewriteTally), and the rest of the write set answered or let a grace pass.
// Busy bookies get the adds again as ctx.busy_retry() says.
Status Rewrite(ClientContext& ctx, LedgerId id, const LedgerMetadata& m, const std::string& key,
               const std::vector<FoundEntry>& found) {
  const Quorums quorums = QuorumsOf(m);
  const BusyRetry retry = ctx.busy_retry();
  std::vector<RewriteTally> tallies;
  // (index into found, bookie): the adds still to send.
  std::vector<std::pair<size_t, BookieId>> todo;
  for (size_t k = 0; k < found.size(); ++k) {
    tallies.emplace_back(quorums, m.write_quorum_size);
    for (const BookieId& b : m.WriteSet(found[k].entry)) todo.emplace_back(k, b);
  }
  auto all_decided = [&] {
    return std::all_of(tallies.begin(), tallies.end(),
                       [](const RewriteTally& t) { return t.Decided(); });
  };
  // Busy answers are sent again (bounded by retry.max_retries) even once every entry is safe:
  // back-pressure is not a reason to leave a copy out.
  for (int round = 0; !todo.empty(); ++round) {
    if (round > 0) std::this_thread::sleep_for(retry.PauseBefore(round - 1));
    std::vector<std::pair<BookieId, proto::Request>> adds;
    for (const auto& [k, b] : todo) {
      adds.emplace_back(b, RecoveryAddRequest(id, found[k].entry, key, found[k].body));
    }
    std::vector<std::pair<size_t, BookieId>> busy;
    CallUntil(ctx.bookies(), std::move(adds), ctx.options().add_timeout,
              [&](size_t i, const Result<proto::Response>& answer) {
                auto [k, bookie] = todo[i];
                Status s = ResponseStatus(bookie, answer);
                if (s.ok()) {
                  tallies[k].Stored();
                } else if (s.Is(StatusCode::kTooManyRequests) && round < retry.max_retries) {
                  busy.emplace_back(k, bookie);  // back-pressure: again after a pause
                } else {
                  tallies[k].Failed(s.ToString());
                }
                // Safe at Qa; the rest of the write set gets a grace to take its copy too.
                return all_decided() ? Enough::kAfterGrace : Enough::kNo;
              },
              RecoveryGrace(ctx));
    todo = std::move(busy);
  }
  for (size_t k = 0; k < found.size(); ++k) {
    if (!tallies[k].Safe()) {
      return Status(StatusCode::kUnavailable,
                    fmt::format("ledger {}: recovery could re-write entry {} to only {} of its "
                                "{} bookies (Qa {}): {}",
                                id, found[k].entry, tallies[k].stored(), m.write_quorum_size,
                                m.ack_quorum_size, tallies[k].Errors()));
    }
  }
  return Status::Ok();
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

  // Step 2: fence the last ensemble, until enough bookies have (FenceTally).
  const Quorums quorums = QuorumsOf(m);
  FenceTally fence(quorums, m.ensemble_size);
  Status refused;
  std::vector<std::pair<BookieId, proto::Request>> fences;
  for (const BookieId& b : last_ensemble.bookies) {
    fences.emplace_back(b, FencedRead(id, kFenceOnlyEntry, key));
  }
  CallUntil(ctx.bookies(), std::move(fences), timeout,
            [&](size_t i, const Result<proto::Response>& answer) {
              const BookieId& bookie = last_ensemble.bookies[i];
              Status s = ResponseStatus(bookie, answer);
              if (s.Is(StatusCode::kUnauthorized)) {
                refused = s;
                return Enough::kYes;
              }
              if (s.ok() || NoSuchEntry(s)) {
                // Only what the writer signed counts: a bookie's LAC number alone could make
                // recovery skip re-writing entries that fewer than Qa bookies hold.
                const proto::ReadResponse& r = answer->read();
                fence.Fenced(static_cast<int>(i),
                             digest.ProvenLac(id, r.explicit_lac_body(), {r.last_entry_body()},
                                              ctx.BadCopyReporter(id, bookie)));
              } else {
                fence.Failed(static_cast<int>(i), s.ToString());
              }
              return fence.Decided() ? Enough::kYes : Enough::kNo;
            });
  if (!refused.ok()) return refused.WithContext(fmt::format("fencing ledger {}", id));
  if (!fence.Enough()) {
    return Status(StatusCode::kUnavailable,
                  fmt::format("ledger {}: cannot fence it, too many bookies unreachable: {}", id,
                              fence.Errors()));
  }

  if (hooks.after_fencing) hooks.after_fencing();

  // Step 3: from the highest LAC on, every entry any bookie holds is re-replicated; the first
  // that Qw - Qa + 1 bookies do not hold cannot have been acknowledged and ends the ledger.
  EntryId start = std::max(fence.lac(), last_ensemble.first_entry_id - 1);
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
  EntryId end = start;
  for (EntryId first = start + 1;; first += kRecoveryWindow) {
    QUIRE_ASSIGN_OR_RETURN(Window window, ReadWindow(ctx, id, m, digest, key, first));
    QUIRE_RETURN_IF_ERROR(Rewrite(ctx, id, m, key, window.found));
    if (!window.found.empty()) {
      end = window.found.back().entry;
      length = window.found.back().length;
    }
    if (window.ended) break;
  }

  // Step 4: close. A ledger found closed was closed by another recovery. Its end may differ from
  // this one's by entries that were never acknowledged (held by fewer than Qa bookies: kept by
  // one recovery, dropped by another); every acknowledged entry is within both. The first close
  // is the ledger's end.
  Result<metadata::Versioned<LedgerMetadata>> closed =
      metadata::UpdateLedgerMetadata(store, id, CloseRecovered(end, length), std::move(md));
  if (!closed.ok()) return closed.status().WithContext(fmt::format("closing ledger {}", id));
  spdlog::info("ledger {}: recovered and closed at entry {} ({} bytes)", id,
               closed->value.last_entry_id, closed->value.length);
  return closed;
}

}  // namespace quire::client
