#include "client/write_handle.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "client/bookie_choice.h"
#include "client/digest.h"
#include "client/metadata_changes.h"
#include "client/placement.h"
#include "client/quorum.h"
#include "common/clock.h"

namespace quire::client {
namespace {

using Clock = std::chrono::steady_clock;

// An entry sent but not yet acknowledged to the application.
struct PendingAdd {
  EntryId id = kNoEntry;
  std::string body;         // the entry body, as sent to every bookie of its write set
  uint64_t length = 0;      // the ledger's length up to and including this entry
  std::vector<bool> acked;  // by ensemble position: that bookie stored it durably
  int ack_count = 0;
  std::vector<uint8_t> busy;  // by ensemble position: TOO_MANY_REQUESTS answers so far
  WriteHandle::AddCallback callback;
};

// The writer's state, shared with the callbacks of its requests (which may outlive the handle).
class Writer : public std::enable_shared_from_this<Writer> {
 public:
  Writer(ClientContext& context, LedgerId id, metadata::Versioned<LedgerMetadata> metadata,
         const std::string& password)
      : ctx_(context),
        id_(id),
        digest_(metadata.value.digest_type, password),
        master_key_(MasterKey(password)),
        metadata_(std::move(metadata)),
        choice_(context.options().reconnect_backoff_min, context.options().reconnect_backoff_max),
        lac_timer_(context.io()),
        look_again_timer_(context.io()) {}

  LedgerId id() const { return id_; }

  LedgerMetadata metadata() const {
    std::lock_guard<std::mutex> lock(mu_);
    return metadata_.value;
  }

  EntryId last_add_confirmed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lac_;
  }

