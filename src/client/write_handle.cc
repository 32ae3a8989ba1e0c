#include "client/write_handle.h"

#include <optional>
#include <span>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "client/digest.h"
#include "client/metadata_changes.h"
#include "client/placement.h"
#include "client/writer_core.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace quire::client {
namespace {

using Clock = std::chrono::steady_clock;

// The writer: the Asio and metadata driver of a WriterCore, which makes every decision. Shared
// with the callbacks of its requests (which may outlive the handle). Every call into the core is
// under mu_; Execute carries out what it asked for.
class Writer : public AddSink, public std::enable_shared_from_this<Writer> {
 public:
  Writer(ClientContext& context, LedgerId id, metadata::Versioned<LedgerMetadata> metadata,
         const std::string& password)
      : ctx_(context),
        id_(id),
        digest_(metadata.value.digest_type, password),
        master_key_(std::make_shared<const std::string>(MasterKey(password))),
        core_(id, std::move(metadata.value),
              BookieChoice(context.options().reconnect_backoff_min,
                           context.options().reconnect_backoff_max),
              context.busy_retry(), context.options().max_outstanding_adds),
        version_(metadata.version),
        lac_timer_(context.io()),
        look_again_timer_(context.io()) {}

  LedgerId id() const { return id_; }

  LedgerMetadata metadata() const {
    MutexLock lock(mu_);
    return core_.metadata();
  }

  EntryId last_add_confirmed() const {
    MutexLock lock(mu_);
    return core_.lac();
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
    const size_t max_payload = MaxAppendPayload(ctx_.options().bookie_max_frame_size);
    if (payload.size() > max_payload) {
      Status refused = InvalidArgument(fmt::format(
          "ledger {}: an entry of {} bytes is larger than the bookies accept: an add request "
          "carries at most {} bytes of payload with ClientOptions::bookie_max_frame_size = {} "
          "(the bookies' maxFrameSizeBytes)",
          id(), payload.size(), max_payload, ctx_.options().bookie_max_frame_size));
      ctx_.callbacks().Submit([callback = std::move(callback), refused] { callback(refused); });
      return;
    }
    // Locked by hand: Execute releases the lock, as the add path ends there.
    mu_.Lock();
    if (core_.Full()) {
      ++waiters_;
      cv_.Wait(mu_, [&]() QUIRE_REQUIRES(mu_) { return !core_.Full(); });
      --waiters_;
    }
    Result<WriterCore::Reservation> r =
        core_.Reserve(payload.size(), std::move(callback), Clock::now());
    if (!r.ok()) {  // the callback is still ours
      mu_.Unlock();
      ctx_.callbacks().Submit([callback = std::move(callback), s = r.status()] { callback(s); });
      return;
    }
    if (ctx_.options().explicit_lac_interval.count() > 0 && !lac_timer_armed_) ArmLacTimer();
    // The digest is computed without the lock: appends of other threads go on meanwhile.
    mu_.Unlock();
    std::string body = digest_.EncodeEntry(id(), r->id, r->lac, r->length, payload);
    mu_.Lock();
    Execute(core_.Fill(r->id, std::move(body)));
  }

  Status Close() {
    Status s = CloseInMetadata();
    // Every append's completion was queued before the core was quiescent: once the callback
    // thread has run them, the application has seen every append end (a program that prints
    // each acknowledgement relies on it before it exits).
    ctx_.callbacks().Drain();
    return s;
  }

 private:
  // Waits for pending appends, then closes the ledger in the metadata (or ends as a Close
  // already under way does).
  Status CloseInMetadata() {
    MutexLock lock(mu_);
    if (!core_.BeginClose()) {
      // Another Close is under way (or done): this one ends as it does, once the metadata says.
      ++waiters_;
      cv_.Wait(mu_, [&]() QUIRE_REQUIRES(mu_) { return close_done_; });
      --waiters_;
      return close_status_;
    }
    // Every pending append ends (acknowledged or failed) and no ensemble change is running.
    ++waiters_;
    cv_.Wait(mu_, [&]() QUIRE_REQUIRES(mu_) { return core_.Quiescent(); });
    --waiters_;
    lac_timer_.cancel();
    look_again_timer_.cancel();
    Result<WriterCore::CloseTarget> target = core_.Closed();
    Status s = target.status();
    if (target.ok()) {
      metadata::Versioned<LedgerMetadata> current = Stored();
      lock.Unlock();
      Result<metadata::Versioned<LedgerMetadata>> closed = metadata::UpdateLedgerMetadata(
          ctx_.store(), id(), CloseByWriter(id(), target->last, target->length),
          std::move(current));
      lock.Lock();
      if (closed.ok()) {
        spdlog::debug("ledger {} closed at entry {}", id(), target->last);
        core_.SetMetadata(std::move(closed->value));
        version_ = closed->version;
      } else if (closed.status().Is(StatusCode::kFenced)) {
        s = closed.status();
      } else {
        s = closed.status().WithContext(fmt::format("closing ledger {}", id()));
      }
    }
    close_status_ = s;
    close_done_ = true;
    cv_.NotifyAll();
    return s;
  }

