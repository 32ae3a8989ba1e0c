#include "common/logging.h"

#include <chrono>
#include <ctime>
#include <iterator>
#include <mutex>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pthread.h>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace quire {
namespace {

// "2026-12-04T13:38:30.123Z": what the text pattern below writes too.
void AppendIsoTime(std::chrono::system_clock::time_point t, spdlog::memory_buf_t* dest) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  fmt::format_to(std::back_inserter(*dest), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ms % 1000);
}

// JSON string contents: quotes, backslashes and control characters escaped. Other bytes are
// copied (Quire's messages are ASCII; names from disk or the network may not be UTF-8).
void AppendJsonEscaped(std::string_view s, spdlog::memory_buf_t* dest) {
  for (char c : s) {
    if (c == '"' || c == '\\') {
      dest->push_back('\\');
      dest->push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fmt::format_to(std::back_inserter(*dest), "\\u{:04x}", static_cast<unsigned char>(c));
    } else {
      dest->push_back(c);
    }
  }
}

// One JSON object a line (see logging.h).
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    dest.append(std::string_view("{\"time\":\""));
    AppendIsoTime(msg.time, &dest);
    spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    fmt::format_to(std::back_inserter(dest), "\",\"level\":\"{}\",\"thread\":{},\"message\":\"",
                   std::string_view(level.data(), level.size()), msg.thread_id);
    AppendJsonEscaped(std::string_view(msg.payload.data(), msg.payload.size()), &dest);
    dest.append(std::string_view("\"}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// The log file, which ReopenLogs() can open again under the same name: the logger keeps this sink
// for its life while the file behind it changes, under the sink's mutex (held by every write).
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(const LoggingOptions& options) : options_(options) {}

  Status Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    return OpenLocked();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override { file_->log(msg); }
  void flush_() override { file_->flush(); }
  void set_formatter_(std::unique_ptr<spdlog::formatter> formatter) override {
    formatter_ = std::move(formatter);
    if (file_) file_->set_formatter(formatter_->clone());
  }

 private:
  Status OpenLocked() {
    try {
      std::shared_ptr<spdlog::sinks::sink> file;
      if (options_.max_file_bytes > 0) {
        file = std::make_shared<spdlog::sinks::rotating_file_sink_st>(
            options_.file, options_.max_file_bytes, options_.max_files);
      } else {
        file = std::make_shared<spdlog::sinks::basic_file_sink_st>(options_.file);
      }
      if (formatter_) file->set_formatter(formatter_->clone());
      if (file_) file_->flush();
      file_ = std::move(file);
      return Status::Ok();
    } catch (const spdlog::spdlog_ex& e) {
      return IOError(fmt::format("cannot open log {}: {}", options_.file, e.what()));
    }
  }

  const LoggingOptions options_;
  std::shared_ptr<spdlog::sinks::sink> file_;  // guarded by mutex_
};

Mutex file_sink_mu;
std::shared_ptr<ReopenableFileSink> file_sink QUIRE_GUARDED_BY(file_sink_mu);  // null: stderr

}  // namespace

Status InitLogging(const LoggingOptions& options) {
  spdlog::level::level_enum level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return InvalidArgument(fmt::format(
        "unknown log level '{}' (use trace, debug, info, warn, error, critical or off)",
        options.level));
  }
  std::unique_ptr<spdlog::formatter> formatter;
  if (options.format == "json") {
    formatter = std::make_unique<JsonFormatter>();
  } else if (options.format == "text") {
    formatter = std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%t] %v", spdlog::pattern_time_type::utc);
  } else {
    return InvalidArgument(
        fmt::format("unknown log format '{}' (use text or json)", options.format));
  }
  if (!options.file.empty() && options.max_file_bytes > 0 && options.max_files == 0) {
    return InvalidArgument("a rotated log needs at least one file to keep (logMaxFiles)");
  }
  std::shared_ptr<ReopenableFileSink> file;
  std::shared_ptr<spdlog::sinks::sink> sink;
  if (options.file.empty()) {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    file = std::make_shared<ReopenableFileSink>(options);
    QUIRE_RETURN_IF_ERROR(file->Open());
    sink = file;
  }
  spdlog::drop("quire");  // InitLogging may be called again (tests, reconfiguration)
  auto logger = std::make_shared<spdlog::logger>("quire", std::move(sink));
  logger->set_formatter(std::move(formatter));
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(std::move(logger));
  {
    MutexLock lock(file_sink_mu);
    file_sink = std::move(file);
  }
  // A file is written in blocks; without this an operator tailing it would see info lines only
  // when a warning or a full buffer flushes them.
  if (!options.file.empty()) spdlog::flush_every(std::chrono::seconds(1));
  return Status::Ok();
}

Status ReopenLogs() {
  std::shared_ptr<ReopenableFileSink> file;
  {
    MutexLock lock(file_sink_mu);
    file = file_sink;
  }
  return file ? file->Open() : Status::Ok();
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

bool LogLimiter::Allow(TimePoint now, uint64_t* left_out) {
  MutexLock lock(mu_);
  if (logged_ && now - last_ < interval_) {
    ++left_out_;
    return false;
  }
  logged_ = true;
  last_ = now;
  *left_out = left_out_;
  left_out_ = 0;
  return true;
}

}  // namespace quire
