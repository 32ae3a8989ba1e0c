// The writer's decisions without I/O (docs/semantics.md, "Writing"): which bookie gets which
// entry, when an entry is acknowledged, when a bookie counts as failed, what an ensemble change
// does, and the writer's end states. Events go in (an append, a bookie's answer, a listing of the
// bookies, a metadata update's outcome); what to do comes out as Effects, which a driver carries
// out: the Asio writer of write_handle.cc, or the deterministic simulation of tests/simulation.
//
// Not thread-safe: the driver calls it under its lock. It never blocks, reads no clock (time is a
// parameter) and draws random numbers only from the BookieChoice it is given.
//
// An entry's life: Reserve gives it the next id, the LAC and length its body must carry; the
// driver encodes the body (outside its lock: a digest is the costly part) and hands it over with
// Fill, which sends it to the live bookies of its write set. It is acknowledged once Qa of them
// stored it and every entry before it was acknowledged, unless its write set holds a failed
// position: then it waits for that position's replacement, which must get every entry from the
// new ensemble's first (LAC + 1) on.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/bookie_choice.h"
#include "client/bookie_calls.h"
#include "quire/ledger_metadata.h"

namespace quire::client {

class WriterCore {
 public:
  using Clock = std::chrono::steady_clock;
  using AddCallback = std::function<void(Result<EntryId>)>;

  // Send entry `entry`'s body to `bookie`, at ensemble position `position` of the last ensemble.
  struct Send {
    EntryId entry;
    int position;
    BookieId bookie;
    std::shared_ptr<const std::string> body;
  };
  // A busy bookie (TOO_MANY_REQUESTS): call RetryDue with these after `delay`.
  struct Retry {
    EntryId entry;
    int position;
    BookieId bookie;
    std::chrono::milliseconds delay;
  };
  // An append ends: call `callback` with `result`. Completions come out in entry order and must
  // reach the application in that order.
  struct Completion {
    AddCallback callback;
    Result<EntryId> result;
  };
  struct Effects {
    std::vector<Completion> completions;
    std::vector<Send> sends;
    std::vector<Retry> retries;
    bool start_change = false;  // run an ensemble change (PlanChange...) off the I/O threads
    bool wake = false;          // fewer pending appends, or stopped: wake appends and Close
    // Adds `later`'s effects after these (several answers carried out at once).
    void Absorb(Effects&& later);
  };

  WriterCore(LedgerId id, LedgerMetadata metadata, BookieChoice choice, BusyRetry busy,
             size_t max_outstanding);

  LedgerId id() const { return id_; }
  const LedgerMetadata& metadata() const { return metadata_; }
  EntryId lac() const { return lac_; }
  // Once set, the writer is stopped: every append fails with it.
  const Status& error() const { return error_; }
  // An append must wait: max_outstanding appends are pending (and the writer is not stopped).
  bool Full() const { return error_.ok() && pending_.size() >= max_outstanding_; }
  bool closing() const { return closing_; }

  // --- Appending ---
  struct Reservation {
    EntryId id;
    EntryId lac;      // the LAC the body carries
    uint64_t length;  // the ledger's length up to and including this entry
  };
  // The next entry id for a payload of `payload_size` bytes, or why the append is refused (the
  // writer stopped or is closing). `callback` is moved from only if the append is taken.
  Result<Reservation> Reserve(uint64_t payload_size, AddCallback&& callback, Clock::time_point now);
  // The encoded body of a reserved entry: sends it.
  Effects Fill(EntryId id, std::string body);

  // --- Bookies' answers ---
  // The add of `entry` to `bookie` at `position` ended with `status`. Answers of a bookie since
  // replaced or given up on are ignored.
  Effects OnAddResult(EntryId entry, int position, const BookieId& bookie, const Status& status,
                      Clock::time_point now);
  // A Retry's delay has passed.
  Effects RetryDue(EntryId entry, int position, const BookieId& bookie);

