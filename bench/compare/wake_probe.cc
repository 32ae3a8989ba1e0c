// wake_probe: how late this machine wakes a sleeping thread, to read bench/compare's tail
// latencies at low rates against (docs/performance.md, "The machine's wake-ups").
//
// An add at 1,000/s wakes a chain of sleeping threads: the driver's pacing thread at the add's
// due time, the client's I/O thread, each bookie's I/O thread, the disk's completion, the answer.
// Every wake-up can be late for reasons no program on the machine controls (a halted virtual CPU
// that the host resumes late, a kernel without preemption running someone else's system call),
// and one late wake-up in the chain is a late add. This probe measures the first link alone:
// one thread sleeps until t0 + i/rate (an absolute CLOCK_MONOTONIC deadline, timer slack 1 ns,
// as quire-bench's and the Java driver's pacing threads do) and records how late it woke.
//
// With --spin the thread never sleeps: it reads the clock in a loop and records the gaps between
// two reads, which are the times the CPU was taken from it (the host descheduling the virtual
// CPU, or an interrupt). Late wake-ups with few gaps point at waking, not at running.
//
//   wake_probe [--rate R] [--seconds S] [--spin]
//
// Prints one JSON object. Exit codes: 0 measured, 2 usage.
#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace {

uint64_t Now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(t.tv_nsec);
}

struct Args {
  double rate = 1000;
  double seconds = 10;
  bool spin = false;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr, "wake_probe: %s\nusage: wake_probe [--rate R] [--seconds S] [--spin]\n",
               why);
  std::exit(2);
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> double {
      if (i + 1 >= argc) Usage(("missing the value of " + arg).c_str());
      char* end = nullptr;
      double v = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(v > 0)) Usage(("not a positive number: " + arg).c_str());
      return v;
    };
    if (arg == "--rate") {
      a.rate = value();
    } else if (arg == "--seconds") {
      a.seconds = value();
    } else if (arg == "--spin") {
      a.spin = true;
    } else {
      Usage(("unknown argument " + arg).c_str());
    }
  }
  if (a.rate > 1e6) Usage("--rate above 1,000,000/s measures the clock, not wake-ups");
  return a;
}

void Print(const char* mode, const Args& a, std::vector<uint64_t>& ns, uint64_t samples) {
  std::sort(ns.begin(), ns.end());
  auto q = [&](double x) -> double {
    if (ns.empty()) return 0;
    return static_cast<double>(ns[std::min(ns.size() - 1, static_cast<size_t>(x * ns.size()))]) /
           1e3;
  };
  auto over = [&](uint64_t limit) {
    return static_cast<uint64_t>(ns.end() - std::upper_bound(ns.begin(), ns.end(), limit));
  };
  std::printf("{\"mode\": \"%s\", \"rate\": %.0f, \"seconds\": %.1f, \"samples\": %llu, ", mode,
              a.spin ? 0 : a.rate, a.seconds, static_cast<unsigned long long>(samples));
  if (!a.spin) {
    std::printf("\"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, ", q(0.5), q(0.99),
                q(0.999));
  }
  std::printf("\"max_us\": %.1f, \"over_1ms\": %llu, \"over_5ms\": %llu}\n",
              ns.empty() ? 0 : static_cast<double>(ns.back()) / 1e3,
              static_cast<unsigned long long>(over(1'000'000)),
              static_cast<unsigned long long>(over(5'000'000)));
}

}  // namespace

int main(int argc, char** argv) {
  Args a = Parse(argc, argv);
  const uint64_t t0 = Now();
  const uint64_t end = t0 + static_cast<uint64_t>(a.seconds * 1e9);
  if (a.spin) {
    // Only gaps over 10 µs are kept: the rest is the clock's own cost.
    std::vector<uint64_t> gaps;
    uint64_t last = t0, reads = 0;
    while (last < end) {
      uint64_t now = Now();
      ++reads;
      if (now - last > 10'000) gaps.push_back(now - last);
      last = now;
    }
    Print("spin", a, gaps, reads);
    return 0;
  }
  // Linux lets a sleeping thread wake up to its timer slack (50 µs by default) late.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const double period = 1e9 / a.rate;
  std::vector<uint64_t> late;
  late.reserve(static_cast<size_t>(a.rate * a.seconds) + 1);
  for (uint64_t i = 1;; ++i) {
    uint64_t due = t0 + static_cast<uint64_t>(static_cast<double>(i) * period);
    if (due >= end) break;
    timespec ts{static_cast<time_t>(due / 1'000'000'000u),
                static_cast<long>(due % 1'000'000'000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
    uint64_t now = Now();
    late.push_back(now > due ? now - due : 0);
  }
  uint64_t n = late.size();
  Print("sleep", a, late, n);
  return 0;
}
