// A real bookie's /metrics as Prometheus meets it: requests counted and timed by operation and
// status; disk, ledger and entry-log gauges; the exposition accepted by promtool.
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "bookie/bookie_test_fixture.h"
#include "bookie/protocol.h"
#include "util/prometheus.h"

namespace quire::bookie::testing {
namespace {

using quire::testing::FindPromtool;
using quire::testing::RunPromtool;
using quire::testing::SampleValue;

class MonitoringTest : public BookieTest {
 protected:
  std::string Scrape() {
    std::string body;
    auto status = HttpGet(bookie_->http_port(), "/metrics", &body);
    EXPECT_TRUE(status.ok() && *status == 200) << status.status().ToString();
    return body;
  }

  // Requests of several operations and outcomes, so that their labelled series exist.
  void SendTraffic() {
    RawClient c = Connect();
    ASSERT_EQ(Call(c, AddRequest(1, 7, 0, "key", "x")).status(), proto::OK);
    ASSERT_EQ(Call(c, AddRequest(2, 7, 1, "other key", "y")).status(), proto::UNAUTHORIZED);
    ASSERT_EQ(Call(c, ReadRequest(3, 7, 0)).status(), proto::OK);
    ASSERT_EQ(Call(c, ReadRequest(4, 7, 5)).status(), proto::NO_SUCH_ENTRY);
    // The LAC is -1 (entry 0 carries it): a poll for more gives up after its 1 ms.
    ASSERT_EQ(Call(c, LongPollRequest(5, 7, 0, 1)).status(), proto::TIMEOUT);
    proto::Request unknown;
    unknown.mutable_header()->set_operation(static_cast<proto::Operation>(99));
    unknown.mutable_header()->set_request_id(6);
    ASSERT_EQ(Call(c, unknown).status(), proto::BAD_REQUEST);
  }
};

TEST_F(MonitoringTest, RequestsAreCountedAndTimedByOperationAndStatus) {
  ASSERT_NO_FATAL_FAILURE(SendTraffic());
  std::string text = Scrape();
  auto requests = [&](const std::string& op, const std::string& status) {
    return SampleValue(text, "quire_bookie_requests_total{operation=\"" + op + "\",status=\"" +
                                 status + "\"}");
  };
  EXPECT_EQ(requests("add", "ok"), 1) << text;
  EXPECT_EQ(requests("add", "unauthorized"), 1) << text;
  EXPECT_EQ(requests("read", "ok"), 1) << text;
  EXPECT_EQ(requests("read", "no-such-entry"), 1) << text;
  EXPECT_EQ(requests("long-poll", "timeout"), 1) << text;
  EXPECT_EQ(requests("unknown", "bad-request"), 1) << text;
  // Every operation's ok series is there before its first request; other pairs only once seen.
  EXPECT_EQ(requests("write-lac", "ok"), 0) << text;
  EXPECT_EQ(requests("long-poll", "ok"), 0) << text;
  EXPECT_FALSE(requests("read", "timeout").has_value()) << text;
  EXPECT_FALSE(requests("unknown", "ok").has_value()) << text;
  // The latency histogram counts the same requests.
  EXPECT_EQ(SampleValue(text, "quire_bookie_request_latency_seconds_count{operation=\"add\","
                              "status=\"ok\"}"),
            1)
      << text;
  EXPECT_EQ(SampleValue(text, "quire_bookie_request_latency_seconds_bucket{operation=\"read\","
                              "status=\"no-such-entry\",le=\"+Inf\"}"),
            1)
      << text;
}

TEST_F(MonitoringTest, DiskLedgerAndEntryLogGaugesPerDirectory) {
  const std::string journal = dir_.Sub("bookie/journal"), ledgers = dir_.Sub("bookie/ledgers");
  RawClient c = Connect();
  for (int64_t ledger : {11, 12, 13}) {
    ASSERT_EQ(Call(c, AddRequest(1, ledger, 0, "key", "x")).status(), proto::OK);
  }
  c.Close();
  // A clean stop flushes the write cache: the ledgers are in the index after the restart.
  ASSERT_EQ(bookie_->Stop(), 0);
  ASSERT_TRUE(bookie_->Restart().ok());
  std::string text = Scrape();
  for (const auto& [kind, dir] : {std::pair{"journal", journal}, std::pair{"ledger", ledgers}}) {
    std::string labels = fmt::format("{{kind=\"{}\",directory=\"{}\"}}", kind, dir);
    std::optional<double> used = SampleValue(text, "quire_bookie_disk_used_bytes" + labels);
    std::optional<double> free = SampleValue(text, "quire_bookie_disk_free_bytes" + labels);
    ASSERT_TRUE(used && free) << labels << " missing from\n" << text;
    EXPECT_GT(*used, 0);
    EXPECT_GT(*free, 0);
  }
  std::string dir_label = fmt::format("{{directory=\"{}\"}}", ledgers);
  EXPECT_EQ(SampleValue(text, "quire_storage_ledgers" + dir_label), 3) << text;
  // The log the three entries were flushed to, and the one the restarted bookie writes to.
  EXPECT_EQ(SampleValue(text, "quire_storage_entry_logs" + dir_label), 2) << text;
  EXPECT_EQ(SampleValue(text, "quire_journal_queue{journal=\"0\"}"), 0) << text;
}

TEST_F(MonitoringTest, PromtoolAcceptsTheBookiesMetrics) {
  std::optional<std::string> promtool = FindPromtool();
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian: apt-get install prometheus)";
  ASSERT_NO_FATAL_FAILURE(SendTraffic());
  std::string path = dir_.Sub("metrics.txt");
  std::ofstream(path) << Scrape();
  auto run = RunPromtool(*promtool, {"check", "metrics"}, path);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->exit_code, 0) << run->output;
  EXPECT_EQ(run->output, "") << "promtool's lint findings";
}

}  // namespace
}  // namespace quire::bookie::testing
