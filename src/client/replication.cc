#include "client/replication.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "client/digest.h"
#include "client/metadata_changes.h"
#include "client/placement.h"

namespace quire::client {

namespace {

// Reads entries todo[from, to) back from `replacement` and checks each is the body written.
Status ReadBack(ClientContext& ctx, LedgerId id, const BookieId& replacement, const Digest& digest,
                const std::vector<EntryId>& todo, size_t from, size_t to,
                const std::map<EntryId, std::string>& written) {
  std::vector<std::pair<BookieId, proto::Request>> reads;
  for (size_t i = from; i < to; ++i) reads.emplace_back(replacement, ReadEntryRequest(id, todo[i]));
  auto answers = CallAll(ctx.bookies(), std::move(reads), ctx.options().read_timeout);
  for (size_t i = 0; i < answers.size(); ++i) {
    const EntryId e = todo[from + i];
    Status s = ResponseStatus(replacement, answers[i]);
    if (s.ok()) s = digest.DecodeEntry(id, e, answers[i]->read().body()).status();
    if (s.ok() && answers[i]->read().body() != written.at(e)) {
      s = Corruption("the copy read back differs from the one written");
    }
    QUIRE_RETURN_IF_ERROR(s.WithContext(
        fmt::format("ledger {}: verifying entry {} on {}", id, e, replacement)));
  }
  return Status::Ok();
}

}  // namespace

Result<CopiedEntries> ReplaceBookie(ClientContext& ctx, LedgerId id, const BookieId& bookie,
                                    std::string_view password, const ReplicationOptions& options) {
  metadata::MetadataStore& store = ctx.store();
  QUIRE_ASSIGN_OR_RETURN(metadata::Versioned<LedgerMetadata> md, store.ReadLedger(id));
  QUIRE_ASSIGN_OR_RETURN(const LedgerKeys keys, RepairKeys(id, md.value, password));
  if (!md.value.closed()) {
    return FailedPrecondition(fmt::format(
        "ledger {} is {}: its ensembles belong to its writer; recover it first", id,
        LedgerStateName(md.value.state)));
  }
  const Digest digest(md.value.digest_type, keys);
  const std::string& key = keys.master_key;
  QUIRE_ASSIGN_OR_RETURN(BookieList live, WritableBookies(store));
  LedgerMetadata next = md.value;
  CopiedEntries copied;
  for (size_t k = 0; k < next.ensembles.size(); ++k) {
    Ensemble& ensemble = next.ensembles[k];
    auto it = std::find(ensemble.bookies.begin(), ensemble.bookies.end(), bookie);
    if (it == ensemble.bookies.end()) continue;
    int pos = static_cast<int>(it - ensemble.bookies.begin());
    std::set<BookieId> exclude(ensemble.bookies.begin(), ensemble.bookies.end());
    QUIRE_ASSIGN_OR_RETURN(std::vector<BookieId> picked, PickBookies(live, 1, exclude));
    if (picked.empty()) {
      return Status(StatusCode::kUnavailable,
                    fmt::format("ledger {}: no writable bookie outside ensemble [{}] to replace {}",
                                id, fmt::join(ensemble.bookies, ","), bookie));
    }
    const BookieId& replacement = picked[0];
    EntryId first = ensemble.first_entry_id;
    EntryId last = k + 1 < next.ensembles.size() ? next.ensembles[k + 1].first_entry_id - 1
                                                 : next.last_entry_id;
    // Entries of this ensemble that `bookie` should hold, a batch at a time: read from the other
    // replicas (the first good copy), write to the replacement.
    std::vector<EntryId> todo;
    for (EntryId e = first; e <= last; ++e) {
      std::vector<int> ws = md.value.WriteSetPositions(e);
      if (std::find(ws.begin(), ws.end(), pos) != ws.end()) todo.push_back(e);
    }
    const size_t batch = std::max<size_t>(1, options.batch_entries);
    for (size_t from = 0; from < todo.size(); from += batch) {
      size_t to = std::min(todo.size(), from + batch);
      CopiedEntries this_batch;
      std::vector<std::pair<BookieId, proto::Request>> reads;
      std::vector<std::pair<EntryId, BookieId>> asked;
      for (size_t i = from; i < to; ++i) {
        for (const BookieId& b : md.value.WriteSet(todo[i])) {
          if (b == bookie) continue;
          reads.emplace_back(b, ReadEntryRequest(id, todo[i]));
          asked.emplace_back(todo[i], b);
        }
      }
      auto answers = CallAll(ctx.bookies(), std::move(reads), ctx.options().read_timeout);
      std::map<EntryId, std::string> bodies;
      std::map<EntryId, std::vector<std::string>> errors;
      for (size_t i = 0; i < answers.size(); ++i) {
        auto [e, b] = asked[i];
        if (bodies.count(e)) continue;
        Status s = ResponseStatus(b, answers[i]);
        if (s.ok()) {
          auto d = digest.DecodeEntry(id, e, answers[i]->read().body());
          if (d.ok()) {
            bodies[e] = answers[i]->read().body();
            continue;
          }
          ctx.ReportBadCopy({id, e, b, d.status().message()});
          s = d.status();
        }
        errors[e].push_back(s.ToString());
      }
      std::vector<std::pair<BookieId, proto::Request>> adds;
      for (size_t i = from; i < to; ++i) {
        EntryId e = todo[i];
        auto body = bodies.find(e);
        if (body == bodies.end()) {
          return Status(StatusCode::kUnavailable,
                        fmt::format("ledger {}: no good copy of entry {} outside {}: {}", id, e,
                                    bookie, fmt::join(errors[e], "; ")));
        }
        // A recovery add: the ledger is closed, and its bookies may have fenced it.
        adds.emplace_back(replacement, RecoveryAddRequest(id, e, key, body->second));
        this_batch.bytes += static_cast<int64_t>(body->second.size());
      }
      auto added = CallAllRetryingBusy(ctx.bookies(), adds, ctx.options().add_timeout,
                                       ctx.busy_retry());
      for (size_t i = 0; i < added.size(); ++i) {
        QUIRE_RETURN_IF_ERROR(ResponseStatus(replacement, added[i]).WithContext(
            fmt::format("ledger {}: copying entry {} to {}", id, todo[from + i], replacement)));
      }
      if (options.verify) {
        QUIRE_RETURN_IF_ERROR(ReadBack(ctx, id, replacement, digest, todo, from, to, bodies));
      }
      this_batch.entries = static_cast<int64_t>(to - from);
      copied.entries += this_batch.entries;
      copied.bytes += this_batch.bytes;
      if (options.after_batch && !options.after_batch(this_batch)) {
        return Status(StatusCode::kAborted,
                      fmt::format("ledger {}: copy of {}'s entries stopped", id, bookie));
      }
    }
    *it = replacement;
    spdlog::info("ledger {}: ensemble from entry {}: {} replaced by {} ({} entries copied)", id,
                 first, bookie, replacement, todo.size());
  }
  if (next.ensembles == md.value.ensembles) return copied;  // the bookie held nothing of it
  // A copy that lost to another change of the ensembles is run again by its caller.
  QUIRE_RETURN_IF_ERROR(
      metadata::UpdateLedgerMetadata(store, id,
                                     ReplaceEnsembles(id, md.value.ensembles, next.ensembles,
                                                      StatusCode::kBadVersion,
                                                      /*must_be_open=*/false),
                                     md)
          .status());
  return copied;
}

}  // namespace quire::client
