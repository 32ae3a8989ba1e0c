// The quorum arithmetic of a ledger's ensemble, in one place (docs/semantics.md, "Words"): which
// write sets can still gather an ack quorum, and when "no such entry" answers prove an entry was
// never acknowledged. Pure functions over positions 0..E-1 of one ensemble; the write set of entry
// e is LedgerMetadata::WriteSetPositions(e).
#pragma once

#include <functional>

#include "quire/ledger_metadata.h"

namespace quire::client {

struct Quorums {
  int ensemble_size;  // E
  int write_quorum;   // Qw
  int ack_quorum;     // Qa

  // The fewest positions for which `counts` is true in any one write set. Write sets are the Qw
  // consecutive positions (mod E) starting at each position: one per starting position.
  int FewestInAnyWriteSet(const std::function<bool(int position)>& counts) const;

  // A writer can complete adds: every write set has at least Qa positions `live`.
  bool EveryWriteSetCanAck(const std::function<bool(int position)>& live) const {
    return FewestInAnyWriteSet(live) >= ack_quorum;
  }
  // Fencing is enough: in every write set fewer than Qa positions did not answer the fence, so the
  // old writer can never again gather Qa acknowledgements.
  bool FencedEnough(const std::function<bool(int position)>& fenced) const {
    return write_quorum - FewestInAnyWriteSet(fenced) < ack_quorum;
  }
  // An entry that this many bookies of its write set do not hold was never acknowledged: at most
  // Qa - 1 of the others could have acknowledged it (recovery's end rule, Qw - Qa + 1).
  int NoSuchEntryToEnd() const { return write_quorum - ack_quorum + 1; }
  // Every write set has NoSuchEntryToEnd() positions `answered`: one of them holds any
  // acknowledged entry, so their answers are enough to say what was acknowledged.
  bool AnswersReachEveryAcknowledged(const std::function<bool(int position)>& answered) const {
    return FewestInAnyWriteSet(answered) >= NoSuchEntryToEnd();
  }
};

inline Quorums QuorumsOf(const LedgerMetadata& md) {
  return {md.ensemble_size, md.write_quorum_size, md.ack_quorum_size};
}

}  // namespace quire::client
