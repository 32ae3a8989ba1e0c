#include "client/read_handle.h"

#include "client/quorum.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/mutex.h"

namespace quire::client {
namespace {

using Clock = std::chrono::steady_clock;

class Reader : public std::enable_shared_from_this<Reader> {
 public:
  Reader(ClientContext& ctx, LedgerId id, metadata::Versioned<LedgerMetadata> metadata,
         const LedgerKeys& keys)
      : ctx_(ctx), id_(id), digest_(metadata.value.digest_type, keys) {
    SetMetadata(std::move(metadata));
  }

  ~Reader() { watch_.reset(); }

  // Follows metadata changes (ensemble changes, the close) while the ledger is open.
  Status Watch() {
    if (closed()) return Status::Ok();
    std::weak_ptr<Reader> weak = weak_from_this();
    Result<std::unique_ptr<metadata::Watch>> w = ctx_.store().WatchLedger(
        id_, [weak](const Result<metadata::Versioned<LedgerMetadata>>& m) {
          auto self = weak.lock();
          if (self && m.ok()) self->SetMetadata(*m);
        });
    if (!w.ok()) return w.status();
    MutexLock lock(mu_);
    watch_ = std::move(*w);
    return Status::Ok();
  }

  LedgerId id() const { return id_; }
  LedgerMetadata metadata() const {
    MutexLock lock(mu_);
    return metadata_.value;
  }
  bool closed() const {
    MutexLock lock(mu_);
    return metadata_.value.closed();
  }
  EntryId last_add_confirmed() const {
    MutexLock lock(mu_);
    return lac_;
  }

  Result<std::vector<Entry>> Read(EntryId first, EntryId last) {
    LedgerMetadata md;
    {
      MutexLock lock(mu_);
      md = metadata_.value;
      if (first < 0 || last < first) {
        return InvalidArgument(fmt::format("bad entry range {}..{} for ledger {}", first, last, id_));
      }
      if (last > lac_) {
        return InvalidArgument(fmt::format(
            "ledger {}: entry {} is beyond the last {} entry {}", id_, last,
            md.closed() ? "entry of the closed ledger," : "confirmed", lac_));
      }
    }
    // Up to kWindow entry reads in flight; results land in order.
    constexpr EntryId kWindow = 64;
    struct State {
      Mutex mu;
      CondVar cv;
      size_t inflight QUIRE_GUARDED_BY(mu) = 0;
      Status error QUIRE_GUARDED_BY(mu);
    };
    auto state = std::make_shared<State>();
    std::vector<Entry> out(static_cast<size_t>(last - first + 1));
    for (EntryId e = first; e <= last; ++e) {
      {
        MutexLock lock(state->mu);
        state->cv.Wait(state->mu, [&]() QUIRE_REQUIRES(state->mu) {
          return state->inflight < kWindow || !state->error.ok();
        });
        if (!state->error.ok()) break;
        ++state->inflight;
      }
      Entry* slot = &out[static_cast<size_t>(e - first)];
      slot->id = e;
      ReadEntryAsync(ctx_, md, id_, digest_, e,
                     [state, slot](Result<Digest::DecodedEntry> r) {
                       MutexLock lock(state->mu);
                       if (r.ok()) {
                         slot->payload = std::move(r->payload);
                       } else if (state->error.ok()) {
                         state->error = r.status();
                       }
                       --state->inflight;
                       state->cv.NotifyAll();
                     });
    }
    MutexLock lock(state->mu);
    state->cv.Wait(state->mu, [&]() QUIRE_REQUIRES(state->mu) { return state->inflight == 0; });
    if (!state->error.ok()) return state->error;
    return out;
  }

  Result<std::vector<ReplicaProblem>> CheckReplicas(EntryId first, EntryId last) {
    LedgerMetadata md = metadata();
    if (first < 0 || last < first) {
      return InvalidArgument(fmt::format("bad entry range {}..{} for ledger {}", first, last, id_));
    }
    std::vector<ReplicaProblem> problems;
    constexpr EntryId kWindow = 64;
    for (EntryId from = first; from <= last; from += kWindow) {
      EntryId to = std::min(last, from + kWindow - 1);
      std::vector<std::pair<BookieId, proto::Request>> requests;
      std::vector<std::pair<EntryId, BookieId>> asked;
      for (EntryId e = from; e <= to; ++e) {
        for (const BookieId& b : md.WriteSet(e)) {
          requests.emplace_back(b, ReadEntryRequest(id_, e));
          asked.emplace_back(e, b);
        }
      }
      auto answers = CallAll(ctx_.bookies(), std::move(requests), ctx_.options().read_timeout);
      for (size_t i = 0; i < answers.size(); ++i) {
        auto [e, bookie] = asked[i];
        Status s = ResponseStatus(bookie, answers[i]);
        if (s.ok()) {
          Result<Digest::DecodedEntry> d = digest_.DecodeEntry(id_, e, answers[i]->read().body());
          if (d.ok()) continue;
          ctx_.ReportBadCopy({id_, e, bookie, d.status().message()});
          s = d.status();
        }
        if (s.Is(StatusCode::kNoSuchLedger)) s = Status(StatusCode::kNoSuchEntry, s.message());
        problems.push_back({e, bookie, s.code(), s.message()});
      }
    }
    return problems;
  }

