// quire-bench's load generator: one writer thread per ledger, closed loop (bounded outstanding
// adds) or open loop (a fixed rate, latency from each add's intended start). See bench_main.cc.
#pragma once

#include <sys/prctl.h>

#include "cli/bench_support.h"

namespace quire::bench {

// ---------------------------------------------------------------------------------------------
// Writing: one thread per ledger.

// Shared by every ledger's writer and by their callbacks (on the client's callback thread).
struct WriteMetrics {
  Histogram latency;               // measured adds: ns from intended start to completion
  Histogram interval;              // every successful add, for the progress line (which resets it)
  std::atomic<uint64_t> acked{0};  // successful adds, warm-up included
  std::atomic<uint64_t> measured_ok{0};  // successful measured adds
  std::atomic<uint64_t> errors{0};       // failed adds
  std::atomic<uint64_t> late{0};         // measured adds that started > 1 ms late
  std::atomic<uint64_t> missed{0};       // intended in the window, never started
  std::atomic<uint64_t> last_completion{0};
  FirstError first_error;
};

// One ledger's writer: its slots (adds in flight) and what it did.
struct LedgerState {
  explicit LedgerState(LedgerId ledger) : id(ledger) {}
  const LedgerId id;
  Mutex mu;
  CondVar cv;
  size_t in_flight QUIRE_GUARDED_BY(mu) = 0;
  bool failed QUIRE_GUARDED_BY(mu) = false;  // an add failed; the writer is done
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> errors{0};
  Status close_status;  // set by the writer thread when it ends
  EntryId last_entry = kNoEntry;
};

struct WritePlan {
  double rate = 0;  // all ledgers together; 0: closed loop
  size_t outstanding = 1000;
  size_t size = 1024;
  uint64_t limit = 0;  // adds per ledger; 0: until the window ends
};

// The body of ledger `index`'s writer thread (of `count`); closes the ledger at the end.
inline void WriteLedger(WriteHandle& handle, int index, int count, const WritePlan& plan,
                        RunControl& run, const std::shared_ptr<LedgerState>& ledger,
                        const std::shared_ptr<WriteMetrics>& metrics) {
  SetThreadName(fmt::format("q-bench-w{}", index));
  const std::string filler(plan.size, 'q');
  const bool open_loop = plan.rate > 0;
  const double period_ns = open_loop ? 1e9 / plan.rate : 0;
  // The schedule is the measurement's clock: Linux lets a sleeping thread wake up to its timer
  // slack (50 µs by default) late, which every add of an open loop would count as latency.
  if (open_loop) prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  auto intended_of = [&](uint64_t seq) {
    double k = static_cast<double>(seq) * count + index;
    return run.t0() + static_cast<uint64_t>(k * period_ns);
  };
  uint64_t seq = 0;
  for (; plan.limit == 0 || seq < plan.limit; ++seq) {
    uint64_t intended = 0;
    if (open_loop) {
      intended = intended_of(seq);
      if (intended >= run.end()) break;
      if (!run.SleepUntil(intended)) break;
    }
    {
      MutexLock lock(ledger->mu);
      ledger->cv.Wait(ledger->mu, [&]() QUIRE_REQUIRES(ledger->mu) {
        return ledger->failed || ledger->in_flight < plan.outstanding;
      });
      if (ledger->failed) break;
      ++ledger->in_flight;
    }
    uint64_t start = MonotonicNanos();
    // The run is over (closed loop), or this add of the schedule could not start within
    // kMissedNanos of the end (open loop: it is counted as missed).
    uint64_t end = run.end();
    if (start >= (open_loop && end != kNever ? end + kMissedNanos : end)) {
      MutexLock lock(ledger->mu);
      --ledger->in_flight;
      break;
    }
    if (!open_loop) intended = start;
    bool measured = intended >= run.measure_from();
    if (measured && start > intended + kLateNanos) ++metrics->late;
    handle.AppendAsync(StampedPayload(filler, intended, seq), [ledger, metrics, intended,
                                                               measured](Result<EntryId> r) {
      uint64_t now = MonotonicNanos();
      if (r.ok()) {
        ++ledger->acked;
        ++metrics->acked;
        metrics->interval.Record(now - intended);
        if (measured) {
          metrics->latency.Record(now - intended);
          ++metrics->measured_ok;
          uint64_t last = metrics->last_completion.load();
          while (last < now && !metrics->last_completion.compare_exchange_weak(last, now)) {
          }
        }
      } else {
        ++ledger->errors;
        ++metrics->errors;
        metrics->first_error.Set(r.status());  // the client names the ledger
      }
      MutexLock lock(ledger->mu);
      if (!r.ok()) ledger->failed = true;
      --ledger->in_flight;
      ledger->cv.NotifyAll();
    });
  }
  // Adds of the schedule that never started (the cluster or this machine fell behind).
  bool failed;
  {
    MutexLock lock(ledger->mu);
    failed = ledger->failed;
  }
  if (open_loop && !failed && !run.interrupted()) {
    uint64_t end = run.end();
    while ((plan.limit == 0 || seq < plan.limit) && intended_of(seq) < end) {
      if (intended_of(seq) >= run.measure_from()) ++metrics->missed;
      ++seq;
    }
  }
  ledger->close_status = handle.Close();  // waits for the adds in flight
  ledger->last_entry = handle.last_add_confirmed();
  // Their callbacks may still be queued on the callback thread.
  MutexLock lock(ledger->mu);
  ledger->cv.WaitFor(ledger->mu, std::chrono::nanoseconds(kDrainNanos),
                     [&]() QUIRE_REQUIRES(ledger->mu) { return ledger->in_flight == 0; });
}

// The ledgers of a write run, their threads and their results.
class WriteRun {
 public:
  WriteRun(const Options& o, WritePlan plan) : o_(o), plan_(plan) {}

