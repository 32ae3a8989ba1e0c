#include "simulation.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/bookie_calls.h"
#include "client/bookie_choice.h"
#include "client/metadata_changes.h"
#include "client/recovery_core.h"
#include "client/writer_core.h"
#include "metadata/update.h"

namespace quire::sim {
namespace {

using client::WriterCore;
using Clock = std::chrono::steady_clock;
using Versioned = metadata::Versioned<LedgerMetadata>;

constexpr LedgerId kLedger = 1;
constexpr EntryId kFenceOnly = INT64_MAX;
constexpr int kPhaseOneSteps = 2'500;
constexpr int kMaxSteps = 200'000;  // a schedule that has not settled by then is a bug too

// Entry bodies name what a real body carries: the entry, the LAC it piggybacks, the length.
std::string Body(EntryId e, EntryId lac, uint64_t length) {
  return fmt::format("e={};lac={};len={}", e, lac, length);
}
struct Parsed {
  EntryId entry = kNoEntry;
  EntryId lac = kNoEntry;
  uint64_t length = 0;
};
Parsed Parse(const std::string& body) {
  Parsed p;
  long long e = 0, lac = 0;
  unsigned long long len = 0;
  if (std::sscanf(body.c_str(), "e=%lld;lac=%lld;len=%llu", &e, &lac, &len) == 3) {
    p = {e, lac, len};
  }
  return p;
}

// What a bookie answers besides its status: an entry's body, and the LAC its last entry carries.
struct Answer {
  std::optional<std::string> body;
  EntryId lac = kNoEntry;
};
using Reply = std::function<void(const Status&, const Answer&)>;

struct LedgerCopy {
  std::map<EntryId, std::string> entries;
  bool fenced = false;
};

struct SimBookie {
  BookieId id;
  bool up = true;
  bool paused = false;
  bool listed = true;  // registered: a killed bookie stays listed until its session expires
  int incarnation = 0;
  LedgerCopy durable;
  LedgerCopy unsynced;                           // journaled but not yet synced: lost on a crash
  std::vector<std::function<void()>> on_sync;    // replies that wait for the sync
  bool sync_posted = false;
  std::vector<std::function<void()>> held;       // requests that arrived while paused

  bool Fenced() const { return durable.fenced || unsynced.fenced; }
  const std::string* Find(EntryId e) const {
    auto u = unsynced.entries.find(e);
    if (u != unsynced.entries.end()) return &u->second;
    auto d = durable.entries.find(e);
    return d == durable.entries.end() ? nullptr : &d->second;
  }
  EntryId LastLac() const {
    EntryId last = kNoEntry;
    const std::string* body = nullptr;
    for (const LedgerCopy* c : {&durable, &unsynced}) {
      if (!c->entries.empty() && c->entries.rbegin()->first > last) {
        last = c->entries.rbegin()->first;
        body = &c->entries.rbegin()->second;
      }
    }
    return body == nullptr ? kNoEntry : Parse(*body).lac;
  }
};

class World;

// The ledger record in an in-memory store whose calls time out and lose replies.
class SimStore {
 public:
  explicit SimStore(World& world) : world_(world) {}
  Versioned record;
  Result<Versioned> Update(const client::LedgerMutation& mutate,
                           std::optional<Versioned> known = std::nullopt);

 private:
  World& world_;
};

// Event weights: a request's timeout (1) fires before its answer in about 1 % of the races.
constexpr int kNormal = 100;
constexpr int kOften = 30;
constexpr int kSometimes = 10;
constexpr int kRarely = 3;

class World {
 public:
  explicit World(const Options& options) : options_(options), rng_(options.seed), store(*this) {}

  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  uint64_t Draw() { return rng_(); }

  // An event, run when the scheduler picks it: each ready event is picked with a probability in
  // proportion to its weight. Weight 0 runs only when nothing else is ready. An event whose
  // `gone` flag is set is dropped unrun (a timeout of a request that was answered).
  void Post(std::string what, std::function<void()> run, int weight = kNormal,
            std::shared_ptr<const bool> gone = nullptr) {
    ready_.push_back({std::move(what), std::move(run), weight, std::move(gone)});
  }

