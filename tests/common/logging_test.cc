// Log lines as operators and log shippers read them: ISO 8601 UTC times, JSON lines, size-based
// rotation, reopening the file after logrotate moved it (SIGHUP in quire-bookie), and the limit on
// lines a peer can repeat at will.
#include "common/logging.h"

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "util/temp_dir.h"

namespace quire {
namespace {

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// "2026-12-04T13:38:30.123Z"
bool IsIsoUtcTime(std::string_view t) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (t.size() != kShape.size()) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    bool ok = kShape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(t[i])) != 0
                               : t[i] == kShape[i];
    if (!ok) return false;
  }
  return true;
}

class LoggingTest : public ::testing::Test {
 protected:
  void TearDown() override { InitLogging({.level = "warn"}).IgnoreError(); }
  testing::TempDir dir_{"quire-logging-test"};
};

TEST_F(LoggingTest, TextLinesStartWithAnIsoUtcTime) {
  std::string path = dir_.Sub("bookie.log");
  ASSERT_TRUE(InitLogging({.level = "info", .file = path}).ok());
  spdlog::info("hello {}", 1);
  spdlog::default_logger()->flush();
  std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(IsIsoUtcTime(lines[0].substr(0, lines[0].find(' ')))) << lines[0];
  EXPECT_NE(lines[0].find(" info "), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].substr(lines[0].size() - 7), "hello 1") << lines[0];
}

TEST_F(LoggingTest, JsonLinesAreOneEscapedObjectEach) {
  std::string path = dir_.Sub("bookie.json");
  ASSERT_TRUE(InitLogging({.level = "info", .file = path, .format = "json"}).ok());
  const std::string tricky = "a \"quoted\" path\\with\ttab\nand newline \x01";
  spdlog::warn("{}", tricky);
  spdlog::info("second");
  spdlog::default_logger()->flush();
  std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["message"], tricky);
  EXPECT_EQ(first["level"], "warning");
  EXPECT_TRUE(first["thread"].is_number_unsigned());
  EXPECT_TRUE(IsIsoUtcTime(first["time"].get<std::string>())) << lines[0];
  EXPECT_EQ(nlohmann::json::parse(lines[1])["message"], "second");
}

TEST_F(LoggingTest, BadFormatOrLevelIsRefused) {
  EXPECT_EQ(InitLogging({.format = "xml"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(InitLogging({.level = "loud"}).code(), StatusCode::kInvalidArgument);
  std::ofstream(dir_.Sub("a-file")) << "not a directory";
  EXPECT_EQ(InitLogging({.level = "info", .file = dir_.Sub("a-file/x.log")}).code(),
            StatusCode::kIOError);
}

TEST_F(LoggingTest, TheFileRotatesAtItsSizeKeepingMaxFiles) {
  std::string path = dir_.Sub("rotated.log");
  ASSERT_TRUE(InitLogging({.level = "info", .file = path, .max_file_bytes = 4096, .max_files = 2})
                  .ok());
  for (int i = 0; i < 1000; ++i) spdlog::info("line {} {}", i, std::string(40, 'x'));
  spdlog::default_logger()->flush();
  namespace fs = std::filesystem;
  // The index goes before the extension (spdlog's rotating sink): rotated.1.log, rotated.2.log.
  EXPECT_TRUE(fs::exists(path));
  EXPECT_TRUE(fs::exists(dir_.Sub("rotated.1.log")));
  EXPECT_TRUE(fs::exists(dir_.Sub("rotated.2.log")));
  EXPECT_FALSE(fs::exists(dir_.Sub("rotated.3.log"))) << "only max_files rotated files are kept";
  for (const std::string& p : {path, dir_.Sub("rotated.1.log"), dir_.Sub("rotated.2.log")}) {
    EXPECT_LE(fs::file_size(p), 4096u) << p;
  }
  EXPECT_NE(Lines(path).back().find("line 999 "), std::string::npos);
}

TEST_F(LoggingTest, ReopenStartsANewFileAfterTheOldOneWasMoved) {
  std::string path = dir_.Sub("bookie.log");
  ASSERT_TRUE(InitLogging({.level = "info", .file = path}).ok());
  spdlog::info("before the move");
  spdlog::default_logger()->flush();
  std::filesystem::rename(path, path + ".old");  // what logrotate does
  spdlog::info("after the move, before the reopen");
  ASSERT_TRUE(ReopenLogs().ok());
  spdlog::info("after the reopen");
  spdlog::default_logger()->flush();
  std::vector<std::string> old_lines = Lines(path + ".old");
  std::vector<std::string> new_lines = Lines(path);
  ASSERT_EQ(old_lines.size(), 2u);
  EXPECT_NE(old_lines[1].find("after the move, before the reopen"), std::string::npos);
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_NE(new_lines[0].find("after the reopen"), std::string::npos);
}

TEST_F(LoggingTest, ReopenWithoutAFileDoesNothing) {
  ASSERT_TRUE(InitLogging({.level = "info"}).ok());
  EXPECT_TRUE(ReopenLogs().ok());
}

TEST(LogLimiterTest, AllowsOneLinePerIntervalAndCountsTheRest) {
  using std::chrono::milliseconds;
  LogLimiter limiter(milliseconds(1'000));
  const LogLimiter::TimePoint t0 = LogLimiter::TimePoint{} + std::chrono::hours(1);
  uint64_t left_out = 99;
  ASSERT_TRUE(limiter.Allow(t0, &left_out));
  EXPECT_EQ(left_out, 0u);
  EXPECT_FALSE(limiter.Allow(t0, &left_out));
  EXPECT_FALSE(limiter.Allow(t0 + milliseconds(999), &left_out));
  ASSERT_TRUE(limiter.Allow(t0 + milliseconds(1'000), &left_out));
  EXPECT_EQ(left_out, 2u);
  ASSERT_TRUE(limiter.Allow(t0 + milliseconds(5'000), &left_out));
  EXPECT_EQ(left_out, 0u);
}

}  // namespace
}  // namespace quire