  // The highest LAC the writer signed, as the bookies of the last ensemble prove it. Done once
  // every write set has Qw - Qa + 1 answers (then some answer comes from a bookie holding any
  // acknowledged entry) and the rest answered or let a grace pass: a hung bookie costs a grace,
  // not the read timeout.
  Result<EntryId> ReadLac() {
    LedgerMetadata md = metadata();
    if (md.closed()) return md.last_entry_id;
    const std::vector<BookieId>& bookies = md.LastEnsemble().bookies;
    const Quorums quorums = QuorumsOf(md);
    std::vector<std::pair<BookieId, proto::Request>> requests;
    for (const BookieId& b : bookies) requests.emplace_back(b, ReadLacRequest(id_));
    std::vector<bool> answered(bookies.size(), false);
    EntryId best = kNoEntry;
    std::vector<std::string> errors;
    CallUntil(
        ctx_.bookies(), std::move(requests), ctx_.options().read_timeout,
        [&](size_t i, const Result<proto::Response>& answer) {
          Status s = ResponseStatus(bookies[i], answer);
          if (s.Is(StatusCode::kNoSuchLedger)) {
            answered[i] = true;  // holds nothing of this ledger yet
          } else if (!s.ok()) {
            errors.push_back(s.ToString());
          } else {
            answered[i] = true;
            const proto::ReadLacResponse& r = answer->read_lac();
            best = std::max(best, digest_.ProvenLac(id_, r.explicit_lac_body(),
                                                    {r.last_entry_body()},
                                                    ctx_.BadCopyReporter(id_, bookies[i])));
          }
          bool covered = quorums.AnswersReachEveryAcknowledged(
              [&](int pos) { return answered[static_cast<size_t>(pos)]; });
          return covered ? Enough::kAfterGrace : Enough::kNo;
        },
        Grace{ctx_.options().speculative_read_timeout, &ctx_.slow_bookies()});
    if (std::none_of(answered.begin(), answered.end(), [](bool a) { return a; })) {
      return Status(StatusCode::kUnavailable,
                    fmt::format("ledger {}: no bookie answered a LAC read: {}", id_,
                                fmt::join(errors, "; ")));
    }
    AdvanceLac(best);
    return last_add_confirmed();
  }

