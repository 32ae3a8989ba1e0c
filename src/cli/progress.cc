#include "cli/progress.h"

#include <fmt/format.h>

namespace quire::cli {
namespace {

std::string MiB(double bytes) { return fmt::format("{:.1f} MiB", bytes / (1 << 20)); }

}  // namespace

Progress::Progress(std::ostream& out, std::string what, std::string unit, int64_t total,
                   std::chrono::milliseconds interval)
    : out_(out),
      what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      interval_(interval),
      start_(std::chrono::steady_clock::now()),
      last_line_(start_) {}

double Progress::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::Counts() const {
  return fmt::format("{}/{} {}, {} entries, {}", units_, total_, unit_, entries_,
                     MiB(static_cast<double>(bytes_)));
}

void Progress::Add(int64_t units, int64_t entries, int64_t bytes) {
  units_ += units;
  entries_ += entries;
  bytes_ += bytes;
  auto now = std::chrono::steady_clock::now();
  if (now - last_line_ < interval_) return;
  last_line_ = now;
  double s = ElapsedSeconds();
  out_ << fmt::format("{}: {}, {}/s, {:.0f} s\n", what_, Counts(),
                      MiB(s > 0 ? static_cast<double>(bytes_) / s : 0), s)
       << std::flush;
}

void Progress::Finish() {
  double s = ElapsedSeconds();
  out_ << fmt::format("{}: done: {} in {:.1f} s ({}/s)\n", what_, Counts(), s,
                      MiB(s > 0 ? static_cast<double>(bytes_) / s : 0))
       << std::flush;
}

}  // namespace quire::cli
