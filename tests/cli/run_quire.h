// Runs the `quire` binary (QUIRE_CLI_BINARY) as an operator would, for the CLI's end-to-end tests.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "util/subprocess.h"

namespace quire::cli::testing {

struct Outcome {
  int status = -1;  // wait status
  std::vector<std::string> lines;  // standard output
  int exit_code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
  std::string text() const {
    std::string all;
    for (const std::string& l : lines) all += l + "\n";
    return all;
  }
};

// Runs `argv` (no shell) to its end, each line of output bounded by two minutes and the exit by
// one more. Standard error goes to the test's.
inline Outcome RunProgram(const std::vector<std::string>& argv) {
  using std::chrono::milliseconds;
  auto p = quire::testing::Subprocess::Start(argv);
  EXPECT_TRUE(p.ok());
  Outcome run;
  if (!p.ok()) return run;
  for (size_t i = 0; i < 10'000'000; ++i) {
    auto line = p->ReadLine(milliseconds(120'000));
    if (!line) break;
    run.lines.push_back(*line);
  }
  run.status = p->Wait(milliseconds(60'000));
  return run;
}

// Runs `quire --metadata <uri> args...` (stdin from `input_file` if given) to its end, bounded as
// RunProgram.
inline Outcome RunQuire(const std::string& metadata_uri, const std::vector<std::string>& args,
                        const std::string& input_file = "") {
  std::string cmd = fmt::format("exec '{}' --metadata '{}'", QUIRE_CLI_BINARY, metadata_uri);
  for (const std::string& a : args) cmd += " '" + a + "'";
  cmd += input_file.empty() ? " < /dev/null" : " < '" + input_file + "'";
  return RunProgram({"/bin/sh", "-c", cmd});
}

}  // namespace quire::cli::testing
