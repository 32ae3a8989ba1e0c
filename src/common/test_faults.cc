#include "common/test_faults.h"

#ifdef QUIRE_TEST_FAULTS
#include <cstdlib>
#include <cstring>

namespace quire {

namespace {
bool Set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, "1") == 0;
}
}  // namespace

bool TestFaultEnabled(TestFault fault) {
  static const bool skip_fence = Set("QUIRE_TEST_FAULT_SKIP_FENCE");
  static const bool inflate_lac = Set("QUIRE_TEST_FAULT_INFLATE_LAC");
  static const bool stall_flush = Set("QUIRE_TEST_FAULT_STALL_FLUSH");
  switch (fault) {
    case TestFault::kSkipFence:
      return skip_fence;
    case TestFault::kInflateLac:
      return inflate_lac;
    case TestFault::kStallFlush:
      return stall_flush;
  }
  return false;
}

}  // namespace quire
#endif