  void Append(std::string payload, WriteHandle::AddCallback callback) {
    // Every append ends in exactly one call of its callback, so it is measured there: from this
    // call (back-pressure included) to the callback, as the application waits.
    callback = [&metrics = ctx_.metrics(), start = MonotonicNanos(),
                application = std::move(callback)](Result<EntryId> r) {
      metrics.operations.Record(ClientMetrics::kAppend, r.status().code(),
                                MonotonicNanos() - start);
      application(std::move(r));
    };
    // Refused before it gets an id: the bookies would close the connection on the request, and
    // the writer would take that for every bookie failing.
    if (payload.size() > MaxAppendPayload(ctx_.options().bookie_max_frame_size)) {
      Status refused = InvalidArgument(fmt::format(
          "ledger {}: an entry of {} bytes is larger than the bookies accept: an add request "
          "carries at most {} bytes of payload with ClientOptions::bookie_max_frame_size = {} "
          "(the bookies' maxFrameSizeBytes)",
          id_, payload.size(), MaxAppendPayload(ctx_.options().bookie_max_frame_size),
          ctx_.options().bookie_max_frame_size));
      ctx_.callbacks().Submit([callback = std::move(callback), refused] { callback(refused); });
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (error_.ok() && pending_.size() >= MaxOutstanding()) {
      ++waiters_;
      cv_.wait(lock, [&] { return !error_.ok() || pending_.size() < MaxOutstanding(); });
      --waiters_;
    }
    Status refused = error_;
    if (refused.ok() && closing_) {
      refused = Status(StatusCode::kLedgerClosed, fmt::format("ledger {} is being closed", id_));
    }
    if (!refused.ok()) {
      ctx_.callbacks().Submit([callback = std::move(callback), refused] { callback(refused); });
      return;
    }
    PendingAdd add;
    add.id = next_entry_id_++;
    pushed_length_ += payload.size();
    add.length = pushed_length_;
    add.body = digest_.EncodeEntry(id_, add.id, lac_, add.length, payload);
    add.acked.assign(static_cast<size_t>(E()), false);
    add.busy.assign(static_cast<size_t>(E()), 0);
    add.callback = std::move(callback);
    last_append_ = Clock::now();
    pending_.push_back(std::move(add));
    const PendingAdd& sent = pending_.back();
    for (int pos : metadata_.value.WriteSetPositions(sent.id)) {
      if (!failed_.count(pos) && !degraded_.count(pos)) SendAdd(sent, pos);
    }
    if (ctx_.options().explicit_lac_interval.count() > 0 && !lac_timer_armed_) ArmLacTimer();
  }

  Status Close() {
    std::unique_lock<std::mutex> lock(mu_);
    if (closing_) {
      // Another Close is under way (or done): this one ends as it does, once the metadata says.
      ++waiters_;
      cv_.wait(lock, [&] { return close_done_; });
      --waiters_;
      return close_status_;
    }
    closing_ = true;
    // Every pending append ends (acknowledged or failed) and no ensemble change is running.
    ++waiters_;
    cv_.wait(lock, [&] { return pending_.empty() && !change_running_; });
    --waiters_;
    closed_ = true;
    lac_timer_.cancel();
    look_again_timer_.cancel();
    Status s = error_;
    // Fenced: someone else recovered the ledger. CloseMetadata finds out whether they closed it
    // at this writer's LAC, in which case the close succeeds (docs/semantics.md, writing step 6).
    // Refused (unauthorized): this writer never owned the ledger's end.
    if (error_.ok() || error_.Is(StatusCode::kUnavailable) || error_.Is(StatusCode::kFenced)) {
      if (!error_.Is(StatusCode::kFenced)) {
        error_ = Status(StatusCode::kLedgerClosed, fmt::format("ledger {} is closed", id_));
      }
      EntryId last = lac_;
      uint64_t length = lac_length_;
      lock.unlock();
      s = CloseMetadata(last, length);
      lock.lock();
      if (s.ok()) spdlog::debug("ledger {} closed at entry {}", id_, last);
    }
    close_status_ = s;
    close_done_ = true;
    cv_.notify_all();
    return s;
  }

 private:
  int E() const { return metadata_.value.ensemble_size; }
  int Qa() const { return metadata_.value.ack_quorum_size; }
  size_t MaxOutstanding() const { return std::max<size_t>(1, ctx_.options().max_outstanding_adds); }

  // Called with mu_ held.
  void SendAdd(const PendingAdd& add, int pos) {
    const BookieId& bookie = metadata_.value.LastEnsemble().bookies[static_cast<size_t>(pos)];
    ctx_.bookies().Send(bookie, AddEntryRequest(id_, add.id, master_key_, add.body),
                        ctx_.options().add_timeout,
                        [self = shared_from_this(), entry = add.id, pos,
                         bookie](Result<proto::Response> response) {
                          self->OnAddResponse(entry, pos, bookie, response);
                        });
  }

  void OnAddResponse(EntryId entry, int pos, const BookieId& bookie,
                     const Result<proto::Response>& response) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_.ok() || pending_.empty()) return;
    // A bookie that was replaced or given up on no longer counts for this writer.
    if (metadata_.value.LastEnsemble().bookies[static_cast<size_t>(pos)] != bookie ||
        failed_.count(pos) || degraded_.count(pos)) {
      return;
    }
    Status status = ResponseStatus(bookie, response);
    if (status.ok()) {
      PendingAdd* add = FindPending(entry);
      if (add == nullptr) return;
      if (!add->acked[static_cast<size_t>(pos)]) {
        add->acked[static_cast<size_t>(pos)] = true;
        ++add->ack_count;
      }
      CompleteAcknowledged();
      return;
    }
    if (status.Is(StatusCode::kFenced)) {
      return FailAll(Status(StatusCode::kFenced,
                            fmt::format("ledger {} was fenced (recovered by another client): "
                                        "bookie {} refused entry {}",
                                        id_, bookie, entry)));
    }
    // A wrong password, or a TLS setup the bookie refuses: another bookie would not help.
    if (status.Is(StatusCode::kUnauthorized) || status.Is(StatusCode::kUnauthenticated)) {
      return FailAll(Status(status.code(),
                            fmt::format("bookie {} refused entry {} of ledger {}: {}", bookie,
                                        entry, id_, status.message())));
    }
    if (status.Is(StatusCode::kTooManyRequests)) return RetryBusy(entry, pos, bookie, status);
    BookieFailed(pos, bookie, status);
  }

  // The pending add `entry`, or nullptr if it is no longer pending. Called with mu_ held.
  PendingAdd* FindPending(EntryId entry) {
    if (pending_.empty()) return nullptr;
    EntryId first = pending_.front().id;
    if (entry < first || entry >= first + static_cast<EntryId>(pending_.size())) return nullptr;
    return &pending_[static_cast<size_t>(entry - first)];
  }