  // The metadata as the store holds it (the core's copy and the version it was read at).
  metadata::Versioned<LedgerMetadata> Stored() const QUIRE_REQUIRES(mu_) {
    return {core_.metadata(), version_};
  }

  // Carries out what the core asked for and releases the lock: sends go without it (building a
  // request copies the entry's body), and the add path, which ends here, does not pay for
  // taking it once more. Callers that go on take it again.
  void Execute(WriterCore::Effects effects) QUIRE_RELEASE(mu_) {
    if (!effects.completions.empty()) {
      // One task for all the completions of this call, submitted under the lock so that they
      // reach the application in entry order: a thread wake-up per entry would cost more than
      // the entries themselves.
      ctx_.callbacks().Submit([completions = std::move(effects.completions)]() mutable {
        for (WriterCore::Completion& c : completions) c.callback(std::move(c.result));
      });
    }
    if (effects.wake && waiters_ > 0) cv_.NotifyAll();
    if (effects.start_change) {
      ctx_.workers().Submit([self = shared_from_this()] { self->ChangeEnsemble(); });
    }
    for (const WriterCore::Retry& retry : effects.retries) RetryLater(retry);
    mu_.Unlock();
    if (effects.sends.empty()) return;
    const Clock::time_point now = Clock::now();
    for (WriterCore::Send& send : effects.sends) {
      ctx_.bookies().SendAdd(send.bookie, {id(), send.entry, master_key_, send.body},
                             ctx_.options().add_timeout, shared_from_this(), send.position, now);
    }
  }

  // A bookie's answers to adds, many at once when they went in one BATCH_ADD: one lock and one
  // Execute (one hand-over of completions to the application) for all of them.
  void OnAddOutcomes(const BookieId& bookie, std::span<const AddOutcome> outcomes) override {
    const Clock::time_point now = Clock::now();
    mu_.Lock();
    WriterCore::Effects effects;
    for (const AddOutcome& o : outcomes) {
      effects.Absorb(core_.OnAddResult(o.entry, o.tag, bookie, o.ToStatus(bookie), now));
    }
    Execute(std::move(effects));
  }

  // A busy bookie gets the same add again after a pause (WriterCore::RetryBusy says why).
  void RetryLater(const WriterCore::Retry& retry) {
    spdlog::debug("ledger {}: bookie {} is busy; entry {} again in {} ms", id(), retry.bookie,
                  retry.entry, retry.delay.count());
    auto timer = std::make_shared<boost::asio::steady_timer>(ctx_.io(), retry.delay);
    timer->async_wait([self = shared_from_this(), timer, retry](boost::system::error_code ec) {
      if (ec) return;
      self->mu_.Lock();
      self->Execute(self->core_.RetryDue(retry.entry, retry.position, retry.bookie));
    });
  }

