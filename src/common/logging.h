// Logging set-up. All of Quire logs through spdlog's default logger, so a library user who has
// configured spdlog keeps their sinks; programs call InitLogging() once at start.
//
// Every line carries its time in ISO 8601, UTC, to the millisecond ("2026-12-04T13:38:30.123Z"),
// so lines from machines in different zones sort and compare. Formats:
//   text  2026-12-04T13:38:30.123Z info  [4711] bookie 10.0.0.1:3181 is up ...
//   json  {"time":"2026-12-04T13:38:30.123Z","level":"info","thread":4711,"message":"bookie ..."}
//         one object a line (JSON lines), for log shippers; the message is escaped.
//
// Levels, for operators: error = something failed and needs a person (an I/O error, a corrupt
// file, a refused start); warn = degraded but working (a dropped torn tail, a slow fsync, read-only
// mode); info = lifecycle (start, stop, recovery summary, rotation); debug/trace = for developers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/mutex.h"
#include "quire/status.h"

namespace quire {

struct LoggingOptions {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  std::string file;            // empty: stderr
  std::string format = "text";  // "text" or "json"
  // With `file`: when it would grow past this size it is renamed with an index before its
  // extension (bookie.log to bookie.1.log, bookie.1.log to bookie.2.log, ..., the oldest beyond
  // `max_files` dropped) and a new one started. 0: never (an outside tool such as
  // logrotate moves it, then SIGHUP makes the bookie reopen it: ReopenLogs).
  uint64_t max_file_bytes = 0;
  size_t max_files = 10;
};

// kInvalidArgument for an unknown level or format; kIOError when the file cannot be opened.
Status InitLogging(const LoggingOptions& options);

// Closes and opens again the log file given to InitLogging (a no-op when logging to stderr), so
// that after logrotate moved it the process writes to a new file of that name. Thread-safe: lines
// logged meanwhile go to the old file or the new one, none is lost.
Status ReopenLogs();

// Names the calling thread (visible in top, perf and gdb); at most 15 characters are kept.
void SetThreadName(std::string_view name);
// Gives the calling thread the lowest CPU priority (nice 19) and, where the I/O scheduler honours
// it, the idle I/O class: for background work (garbage collection) that must not take CPU or disk
// time from adds. Best effort; failures are ignored.
void SetThreadBackground();

// At most one log line per `interval` for an event that a peer can repeat at will (a client that
// keeps sending over-size frames must not flood the log); the line that is written says how many
// were left out before it. Thread-safe.
class LogLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit LogLimiter(std::chrono::milliseconds interval) : interval_(interval) {}

  // Whether to log the event happening at `now`; if so, `*left_out` is the number of events not
  // logged since the last line.
  bool Allow(TimePoint now, uint64_t* left_out);

 private:
  const std::chrono::milliseconds interval_;
  Mutex mu_;
  bool logged_ QUIRE_GUARDED_BY(mu_) = false;
  TimePoint last_ QUIRE_GUARDED_BY(mu_) = {};  // when the last line was allowed
  uint64_t left_out_ QUIRE_GUARDED_BY(mu_) = 0;
};

}  // namespace quire