  // Called with mu_ held: the bookie at `pos` answered TOO_MANY_REQUESTS (its write cache stayed
  // full for writeCacheMaxWaitMs). That is back-pressure from a live bookie, not a failure, and
  // replacing it would only move the load: the same add goes to it again after a pause that
  // doubles each time (reconnect_backoff_min up to reconnect_backoff_max). Only a bookie still
  // busy after busy_retry().max_retries pauses is treated as failed.
  void RetryBusy(EntryId entry, int pos, const BookieId& bookie, const Status& why) {
    const BusyRetry retry = ctx_.busy_retry();
    PendingAdd* add = FindPending(entry);
    if (add == nullptr) return;
    uint8_t& tries = add->busy[static_cast<size_t>(pos)];
    if (tries >= retry.max_retries) return BookieFailed(pos, bookie, why);
    auto delay = retry.PauseBefore(tries);
    ++tries;
    spdlog::debug("ledger {}: bookie {} is busy ({}); entry {} again in {} ms", id_, bookie,
                  why.message(), entry, delay.count());
    auto timer = std::make_shared<boost::asio::steady_timer>(ctx_.io(), delay);
    timer->async_wait([self = shared_from_this(), timer, entry, pos,
                       bookie](const boost::system::error_code& ec) {
      if (ec) return;
      std::lock_guard<std::mutex> lock(self->mu_);
      if (!self->error_.ok()) return;
      // Not if the bookie was replaced or given up on meanwhile, or the entry is done.
      if (self->metadata_.value.LastEnsemble().bookies[static_cast<size_t>(pos)] != bookie ||
          self->failed_.count(pos) || self->degraded_.count(pos)) {
        return;
      }
      const PendingAdd* again = self->FindPending(entry);
      if (again == nullptr || again->acked[static_cast<size_t>(pos)]) return;
      self->SendAdd(*again, pos);
    });
  }

  // Acknowledges, in order, every entry at the head of pending_ that has Qa acks. An entry whose
  // write set holds a bookie being replaced waits for the change: the new ensemble starts at
  // LAC + 1, and the replacement must get every entry from there on, so those must still be
  // pending when the change lands.
  bool Completable(const PendingAdd& add) const {
    if (add.ack_count < Qa()) return false;
    if (failed_.empty()) return true;
    for (int pos : metadata_.value.WriteSetPositions(add.id)) {
      if (failed_.count(pos)) return false;
    }
    return true;
  }

  void CompleteAcknowledged() {
    // One task for all the completions of this call: a thread wake-up per entry would cost the
    // I/O thread more than the entries themselves.
    std::vector<std::pair<EntryId, WriteHandle::AddCallback>> completed;
    while (!pending_.empty() && Completable(pending_.front())) {
      PendingAdd& add = pending_.front();
      lac_ = add.id;
      lac_length_ = add.length;
      completed.emplace_back(add.id, std::move(add.callback));
      pending_.pop_front();
    }
    if (completed.empty()) return;
    ctx_.callbacks().Submit([completed = std::move(completed)]() mutable {
      for (auto& [id, callback] : completed) callback(Result<EntryId>(id));
    });
    if (waiters_ > 0) cv_.notify_all();
  }

  void FailAll(const Status& status) {
    if (error_.ok()) {
      error_ = status;
      spdlog::error("ledger {}: writer stopped: {}", id_, status.ToString());
    }
    for (PendingAdd& add : pending_) {
      ctx_.callbacks().Submit([callback = std::move(add.callback), status] { callback(status); });
    }
    pending_.clear();
    cv_.notify_all();
  }

