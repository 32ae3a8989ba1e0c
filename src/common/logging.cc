#include "common/logging.h"

#include <chrono>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pthread.h>

#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace quire {

Status InitLogging(const LoggingOptions& options) {
  spdlog::level::level_enum level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return InvalidArgument(fmt::format(
        "unknown log level '{}' (use trace, debug, info, warn, error, critical or off)",
        options.level));
  }
  std::shared_ptr<spdlog::logger> logger;
  spdlog::drop("quire");  // InitLogging may be called again (tests, reconfiguration)
  try {
    if (options.file.empty()) {
      logger = spdlog::stderr_color_mt("quire");
    } else {
      logger = spdlog::basic_logger_mt("quire", options.file);
    }
  } catch (const spdlog::spdlog_ex& e) {
    return IOError(fmt::format("cannot open log {}: {}", options.file, e.what()));
  }
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%t] %v");
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  // A file is written in blocks; without this an operator tailing it would see info lines only
  // when a warning or a full buffer flushes them.
  if (!options.file.empty()) spdlog::flush_every(std::chrono::seconds(1));
  return Status::Ok();
}

void SetThreadBackground() {
  // Linux applies nice and the I/O priority to the calling thread alone (its thread id).
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  setpriority(PRIO_PROCESS, static_cast<id_t>(tid), 19);
  constexpr int kIoprioClassIdle = 3, kIoprioClassShift = 13, kIoprioWhoProcess = 1;
  syscall(SYS_ioprio_set, kIoprioWhoProcess, tid, kIoprioClassIdle << kIoprioClassShift);
}

void SetThreadName(std::string_view name) {
  std::string n(name.substr(0, 15));
  pthread_setname_np(pthread_self(), n.c_str());
}

}  // namespace quire
