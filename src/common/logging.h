// Logging set-up. All of Quire logs through spdlog's default logger, so a library user who has
// configured spdlog keeps their sinks; programs call InitLogging() once at start.
//
// Levels, for operators: error = something failed and needs a person (an I/O error, a corrupt
// file, a refused start); warn = degraded but working (a dropped torn tail, a slow fsync, read-only
// mode); info = lifecycle (start, stop, recovery summary, rotation); debug/trace = for developers.
#pragma once

#include <string>
#include <string_view>

#include "quire/status.h"

namespace quire {

struct LoggingOptions {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string file;            // empty: stderr
};

Status InitLogging(const LoggingOptions& options);

// Names the calling thread (visible in top, perf and gdb); at most 15 characters are kept.
void SetThreadName(std::string_view name);
// Gives the calling thread the lowest CPU priority (nice 19) and, where the I/O scheduler honours
// it, the idle I/O class: for background work (garbage collection) that must not take CPU or disk
// time from adds. Best effort; failures are ignored.
void SetThreadBackground();

}  // namespace quire