  // --- Ensemble changes (docs/semantics.md, writing step 5) ---
  // The driver runs one change at a time, off the I/O threads, while ChangeWanted(): it lists the
  // bookies, calls PlanChange; if the plan has metadata to write, it writes it (a compare-and-set
  // from the version it holds) and calls ChangeWritten or ChangeFailed. Then ChangeEnded.
  bool ChangeWanted() const { return error_.ok() && (!failed_.empty() || look_again_due_); }
  struct ChangeStep {
    Effects effects;
    std::optional<LedgerMetadata> write;  // the metadata to write, if replacements were chosen
    bool again = false;                   // a round is not enough: plan again
    std::optional<Clock::time_point> look_again;  // positions written around: LookAgainDue then
  };
  ChangeStep PlanChange(const Result<metadata::BookieList>& listed, Clock::time_point now);
  // `written` is the ledger's metadata as the store now has it (plan.write, applied).
  ChangeStep ChangeWritten(LedgerMetadata written, const Result<metadata::BookieList>& listed);
  Effects ChangeFailed(const Status& why) { return Stop(why); }
  // The change is over; start_change if it is wanted again (a failure arrived meanwhile).
  Effects ChangeEnded();
  // The look_again time of a ChangeStep came.
  Effects LookAgainDue();

  // --- The end ---
  // Stops the writer with `why`: every pending append fails with it.
  Effects Stop(const Status& why);
  // Starts closing; false if a Close is already under way. Appends are refused from now on.
  bool BeginClose();
  // Closing may go on: no append is pending and no ensemble change is running.
  bool Quiescent() const { return pending_.empty() && !change_running_; }
  // Once quiescent: the ledger's end to write to the metadata ({last, length}), or why the close
  // fails without writing. A fenced writer still writes: the close succeeds if a recovery closed
  // the ledger exactly at this writer's LAC (CloseByWriter).
  struct CloseTarget {
    EntryId last;
    uint64_t length;
  };
  Result<CloseTarget> Closed();
  void SetMetadata(LedgerMetadata md) { metadata_ = std::move(md); }

  // --- Explicit LAC ---
  // Whether the LAC moved past what entries carried while the writer was idle for `idle`: the
  // LAC to send to `bookies` (every live position). Otherwise nullopt; *rearm says whether to
  // look again after another interval (appends are still arriving).
  struct LacWrite {
    EntryId lac;
    std::vector<BookieId> bookies;
  };
  std::optional<LacWrite> LacDue(Clock::time_point now, std::chrono::milliseconds idle,
                                 bool* rearm);

  // The failed and written-around bookies, comma-separated (for messages).
  std::string FailedNames() const;

 private:
  struct PendingAdd {
    EntryId id = kNoEntry;
    uint64_t length = 0;
    std::shared_ptr<const std::string> body;  // null until Fill
    std::vector<bool> acked;                  // by ensemble position
    int ack_count = 0;
    std::vector<uint8_t> busy;  // by position: TOO_MANY_REQUESTS answers so far
    AddCallback callback;
  };

  int E() const { return metadata_.ensemble_size; }
  int Qa() const { return metadata_.ack_quorum_size; }
  bool Live(int pos) const { return !failed_.count(pos) && !degraded_.count(pos); }
  // `bookie` is still the one at `pos`, and it is in use.
  bool Current(int pos, const BookieId& bookie) const;
  PendingAdd* FindPending(EntryId entry);
  void SendTo(const PendingAdd& add, int pos, Effects* out) const;
  bool Completable(const PendingAdd& add) const;
  void CompleteAcknowledged(Effects* out);
  void BookieFailed(int pos, const BookieId& bookie, const Status& why, Clock::time_point now,
                    Effects* out);
  void RetryBusy(PendingAdd& add, int pos, const BookieId& bookie, const Status& why,
                 Clock::time_point now, Effects* out);
  void ResumeInPlace(int pos, Effects* out);
  // The end of a round: another one, a stop, or writing around positions without a bookie.
  ChangeStep FinishRound(ChangeStep step, const Result<metadata::BookieList>& listed);

  const LedgerId id_;
  const BusyRetry busy_;
  const size_t max_outstanding_;
  LedgerMetadata metadata_;
  BookieChoice choice_;
  EntryId next_entry_id_ = 0;
  EntryId lac_ = kNoEntry;
  uint64_t lac_length_ = 0;
  uint64_t pushed_length_ = 0;
  std::deque<PendingAdd> pending_;  // ids lac_+1, lac_+2, ... in order
  std::set<int> failed_;            // ensemble positions waiting for a replacement
  std::set<int> degraded_;          // failed positions with no bookie for now: written around
  std::map<int, BookieId> planned_;  // replacements of the change being written
  Clock::time_point look_again_at_{};
  bool look_again_due_ = false;  // time to look for bookies for degraded_ again
  bool change_running_ = false;
  Status error_;
  bool closing_ = false;
  Clock::time_point last_append_{};
  EntryId explicit_lac_sent_ = kNoEntry;
};

}  // namespace quire::client
