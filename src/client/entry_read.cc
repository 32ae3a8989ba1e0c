// ReadEntryAsync (read_handle.h): one entry read, moving along the write set.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/read_handle.h"
#include "common/clock.h"
#include "common/mutex.h"

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
    MutexLock lock(mu_);
    TryNext();
  }

 private:
  void TryNext() QUIRE_REQUIRES(mu_) {
    size_t i = next_++;
    ++outstanding_;
    sent_.push_back(Clock::now());
    ctx_.bookies().Send(bookies_[i], ReadEntryRequest(ledger_, entry_), ctx_.options().read_timeout,
                        [self = shared_from_this(), i](Result<proto::Response> r) {
                          self->OnResponse(i, std::move(r));
                        });
    if (next_ < bookies_.size() && ctx_.options().speculative_read_timeout.count() > 0) {
      ArmSpeculation(i);
    }
  }

  // Asks the next replica too once request `i` waited SlowBookies::SpeculationAfter. That
  // threshold follows the client's reads, so it is looked at again every kMinSpeculation: when a
  // burst of reads starts, the first answers bring it down for the reads still waiting.
  void ArmSpeculation(size_t i) QUIRE_REQUIRES(mu_) {
    const auto after = ctx_.slow_bookies().SpeculationAfter(ctx_.options().speculative_read_timeout);
    const auto due = sent_[i] + std::chrono::duration_cast<Clock::duration>(after);
    timer_.expires_at(std::min(due, Clock::now() + SlowBookies::kMinSpeculation));
    timer_.async_wait([self = shared_from_this(), i](boost::system::error_code ec) {
      if (ec) return;
      MutexLock lock(self->mu_);
      if (self->finished_ || self->next_ != i + 1 || self->next_ >= self->bookies_.size()) return;
      const auto waited = Clock::now() - self->sent_[i];
      if (waited < self->ctx_.slow_bookies().SpeculationAfter(
                       self->ctx_.options().speculative_read_timeout)) {
        return self->ArmSpeculation(i);
      }
      // Later reads ask it last, until it answers.
      self->ctx_.slow_bookies().Slow(self->bookies_[i], Clock::now());
      self->ctx_.metrics().speculative_reads.fetch_add(1, std::memory_order_relaxed);
      self->TryNext();
    });
  }

  void OnResponse(size_t i, Result<proto::Response> response) {
    std::function<void()> finish;
    {
      MutexLock lock(mu_);
      finish = Answer(i, std::move(response));
    }
    if (finish) finish();
  }

  // What the answer of request `i` decides; the caller's to call without the lock, if the read
  // is over.
  std::function<void()> Answer(size_t i, Result<proto::Response> response) QUIRE_REQUIRES(mu_) {
    --outstanding_;
    const BookieId& bookie = bookies_[i];
    if (response.ok()) {
      ctx_.slow_bookies().Answered(bookie);
    } else if (response.status().Is(StatusCode::kTimeout)) {
      ctx_.slow_bookies().Slow(bookie, Clock::now());
    }
    if (finished_) return {};
    Status status = ResponseStatus(bookie, response);
    if (status.ok()) {
      Result<Digest::DecodedEntry> decoded =
          digest_.DecodeEntry(ledger_, entry_, response->read().body());
      if (decoded.ok()) {
        ctx_.slow_bookies().ReadTook(Clock::now() - sent_[i]);
        return Finish(std::move(decoded));
      }
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
    if (next_ < bookies_.size()) {
      TryNext();
      return {};
    }
    if (outstanding_ > 0) return {};  // a speculative read may still answer
    if (no_such_entry_ == bookies_.size()) {
      return Finish(Status(StatusCode::kNoSuchEntry,
                                 fmt::format("entry {}:{} is on none of {}", ledger_, entry_,
                                             fmt::join(bookies_, ","))));
    }
    // Name the worst: a corrupt copy over an unreachable bookie.
    StatusCode code = StatusCode::kUnavailable;
    for (const std::string& e : errors_) {
      if (e.rfind("corruption", 0) == 0) code = StatusCode::kCorruption;
    }
    return Finish(Status(code, fmt::format("could not read entry {}:{} from any of {}: {}",
                                           ledger_, entry_, fmt::join(bookies_, ","),
                                           fmt::join(errors_, "; "))));
  }

  std::function<void()> Finish(Result<Digest::DecodedEntry> result) QUIRE_REQUIRES(mu_) {
    finished_ = true;
    timer_.cancel();
    return [done = std::move(done_), result = std::move(result)]() mutable {
      done(std::move(result));
    };
  }

  ClientContext& ctx_;
  const LedgerId ledger_;
  const EntryId entry_;
  const std::vector<BookieId> bookies_;
  const Digest digest_;  // a copy: late speculative answers may outlive the caller
  Mutex mu_;
  std::function<void(Result<Digest::DecodedEntry>)> done_ QUIRE_GUARDED_BY(mu_);
  boost::asio::steady_timer timer_ QUIRE_GUARDED_BY(mu_);
  size_t next_ QUIRE_GUARDED_BY(mu_) = 0;
  std::vector<Clock::time_point> sent_ QUIRE_GUARDED_BY(mu_);  // by request: when it went out
  size_t outstanding_ QUIRE_GUARDED_BY(mu_) = 0;
  size_t no_such_entry_ QUIRE_GUARDED_BY(mu_) = 0;
  bool finished_ QUIRE_GUARDED_BY(mu_) = false;
  std::vector<std::string> errors_ QUIRE_GUARDED_BY(mu_);
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
  auto read = std::make_shared<EntryRead>(
      context, id, entry,
      context.slow_bookies().ReadOrder(metadata.WriteSet(entry), Clock::now()), digest,
      std::move(measured));
  read->Start();
}

}  // namespace quire::client