  Result<TailBatch> ReadNext(EntryId next, size_t max, std::chrono::milliseconds wait) {
    if (next < 0 || max == 0) {
      return InvalidArgument(fmt::format("ReadNext({}, {}) on ledger {}", next, max, id_));
    }
    auto deadline = Clock::now() + wait;
    constexpr int kMaxPolls = 1'000'000;  // bounded by the deadline long before this
    for (int poll = 0; poll < kMaxPolls; ++poll) {
      EntryId lac;
      bool is_closed;
      EntryId last_entry;
      {
        MutexLock lock(mu_);
        lac = lac_;
        is_closed = metadata_.value.closed();
        last_entry = metadata_.value.last_entry_id;
      }
      if (next <= lac) {
        EntryId last = std::min(lac, next + static_cast<EntryId>(max) - 1);
        QUIRE_ASSIGN_OR_RETURN(std::vector<Entry> entries, Read(next, last));
        return TailBatch{std::move(entries), is_closed && last == last_entry};
      }
      if (is_closed) return TailBatch{{}, true};
      auto now = Clock::now();
      if (now >= deadline) return TailBatch{};
      LongPoll(next - 1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
    }
    return TailBatch{};
  }

 private:
  void SetMetadata(metadata::Versioned<LedgerMetadata> m) {
    MutexLock lock(mu_);
    if (m.version < metadata_.version) return;
    metadata_ = std::move(m);
    if (metadata_.value.closed()) lac_ = metadata_.value.last_entry_id;
    cv_.NotifyAll();
  }

  void AdvanceLac(EntryId lac) {
    MutexLock lock(mu_);
    if (metadata_.value.closed()) return;
    if (lac > lac_) {
      lac_ = lac;
      cv_.NotifyAll();
    }
  }

  // Asks every bookie of the last ensemble to answer when its LAC passes `previous`, and waits
  // for the first that does, for all of them to give up, for the ledger to close, or `budget`.
  void LongPoll(EntryId previous, std::chrono::milliseconds budget) {
    auto timeout = std::min(budget, ctx_.options().long_poll_timeout);
    auto until = Clock::now() + timeout;
    LedgerMetadata md = metadata();
    const std::vector<BookieId>& bookies = md.LastEnsemble().bookies;
    auto remaining = std::make_shared<std::atomic<size_t>>(bookies.size());
    std::weak_ptr<Reader> weak = weak_from_this();
    for (const BookieId& b : bookies) {
      proto::Request r = ReadEntryRequest(id_, previous + 1);
      proto::ReadRequest* read = r.mutable_read();
      read->set_long_poll(true);
      read->set_previous_lac(previous);
      read->set_timeout_ms(static_cast<uint32_t>(timeout.count()));
      // The bookie may hold the answer until its timeout; give the network a margin on top.
      ctx_.bookies().Send(b, std::move(r), timeout + ctx_.options().read_timeout,
                          [weak, remaining, b](Result<proto::Response> resp) {
                            auto self = weak.lock();
                            if (!self) return;
                            if (resp.ok() && resp->status() == proto::OK) {
                              // Only what the writer signed counts, not the bookie's number.
                              const proto::ReadResponse& answer = resp->read();
                              self->AdvanceLac(self->digest_.ProvenLac(
                                  self->id_, answer.explicit_lac_body(),
                                  {answer.body(), answer.last_entry_body()},
                                  self->ctx_.BadCopyReporter(self->id_, b)));
                            }
                            if (--*remaining == 0) {
                              MutexLock lock(self->mu_);
                              self->cv_.NotifyAll();
                            }
                          });
    }
    MutexLock lock(mu_);
    cv_.WaitUntil(mu_, until, [&]() QUIRE_REQUIRES(mu_) {
      return lac_ > previous || metadata_.value.closed() || remaining->load() == 0;
    });
    if (lac_ > previous || metadata_.value.closed() || remaining->load() > 0) return;
    // Every bookie answered without news (errors, or timeouts shorter than ours): do not spin.
    cv_.WaitUntil(mu_, std::min(until, Clock::now() + std::chrono::milliseconds(100)),
                  [&]() QUIRE_REQUIRES(mu_) { return lac_ > previous || metadata_.value.closed(); });
  }

  ClientContext& ctx_;
  const LedgerId id_;
  const Digest digest_;
  mutable Mutex mu_;
  CondVar cv_;
  metadata::Versioned<LedgerMetadata> metadata_ QUIRE_GUARDED_BY(mu_){{}, -1};
  EntryId lac_ QUIRE_GUARDED_BY(mu_) = kNoEntry;
  std::unique_ptr<metadata::Watch> watch_ QUIRE_GUARDED_BY(mu_);
};

class ReadHandleImpl : public ReadHandle {
 public:
  ReadHandleImpl(std::shared_ptr<ClientContext> context, std::shared_ptr<Reader> reader)
      : context_(std::move(context)), reader_(std::move(reader)) {}
  LedgerId id() const override { return reader_->id(); }
  LedgerMetadata metadata() const override { return reader_->metadata(); }
  bool closed() const override { return reader_->closed(); }
  EntryId last_add_confirmed() const override { return reader_->last_add_confirmed(); }
  Result<std::vector<Entry>> Read(EntryId first, EntryId last) override {
    return reader_->Read(first, last);
  }
  Result<EntryId> ReadLac() override { return reader_->ReadLac(); }
  Result<TailBatch> ReadNext(EntryId next, size_t max, std::chrono::milliseconds wait) override {
    return reader_->ReadNext(next, max, wait);
  }
  Result<std::vector<ReplicaProblem>> CheckReplicas(EntryId first, EntryId last) override {
    return reader_->CheckReplicas(first, last);
  }

 private:
  std::shared_ptr<ClientContext> context_;  // outlives reader_ (declared first)
  std::shared_ptr<Reader> reader_;
};

}  // namespace

std::unique_ptr<ReadHandle> NewReadHandle(std::shared_ptr<ClientContext> context, LedgerId id,
                                          metadata::Versioned<LedgerMetadata> metadata,
                                          const LedgerKeys& keys) {
  auto reader = std::make_shared<Reader>(*context, id, std::move(metadata), keys);
  Status watched = reader->Watch();
  if (!watched.ok()) {
    spdlog::warn("ledger {}: cannot watch its metadata ({}); a tailing reader will not see the "
                 "close until it re-opens",
                 id, watched.ToString());
  }
  return std::make_unique<ReadHandleImpl>(std::move(context), std::move(reader));
}

}  // namespace quire::client