  // Called with mu_ held when the bookie at ensemble position `pos` failed a request.
  void BookieFailed(int pos, const BookieId& bookie, const Status& why) {
    spdlog::warn("ledger {}: bookie {} failed ({}); replacing it", id_, bookie, why.ToString());
    failed_.insert(pos);
    choice_.Failed(bookie, Clock::now());
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
      ctx_.workers().Submit([self = shared_from_this()] { self->ChangeEnsemble(); });
    }
  }

  // On a worker thread: finds a bookie for every position whose bookie failed or that is written
  // around (docs/semantics.md, writing step 5; BookieChoice decides which), then re-sends what each
  // should hold. Loops while bookies keep failing.
  void ChangeEnsemble() {
    constexpr int kMaxRounds = 32;
    for (int round = 0; round < kMaxRounds; ++round) {
      std::unique_lock<std::mutex> lock(mu_);
      if (!error_.ok() || (failed_.empty() && !look_again_due_)) break;
      look_again_due_ = false;
      lock.unlock();

      // Listed afresh for every decision: a bookie restarted since the last one is back in it.
      Result<BookieList> listed = WritableBookies(ctx_.store());

      lock.lock();
      if (!error_.ok()) break;
      std::set<int> positions = failed_;
      positions.insert(degraded_.begin(), degraded_.end());
      metadata::Versioned<LedgerMetadata> current = metadata_;
      BookieChoice::Decision decision =
          choice_.Decide(current.value.LastEnsemble().bookies, positions, listed, Clock::now());
      for (int pos : decision.in_place) ResumeInPlace(pos);
      for (int pos : decision.without) {
        failed_.erase(pos);
        degraded_.insert(pos);
      }
      // A position written around that gets a spare waits for the change like a failed one.
      for (const auto& [pos, b] : decision.replacements) {
        degraded_.erase(pos);
        failed_.insert(pos);
      }
      if (!decision.replacements.empty()) {
        if (!ReplaceInMetadata(lock, current, decision.replacements)) break;
      }
      if (!failed_.empty()) continue;  // failed meanwhile: another round
      if (!WriteSetsViable()) {
        FailAll(Status(
            StatusCode::kUnavailable,
            fmt::format("ledger {}: not enough bookies: a write set has fewer than Qa={} "
                        "live bookies (failed: {}) and no writable spare is available{}",
                        id_, Qa(), FailedNames(),
                        listed.ok() ? "" : ": " + listed.status().ToString())));
        break;
      }
      if (!degraded_.empty()) {
        spdlog::warn("ledger {}: no writable spare for {}; writing to the rest of the ensemble",
                     id_, FailedNames());
        ArmLookAgain(decision.look_again);
      }
      CompleteAcknowledged();
      break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    change_running_ = false;
    cv_.notify_all();
    // A failure that arrived after the loop's last look starts another change.
    if (error_.ok() && (!failed_.empty() || look_again_due_)) {
      change_running_ = true;
      ctx_.workers().Submit([self = shared_from_this()] { self->ChangeEnsemble(); });
    }
  }

  // Called with mu_ held: the bookie at `pos` is back (BookieChoice: in place). It is still in
  // the ensemble, so no metadata changes; it gets every pending entry of its write sets again
  // (what it missed meanwhile keeps the copies it has elsewhere, as a position written around).
  void ResumeInPlace(int pos) {
    failed_.erase(pos);
    degraded_.erase(pos);
    spdlog::info("ledger {}: bookie {} is back; writing to it again", id_,
                 metadata_.value.LastEnsemble().bookies[static_cast<size_t>(pos)]);
    for (const PendingAdd& add : pending_) {
      for (int p : metadata_.value.WriteSetPositions(add.id)) {
        if (p == pos) SendAdd(add, pos);
      }
    }
  }

  // Called with mu_ held (`lock`, released during the update): appends an ensemble starting at
  // LAC + 1 with `replacements`, or replaces the last one if nothing completed since it began,
  // then re-sends to each replacement the pending entries of its write sets. False if the
  // writer stopped.
  bool ReplaceInMetadata(std::unique_lock<std::mutex>& lock,
                         const metadata::Versioned<LedgerMetadata>& current,
                         const std::map<int, BookieId>& replacements) {
    LedgerMetadata next = current.value;
    Ensemble ensemble = next.LastEnsemble();
    ensemble.first_entry_id = lac_ + 1;
    for (const auto& [pos, b] : replacements) ensemble.bookies[static_cast<size_t>(pos)] = b;
    if (ensemble.first_entry_id == next.LastEnsemble().first_entry_id) {
      next.ensembles.back() = ensemble;  // nothing acknowledged since the last change
    } else {
      next.ensembles.push_back(ensemble);
    }
    lock.unlock();

    Result<metadata::Versioned<LedgerMetadata>> updated = UpdateEnsembles(current, next);

    lock.lock();
    if (!updated.ok()) {
      FailAll(updated.status());
      return false;
    }
    metadata_ = std::move(*updated);
    ctx_.metrics().ensemble_changes.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("ledger {}: ensemble change from entry {}: {}", id_, ensemble.first_entry_id,
                 fmt::join(ensemble.bookies, ","));
    for (const auto& [pos, b] : replacements) failed_.erase(pos);
    // Entries from the new ensemble's first on whose write set holds a replacement go to it.
    for (const PendingAdd& add : pending_) {
      if (add.id < ensemble.first_entry_id) continue;
      for (int pos : metadata_.value.WriteSetPositions(add.id)) {
        if (replacements.count(pos) && !failed_.count(pos)) SendAdd(add, pos);
      }
    }
    CompleteAcknowledged();
    return error_.ok();
  }

  // Positions are written around: look for bookies for them again at `when`.
  void ArmLookAgain(Clock::time_point when) {
    look_again_timer_.expires_at(when);
    look_again_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      std::lock_guard<std::mutex> lock(self->mu_);
      if (self->closing_ || !self->error_.ok() || self->degraded_.empty()) return;
      self->look_again_due_ = true;
      if (!self->change_running_) {
        self->change_running_ = true;
        self->ctx_.workers().Submit([self] { self->ChangeEnsemble(); });
      }
    });
  }

  // Every write set of the last ensemble has at least Qa bookies not failed.
  bool WriteSetsViable() {
    return QuorumsOf(metadata_.value).EveryWriteSetCanAck(
        [&](int pos) { return !failed_.count(pos) && !degraded_.count(pos); });
  }

  std::string FailedNames() const {
    std::vector<BookieId> names;
    std::set<int> all = failed_;
    all.insert(degraded_.begin(), degraded_.end());
    for (int pos : all) {
      names.push_back(metadata_.value.LastEnsemble().bookies[static_cast<size_t>(pos)]);
    }
    return fmt::format("{}", fmt::join(names, ","));
  }

  // CAS of the new ensemble list. A lost race with recovery means fenced.
  Result<metadata::Versioned<LedgerMetadata>> UpdateEnsembles(
      const metadata::Versioned<LedgerMetadata>& current, const LedgerMetadata& next) {
    Result<metadata::Versioned<LedgerMetadata>> r =
        metadata::UpdateLedgerMetadata(
            ctx_.store(), id_,
            ReplaceEnsembles(id_, current.value.ensembles, next.ensembles, StatusCode::kFenced,
                             /*must_be_open=*/true),
            current);
    if (r.status().Is(StatusCode::kNoSuchLedger)) {
      return Status(StatusCode::kFenced, fmt::format("ledger {} was deleted", id_));
    }
    return r;
  }

  // Closes the metadata at `last`. Succeeds also when another client (a recovery) closed it at
  // exactly `last`: the ledger ends where this writer says (docs/semantics.md, writing step 6).
  Status CloseMetadata(EntryId last, uint64_t length) {
    metadata::Versioned<LedgerMetadata> current;
    {
      std::lock_guard<std::mutex> lock(mu_);
      current = metadata_;
    }
    Result<metadata::Versioned<LedgerMetadata>> closed =
        metadata::UpdateLedgerMetadata(ctx_.store(), id_, CloseByWriter(id_, last, length),
                                       std::move(current));
    if (!closed.ok()) {
      if (closed.status().Is(StatusCode::kFenced)) return closed.status();
      return closed.status().WithContext(fmt::format("closing ledger {}", id_));
    }
    std::lock_guard<std::mutex> lock(mu_);
    metadata_ = std::move(*closed);
    return Status::Ok();
  }

  // Explicit LAC: when the writer has been idle for explicit_lac_interval and its LAC moved
  // past what its entries carried, it tells the bookies, so that readers can read the tail.
  void ArmLacTimer() {
    lac_timer_armed_ = true;
    lac_timer_.expires_after(ctx_.options().explicit_lac_interval);
    lac_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->OnLacTimer();
    });
  }

  void OnLacTimer() {
    std::lock_guard<std::mutex> lock(mu_);
    lac_timer_armed_ = false;
    if (closed_ || closing_ || !error_.ok()) return;
    bool idle = Clock::now() - last_append_ >= ctx_.options().explicit_lac_interval;
    if (!idle) return ArmLacTimer();
    if (lac_ <= explicit_lac_sent_) return;  // nothing new; the next append re-arms
    explicit_lac_sent_ = lac_;
    std::string body = digest_.EncodeLac(id_, lac_);
    const Ensemble& ensemble = metadata_.value.LastEnsemble();
    for (size_t pos = 0; pos < ensemble.bookies.size(); ++pos) {
      if (failed_.count(static_cast<int>(pos)) || degraded_.count(static_cast<int>(pos))) continue;
      proto::Request request;
      request.mutable_header()->set_operation(proto::WRITE_LAC);
      proto::WriteLacRequest* w = request.mutable_write_lac();
      w->set_ledger_id(id_);
      w->set_master_key(master_key_);
      w->set_lac(lac_);
      w->set_body(body);
      // Best effort: readers fall back to the LAC carried by entries.
      ctx_.bookies().Send(ensemble.bookies[pos], std::move(request), ctx_.options().add_timeout,
                          [](const Result<proto::Response>&) {});
    }
  }

  ClientContext& ctx_;
  const LedgerId id_;
  const Digest digest_;
  const std::string master_key_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  int waiters_ = 0;  // threads waiting on cv_ (appends at the bound, Close)
  metadata::Versioned<LedgerMetadata> metadata_;
  EntryId next_entry_id_ = 0;
  EntryId lac_ = kNoEntry;
  uint64_t lac_length_ = 0;
  uint64_t pushed_length_ = 0;
  std::deque<PendingAdd> pending_;  // ids lac_+1, lac_+2, ... in order
  std::set<int> failed_;            // ensemble positions waiting for a replacement
  std::set<int> degraded_;          // failed positions with no bookie for now: written around
  BookieChoice choice_;             // which bookies may fill failed positions, and when
  bool look_again_due_ = false;     // time to look for bookies for degraded_ again
  bool change_running_ = false;
  Status error_;                    // once set, every append fails with it
  bool closing_ = false;
  bool closed_ = false;
  bool close_done_ = false;  // close_status_ is final
  Status close_status_;
  Clock::time_point last_append_ = Clock::now();
  EntryId explicit_lac_sent_ = kNoEntry;
  bool lac_timer_armed_ = false;
  boost::asio::steady_timer lac_timer_;
  boost::asio::steady_timer look_again_timer_;  // for degraded_
};

