#include "common/test_faults.h"

#ifdef QUIRE_TEST_FAULTS
#include <cstdlib>
#include <cstring>

namespace quire {

bool TestFaultEnabled(TestFault fault) {
  static const bool skip_fence = [] {
    const char* v = std::getenv("QUIRE_TEST_FAULT_SKIP_FENCE");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  switch (fault) {
    case TestFault::kSkipFence:
      return skip_fence;
  }
  return false;
}

}  // namespace quire
#endif
