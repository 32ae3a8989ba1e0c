// Prometheus text for tests: reading samples out of a /metrics body or Client::MetricsText(),
// and running promtool (Debian's `prometheus` package) on metrics and alert rules.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "quire/status.h"

namespace quire::testing {

// The value of the sample `series` (name and labels exactly as rendered, e.g.
// `x_total{operation="add",status="ok"}`), or nullopt if the text has no such sample.
std::optional<double> SampleValue(const std::string& text, const std::string& series);

// Every sample name in the text (a histogram's _bucket, _sum and _count included).
std::set<std::string> SampleNames(const std::string& text);

// The path of promtool on PATH, or nullopt: the tests that need it skip then.
std::optional<std::string> FindPromtool();

struct PromtoolRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
// Runs `promtool args...` with its standard input read from `stdin_file` (none if empty); it is
// killed if it has not finished within `timeout`.
Result<PromtoolRun> RunPromtool(const std::string& promtool, const std::vector<std::string>& args,
                                const std::string& stdin_file = "",
                                std::chrono::seconds timeout = std::chrono::seconds(60));

}  // namespace quire::testing