  Status CreateLedgers(Client& client, int n) {
    for (int i = 0; i < n; ++i) {
      CreateLedgerOptions c;
      c.ensemble_size = o_.ensemble;
      c.write_quorum_size = o_.write_quorum;
      c.ack_quorum_size = o_.ack_quorum;
      c.digest_type = o_.Digest();
      c.password = o_.password;
      c.custom_metadata = {{"application", "quire-bench"}};
      auto handle = client.CreateLedger(c);
      if (!handle.ok()) return handle.status().WithContext("creating a ledger");
      ledgers_.push_back(std::make_shared<LedgerState>((*handle)->id()));
      handles_.push_back(std::move(*handle));
    }
    return Status::Ok();
  }
  std::vector<LedgerId> ids() const {
    std::vector<LedgerId> ids;
    for (const auto& l : ledgers_) ids.push_back(l->id);
    return ids;
  }

  void Start(RunControl& run) {
    for (size_t i = 0; i < handles_.size(); ++i) {
      threads_.emplace_back([this, i, &run] {
        WriteLedger(*handles_[i], static_cast<int>(i), static_cast<int>(handles_.size()), plan_,
                    run, ledgers_[i], metrics_);
        ++finished_;
        run.Wake();
      });
    }
  }
  bool finished() const { return finished_ == threads_.size(); }
  void Join() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  // "adds/s, MB/s, p99" of the last interval, for the progress line.
  std::string Progress(double interval_s) {
    uint64_t acked = metrics_->acked.load();
    Histogram::Snapshot h = metrics_->interval.Take();
    metrics_->interval.Reset();
    double per_s = static_cast<double>(acked - last_acked_) / interval_s;
    last_acked_ = acked;
    size_t in_flight = 0;
    for (const auto& l : ledgers_) {
      MutexLock lock(l->mu);
      in_flight += l->in_flight;
    }
    return fmt::format(
        "adds/s {:9.0f}  MB/s {:7.2f}  p50 {:7.2f} ms  p99 {:7.2f} ms  in flight {:5}  "
        "errors {}",
        per_s, per_s * static_cast<double>(plan_.size) / 1e6,
        static_cast<double>(h.Quantile(0.5)) / 1e6, static_cast<double>(h.Quantile(0.99)) / 1e6,
        in_flight, metrics_->errors.load());
  }

