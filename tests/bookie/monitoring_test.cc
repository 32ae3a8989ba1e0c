// A real bookie's /metrics as Prometheus and Grafana meet it: requests counted and timed by
// operation and status; disk, ledger and entry-log gauges; the exposition accepted by promtool;
// and conf/monitoring's dashboard and alert rules, which must name only metrics a bookie exports.
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bookie/bookie_test_fixture.h"
#include "protocol/protocol.h"
#include "util/prometheus.h"

namespace quire::bookie::testing {
namespace {

using quire::testing::FindPromtool;
using quire::testing::RunPromtool;
using quire::testing::SampleNames;
using quire::testing::SampleValue;

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(QUIRE_SOURCE_DIR) + "/" + relative);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class MonitoringTest : public BookieTest {
 protected:
  // Autorecovery on, as by default in production: its metrics are part of what is checked.
  MonitoringTest() { settings_ = {"autoRecoveryDaemonEnabled = true"}; }

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

TEST_F(MonitoringTest, PromtoolAcceptsAndTestsTheAlertRules) {
  std::optional<std::string> promtool = FindPromtool();
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian: apt-get install prometheus)";
  const std::string dir = std::string(QUIRE_SOURCE_DIR) + "/conf/monitoring/";
  auto check = RunPromtool(*promtool, {"check", "rules", dir + "quire-alerts.yml"});
  ASSERT_TRUE(check.ok()) << check.status().ToString();
  EXPECT_EQ(check->exit_code, 0) << check->output;
  // When each rule fires and what it says (conf/monitoring/quire-alerts-test.yml).
  auto test = RunPromtool(*promtool, {"test", "rules", dir + "quire-alerts-test.yml"});
  ASSERT_TRUE(test.ok()) << test.status().ToString();
  EXPECT_EQ(test->exit_code, 0) << test->output;
}

// The metric names in a text: every identifier that starts with quire_.
std::set<std::string> QuireNames(const std::string& text) {
  auto is_name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  };
  std::set<std::string> names;
  for (size_t at = text.find("quire_"); at != std::string::npos; at = text.find("quire_", at)) {
    size_t end = at;
    while (end < text.size() && is_name_char(text[end])) ++end;
    if (at == 0 || !is_name_char(text[at - 1])) names.insert(text.substr(at, end - at));
    at = end;
  }
  return names;
}

// Every "expr" of the dashboard's panels (nested rows included).
void CollectExprs(const nlohmann::json& j, std::vector<std::string>* out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      if (key == "expr" && value.is_string()) out->push_back(value.get<std::string>());
      CollectExprs(value, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) CollectExprs(v, out);
  }
}

TEST_F(MonitoringTest, DashboardAndAlertRulesNameOnlyMetricsTheBookieExports) {
  ASSERT_NO_FATAL_FAILURE(SendTraffic());
  // A histogram's samples carry its _bucket, _sum and _count names: a query may use any of them.
  std::set<std::string> exported = SampleNames(Scrape());

  nlohmann::json dashboard = nlohmann::json::parse(
      ReadSource("conf/monitoring/quire-bookie.json"), nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(dashboard.is_object()) << "quire-bookie.json is not valid JSON";
  std::vector<std::string> exprs;
  CollectExprs(dashboard["panels"], &exprs);
  std::set<std::string> in_dashboard;
  for (const std::string& e : exprs) {
    std::set<std::string> names = QuireNames(e);
    in_dashboard.insert(names.begin(), names.end());
  }
  std::set<std::string> in_rules = QuireNames(ReadSource("conf/monitoring/quire-alerts.yml"));
  // Enough to show the parsing found the queries.
  EXPECT_GE(exprs.size(), 20u);
  EXPECT_GE(in_dashboard.size(), 15u);
  EXPECT_GE(in_rules.size(), 5u);
  for (const auto& [file, names] : {std::pair{"quire-bookie.json", &in_dashboard},
                                    std::pair{"quire-alerts.yml", &in_rules}}) {
    for (const std::string& name : *names) {
      EXPECT_TRUE(exported.count(name)) << file << " names " << name
                                        << ", which the bookie does not export";
    }
  }
}

}  // namespace
}  // namespace quire::bookie::testing
