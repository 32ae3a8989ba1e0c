// Invariants that stay checked in release builds. A broken invariant is a bug: the process prints
// where, what and the values involved, and aborts (DEVELOPERS.md, "bugs crash, bad bytes don't").
// Not for conditions that bad input or a failing disk can cause: those return a Status.
//
//   QUIRE_CHECK(cond)                 QUIRE_CHECK_MSG(cond, "fmt {}", args...)
//   QUIRE_CHECK_EQ(a, b)  _NE  _LT  _LE  _GT  _GE   (print both values; a and b are evaluated once)
//
// Never `assert`: NDEBUG (every release build) compiles it out.
#pragma once

#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace quire::internal {

// Prints "<file>:<line>: invariant broken: <condition>[ (<detail>)]" to stderr and aborts.
[[noreturn]] void CheckFailed(const char* file, int line, std::string_view condition,
                              std::string_view detail);

}  // namespace quire::internal

#define QUIRE_CHECK(condition)                                                      \
  do {                                                                              \
    if (!(condition)) [[unlikely]] {                                                \
      ::quire::internal::CheckFailed(__FILE__, __LINE__, #condition, {});           \
    }                                                                               \
  } while (0)

#define QUIRE_CHECK_MSG(condition, ...)                                             \
  do {                                                                              \
    if (!(condition)) [[unlikely]] {                                                \
      ::quire::internal::CheckFailed(__FILE__, __LINE__, #condition,                \
                                     ::fmt::format(__VA_ARGS__));                   \
    }                                                                               \
  } while (0)

#define QUIRE_CHECK_OP(a, op, b)                                                    \
  do {                                                                              \
    auto&& quire_check_a = (a);                                                     \
    auto&& quire_check_b = (b);                                                     \
    if (!(quire_check_a op quire_check_b)) [[unlikely]] {                           \
      ::quire::internal::CheckFailed(                                               \
          __FILE__, __LINE__, #a " " #op " " #b,                                    \
          ::fmt::format("{} vs {}", quire_check_a, quire_check_b));                 \
    }                                                                               \
  } while (0)

#define QUIRE_CHECK_EQ(a, b) QUIRE_CHECK_OP(a, ==, b)
#define QUIRE_CHECK_NE(a, b) QUIRE_CHECK_OP(a, !=, b)
#define QUIRE_CHECK_LT(a, b) QUIRE_CHECK_OP(a, <, b)
#define QUIRE_CHECK_LE(a, b) QUIRE_CHECK_OP(a, <=, b)
#define QUIRE_CHECK_GT(a, b) QUIRE_CHECK_OP(a, >, b)
#define QUIRE_CHECK_GE(a, b) QUIRE_CHECK_OP(a, >=, b)