  // On a worker thread: the rounds of an ensemble change (WriterCore::PlanChange decides; this
  // lists the bookies and writes the metadata). Bounded: a bookie that keeps failing ends in a
  // position written around, looked at again later.
  void ChangeEnsemble() {
    constexpr int kMaxRounds = 32;
    // Locked by hand: Execute releases the lock.
    mu_.Lock();
    for (int round = 0; round < kMaxRounds && core_.ChangeWanted(); ++round) {
      mu_.Unlock();
      // Listed afresh for every decision: a bookie restarted since the last one is back in it.
      Result<BookieList> listed = WritableBookies(ctx_.store());
      mu_.Lock();
      WriterCore::ChangeStep step = core_.PlanChange(listed, Clock::now());
      if (step.write) {
        metadata::Versioned<LedgerMetadata> current = Stored();
        Execute(std::move(step.effects));
        Result<metadata::Versioned<LedgerMetadata>> updated = UpdateEnsembles(current, *step.write);
        mu_.Lock();
        if (!updated.ok()) {
          Execute(core_.ChangeFailed(updated.status()));
          mu_.Lock();
          break;
        }
        ctx_.metrics().ensemble_changes.fetch_add(1, std::memory_order_relaxed);
        version_ = updated->version;
        step = core_.ChangeWritten(std::move(updated->value), listed);
      }
      Execute(std::move(step.effects));  // moves only the effects: the rest of step stays
      mu_.Lock();
      if (step.look_again) ArmLookAgain(*step.look_again);
      if (!step.again) break;
    }
    Execute(core_.ChangeEnded());
  }

  // Positions are written around: look for bookies for them again at `when`.
  void ArmLookAgain(Clock::time_point when) QUIRE_REQUIRES(mu_) {
    look_again_timer_.expires_at(when);
    look_again_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->mu_.Lock();
      self->Execute(self->core_.LookAgainDue());
    });
  }

  // CAS of the new ensemble list. A lost race with recovery means fenced.
  Result<metadata::Versioned<LedgerMetadata>> UpdateEnsembles(
      const metadata::Versioned<LedgerMetadata>& current, const LedgerMetadata& next) {
    Result<metadata::Versioned<LedgerMetadata>> r = metadata::UpdateLedgerMetadata(
        ctx_.store(), id(),
        ReplaceEnsembles(id(), current.value.ensembles, next.ensembles, StatusCode::kFenced,
                         /*must_be_open=*/true),
        current);
    if (r.status().Is(StatusCode::kNoSuchLedger)) {
      return Status(StatusCode::kFenced, fmt::format("ledger {} was deleted", id()));
    }
    return r;
  }

  // Explicit LAC: when the writer has been idle for explicit_lac_interval and its LAC moved
  // past what its entries carried, it tells the bookies, so that readers can read the tail.
  void ArmLacTimer() QUIRE_REQUIRES(mu_) {
    lac_timer_armed_ = true;
    lac_timer_.expires_after(ctx_.options().explicit_lac_interval);
    lac_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->OnLacTimer();
    });
  }

  void OnLacTimer() {
    MutexLock lock(mu_);
    lac_timer_armed_ = false;
    bool rearm = false;
    std::optional<WriterCore::LacWrite> due =
        core_.LacDue(Clock::now(), ctx_.options().explicit_lac_interval, &rearm);
    if (rearm) ArmLacTimer();
    if (!due) return;
    std::string body = digest_.EncodeLac(id(), due->lac);
    for (const BookieId& bookie : due->bookies) {
      proto::Request request;
      request.mutable_header()->set_operation(proto::WRITE_LAC);
      proto::WriteLacRequest* w = request.mutable_write_lac();
      w->set_ledger_id(id());
      w->set_master_key(*master_key_);
      w->set_lac(due->lac);
      w->set_body(body);
      // Best effort: readers fall back to the LAC carried by entries.
      ctx_.bookies().Send(bookie, std::move(request), ctx_.options().add_timeout,
                          [](const Result<proto::Response>&) {});
    }
  }

  ClientContext& ctx_;
  const LedgerId id_;
  const Digest digest_;
  const std::shared_ptr<const std::string> master_key_;  // shared by every add's frames

  mutable Mutex mu_;
  CondVar cv_;
  int waiters_ QUIRE_GUARDED_BY(mu_) = 0;  // threads waiting on cv_ (appends at the bound, Close)
  WriterCore core_ QUIRE_GUARDED_BY(mu_);
  metadata::Version version_ QUIRE_GUARDED_BY(mu_);  // of the metadata the core holds
  bool close_done_ QUIRE_GUARDED_BY(mu_) = false;    // close_status_ is final
  Status close_status_ QUIRE_GUARDED_BY(mu_);
  bool lac_timer_armed_ QUIRE_GUARDED_BY(mu_) = false;
  boost::asio::steady_timer lac_timer_ QUIRE_GUARDED_BY(mu_);
  // For positions written around.
  boost::asio::steady_timer look_again_timer_ QUIRE_GUARDED_BY(mu_);
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
