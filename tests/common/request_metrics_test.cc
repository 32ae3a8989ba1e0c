#include "common/request_metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "util/prometheus.h"

namespace quire {
namespace {

using testing::SampleValue;

std::string Render(const RequestMetrics& m) {
  MetricsWriter w;
  m.Write(&w, "x_requests_total", "Requests.", "x_request_latency_seconds", "Latency.");
  return w.Text();
}

std::string Series(const std::string& name, const std::string& op, const std::string& status) {
  return name + "{operation=\"" + op + "\",status=\"" + status + "\"}";
}

TEST(RequestMetricsTest, CountsAndTimesByOperationAndStatus) {
  RequestMetrics m({"add", "read"});
  m.Record(0, StatusCode::kOk, 2'000'000);  // 2 ms
  m.Record(0, StatusCode::kOk, 3'000'000);
  m.Record(1, StatusCode::kNoSuchEntry, 1'000);
  std::string text = Render(m);
  EXPECT_EQ(SampleValue(text, Series("x_requests_total", "add", "ok")), 2) << text;
  EXPECT_EQ(SampleValue(text, Series("x_requests_total", "read", "no-such-entry")), 1) << text;
  EXPECT_EQ(SampleValue(text, Series("x_request_latency_seconds_count", "add", "ok")), 2) << text;
  EXPECT_DOUBLE_EQ(*SampleValue(text, Series("x_request_latency_seconds_sum", "add", "ok")), 0.005);
  EXPECT_EQ(SampleValue(text, "x_request_latency_seconds_bucket{operation=\"add\",status=\"ok\","
                              "le=\"0.001\"}"),
            0)
      << text;
  EXPECT_EQ(SampleValue(text, "x_request_latency_seconds_bucket{operation=\"add\",status=\"ok\","
                              "le=\"0.005\"}"),
            2)
      << text;
}

TEST(RequestMetricsTest, OkSeriesExistFromTheStartOthersOnceSeen) {
  RequestMetrics m({"add", "read"});
  std::string text = Render(m);
  EXPECT_EQ(SampleValue(text, Series("x_requests_total", "add", "ok")), 0) << text;
  EXPECT_EQ(SampleValue(text, Series("x_requests_total", "read", "ok")), 0) << text;
  EXPECT_EQ(SampleValue(text, Series("x_request_latency_seconds_count", "read", "ok")), 0) << text;
  EXPECT_FALSE(SampleValue(text, Series("x_requests_total", "read", "timeout"))) << text;
  EXPECT_FALSE(SampleValue(text, Series("x_requests_total", "unknown", "ok"))) << text;
}

TEST(RequestMetricsTest, AnOperationPastTheNamedOnesIsUnknown) {
  RequestMetrics m({"add"});
  m.Record(1, StatusCode::kBadRequest, 10);
  m.Record(1000, StatusCode::kBadRequest, 10);
  std::string text = Render(m);
  EXPECT_EQ(SampleValue(text, Series("x_requests_total", "unknown", "bad-request")), 2) << text;
}

// The first requests of a pair race to create its histogram: none of them may be lost.
TEST(RequestMetricsTest, ConcurrentFirstRecordsAreAllCounted) {
  RequestMetrics m({"add"});
  constexpr int kThreads = 8, kEach = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < kEach; ++i) m.Record(0, StatusCode::kTimeout, 1);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(SampleValue(Render(m), Series("x_requests_total", "add", "timeout")),
            kThreads * kEach);
}

}  // namespace
}  // namespace quire
