// A deterministic simulation of the replication core (docs/simulation.md): the real WriterCore
// and recovery tallies (src/client/writer_core.h, recovery_core.h) and the real metadata update
// loop (src/metadata/update.h), driven by a seeded scheduler against simulated bookies and an
// in-memory ledger record. One seed is one schedule: the same seed replays it exactly.
//
// In a schedule a writer appends and may close; zero to two recoverers recover the ledger
// concurrently; a nemesis crashes bookies (losing what they had not synced), restarts, pauses and
// resumes them, while the network drops, delays and reorders requests and replies and the
// metadata store times out and loses replies of writes that applied. Then everything heals, a
// last recovery closes the ledger if no one did, and a checker asserts docs/semantics.md's
// guarantees against every bookie's durable state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace quire::sim {

struct Options {
  uint64_t seed = 1;
  // A deliberate bug, to show the checker catches one: bookies answer fencing reads without
  // fencing (docs/simulation.md).
  bool skip_fence = false;
  // Print every step of the schedule (for a failing seed).
  bool trace = false;
};

struct Outcome {
  std::vector<std::string> violations;  // empty: every guarantee held
  std::string setup;                    // E/Qw/Qa, bookies, actors
  uint64_t trace_hash = 0;              // of every step taken: equal runs of a seed match
  int steps = 0;
  int acked = 0;            // appends acknowledged to the writer's application
  int recoveries = 0;       // recoveries that closed the ledger or found it closed
  int ensemble_changes = 0;
  int crashes = 0;
  int pauses = 0;
};

Outcome RunSchedule(const Options& options);

}  // namespace quire::sim
