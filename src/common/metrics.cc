#include "common/metrics.h"

#include "common/check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <limits>

namespace quire {
namespace {

// A metric declared wrongly is a bug in Quire: the invariant check prints it and aborts.
[[noreturn]] void Bug(std::string_view what) {
  QUIRE_CHECK_MSG(false, "metrics: {}", what);
  __builtin_unreachable();
}

bool IsNameChar(char c, bool first, bool colon_ok) {
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return alpha || (colon_ok && c == ':') || (!first && c >= '0' && c <= '9');
}

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names: the same without ':'.
bool IsValidName(std::string_view name, bool colon_ok) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i], i == 0, colon_ok)) return false;
  }
  return true;
}

// Label values escape backslash, double quote and newline; HELP text only backslash and newline.
void AppendEscaped(std::string* out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (quote && c == '"') {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

// Go's float syntax, which Prometheus parses: shortest round-trip digits, NaN, +Inf, -Inf.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

// "{a="x",b="y"}", with `extra` (le="...") last; "" when there are no labels at all.
std::string RenderLabels(const MetricsWriter::Labels& labels, std::string_view extra_name = {},
                         std::string_view extra_value = {}) {
  if (labels.empty() && extra_name.empty()) return {};
  std::string out = "{";
  auto add = [&out](std::string_view name, std::string_view value) {
    if (out.size() > 1) out += ',';
    out += name;
    out += "=\"";
    AppendEscaped(&out, value, /*quote=*/true);
    out += '"';
  };
  for (const auto& [name, value] : labels) {
    if (!IsValidName(name, /*colon_ok=*/false) || name.starts_with("__") || name == extra_name) {
      Bug(fmt::format("invalid or reserved label name '{}'", name));
    }
    add(name, value);
  }
  if (!extra_name.empty()) add(extra_name, extra_value);
  out += '}';
  return out;
}

void AppendSample(std::string* out, std::string_view name, std::string_view labels,
                  std::string_view value) {
  fmt::format_to(std::back_inserter(*out), "{}{} {}\n", name, labels, value);
}

}  // namespace

MetricsWriter::Family& MetricsWriter::FamilyFor(std::string_view name, std::string_view help,
                                                std::string_view type) {
  if (!IsValidName(name, /*colon_ok=*/true)) Bug(fmt::format("invalid metric name '{}'", name));
  auto [it, inserted] = index_.try_emplace(std::string(name), families_.size());
  if (inserted) {
    families_.emplace_back(std::string(name), Family{std::string(help), type, {}});
  }
  Family& f = families_[it->second].second;
  if (f.type != type) {
    Bug(fmt::format("metric '{}' written as both {} and {}", name, f.type, type));
  }
  return f;
}

void MetricsWriter::Counter(std::string_view name, std::string_view help, double value,
                            const Labels& labels) {
  Family& f = FamilyFor(name, help, "counter");
  AppendSample(&f.samples, name, RenderLabels(labels), FormatValue(value));
}

void MetricsWriter::Gauge(std::string_view name, std::string_view help, double value,
                          const Labels& labels) {
  Family& f = FamilyFor(name, help, "gauge");
  AppendSample(&f.samples, name, RenderLabels(labels), FormatValue(value));
}

void MetricsWriter::CheckBounds(std::string_view name, std::span<const double> bounds) {
  bool ok =
      std::all_of(bounds.begin(), bounds.end(), [](double b) { return std::isfinite(b); }) &&
      std::adjacent_find(bounds.begin(), bounds.end(), std::greater_equal<>()) == bounds.end() &&
      (bounds.empty() || bounds.front() >= 0);
  if (!ok) Bug(fmt::format("histogram '{}': bounds must be >= 0 and strictly increasing", name));
}

void MetricsWriter::Histogram(std::string_view name, std::string_view help,
                              const ::quire::Histogram::Snapshot& snap, double scale,
                              const Labels& labels, std::span<const double> bounds) {
  // Snapshot values are unsigned, so a negative bound could hold nothing; "+Inf" is always added.
  CheckBounds(name, bounds);
  if (!(scale > 0)) Bug(fmt::format("histogram '{}': scale must be > 0", name));
  // Each bound as the largest raw (unscaled) value it admits. Raw values are integers; the tiny
  // relative slack keeps 1e-3 / 1e-9 = 999999.9999999999 from excluding the value 1000000.
  std::vector<uint64_t> limits;
  limits.reserve(bounds.size());
  for (double b : bounds) {
    double raw = b / scale;
    raw += raw * 1e-12;
    if (raw >= 18446744073709549568.0) {  // the largest double below 2^64
      limits.push_back(std::numeric_limits<uint64_t>::max());
    } else {
      limits.push_back(static_cast<uint64_t>(std::floor(raw)));
    }
  }
  // Counts per bound (not yet cumulative): a snapshot bucket goes to the first bound that holds
  // its whole range. Bucket upper bounds grow with the index, so one pass suffices.
  std::vector<uint64_t> per_bound(bounds.size() + 1, 0);  // last slot: above every bound
  size_t slot = 0;
  for (size_t i = 0; i < snap.counts.size(); ++i) {
    if (snap.counts[i] == 0) continue;
    uint64_t upper = ::quire::Histogram::BucketUpperBound(static_cast<int>(i));
    while (slot < limits.size() && limits[slot] < upper) ++slot;
    per_bound[slot] += snap.counts[i];
  }
  AppendHistogram(name, help, bounds, per_bound, static_cast<double>(snap.sum) * scale, labels);
}

void MetricsWriter::Histogram(std::string_view name, std::string_view help,
                              std::span<const double> values, std::span<const double> bounds,
                              const Labels& labels) {
  CheckBounds(name, bounds);
  std::vector<uint64_t> per_bound(bounds.size() + 1, 0);
  double sum = 0;
  for (double v : values) {
    per_bound[static_cast<size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) -
                                  bounds.begin())] += 1;
    sum += v;
  }
  AppendHistogram(name, help, bounds, per_bound, sum, labels);
}

void MetricsWriter::AppendHistogram(std::string_view name, std::string_view help,
                                    std::span<const double> bounds,
                                    const std::vector<uint64_t>& per_bound, double sum,
                                    const Labels& labels) {
  Family& f = FamilyFor(name, help, "histogram");
  const std::string bucket = fmt::format("{}_bucket", name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    cumulative += per_bound[i];
    AppendSample(&f.samples, bucket, RenderLabels(labels, "le", FormatValue(bounds[i])),
                 fmt::format("{}", cumulative));
  }
  // _count is the sum of the buckets so that it always equals le="+Inf".
  cumulative += per_bound[bounds.size()];
  AppendSample(&f.samples, bucket, RenderLabels(labels, "le", "+Inf"),
               fmt::format("{}", cumulative));
  const std::string label_text = RenderLabels(labels);
  AppendSample(&f.samples, fmt::format("{}_sum", name), label_text, FormatValue(sum));
  AppendSample(&f.samples, fmt::format("{}_count", name), label_text,
               fmt::format("{}", cumulative));
}

std::string MetricsWriter::Text() const {
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP ";
    out += name;
    out += ' ';
    AppendEscaped(&out, f.help, /*quote=*/false);
    fmt::format_to(std::back_inserter(out), "\n# TYPE {} {}\n", name, f.type);
    out += f.samples;
  }
  return out;
}

}  // namespace quire
