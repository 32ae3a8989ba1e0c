// QUIRE_CHECK: an invariant that stays checked in release builds. A broken invariant is a bug:
// the process prints where and aborts (DEVELOPERS.md, "bugs crash, bad bytes don't"). Not for
// conditions that bad input or a failing disk can cause: those return a Status.
#pragma once

#include <cstdio>
#include <cstdlib>

#define QUIRE_CHECK(condition)                                                          \
  do {                                                                                  \
    if (!(condition)) [[unlikely]] {                                                    \
      std::fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
