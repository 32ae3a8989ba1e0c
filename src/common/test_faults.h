// Deliberate bugs, for showing that the fault-injection suite's checker catches them
// (docs/reliability.md, "Does the checker catch anything?").
//
// They exist only in builds configured with -DQUIRE_TEST_FAULTS=ON, which CMake allows only
// together with sanitizers (the asan preset, CI); release builds and packages have none of this
// code, not even the names. Each fault is switched on by an environment variable of the process:
//
//   QUIRE_TEST_FAULT_SKIP_FENCE=1   the bookie answers a fencing read without fencing the ledger,
//                                   so the old writer's adds keep succeeding after a recovery
//                                   (the bug docs/semantics.md's recovery step 3 rules out)
//   QUIRE_TEST_FAULT_INFLATE_LAC=1  the bookie reports every LAC 1000 higher than it is (a faulty
//                                   bookie): clients must trust only the LAC the writer signed
//   QUIRE_TEST_FAULT_STALL_FLUSH=1  the bookie does not flush its write cache until the cache has
//                                   refused an add (a stalled disk), so a back-pressure test gets
//                                   back-pressure however fast the machine flushes
#pragma once

namespace quire {

enum class TestFault { kSkipFence, kInflateLac, kStallFlush };

#ifdef QUIRE_TEST_FAULTS
// Whether the fault's variable is set to 1 (read once per process).
bool TestFaultEnabled(TestFault fault);
#else
constexpr bool TestFaultEnabled(TestFault) { return false; }
#endif

}  // namespace quire
