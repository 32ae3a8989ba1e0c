#include "common/check.h"

#include <cstdio>
#include <cstdlib>

namespace quire::internal {

void CheckFailed(const char* file, int line, std::string_view condition, std::string_view detail) {
  // stdio, not the logger: the logger may be what broke, and the line must reach stderr before
  // the abort.
  std::fprintf(stderr, "%s:%d: invariant broken: %.*s%s%.*s%s\n", file, line,
               static_cast<int>(condition.size()), condition.data(), detail.empty() ? "" : " (",
               static_cast<int>(detail.size()), detail.data(), detail.empty() ? "" : ")");
  std::fflush(stderr);
  std::abort();
}

}  // namespace quire::internal