  // Runs one event; false when none is ready.
  bool Step() {
    std::erase_if(ready_, [](const Event& e) { return e.gone && *e.gone; });
    if (ready_.empty()) return false;
    int64_t total = 0;
    for (const Event& e : ready_) total += e.weight;
    size_t pick = 0;
    if (total > 0) {
      int64_t x = std::uniform_int_distribution<int64_t>(0, total - 1)(rng_);
      while (x >= ready_[pick].weight) x -= ready_[pick++].weight;
    }
    Event event = std::move(ready_[pick]);
    ready_[pick] = std::move(ready_.back());
    ready_.pop_back();
    now += std::chrono::microseconds(Uniform(0, 2'000));
    ++steps;
    Note(event.what);
    event.run();
    return true;
  }

  // Adds `what` to the trace (and its hash, which shows whether two runs took the same steps).
  void Note(const std::string& what) {
    trace_hash = (trace_hash ^ std::hash<std::string>()(what)) * 0x100000001b3ull;
    if (options_.trace) fmt::print("{:6} {}\n", steps, what);
  }

  // A request to bookie `b`: `handle` runs there when it arrives and answers through its
  // argument (at once, or after the bookie's next sync). `reply` is called exactly once: with the
  // answer, kUnavailable (the bookie is down) or kTimeout (a timeout can fire at any time, as a
  // slow network or bookie looks to a client; once healed, only when nothing else can happen).
  void Request(int b, std::string what,
               std::function<void(SimBookie&, Reply respond)> handle, Reply reply) {
    auto ended = std::make_shared<bool>(false);
    Reply once = [ended, reply = std::move(reply)](const Status& s, const Answer& a) {
      if (*ended) return;
      *ended = true;
      reply(s, a);
    };
    Deliver(b, what, std::move(handle), once);
    Post("timeout " + what, [once] { once(Status(StatusCode::kTimeout, "timed out"), {}); },
         calm ? 0 : 1, ended);
  }

  void Deliver(int b, const std::string& what, std::function<void(SimBookie&, Reply)> handle,
               Reply once) {
    Post("deliver " + what, [this, b, what, handle, once] {
      SimBookie& bookie = bookies[static_cast<size_t>(b)];
      if (!calm && Chance(0.02)) return;  // lost on the way
      if (!bookie.up) return once(Status(StatusCode::kUnavailable, "connection refused"), {});
      if (bookie.paused) {
        bookie.held.push_back([this, b, what, handle, once] { Deliver(b, what, handle, once); });
        return;
      }
      handle(bookie, [this, what, once](const Status& s, const Answer& a) {
        Post("reply " + what, [this, once, s, a] {
          if (!calm && Chance(0.02)) return;  // lost on the way back
          once(s, a);
        });
      });
    });
  }

  // Runs `fn` once the bookie's journal has synced what it holds now (lost if it crashes first).
  void AfterSync(int b, std::function<void()> fn) {
    SimBookie& bookie = bookies[static_cast<size_t>(b)];
    bookie.on_sync.push_back(std::move(fn));
    if (bookie.sync_posted) return;
    bookie.sync_posted = true;
    Post(fmt::format("sync {}", bookie.id), [this, b, incarnation = bookie.incarnation] {
      SimBookie& bk = bookies[static_cast<size_t>(b)];
      if (bk.incarnation != incarnation) return;  // crashed meanwhile
      bk.sync_posted = false;
      for (auto& [e, body] : bk.unsynced.entries) bk.durable.entries.emplace(e, body);
      bk.durable.fenced = bk.durable.fenced || bk.unsynced.fenced;
      bk.unsynced = {};
      auto replies = std::move(bk.on_sync);
      bk.on_sync.clear();
      for (auto& r : replies) r();
    });
  }

  int IndexOf(const BookieId& id) const {
    for (size_t i = 0; i < bookies.size(); ++i) {
      if (bookies[i].id == id) return static_cast<int>(i);
    }
    return -1;
  }

  Result<metadata::BookieList> Listed() {
    if (!calm && Chance(0.05)) return Status(StatusCode::kTimeout, "listing timed out");
    metadata::BookieList list;
    for (const SimBookie& b : bookies) {
      if (b.listed) list.writable.push_back(b.id);
    }
    return list;
  }

  const Options& options() const { return options_; }

  Clock::time_point now{};
  bool calm = false;  // healed: no more faults
  std::vector<SimBookie> bookies;
  std::vector<std::string> violations;
  uint64_t trace_hash = 0xcbf29ce484222325ull;
  int steps = 0;

 private:
  struct Event {
    std::string what;
    std::function<void()> run;
    int weight;
    std::shared_ptr<const bool> gone;
  };
  const Options options_;
  std::mt19937_64 rng_;
  std::vector<Event> ready_;

 public:
  SimStore store;  // after rng_: it draws from it
};

Result<Versioned> SimStore::Update(const client::LedgerMutation& mutate,
                                   std::optional<Versioned> known) {
  auto read = [this]() -> Result<Versioned> {
    if (!world_.calm && world_.Chance(0.05)) return Status(StatusCode::kTimeout, "read timed out");
    return record;
  };
  auto write = [this](const LedgerMetadata& next, metadata::Version expected) -> Result<metadata::Version> {
    if (!world_.calm && world_.Chance(0.05)) return Status(StatusCode::kTimeout, "not applied");
    if (expected != record.version) return Status(StatusCode::kBadVersion, "version changed");
    record = {next, record.version + 1};
    if (!world_.calm && world_.Chance(0.05)) return Status(StatusCode::kTimeout, "reply lost");
    return record.version;
  };
  return metadata::UpdateRecord<LedgerMetadata>(read, write, mutate, "ledger 1", std::move(known));
}

// The bookie side of the three requests the core sends.
std::function<void(SimBookie&, Reply)> AddAt(World& w, EntryId e, std::string body, bool recovery) {
  return [&w, e, body = std::move(body), recovery](SimBookie& bookie, Reply respond) {
    if (!recovery && bookie.Fenced()) {
      return respond(Status(StatusCode::kFenced, "fenced"), {});
    }
    if (!w.calm && w.Chance(0.02)) {
      return respond(Status(StatusCode::kTooManyRequests, "write cache full"), {});
    }
    if (bookie.Find(e) == nullptr) bookie.unsynced.entries.emplace(e, body);
    w.AfterSync(w.IndexOf(bookie.id), [respond] { respond(Status::Ok(), {}); });
  };
}

std::function<void(SimBookie&, Reply)> FencingReadAt(World& w, EntryId e) {
  return [&w, e](SimBookie& bookie, Reply respond) {
    if (!w.options().skip_fence) bookie.unsynced.fenced = true;
    Answer a;
    a.lac = bookie.LastLac();
    const std::string* body = e == kFenceOnly ? nullptr : bookie.Find(e);
    Status s = Status(StatusCode::kNoSuchEntry, "no such entry");
    if (body != nullptr) {
      a.body = *body;
      s = Status::Ok();
    }
    // The fence is journaled before the answer (docs/semantics.md, recovery step 2).
    w.AfterSync(w.IndexOf(bookie.id), [respond, s, a] { respond(s, a); });
  };
}

class Writer {
 public:
  Writer(World& w, LedgerMetadata md, int appends)
      : w_(w),
        core_(kLedger, md,
              client::BookieChoice(std::chrono::milliseconds(5), std::chrono::milliseconds(200),
                                   w.Draw()),
              client::BusyRetry{std::chrono::milliseconds(5), std::chrono::milliseconds(50), 3},
              static_cast<size_t>(w.Uniform(1, 16))),
        version_(w.store.record.version),
        appends_(appends) {}

  void Start() { w_.Post("writer: append", [this] { AppendTick(); }, kOften); }

  std::vector<EntryId> acked;
  std::optional<Status> close_result;
  EntryId close_last = kNoEntry;
  int ensemble_changes = 0;

 private:
  void AppendTick() {
    if (reserved_ < appends_ && core_.error().ok() && !core_.closing()) {
      if (!core_.Full()) {
        uint64_t size = static_cast<uint64_t>(w_.Uniform(1, 100));
        Result<WriterCore::Reservation> r = core_.Reserve(
            size, [this](Result<EntryId> result) { Completed(result); }, w_.now);
        if (r.ok()) {
          ++reserved_;
          // The driver encodes the body without its lock: other events run before the fill.
          w_.Post(fmt::format("writer: fill e={}", r->id), [this, r = *r] {
            Execute(core_.Fill(r.id, Body(r.id, r.lac, r.length)));
          });
        }
      }
      w_.Post("writer: append", [this] { AppendTick(); }, kOften);
      return;
    }
    if (w_.Chance(0.7)) w_.Post("writer: close", [this] { StartClose(); }, kSometimes);
  }

  void Completed(const Result<EntryId>& r) {
    if (!r.ok()) return;
    EntryId expected = acked.empty() ? 0 : acked.back() + 1;
    if (*r != expected) {
      w_.violations.push_back(
          fmt::format("the writer acknowledged entry {} where {} was next", *r, expected));
    }
    acked.push_back(*r);
  }

  void Execute(WriterCore::Effects effects) {
    for (WriterCore::Completion& c : effects.completions) c.callback(std::move(c.result));
    for (const WriterCore::Send& send : effects.sends) {
      int b = w_.IndexOf(send.bookie);
      w_.Request(b, fmt::format("add e={} -> {}", send.entry, send.bookie),
                 AddAt(w_, send.entry, *send.body, false),
                 [this, send](const Status& s, const Answer&) {
                   Execute(core_.OnAddResult(send.entry, send.position, send.bookie, s, w_.now));
                 });
    }
    for (const WriterCore::Retry& r : effects.retries) {
      w_.Post(fmt::format("writer: retry e={} -> {}", r.entry, r.bookie),
              [this, r] { Execute(core_.RetryDue(r.entry, r.position, r.bookie)); }, kOften);
    }
    if (effects.start_change) {
      w_.Post("writer: change round", [this] { ChangeRound(0); });
    }
  }

  // As write_handle.cc's ChangeEnsemble, with the metadata write as an event of its own: other
  // actors run between the plan and the write.
  void ChangeRound(int round) {
    if (round >= 32 || !core_.ChangeWanted()) return Execute(core_.ChangeEnded());
    Result<metadata::BookieList> listed = w_.Listed();
    WriterCore::ChangeStep step = core_.PlanChange(listed, w_.now);
    if (!step.write) return Continue(std::move(step), round);
    Execute(std::move(step.effects));
    w_.Post("writer: write ensembles", [this, round, next = *step.write, listed] {
      Versioned current{core_.metadata(), version_};
      Result<Versioned> updated = w_.store.Update(
          client::ReplaceEnsembles(kLedger, current.value.ensembles, next.ensembles,
                                   StatusCode::kFenced, /*must_be_open=*/true),
          current);
      if (!updated.ok()) {
        Execute(core_.ChangeFailed(updated.status()));
        return Execute(core_.ChangeEnded());
      }
      version_ = updated->version;
      ++ensemble_changes;
      Continue(core_.ChangeWritten(updated->value, listed), round);
    });
  }

  void Continue(WriterCore::ChangeStep step, int round) {
    Execute(std::move(step.effects));
    if (step.look_again && !look_again_posted_) {
      look_again_posted_ = true;
      w_.Post("writer: look again", [this] {
        look_again_posted_ = false;
        Execute(core_.LookAgainDue());
      }, kSometimes);
    }
    if (step.again) {
      w_.Post("writer: change round", [this, round] { ChangeRound(round + 1); });
    } else {
      Execute(core_.ChangeEnded());
    }
  }

  void StartClose() {
    if (!core_.BeginClose()) return;
    w_.Post("writer: close when quiet", [this] { CloseWhenQuiet(); }, kSometimes);
  }

  void CloseWhenQuiet() {
    if (!core_.Quiescent()) {
      w_.Post("writer: close when quiet", [this] { CloseWhenQuiet(); }, kSometimes);
      return;
    }
    Result<WriterCore::CloseTarget> target = core_.Closed();
    if (!target.ok()) {
      close_result = target.status();
      return;
    }
    Result<Versioned> closed = w_.store.Update(
        client::CloseByWriter(kLedger, target->last, target->length),
        Versioned{core_.metadata(), version_});
    close_result = closed.status();
    close_last = target->last;
  }

  World& w_;
  WriterCore core_;
  metadata::Version version_;
  int appends_;
  int reserved_ = 0;
  bool look_again_posted_ = false;
};

// Recovery as recovery.cc does it, with the same tallies, a window of a few entries at a time.
class Recoverer {
 public:
  Recoverer(World& w, std::string name) : w_(w), name_(std::move(name)) {}

  void Start() {
    Result<Versioned> marked =
        w_.store.Update(client::MarkInRecovery([](const LedgerMetadata&) { return Status::Ok(); }));
    if (!marked.ok()) return Finish(marked.status());
    if (marked->value.closed()) return Finish(*marked);
    md_ = *marked;
    const LedgerMetadata& m = md_.value;
    fence_.emplace(client::QuorumsOf(m), m.ensemble_size);
    const std::vector<BookieId>& bookies = m.LastEnsemble().bookies;
    for (size_t pos = 0; pos < bookies.size(); ++pos) {
      w_.Request(w_.IndexOf(bookies[pos]), fmt::format("{}: fence {}", name_, bookies[pos]),
                 FencingReadAt(w_, kFenceOnly),
                 [this, pos](const Status& s, const Answer& a) { Fenced(static_cast<int>(pos), s, a); });
    }
  }

  std::optional<Result<Versioned>> result;

 private:
  static bool NoSuchEntry(const Status& s) { return s.Is(StatusCode::kNoSuchEntry); }

  void Fenced(int pos, const Status& s, const Answer& a) {
    if (phase_ != Phase::kFencing) return;
    if (s.ok() || NoSuchEntry(s)) {
      fence_->Fenced(pos, a.lac);
    } else {
      fence_->Failed(pos, s.ToString());
    }
    if (!fence_->Decided()) return;
    phase_ = Phase::kReading;
    if (!fence_->Enough()) return Finish(Status(StatusCode::kUnavailable, "cannot fence"));
    lac_ = std::max(fence_->lac(), md_.value.LastEnsemble().first_entry_id - 1);
    end_ = lac_;
    // The LAC entry itself is read first, for the length it carries (it exists: it was
    // acknowledged).
    ReadWindow(lac_ >= 0 ? lac_ : 0);
  }

  void ReadWindow(EntryId first) {
    const LedgerMetadata& m = md_.value;
    first_ = first;
    int window = ++window_;
    verdicts_.clear();
    for (EntryId e = first; e < first + kWindow; ++e) {
      verdicts_.emplace_back(client::QuorumsOf(m), m.write_quorum_size);
      for (const BookieId& b : m.WriteSet(e)) {
        w_.Request(w_.IndexOf(b), fmt::format("{}: read e={} from {}", name_, e, b),
                   FencingReadAt(w_, e), [this, window, e](const Status& s, const Answer& a) {
                     if (window != window_ || phase_ != Phase::kReading) return;
                     client::EntryVerdict& v = verdicts_[static_cast<size_t>(e - first_)];
                     if (s.ok()) {
                       v.Found(*a.body);
                     } else if (NoSuchEntry(s)) {
                       v.Missing();
                     } else {
                       v.Failed(s.ToString());
                     }
                     Progress();
                   });
      }
    }
  }

  // As recovery.cc's ReadWindow: enough once every entry is decided in order; an end not yet
  // settled waits for a grace (the speculative timeout there, an event here) for a late copy.
  client::Enough WindowProgress() const {
    bool settled = true;
    for (const client::EntryVerdict& v : verdicts_) {
      if (v.fate() == client::EntryVerdict::Fate::kUndecided) return client::Enough::kNo;
      settled = settled && v.settled();
      if (v.fate() != client::EntryVerdict::Fate::kExists) break;
    }
    return settled ? client::Enough::kYes : client::Enough::kAfterGrace;
  }

  void Progress() {
    client::Enough enough = WindowProgress();
    if (enough == client::Enough::kYes) return Decide();
    if (enough == client::Enough::kNo) {
      ++grace_;  // cancels a grace under way
      return;
    }
    if (grace_posted_ == grace_) return;  // a grace is under way
    grace_posted_ = grace_;
    w_.Post(fmt::format("{}: grace ends", name_), [this, window = window_, grace = grace_] {
      if (window != window_ || grace != grace_ || phase_ != Phase::kReading) return;
      if (WindowProgress() != client::Enough::kNo) Decide();
    }, kSometimes);
  }

  void Decide() {
    phase_ = Phase::kRewriting;
    found_.clear();
    bool ended = false;
    for (size_t i = 0; i < verdicts_.size() && !ended; ++i) {
      const EntryId e = first_ + static_cast<EntryId>(i);
      switch (verdicts_[i].fate()) {
        case client::EntryVerdict::Fate::kExists:
          if (e == lac_) {
            length_ = Parse(verdicts_[i].body()).length;
          } else {
            found_.emplace_back(e, verdicts_[i].body());
          }
          break;
        case client::EntryVerdict::Fate::kNeverAcknowledged:
          if (e <= lac_) {
            w_.violations.push_back(fmt::format(
                "{}: entry {} at or below the proven LAC {} is missing from {} bookies", name_,
                e, lac_, verdicts_[i].missing()));
            return Finish(Status(StatusCode::kCorruption, "acknowledged entry missing"));
          }
          ended = true;
          break;
        default:
          return Finish(Status(StatusCode::kUnavailable, "cannot tell whether an entry exists"));
      }
    }
    ended_ = ended;
    Rewrite();
  }

  void Rewrite() {
    const LedgerMetadata& m = md_.value;
    tallies_.clear();
    int window = window_;
    for (size_t k = 0; k < found_.size(); ++k) {
      tallies_.emplace_back(client::QuorumsOf(m), m.write_quorum_size);
      const auto& [e, body] = found_[k];
      for (const BookieId& b : m.WriteSet(e)) {
        w_.Request(w_.IndexOf(b), fmt::format("{}: re-write e={} to {}", name_, e, b),
                   AddAt(w_, e, body, true), [this, window, k](const Status& s, const Answer&) {
                     if (window != window_ || phase_ != Phase::kRewriting) return;
                     if (s.ok()) {
                       tallies_[k].Stored();
                     } else {
                       tallies_[k].Failed(s.ToString());
                     }
                     Rewritten();
                   });
      }
    }
    Rewritten();
  }

  void Rewritten() {
    for (const client::RewriteTally& t : tallies_) {
      if (!t.Decided()) return;
    }
    for (const client::RewriteTally& t : tallies_) {
      if (!t.Safe()) return Finish(Status(StatusCode::kUnavailable, "re-write below Qa"));
    }
    if (!found_.empty()) {
      end_ = found_.back().first;
      length_ = Parse(found_.back().second).length;
    }
    if (!ended_) {
      phase_ = Phase::kReading;
      return ReadWindow(first_ + kWindow);
    }
    Finish(w_.store.Update(client::CloseRecovered(end_, length_), md_));
  }

  void Finish(Result<Versioned> r) {
    phase_ = Phase::kDone;
    if (w_.options().trace) fmt::print("       {}: {}\n", name_, r.status().ToString());
    result = std::move(r);
  }

  static constexpr EntryId kWindow = 3;
  enum class Phase { kFencing, kReading, kRewriting, kDone };

  World& w_;
  const std::string name_;
  Phase phase_ = Phase::kFencing;
  Versioned md_;
  std::optional<client::FenceTally> fence_;
  EntryId lac_ = kNoEntry;
  EntryId end_ = kNoEntry;
  uint64_t length_ = 0;
  EntryId first_ = 0;
  int window_ = 0;
  int grace_ = 0;         // changes when a grace is cancelled
  int grace_posted_ = -1;  // the grace_ a "grace ends" event was posted for
  bool ended_ = false;
  std::vector<client::EntryVerdict> verdicts_;
  std::vector<std::pair<EntryId, std::string>> found_;
  std::vector<client::RewriteTally> tallies_;
};

// Crashes, restarts, pauses and resumes bookies, a few times per schedule.
void Nemesis(World& w, int left, Outcome* out) {
  if (left == 0 || w.calm) return;
  SimBookie& b = w.bookies[static_cast<size_t>(w.Uniform(0, static_cast<int>(w.bookies.size()) - 1))];
  std::string what;
  if (b.up && !b.paused) {
    if (w.Chance(0.5)) {
      b.up = false;
      ++b.incarnation;
      b.unsynced = {};
      b.on_sync.clear();
      b.sync_posted = false;
      b.held.clear();
      ++out->crashes;
      what = "crash";
      // Its registration lasts until its session expires.
      w.Post(fmt::format("session of {} expires", b.id), [&b] { if (!b.up) b.listed = false; }, kSometimes);
    } else {
      b.paused = true;
      ++out->pauses;
      what = "pause";
    }
  } else if (!b.up) {
    b.up = true;
    b.listed = true;
    what = "restart";
  } else {
    b.paused = false;
    for (auto& deliver : b.held) deliver();
    b.held.clear();
    what = "resume";
  }
  w.Note(fmt::format("nemesis: {} {}", what, b.id));
  w.Post("nemesis", [&w, left, out] { Nemesis(w, left - 1, out); }, kRarely);
}

void Heal(World& w) {
  w.calm = true;
  for (SimBookie& b : w.bookies) {
    b.up = true;
    b.listed = true;
    if (b.paused) {
      b.paused = false;
      for (auto& deliver : b.held) deliver();
      b.held.clear();
    }
  }
}

void Check(World& w, const Writer& writer, const std::vector<std::unique_ptr<Recoverer>>& recs) {
  const LedgerMetadata& md = w.store.record.value;
  auto violation = [&](std::string v) { w.violations.push_back(std::move(v)); };
  if (!md.closed()) return violation("the ledger is not closed after every actor finished");
  const EntryId last = md.last_entry_id;
  if (!writer.acked.empty() && writer.acked.back() > last) {
    violation(fmt::format("entry {} was acknowledged to the writer but the ledger ends at {}",
                          writer.acked.back(), last));
  }
  // Every entry up to the end has a copy on its write set, and every copy is the same: every
  // reader of the closed ledger reads the same entries.
  for (EntryId e = 0; e <= last; ++e) {
    std::set<std::string> copies;
    int holders = 0;
    for (const BookieId& b : md.WriteSet(e)) {
      const SimBookie& bookie = w.bookies[static_cast<size_t>(w.IndexOf(b))];
      auto it = bookie.durable.entries.find(e);
      if (it != bookie.durable.entries.end()) {
        copies.insert(it->second);
        ++holders;
      }
    }
    // Acknowledged entries were stored by Qa bookies of their write set, and recovery re-writes
    // what it keeps to Qa of them: fewer means a copy was counted that is not there.
    if (!copies.empty() && holders < md.ack_quorum_size) {
      violation(fmt::format("entry {} has {} copies on its write set {}, fewer than Qa = {}", e,
                            holders, fmt::join(md.WriteSet(e), ","), md.ack_quorum_size));
    }
    if (copies.empty()) {
      violation(fmt::format("entry {} (the ledger ends at {}) is on no bookie of its write set {}",
                            e, last, fmt::join(md.WriteSet(e), ",")));
    } else if (copies.size() > 1) {
      violation(fmt::format("entry {} has different copies: {}", e, fmt::join(copies, " | ")));
    } else if (Parse(*copies.begin()).entry != e) {
      violation(fmt::format("entry {} holds the body of another: {}", e, *copies.begin()));
    } else if (e == last && Parse(*copies.begin()).length != md.length) {
      violation(fmt::format("the ledger's length is {} but its last entry says {}", md.length,
                            Parse(*copies.begin()).length));
    }
  }
  if (writer.close_result && writer.close_result->ok() && writer.close_last != last) {
    violation(fmt::format("the writer's close at {} succeeded but the ledger ends at {}",
                          writer.close_last, last));
  }
  for (const auto& r : recs) {
    if (r->result && r->result->ok() && (*r->result)->value.last_entry_id != last) {
      violation(fmt::format("a recovery returned end {} but the ledger ends at {}",
                            (*r->result)->value.last_entry_id, last));
    }
  }
}

}  // namespace

Outcome RunSchedule(const Options& options) {
  World w(options);
  Outcome out;
  // The shape of this schedule's ledger and cluster.
  static constexpr int kShapes[][3] = {{3, 3, 2}, {3, 2, 2}, {5, 3, 2}, {4, 2, 1},
                                       {3, 3, 1}, {5, 5, 3}, {4, 3, 3}, {2, 2, 2}};
  const auto& shape = kShapes[w.Uniform(0, static_cast<int>(std::size(kShapes)) - 1)];
  const int e = shape[0], qw = shape[1], qa = shape[2];
  const int spares = w.Uniform(0, 3);
  for (int i = 0; i < e + spares; ++i) w.bookies.push_back({.id = fmt::format("b{}", i)});
  LedgerMetadata md;
  md.ensemble_size = e;
  md.write_quorum_size = qw;
  md.ack_quorum_size = qa;
  Ensemble first;
  for (int i = 0; i < e; ++i) first.bookies.push_back(w.bookies[static_cast<size_t>(i)].id);
  md.ensembles.push_back(first);
  w.store.record = {md, 0};

  Writer writer(w, md, w.Uniform(1, 40));
  writer.Start();
  std::vector<std::unique_ptr<Recoverer>> recoverers;
  const int concurrent = w.Uniform(0, 2);
  for (int i = 0; i < concurrent; ++i) {
    recoverers.push_back(std::make_unique<Recoverer>(w, fmt::format("recoverer {}", i)));
    Recoverer* r = recoverers.back().get();
    w.Post(fmt::format("recoverer {}: start", i), [r] { r->Start(); }, 1);
  }
  const int faults = w.Uniform(0, 6);
  w.Post("nemesis", [&w, faults, &out] { Nemesis(w, faults, &out); }, kRarely);
  out.setup = fmt::format("E{}/Qw{}/Qa{}, {} bookies, {} concurrent recoveries, {} faults", e,
                          qw, qa, e + spares, concurrent, faults);

  while (w.steps < kPhaseOneSteps && w.Step()) {
  }
  Heal(w);
  while (w.steps < kMaxSteps && w.Step()) {
  }
  if (!w.store.record.value.closed()) {
    // Everyone is up and nothing fails any more: a recovery must close the ledger now.
    recoverers.push_back(std::make_unique<Recoverer>(w, "final recoverer"));
    recoverers.back()->Start();
    while (w.steps < kMaxSteps && w.Step()) {
    }
    const auto& r = recoverers.back()->result;
    if (!r || !r->ok()) {
      w.violations.push_back(fmt::format(
          "with every bookie up and no faults, recovery did not close the ledger: {}",
          r ? r->status().ToString() : "it never finished"));
    }
  }
  if (w.steps >= kMaxSteps) w.violations.push_back("the schedule did not settle");
  Check(w, writer, recoverers);

  out.violations = std::move(w.violations);
  out.trace_hash = w.trace_hash;
  out.steps = w.steps;
  out.acked = static_cast<int>(writer.acked.size());
  out.ensemble_changes = writer.ensemble_changes;
  for (const auto& r : recoverers) out.recoveries += r->result && r->result->ok();
  return out;
}

}  // namespace quire::sim
