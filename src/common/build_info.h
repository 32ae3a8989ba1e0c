// What this build is: Quire's version (the CMake project version) and the git commit the build
// was configured from. For `--version`, the bookie's registration, /api/v1/bookie/info and the
// quire_build_info metric, so that an operator can tell which code a process runs.
//
// The commit is read once, when CMake configures the build directory (src/common/CMakeLists.txt),
// with git if git and the repository are there; a build from a source tarball, or without git,
// says "unknown". Nothing is fetched over the network. A commit made after configuring shows
// only once CMake runs again.
#pragma once

#include <string>
#include <string_view>

namespace quire {

// "0.1.0".
std::string_view QuireVersion();
// The abbreviated commit ("ea4ff94c8a30"), or "unknown".
std::string_view QuireCommit();
// The line `--version` prints: "<program> 0.1.0 (commit ea4ff94c8a30)".
std::string VersionLine(std::string_view program);
// The malloc this process runs with, as found at run time: "jemalloc 5.3.0-0-g54eaed1d..." when
// jemalloc is linked (QUIRE_JEMALLOC) or preloaded, else "glibc". For the start-up log and
// /api/v1/bookie/info: the allocator moves a bookie's CPU per add by a third (docs/performance.md).
std::string MallocName();

}  // namespace quire
