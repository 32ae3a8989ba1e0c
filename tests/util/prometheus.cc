#include "util/prometheus.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string_view>

#include "util/subprocess.h"

namespace quire::testing {

std::optional<double> SampleValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
    }
  }
  return std::nullopt;
}

std::set<std::string> SampleNames(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

std::optional<std::string> FindPromtool() {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/promtool";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

Result<PromtoolRun> RunPromtool(const std::string& promtool, const std::vector<std::string>& args,
                                const std::string& stdin_file, std::chrono::seconds timeout) {
  // Through sh, for the redirections: promtool reads metrics from its standard input, and its
  // findings go to stderr.
  std::vector<std::string> argv = {"/bin/sh", "-c",
                                   stdin_file.empty() ? R"(exec "$@" 2>&1)"
                                                      : R"(f=$1; shift; exec "$@" <"$f" 2>&1)",
                                   "sh"};
  if (!stdin_file.empty()) argv.push_back(stdin_file);
  argv.push_back(promtool);
  argv.insert(argv.end(), args.begin(), args.end());
  QUIRE_ASSIGN_OR_RETURN(Subprocess p, Subprocess::Start(argv));
  PromtoolRun run;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (auto line = p.ReadLine(std::chrono::duration_cast<std::chrono::milliseconds>(
                         deadline - std::chrono::steady_clock::now()))) {
    run.output += *line + "\n";
  }
  int status = p.Wait(std::chrono::seconds(10));  // its output ended: it is exiting
  if (p.timed_out() || !WIFEXITED(status)) {
    return Status(StatusCode::kTimeout, "promtool did not finish: " + run.output);
  }
  run.exit_code = WEXITSTATUS(status);
  return run;
}

}  // namespace quire::testing