class WriteHandleImpl : public WriteHandle {
 public:
  WriteHandleImpl(std::shared_ptr<ClientContext> context, std::shared_ptr<Writer> writer)
      : context_(std::move(context)), writer_(std::move(writer)) {}
  using WriteHandle::AppendAsync;

  LedgerId id() const override { return writer_->id(); }
  LedgerMetadata metadata() const override { return writer_->metadata(); }
  EntryId last_add_confirmed() const override { return writer_->last_add_confirmed(); }
  void AppendAsync(std::string payload, AddCallback callback) override {
    writer_->Append(std::move(payload), std::move(callback));
  }
  Status Close() override { return writer_->Close(); }

 private:
  std::shared_ptr<ClientContext> context_;  // outlives writer_ (declared first)
  std::shared_ptr<Writer> writer_;
};

}  // namespace

proto::Request AddEntryRequest(LedgerId ledger, EntryId entry, const std::string& master_key,
                               std::string body) {
  proto::Request request;
  request.mutable_header()->set_operation(proto::ADD_ENTRY);
  proto::AddRequest* r = request.mutable_add();
  r->set_ledger_id(ledger);
  r->set_entry_id(entry);
  r->set_master_key(master_key);
  r->set_body(std::move(body));
  return request;
}

std::unique_ptr<WriteHandle> NewWriteHandle(std::shared_ptr<ClientContext> context, LedgerId id,
                                            metadata::Versioned<LedgerMetadata> metadata,
                                            std::string password) {
  auto writer = std::make_shared<Writer>(*context, id, std::move(metadata), password);
  return std::make_unique<WriteHandleImpl>(std::move(context), std::move(writer));
}

}  // namespace quire::client

namespace quire {

// The convenience forms, on top of the callback form.
std::future<Result<EntryId>> WriteHandle::AppendAsync(std::string payload) {
  auto promise = std::make_shared<std::promise<Result<EntryId>>>();
  std::future<Result<EntryId>> future = promise->get_future();
  AppendAsync(std::move(payload),
              [promise](Result<EntryId> r) { promise->set_value(std::move(r)); });
  return future;
}

Result<EntryId> WriteHandle::Append(std::string payload) {
  return AppendAsync(std::move(payload)).get();
}

Result<EntryId> WriteHandle::AppendBatch(std::vector<std::string> payloads) {
  if (payloads.empty()) return InvalidArgument("AppendBatch of no entries");
  std::vector<std::future<Result<EntryId>>> futures;
  futures.reserve(payloads.size());
  for (std::string& p : payloads) futures.push_back(AppendAsync(std::move(p)));
  EntryId last = kNoEntry;
  for (auto& f : futures) {
    Result<EntryId> r = f.get();
    if (!r.ok()) return r.status();
    last = *r;
  }
  return last;
}

}  // namespace quire