  // Errors, including ledgers that failed to close.
  uint64_t errors() const {
    uint64_t n = metrics_->errors.load();
    for (const auto& l : ledgers_) n += l->close_status.ok() ? 0 : 1;
    return n;
  }
  uint64_t acked() const { return metrics_->acked.load(); }
  const WriteMetrics& metrics() const { return *metrics_; }

  // The results over the window [measure_from, end).
  json Results(const RunControl& run, Row* row) const {
    uint64_t end = run.end();
    double seconds = end > run.measure_from() ? Seconds(end - run.measure_from()) : 0;
    uint64_t ok = metrics_->measured_ok.load();
    double per_s = seconds > 0 ? static_cast<double>(ok) / seconds : 0;
    double mb_s = per_s * static_cast<double>(plan_.size) / 1e6;
    Histogram::Snapshot latency = metrics_->latency.Take();
    json ledgers = json::array();
    FirstError close_error;
    for (const auto& l : ledgers_) {
      ledgers.push_back({{"id", l->id},
                         {"adds", l->acked.load()},
                         {"errors", l->errors.load()},
                         {"last_entry", l->last_entry},
                         {"closed", l->close_status.ok()}});
      if (!l->close_status.ok()) close_error.Set(l->close_status);
    }
    json first_error = metrics_->first_error.ToJson();
    if (first_error.is_null()) first_error = close_error.ToJson();
    *row = {"write", ok, per_s, mb_s, latency, errors()};
    return {{"adds", ok},
            {"adds_total", acked()},
            {"seconds", Round3(seconds)},
            {"adds_per_s", Round1(per_s)},
            {"mb_per_s", Round3(mb_s)},
            {"bytes", ok * plan_.size},
            {"errors", errors()},
            {"late_starts", metrics_->late.load()},
            {"missed", metrics_->missed.load()},
            {"latency_us", LatencyJson(latency)},
            {"latency_from", plan_.rate > 0 ? "intended start" : "send"},
            {"first_error", first_error},
            {"ledgers", ledgers}};
  }

  void DeleteLedgers(Client& client) {
    for (const auto& l : ledgers_) {
      Status s = client.DeleteLedger(l->id);
      if (!s.ok()) fmt::print(stderr, "quire-bench: deleting ledger {}: {}\n", l->id, s.ToString());
    }
  }

 private:
  const Options& o_;
  WritePlan plan_;
  std::vector<std::unique_ptr<WriteHandle>> handles_;
  std::vector<std::shared_ptr<LedgerState>> ledgers_;
  std::shared_ptr<WriteMetrics> metrics_ = std::make_shared<WriteMetrics>();
  std::vector<std::thread> threads_;
  std::atomic<size_t> finished_{0};
  uint64_t last_acked_ = 0;
};

// Runs the main thread's side of a run: a progress line every --report-interval seconds on
// stderr until `done()`.
inline void Monitor(const Options& o, RunControl& run, const std::function<bool()>& done,
             const std::function<std::string(double)>& progress) {
  uint64_t interval =
      o.report_interval > 0 ? static_cast<uint64_t>(o.report_interval * 1e9) : 1'000'000'000;
  uint64_t last = MonotonicNanos();
  while (!done()) {
    run.WaitFor(interval, done);
    uint64_t now = MonotonicNanos();
    if (o.report_interval <= 0 || now - last < interval / 2 || done()) continue;
    const char* phase = now < run.measure_from() ? "warm-up"
                        : now < run.end()        ? "measure"
                                                 : "drain";
    double elapsed = Seconds(now - run.t0());
    fmt::print(stderr, "[{:7.1f}s {:7}] {}\n", elapsed, phase, progress(Seconds(now - last)));
    last = now;
  }
}

}  // namespace quire::bench
