#include "client/writer_core.h"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "client/quorum.h"
#include "common/check.h"

namespace quire::client {

WriterCore::WriterCore(LedgerId id, LedgerMetadata metadata, BookieChoice choice, BusyRetry busy,
                       size_t max_outstanding)
    : id_(id),
      busy_(busy),
      max_outstanding_(std::max<size_t>(1, max_outstanding)),
      metadata_(std::move(metadata)),
      choice_(std::move(choice)) {
  QUIRE_CHECK(!metadata_.ensembles.empty());
  QUIRE_CHECK_EQ(static_cast<int>(metadata_.LastEnsemble().bookies.size()), E());
}

Result<WriterCore::Reservation> WriterCore::Reserve(uint64_t payload_size,
                                                    AddCallback&& callback, Clock::time_point now) {
  if (!error_.ok()) return error_;
  if (closing_) {
    return Status(StatusCode::kLedgerClosed, fmt::format("ledger {} is being closed", id_));
  }
  PendingAdd add;
  add.id = next_entry_id_++;
  pushed_length_ += payload_size;
  add.length = pushed_length_;
  add.acked.assign(static_cast<size_t>(E()), false);
  add.busy.assign(static_cast<size_t>(E()), 0);
  add.callback = std::move(callback);
  last_append_ = now;
  pending_.push_back(std::move(add));
  return Reservation{pending_.back().id, lac_, pending_.back().length};
}

WriterCore::Effects WriterCore::Fill(EntryId id, std::string body) {
  Effects out;
  PendingAdd* add = FindPending(id);
  if (add == nullptr) return out;  // the writer stopped meanwhile: the append has failed
  QUIRE_CHECK(add->body == nullptr);
  add->body = std::make_shared<const std::string>(std::move(body));
  for (int pos : metadata_.WriteSetPositions(id)) {
    if (Live(pos)) SendTo(*add, pos, &out);
  }
  return out;
}

bool WriterCore::Current(int pos, const BookieId& bookie) const {
  return metadata_.LastEnsemble().bookies[static_cast<size_t>(pos)] == bookie && Live(pos);
}

WriterCore::PendingAdd* WriterCore::FindPending(EntryId entry) {
  if (pending_.empty()) return nullptr;
  EntryId first = pending_.front().id;
  if (entry < first || entry >= first + static_cast<EntryId>(pending_.size())) return nullptr;
  return &pending_[static_cast<size_t>(entry - first)];
}

void WriterCore::SendTo(const PendingAdd& add, int pos, Effects* out) const {
  if (add.body == nullptr) return;  // Fill sends it
  out->sends.push_back(
      {add.id, pos, metadata_.LastEnsemble().bookies[static_cast<size_t>(pos)], add.body});
}

void WriterCore::Effects::Absorb(Effects&& later) {
  auto append = [](auto& to, auto& from) {
    if (to.empty()) {
      to = std::move(from);
    } else {
      to.insert(to.end(), std::make_move_iterator(from.begin()),
                std::make_move_iterator(from.end()));
    }
  };
  append(completions, later.completions);
  append(sends, later.sends);
  append(retries, later.retries);
  start_change = start_change || later.start_change;
  wake = wake || later.wake;
}

WriterCore::Effects WriterCore::OnAddResult(EntryId entry, int pos, const BookieId& bookie,
                                            const Status& status, Clock::time_point now) {
  Effects out;
  if (!error_.ok() || pending_.empty() || !Current(pos, bookie)) return out;
  PendingAdd* add = FindPending(entry);
  if (status.ok()) {
    if (add == nullptr) return out;
    if (!add->acked[static_cast<size_t>(pos)]) {
      add->acked[static_cast<size_t>(pos)] = true;
      ++add->ack_count;
    }
    CompleteAcknowledged(&out);
    return out;
  }
  if (status.Is(StatusCode::kFenced)) {
    return Stop(Status(StatusCode::kFenced,
                       fmt::format("ledger {} was fenced (recovered by another client): bookie {} "
                                   "refused entry {}",
                                   id_, bookie, entry)));
  }
  // A wrong password, or a TLS setup the bookie refuses: another bookie would not help.
  if (status.Is(StatusCode::kUnauthorized) || status.Is(StatusCode::kUnauthenticated)) {
    return Stop(Status(status.code(), fmt::format("bookie {} refused entry {} of ledger {}: {}",
                                                  bookie, entry, id_, status.message())));
  }
  if (status.Is(StatusCode::kTooManyRequests)) {
    if (add != nullptr) RetryBusy(*add, pos, bookie, status, now, &out);
    return out;
  }
  BookieFailed(pos, bookie, status, now, &out);
  return out;
}

// The bookie at `pos` answered TOO_MANY_REQUESTS (its write cache stayed full for
// writeCacheMaxWaitMs). That is back-pressure from a live bookie, not a failure, and replacing it
// would only move the load: the same add goes to it again after a pause that doubles each time.
// Only a bookie still busy after busy_.max_retries pauses counts as failed.
void WriterCore::RetryBusy(PendingAdd& add, int pos, const BookieId& bookie, const Status& why,
                           Clock::time_point now, Effects* out) {
  uint8_t& tries = add.busy[static_cast<size_t>(pos)];
  if (tries >= busy_.max_retries) return BookieFailed(pos, bookie, why, now, out);
  out->retries.push_back({add.id, pos, bookie, busy_.PauseBefore(tries)});
  ++tries;
}

WriterCore::Effects WriterCore::RetryDue(EntryId entry, int pos, const BookieId& bookie) {
  Effects out;
  // Not if the bookie was replaced or given up on meanwhile, or the entry is done.
  if (!error_.ok() || !Current(pos, bookie)) return out;
  const PendingAdd* add = FindPending(entry);
  if (add != nullptr && !add->acked[static_cast<size_t>(pos)]) SendTo(*add, pos, &out);
  return out;
}

bool WriterCore::Completable(const PendingAdd& add) const {
  if (add.ack_count < Qa()) return false;
  if (failed_.empty()) return true;
  for (int pos : metadata_.WriteSetPositions(add.id)) {
    if (failed_.count(pos)) return false;
  }
  return true;
}

void WriterCore::CompleteAcknowledged(Effects* out) {
  while (!pending_.empty() && Completable(pending_.front())) {
    PendingAdd& add = pending_.front();
    lac_ = add.id;
    lac_length_ = add.length;
    out->completions.push_back({std::move(add.callback), Result<EntryId>(add.id)});
    pending_.pop_front();
    out->wake = true;
  }
}

WriterCore::Effects WriterCore::Stop(const Status& why) {
  Effects out;
  if (error_.ok()) {
    error_ = why;
    spdlog::error("ledger {}: writer stopped: {}", id_, why.ToString());
  }
  for (PendingAdd& add : pending_) {
    out.completions.push_back({std::move(add.callback), Result<EntryId>(error_)});
  }
  pending_.clear();
  out.wake = true;
  return out;
}

void WriterCore::BookieFailed(int pos, const BookieId& bookie, const Status& why,
                              Clock::time_point now, Effects* out) {
  spdlog::warn("ledger {}: bookie {} failed ({}); replacing it", id_, bookie, why.ToString());
  failed_.insert(pos);
  choice_.Failed(bookie, now);
  // Its acknowledgements of entries not yet acknowledged to the application no longer count:
  // the new ensemble will name its replacement for those entries.
  for (PendingAdd& add : pending_) {
    if (add.acked[static_cast<size_t>(pos)]) {
      add.acked[static_cast<size_t>(pos)] = false;
      --add.ack_count;
    }
    add.busy[static_cast<size_t>(pos)] = 0;  // the replacement starts with a clean slate
  }
  if (!change_running_) {
    change_running_ = true;
    out->start_change = true;
  }
}

WriterCore::ChangeStep WriterCore::PlanChange(const Result<metadata::BookieList>& listed,
                                              Clock::time_point now) {
  ChangeStep step;
  QUIRE_CHECK(change_running_);
  look_again_due_ = false;
  std::set<int> positions = failed_;
  positions.insert(degraded_.begin(), degraded_.end());
  BookieChoice::Decision decision =
      choice_.Decide(metadata_.LastEnsemble().bookies, positions, listed, now);
  look_again_at_ = decision.look_again;
  for (int pos : decision.in_place) ResumeInPlace(pos, &step.effects);
  for (int pos : decision.without) {
    failed_.erase(pos);
    degraded_.insert(pos);
  }
  // A position written around that gets a spare waits for the change like a failed one.
  for (const auto& [pos, b] : decision.replacements) {
    degraded_.erase(pos);
    failed_.insert(pos);
  }
  if (decision.replacements.empty()) return FinishRound(std::move(step), listed);
  // The new ensemble starts at LAC + 1; it replaces the last one if nothing was acknowledged
  // since that one began.
  LedgerMetadata next = metadata_;
  Ensemble ensemble = next.LastEnsemble();
  ensemble.first_entry_id = lac_ + 1;
  for (const auto& [pos, b] : decision.replacements) ensemble.bookies[static_cast<size_t>(pos)] = b;
  if (ensemble.first_entry_id == next.LastEnsemble().first_entry_id) {
    next.ensembles.back() = ensemble;
  } else {
    next.ensembles.push_back(ensemble);
  }
  planned_ = std::move(decision.replacements);
  step.write = std::move(next);
  return step;
}

WriterCore::ChangeStep WriterCore::ChangeWritten(LedgerMetadata written,
                                                 const Result<metadata::BookieList>& listed) {
  ChangeStep step;
  metadata_ = std::move(written);
  const Ensemble& ensemble = metadata_.LastEnsemble();
  spdlog::info("ledger {}: ensemble change from entry {}: {}", id_, ensemble.first_entry_id,
               fmt::join(ensemble.bookies, ","));
  for (const auto& [pos, b] : planned_) {
    QUIRE_CHECK_EQ(ensemble.bookies[static_cast<size_t>(pos)], b);
    failed_.erase(pos);
  }
  // Entries from the new ensemble's first on whose write set holds a replacement go to it.
  for (const PendingAdd& add : pending_) {
    if (add.id < ensemble.first_entry_id) continue;
    for (int pos : metadata_.WriteSetPositions(add.id)) {
      if (planned_.count(pos) && Live(pos)) SendTo(add, pos, &step.effects);
    }
  }
  planned_.clear();
  CompleteAcknowledged(&step.effects);
  return FinishRound(std::move(step), listed);
}

WriterCore::ChangeStep WriterCore::FinishRound(ChangeStep step,
                                               const Result<metadata::BookieList>& listed) {
  if (!error_.ok()) return step;
  if (!failed_.empty()) {  // failed meanwhile
    step.again = true;
    return step;
  }
  bool viable = QuorumsOf(metadata_).EveryWriteSetCanAck([&](int pos) { return Live(pos); });
  if (!viable) {
    Effects stopped = Stop(Status(
        StatusCode::kUnavailable,
        fmt::format("ledger {}: not enough bookies: a write set has fewer than Qa={} live "
                    "bookies (failed: {}) and no writable spare is available{}",
                    id_, Qa(), FailedNames(), listed.ok() ? "" : ": " + listed.status().ToString())));
    for (Completion& c : stopped.completions) step.effects.completions.push_back(std::move(c));
    step.effects.wake = true;
    return step;
  }
  if (!degraded_.empty()) {
    spdlog::warn("ledger {}: no writable spare for {}; writing to the rest of the ensemble", id_,
                 FailedNames());
    step.look_again = look_again_at_;
  }
  CompleteAcknowledged(&step.effects);
  return step;
}

// The bookie at `pos` is back (BookieChoice: in place). It is still in the ensemble, so no
// metadata changes; it gets every pending entry of its write sets again (what it missed meanwhile
// keeps the copies it has elsewhere, as a position written around).
void WriterCore::ResumeInPlace(int pos, Effects* out) {
  failed_.erase(pos);
  degraded_.erase(pos);
  spdlog::info("ledger {}: bookie {} is back; writing to it again", id_,
               metadata_.LastEnsemble().bookies[static_cast<size_t>(pos)]);
  for (const PendingAdd& add : pending_) {
    for (int p : metadata_.WriteSetPositions(add.id)) {
      if (p == pos) SendTo(add, pos, out);
    }
  }
}

WriterCore::Effects WriterCore::ChangeEnded() {
  Effects out;
  change_running_ = false;
  out.wake = true;  // Close waits for no change to be running
  if (ChangeWanted()) {
    change_running_ = true;
    out.start_change = true;
  }
  return out;
}

WriterCore::Effects WriterCore::LookAgainDue() {
  Effects out;
  if (closing_ || !error_.ok() || degraded_.empty()) return out;
  look_again_due_ = true;
  if (!change_running_) {
    change_running_ = true;
    out.start_change = true;
  }
  return out;
}

bool WriterCore::BeginClose() {
  if (closing_) return false;
  closing_ = true;
  return true;
}

Result<WriterCore::CloseTarget> WriterCore::Closed() {
  QUIRE_CHECK(closing_ && Quiescent());
  // Fenced: someone else recovered the ledger; closing finds out whether they closed it at this
  // writer's LAC, in which case the close succeeds (docs/semantics.md, writing step 6).
  // Refused (unauthorized): this writer never owned the ledger's end.
  if (!error_.ok() && !error_.Is(StatusCode::kUnavailable) && !error_.Is(StatusCode::kFenced)) {
    return error_;
  }
  if (!error_.Is(StatusCode::kFenced)) {
    error_ = Status(StatusCode::kLedgerClosed, fmt::format("ledger {} is closed", id_));
  }
  return CloseTarget{lac_, lac_length_};
}

std::optional<WriterCore::LacWrite> WriterCore::LacDue(Clock::time_point now,
                                                       std::chrono::milliseconds idle, bool* rearm) {
  *rearm = false;
  if (closing_ || !error_.ok()) return std::nullopt;
  if (now - last_append_ < idle) {
    *rearm = true;
    return std::nullopt;
  }
  if (lac_ <= explicit_lac_sent_) return std::nullopt;  // nothing new; the next append re-arms
  explicit_lac_sent_ = lac_;
  LacWrite w{lac_, {}};
  const Ensemble& ensemble = metadata_.LastEnsemble();
  for (size_t pos = 0; pos < ensemble.bookies.size(); ++pos) {
    if (Live(static_cast<int>(pos))) w.bookies.push_back(ensemble.bookies[pos]);
  }
  return w;
}

std::string WriterCore::FailedNames() const {
  std::vector<BookieId> names;
  std::set<int> all = failed_;
  all.insert(degraded_.begin(), degraded_.end());
  for (int pos : all) names.push_back(metadata_.LastEnsemble().bookies[static_cast<size_t>(pos)]);
  return fmt::format("{}", fmt::join(names, ","));
}

}  // namespace quire::client
