#include "client/read_handle.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace quire::client {
namespace {

using Clock = std::chrono::steady_clock;

// One entry read, moving along the write set.
class EntryRead : public std::enable_shared_from_this<EntryRead> {
 public:
  EntryRead(ClientContext& ctx, LedgerId ledger, EntryId entry, std::vector<BookieId> bookies,
            const Digest& digest, std::function<void(Result<Digest::DecodedEntry>)> done)
      : ctx_(ctx),
        ledger_(ledger),
        entry_(entry),
        bookies_(std::move(bookies)),
        digest_(digest),
        done_(std::move(done)),
        timer_(ctx.io()) {}

  void Start() {
    std::lock_guard<std::mutex> lock(mu_);
    TryNext();
  }

 private:
  // Called with mu_ held.
  void TryNext() {
    size_t i = next_++;
    ++outstanding_;
    ctx_.bookies().Send(bookies_[i], ReadEntryRequest(ledger_, entry_), ctx_.options().read_timeout,
                        [self = shared_from_this(), i](Result<proto::Response> r) {
                          self->OnResponse(i, std::move(r));
                        });
    auto speculative = ctx_.options().speculative_read_timeout;
    if (next_ < bookies_.size() && speculative.count() > 0) {
      timer_.expires_after(speculative);
      timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec) return;
        std::lock_guard<std::mutex> lock(self->mu_);
        if (!self->finished_ && self->next_ < self->bookies_.size()) {
          self->ctx_.metrics().speculative_reads.fetch_add(1, std::memory_order_relaxed);
          self->TryNext();
        }
      });
    }
  }

  void OnResponse(size_t i, Result<proto::Response> response) {
    std::unique_lock<std::mutex> lock(mu_);
    --outstanding_;
    if (finished_) return;
    const BookieId& bookie = bookies_[i];
    Status status = ResponseStatus(bookie, response);
    if (status.ok()) {
      Result<Digest::DecodedEntry> decoded =
          digest_.DecodeEntry(ledger_, entry_, response->read().body());
      if (decoded.ok()) return Finish(lock, std::move(decoded));
      ctx_.ReportBadCopy({ledger_, entry_, bookie, decoded.status().message()});
      status = decoded.status().WithContext(fmt::format("bookie {}", bookie));
    }
    if (response.ok() && response->status() == proto::CORRUPTION) {
      // The bookie's own check caught a damaged copy.
      ctx_.ReportBadCopy({ledger_, entry_, bookie, status.message()});
    }
    if (status.Is(StatusCode::kNoSuchEntry) || status.Is(StatusCode::kNoSuchLedger)) {
      ++no_such_entry_;
    } else {
      errors_.push_back(status.ToString());
    }
    if (next_ < bookies_.size()) return TryNext();
    if (outstanding_ > 0) return;  // a speculative read may still answer
    if (no_such_entry_ == bookies_.size()) {
      return Finish(lock, Status(StatusCode::kNoSuchEntry,
                                 fmt::format("entry {}:{} is on none of {}", ledger_, entry_,
                                             fmt::join(bookies_, ","))));
    }
    // Name the worst: a corrupt copy over an unreachable bookie.
    StatusCode code = StatusCode::kUnavailable;
    for (const std::string& e : errors_) {
      if (e.rfind("corruption", 0) == 0) code = StatusCode::kCorruption;
    }
    Finish(lock, Status(code, fmt::format("could not read entry {}:{} from any of {}: {}",
                                          ledger_, entry_, fmt::join(bookies_, ","),
                                          fmt::join(errors_, "; "))));
  }

  void Finish(std::unique_lock<std::mutex>& lock, Result<Digest::DecodedEntry> result) {
    finished_ = true;
    timer_.cancel();
    auto done = std::move(done_);
    lock.unlock();
    done(std::move(result));
  }

  ClientContext& ctx_;
  const LedgerId ledger_;
  const EntryId entry_;
  const std::vector<BookieId> bookies_;
  const Digest digest_;  // a copy: late speculative answers may outlive the caller
  std::function<void(Result<Digest::DecodedEntry>)> done_;
  std::mutex mu_;
  boost::asio::steady_timer timer_;
  size_t next_ = 0;
  size_t outstanding_ = 0;
  size_t no_such_entry_ = 0;
  bool finished_ = false;
  std::vector<std::string> errors_;
};

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
    std::lock_guard<std::mutex> lock(mu_);
    watch_ = std::move(*w);
    return Status::Ok();
  }

  LedgerId id() const { return id_; }
  LedgerMetadata metadata() const {
    std::lock_guard<std::mutex> lock(mu_);
    return metadata_.value;
  }
  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return metadata_.value.closed();
  }
  EntryId last_add_confirmed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lac_;
  }

  Result<std::vector<Entry>> Read(EntryId first, EntryId last) {
    LedgerMetadata md;
    {
      std::lock_guard<std::mutex> lock(mu_);
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
      std::mutex mu;
      std::condition_variable cv;
      size_t inflight = 0;
      Status error;
    };
    auto state = std::make_shared<State>();
    std::vector<Entry> out(static_cast<size_t>(last - first + 1));
    for (EntryId e = first; e <= last; ++e) {
      {
        std::unique_lock<std::mutex> lock(state->mu);
        state->cv.wait(lock, [&] { return state->inflight < kWindow || !state->error.ok(); });
        if (!state->error.ok()) break;
        ++state->inflight;
      }
      Entry* slot = &out[static_cast<size_t>(e - first)];
      slot->id = e;
      ReadEntryAsync(ctx_, md, id_, digest_, e,
                     [state, slot](Result<Digest::DecodedEntry> r) {
                       std::lock_guard<std::mutex> lock(state->mu);
                       if (r.ok()) {
                         slot->payload = std::move(r->payload);
                       } else if (state->error.ok()) {
                         state->error = r.status();
                       }
                       --state->inflight;
                       state->cv.notify_all();
                     });
    }
    std::unique_lock<std::mutex> lock(state->mu);
    state->cv.wait(lock, [&] { return state->inflight == 0; });
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

  Result<EntryId> ReadLac() {
    LedgerMetadata md = metadata();
    if (md.closed()) return md.last_entry_id;
    const std::vector<BookieId>& bookies = md.LastEnsemble().bookies;
    auto answers = CallAll(
        ctx_.bookies(), bookies, [&](size_t) { return ReadLacRequest(id_); },
        ctx_.options().read_timeout);
    EntryId best = kNoEntry;
    size_t answered = 0;
    std::vector<std::string> errors;
    for (size_t i = 0; i < answers.size(); ++i) {
      Status s = ResponseStatus(bookies[i], answers[i]);
      if (s.Is(StatusCode::kNoSuchLedger)) {
        ++answered;  // holds nothing of this ledger yet
        continue;
      }
      if (!s.ok()) {
        errors.push_back(s.ToString());
        continue;
      }
      ++answered;
      const proto::ReadLacResponse& r = answers[i]->read_lac();
      best = std::max(best, digest_.ProvenLac(id_, r.explicit_lac_body(), {r.last_entry_body()},
                                              ctx_.BadCopyReporter(id_, bookies[i])));
    }
    if (answered == 0) {
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
        std::lock_guard<std::mutex> lock(mu_);
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
    std::lock_guard<std::mutex> lock(mu_);
    if (m.version < metadata_.version) return;
    metadata_ = std::move(m);
    if (metadata_.value.closed()) lac_ = metadata_.value.last_entry_id;
    cv_.notify_all();
  }

  void AdvanceLac(EntryId lac) {
    std::lock_guard<std::mutex> lock(mu_);
    if (metadata_.value.closed()) return;
    if (lac > lac_) {
      lac_ = lac;
      cv_.notify_all();
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
                              std::lock_guard<std::mutex> lock(self->mu_);
                              self->cv_.notify_all();
                            }
                          });
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_until(lock, until, [&] {
      return lac_ > previous || metadata_.value.closed() || remaining->load() == 0;
    });
    if (lac_ > previous || metadata_.value.closed() || remaining->load() > 0) return;
    // Every bookie answered without news (errors, or timeouts shorter than ours): do not spin.
    cv_.wait_until(lock, std::min(until, Clock::now() + std::chrono::milliseconds(100)),
                   [&] { return lac_ > previous || metadata_.value.closed(); });
  }

  ClientContext& ctx_;
  const LedgerId id_;
  const Digest digest_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  metadata::Versioned<LedgerMetadata> metadata_{{}, -1};
  EntryId lac_ = kNoEntry;
  std::unique_ptr<metadata::Watch> watch_;
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

void ReadEntryAsync(ClientContext& context, const LedgerMetadata& metadata, LedgerId id,
                    const Digest& digest, EntryId entry,
                    std::function<void(Result<Digest::DecodedEntry>)> done) {
  auto measured = [&metrics = context.metrics(), start = MonotonicNanos(),
                   caller = std::move(done)](Result<Digest::DecodedEntry> r) {
    metrics.operations.Record(ClientMetrics::kRead, r.status().code(), MonotonicNanos() - start);
    caller(std::move(r));
  };
  auto read = std::make_shared<EntryRead>(context, id, entry, metadata.WriteSet(entry), digest,
                                          std::move(measured));
  read->Start();
}

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
