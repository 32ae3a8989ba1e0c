// Recovery's decisions without I/O (docs/semantics.md, "Recovery"): when fencing is enough, whether
// an entry exists or was never acknowledged, when a re-written entry is safe. Each tally takes
// answers one at a time, in any order, and says as soon as the answers so far decide: a bookie
// that never answers (paused, partitioned) costs nothing once the others have said enough. The
// driver (recovery.cc, or the simulation in tests/simulation) sends the requests, feeds the
// answers in and stops waiting when a tally is decided.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "client/quorum.h"
#include "quire/ledger_metadata.h"
#include "quire/status.h"

namespace quire::client {

// The answers to the fencing reads sent to every position of the last ensemble.
class FenceTally {
 public:
  FenceTally(Quorums quorums, int positions);

  // Position `pos` fenced the ledger; `proven_lac` is the LAC its answer proves (kNoEntry if none).
  void Fenced(int pos, EntryId proven_lac);
  // Position `pos` could not fence it (unreachable, timed out, refused).
  void Failed(int pos, std::string why);

  // Enough positions fenced: the old writer can never again gather Qa acknowledgements.
  bool Enough() const;
  // Decided: enough, or every position answered (then, if not enough, recovery fails).
  bool Decided() const { return Enough() || outstanding_ == 0; }
  // The highest LAC the fenced positions proved: recovery reads on from there.
  EntryId lac() const { return lac_; }
  // Why fencing failed (once Decided() and not Enough()).
  std::string Errors() const;

 private:
  const Quorums quorums_;
  std::vector<bool> answered_;  // by position: fenced
  std::vector<bool> ended_;     // by position: any answer
  int outstanding_;
  EntryId lac_ = kNoEntry;
  std::vector<std::string> errors_;
};

// Whether one entry after the LAC exists, from the answers of its write set.
class EntryVerdict {
 public:
  enum class Fate {
    kUndecided,          // wait for more answers
    kExists,             // a copy whose digest checks: recovery keeps and re-writes it
    kNeverAcknowledged,  // Qw - Qa + 1 bookies lack it: the ledger ends before it
    kUnknowable,         // every bookie answered and neither holds: recovery cannot go on
  };

  EntryVerdict(Quorums quorums, int write_set_size);

  // The answers of the bookies. A good copy always wins: an entry found kNeverAcknowledged (Qw -
  // Qa + 1 bookies lack it) becomes kExists if a later answer has it, until the driver stops
  // waiting (settled() says whether it still can change). Both are safe: an entry lacking on Qw -
  // Qa + 1 bookies was never acknowledged, so keeping it or not breaks no promise; keeping what
  // any bookie holds when it answers in time makes recoveries agree.
  // A bookie returned a copy whose digest checks (its body, exactly as the writer built it).
  void Found(std::string body);
  // A bookie has no such entry (or no such ledger).
  void Missing();
  // A bookie failed to answer, or returned a damaged copy.
  void Failed(std::string why);

  Fate fate() const;
  // The fate can no longer change: kExists, kUnknowable, or kNeverAcknowledged once every bookie
  // answered.
  bool settled() const;
  // The first good copy (once kExists).
  const std::string& body() const { return *body_; }
  int missing() const { return missing_; }
  std::string Errors() const;

 private:
  const Quorums quorums_;
  int outstanding_;
  int missing_ = 0;
  std::optional<std::string> body_;
  std::vector<std::string> errors_;
};

// The re-write of one found entry to its write set: safe once Qa bookies stored it.
class RewriteTally {
 public:
  RewriteTally(Quorums quorums, int write_set_size);

  void Stored() { ++stored_, --outstanding_; }
  void Failed(std::string why);

  bool Safe() const { return stored_ >= quorums_.ack_quorum; }
  // Decided: safe, or too few bookies are left to make it safe.
  bool Decided() const { return Safe() || stored_ + outstanding_ < quorums_.ack_quorum; }
  int stored() const { return stored_; }
  std::string Errors() const;

 private:
  const Quorums quorums_;
  int outstanding_;
  int stored_ = 0;
  std::vector<std::string> errors_;
};

}  // namespace quire::client
