// quire-sim: runs schedules of the deterministic simulation (simulation.h, docs/simulation.md)
// and reports violations of docs/semantics.md's guarantees, with the seed that replays each.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "simulation.h"

namespace {

constexpr const char* kUsage = R"(usage: quire-sim [options]

Runs schedules of Quire's deterministic simulation: the client's real writer core, recovery
tallies and metadata update loop against simulated bookies that crash, pause and lose unsynced
writes, a network that drops and reorders, and a metadata store that times out and loses
replies. After each schedule a checker asserts docs/semantics.md's guarantees.

options:
  --seeds N             run N schedules (default 1000)
  --first-seed S        seeds S, S+1, ... (default 1)
  --seed S --trace      run seed S alone and print every step (to debug a failing seed)
  --check-replay        run every seed twice and fail if the two runs differ
  --skip-fence          deliberate bug: bookies do not fence; the checker must catch it
  --expect-violations   exit 0 only if some schedule broke a guarantee (with --skip-fence)
  -h, --help            this text

exit status: 0 every schedule held every guarantee (with --expect-violations: some did not);
1 otherwise; 2 bad usage.
)";

bool ParseCount(const char* text, uint64_t* out) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 1000, first = 1;
  bool check_replay = false, expect_violations = false;
  quire::sim::Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](uint64_t* out) {
      if (i + 1 >= argc || !ParseCount(argv[++i], out)) {
        fmt::print(stderr, "quire-sim: {} needs a number\n{}", arg, kUsage);
        std::exit(2);
      }
    };
    if (arg == "--seeds") {
      value(&seeds);
    } else if (arg == "--first-seed") {
      value(&first);
    } else if (arg == "--seed") {
      value(&first);
      seeds = 1;
    } else if (arg == "--trace") {
      options.trace = true;
    } else if (arg == "--check-replay") {
      check_replay = true;
    } else if (arg == "--skip-fence") {
      options.skip_fence = true;
    } else if (arg == "--expect-violations") {
      expect_violations = true;
    } else if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else {
      fmt::print(stderr, "quire-sim: unknown option {}\n{}", arg, kUsage);
      return 2;
    }
  }
  // The core logs its decisions (ensemble changes, stops); a schedule makes thousands.
  spdlog::set_level(options.trace ? spdlog::level::info : spdlog::level::off);

  auto start = std::chrono::steady_clock::now();
  uint64_t failed = 0, steps = 0, acked = 0, recoveries = 0, changes = 0, crashes = 0,
           pauses = 0;
  for (uint64_t seed = first; seed < first + seeds; ++seed) {
    options.seed = seed;
    quire::sim::Outcome out = quire::sim::RunSchedule(options);
    if (check_replay) {
      quire::sim::Outcome again = quire::sim::RunSchedule(options);
      if (again.trace_hash != out.trace_hash || again.steps != out.steps) {
        out.violations.push_back(fmt::format(
            "the schedule did not repeat: {} steps then {}", out.steps, again.steps));
      }
    }
    steps += static_cast<uint64_t>(out.steps);
    acked += static_cast<uint64_t>(out.acked);
    recoveries += static_cast<uint64_t>(out.recoveries);
    changes += static_cast<uint64_t>(out.ensemble_changes);
    crashes += static_cast<uint64_t>(out.crashes);
    pauses += static_cast<uint64_t>(out.pauses);
    if (!out.violations.empty()) {
      ++failed;
      if (failed <= 10) {
        fmt::print("seed {} ({}): {}\n  replay: quire-sim --seed {} --trace\n", seed, out.setup,
                   out.violations.front(), seed);
        for (size_t v = 1; v < out.violations.size() && v < 5; ++v) {
          fmt::print("  also: {}\n", out.violations[v]);
        }
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(
      "{} schedules (seeds {}..{}) in {:.1f} s: {:.0f} schedules/s, {:.0f} steps/s; {} broke a "
      "guarantee\n  totals: {} steps, {} appends acknowledged, {} recoveries, {} ensemble "
      "changes, {} bookie crashes, {} pauses\n",
      seeds, first, first + seeds - 1, secs, static_cast<double>(seeds) / secs,
      static_cast<double>(steps) / secs, failed, steps, acked, recoveries, changes, crashes,
      pauses);
  if (expect_violations) return failed > 0 ? 0 : 1;
  return failed == 0 ? 0 : 1;
}
