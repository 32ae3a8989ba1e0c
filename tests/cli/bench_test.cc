// quire-bench as an operator runs it: the binary against a real three-bookie cluster
// (test_cluster.h), each mode for a second or two with --json, its document checked; usage
// errors exit 2 and failures exit 1.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/test_cluster.h"
#include "util/subprocess.h"

namespace quire::client::testing {
namespace {

using nlohmann::json;
using quire::testing::Subprocess;

struct BenchRun {
  int exit_code = -1;  // -1: killed or did not exit
  std::string out;     // stdout
};

// Runs quire-bench with `args`, reading its stdout until it exits (bounded).
BenchRun RunBench(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {QUIRE_BENCH_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto p = Subprocess::Start(argv);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  if (!p.ok()) return {};
  BenchRun run;
  constexpr int kMaxLines = 100'000;
  for (int i = 0; i < kMaxLines; ++i) {
    std::optional<std::string> line = p->ReadLine(std::chrono::seconds(120));
    if (!line) {
      EXPECT_FALSE(p->timed_out()) << "quire-bench produced no output for 120 s";
      break;
    }
    run.out += *line + "\n";
  }
  int status = p->Wait(std::chrono::seconds(30));
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

// The JSON document of a run that must have succeeded.
json Document(const BenchRun& run) {
  EXPECT_EQ(run.exit_code, 0) << run.out;
  json doc = json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(doc.is_discarded()) << "not JSON:\n" << run.out;
  return doc;
}

void ExpectLatency(const json& l) {
  for (const char* key : {"count", "mean", "p50", "p95", "p99", "p999", "max"}) {
    EXPECT_TRUE(l.contains(key)) << key << " missing in " << l.dump();
  }
  EXPECT_GT(l.value("count", 0), 0) << l.dump();
  EXPECT_GT(l.value("p50", 0.0), 0.0) << l.dump();
  EXPECT_LE(l.value("p50", 0.0), l.value("p99", 0.0)) << l.dump();
  EXPECT_LE(l.value("p99", 0.0), l.value("max", 0.0)) << l.dump();
}

void ExpectHeader(const json& doc, const std::string& command) {
  EXPECT_EQ(doc.value("tool", ""), "quire-bench");
  EXPECT_EQ(doc.value("command", ""), command);
  EXPECT_TRUE(doc.contains("started_at"));
  EXPECT_GT(doc["machine"].value("cpus", 0), 0) << doc.dump();
  EXPECT_TRUE(doc.contains("parameters"));
  EXPECT_EQ(doc.value("ok", false), true);
  EXPECT_EQ(doc.value("interrupted", true), false);
}

class QuireBenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = TestCluster::Start({.bookies = 3});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
  }
  std::vector<std::string> Args(std::vector<std::string> args) {
    args.insert(args.end(), {"--metadata", cluster_->metadata_uri(), "--json"});
    return args;
  }

  std::unique_ptr<TestCluster> cluster_;
};

TEST_F(QuireBenchTest, WriteAtMaximumThroughputToTwoLedgers) {
  json doc = Document(
      RunBench(Args({"write", "-e", "3", "-w", "3", "-a", "2", "--ledgers", "2", "--size", "512",
                     "--outstanding", "100", "--duration", "1.5", "--warmup", "0.5"})));
  ExpectHeader(doc, "write");
  const json& p = doc["parameters"];
  EXPECT_EQ(p.value("mode", ""), "max-throughput");
  EXPECT_EQ(p.value("ledgers", 0), 2);
  EXPECT_EQ(p.value("ensemble", 0), 3);
  EXPECT_EQ(p.value("entry_size", 0), 512);
  EXPECT_EQ(p.value("metadata_uri", ""), cluster_->metadata_uri());
  const json& r = doc["results"];
  EXPECT_GT(r.value("adds", 0), 0) << r.dump();
  EXPECT_EQ(r.value("errors", -1), 0) << r.dump();
  EXPECT_GT(r.value("adds_per_s", 0.0), 0.0);
  EXPECT_GT(r.value("mb_per_s", 0.0), 0.0);
  EXPECT_TRUE(r["first_error"].is_null()) << r.dump();
  ExpectLatency(r["latency_us"]);
  ASSERT_EQ(r["ledgers"].size(), 2u);
  uint64_t per_ledger = 0;
  for (const json& l : r["ledgers"]) {
    EXPECT_TRUE(l.value("closed", false)) << l.dump();
    EXPECT_GT(l.value("adds", 0), 0) << l.dump();
    EXPECT_EQ(l.value("last_entry", -2) + 1, l.value("adds", 0)) << l.dump();
    per_ledger += l.value("adds", uint64_t{0});
  }
  EXPECT_EQ(per_ledger, r.value("adds_total", uint64_t{0}));
}

TEST_F(QuireBenchTest, WriteAtAFixedRateMeasuresFromTheSchedule) {
  json doc = Document(RunBench(Args({"write", "--rate", "500", "--size", "100", "--duration", "1",
                                     "--warmup", "0.5", "--report-interval", "0"})));
  ExpectHeader(doc, "write");
  EXPECT_EQ(doc["parameters"].value("mode", ""), "fixed-rate");
  EXPECT_EQ(doc["parameters"].value("rate", 0.0), 500.0);
  const json& r = doc["results"];
  EXPECT_EQ(r.value("latency_from", ""), "intended start");
  EXPECT_EQ(r.value("errors", -1), 0) << r.dump();
  // 500 adds/s for 1 s: the schedule holds 500 measured adds; each one either ran or is missed.
  EXPECT_EQ(r.value("adds", 0) + r.value("missed", 0), 500) << r.dump();
  EXPECT_GT(r.value("adds", 0), 0);
  EXPECT_TRUE(r.contains("late_starts"));
  ExpectLatency(r["latency_us"]);
}

TEST_F(QuireBenchTest, MetadataComesFromTheEnvironment) {
  ASSERT_EQ(setenv("QUIRE_METADATA_URI", cluster_->metadata_uri().c_str(), 1), 0);
  BenchRun run = RunBench({"write", "--duration", "0.5", "--warmup", "0", "--json"});
  unsetenv("QUIRE_METADATA_URI");
  json doc = Document(run);
  EXPECT_EQ(doc["parameters"].value("metadata_uri", ""), cluster_->metadata_uri());
  EXPECT_GT(doc["results"].value("adds", 0), 0);
}

TEST_F(QuireBenchTest, ReadCatchesUpOnALedgerItWrote) {
  json doc = Document(RunBench(
      Args({"read", "--entries", "5000", "--size", "256", "--batch", "50", "--concurrency", "2"})));
  ExpectHeader(doc, "read");
  EXPECT_EQ(doc["prepare"].value("adds", 0), 5000) << doc["prepare"].dump();
  const json& r = doc["results"];
  EXPECT_EQ(r.value("entries", 0), 5000) << r.dump();
  EXPECT_EQ(r.value("bytes", 0), 5000 * 256);
  EXPECT_EQ(r.value("errors", -1), 0) << r.dump();
  EXPECT_TRUE(r.value("verified", false));
  EXPECT_GT(r.value("entries_per_s", 0.0), 0.0);
  ExpectLatency(r["batch_latency_us"]);
  ExpectLatency(r["entry_latency_us"]);
  EXPECT_EQ(r["batch_latency_us"].value("count", 0), 100);

  // The same ledger again, by id, as an operator would after a write run.
  LedgerId id = r.value("ledger", LedgerId{-1});
  json again =
      Document(RunBench(Args({"read", "--ledger", std::to_string(id), "--batch", "1000"})));
  EXPECT_EQ(again["results"].value("entries", 0), 5000);
  EXPECT_TRUE(again["results"].value("verified", false));
  EXPECT_FALSE(again.contains("prepare"));
}

TEST_F(QuireBenchTest, TailFollowsTheWriterToTheEnd) {
  json doc = Document(RunBench(
      Args({"tail", "--rate", "1000", "--size", "64", "--duration", "1.5", "--warmup", "0.5"})));
  ExpectHeader(doc, "tail");
  const json& w = doc["results"]["write"];
  const json& t = doc["results"]["tail"];
  EXPECT_GT(w.value("adds", 0), 0) << w.dump();
  EXPECT_EQ(w.value("errors", -1), 0) << w.dump();
  EXPECT_EQ(t.value("errors", -1), 0) << t.dump();
  EXPECT_TRUE(t.value("reached_end", false)) << t.dump();
  EXPECT_EQ(t.value("entries_total", 0), w.value("adds_total", 0)) << doc.dump();
  EXPECT_GT(t.value("entries", 0), 0);
  EXPECT_GT(t.value("entries_per_s", 0.0), 0.0);
  ExpectLatency(t["e2e_latency_us"]);
}

TEST_F(QuireBenchTest, AFailedRunExitsOne) {
  // Four bookies per ledger on a three-bookie cluster: no ledger can be created.
  BenchRun run = RunBench(Args({"write", "-e", "4", "-w", "3", "--duration", "1"}));
  EXPECT_EQ(run.exit_code, 1) << run.out;
}

TEST(QuireBenchUsageTest, BadUsageExitsTwo) {
  EXPECT_EQ(RunBench({"write", "--no-such-flag"}).exit_code, 2);
  EXPECT_EQ(RunBench({}).exit_code, 2);
  EXPECT_EQ(RunBench({"write", "--size", "0"}).exit_code, 2);
  EXPECT_EQ(RunBench({"write", "-e", "3", "-w", "2", "-a", "3"}).exit_code, 2);
  EXPECT_EQ(RunBench({"tail", "--size", "8"}).exit_code, 2);
  EXPECT_EQ(RunBench({"read", "--digest", "md5"}).exit_code, 2);
  BenchRun help = RunBench({"write", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--outstanding"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--rate"), std::string::npos) << help.out;
}

}  // namespace
}  // namespace quire::client::testing
