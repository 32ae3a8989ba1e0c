// The operator's side of autorecovery (docs/autorecovery.md): `quire autorecovery
// status|enable|disable`, `quire ledger list --under-replicated`, `quire bookie recover`, and a
// bookie's /api/v1/autorecovery/* endpoints, on real quire-bookie processes (autorecovery off in
// them, so that only the commands act).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include <nlohmann/json.hpp>

#include "bookie/raw_client.h"
#include "util/subprocess.h"
#include "cli/run_quire.h"
#include "client/client_test_util.h"
#include "metadata/metadata_store.h"

namespace quire::cli {
namespace {

using client::testing::Payload;
using quire::cli::testing::Outcome;
using json = nlohmann::json;

class AutoRecoveryCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = client::testing::TestCluster::Start({.bookies = 4});
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
    auto store = metadata::OpenMetadataStore(cluster_->metadata_uri(), {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    auto c = Client::Open(client::testing::TestClientOptions(cluster_->metadata_uri()));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }

  Outcome Quire(const std::vector<std::string>& args) {
    return quire::cli::testing::RunQuire(cluster_->metadata_uri(), args);
  }

  json StatusJson() {
    Outcome o = Quire({"--json", "autorecovery", "status"});
    EXPECT_EQ(o.exit_code(), 0) << o.text();
    return json::parse(o.text());
  }

  std::unique_ptr<client::testing::TestCluster> cluster_;
  std::unique_ptr<metadata::MetadataStore> store_;
  std::unique_ptr<Client> client_;
};

TEST_F(AutoRecoveryCliTest, StatusAndTheClusterWideSwitch) {
  json s = StatusJson();
  EXPECT_EQ(s["enabled"], true);
  EXPECT_TRUE(s["auditor"].is_null()) << "no autorecovery process runs in this cluster";
  EXPECT_EQ(s["underReplicatedLedgers"], 0);
  ASSERT_EQ(Quire({"autorecovery", "disable"}).exit_code(), 0);
  EXPECT_EQ(StatusJson()["enabled"], false);
  EXPECT_FALSE(store_->ReadAutoRecovery()->value.enabled);
  Outcome text = Quire({"autorecovery", "status"});
  EXPECT_NE(text.text().find("DISABLED"), std::string::npos) << text.text();
  ASSERT_EQ(Quire({"autorecovery", "enable"}).exit_code(), 0);
  EXPECT_EQ(StatusJson()["enabled"], true);

  // The same through a bookie's admin HTTP (BookKeeper's body).
  const uint16_t port = cluster_->bookie(0).http_port();
  std::string body;
  auto put = bookie::testing::HttpCall(port, "PUT", "/api/v1/autorecovery/status",
                                       R"({"enabled": false})", &body);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(*put, 200) << body;
  EXPECT_EQ(json::parse(body)["enabled"], false);
  auto get = bookie::testing::HttpGet(port, "/api/v1/autorecovery/status", &body);
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(json::parse(body)["enabled"], false);
  auto bad = bookie::testing::HttpCall(port, "PUT", "/api/v1/autorecovery/status",
                                       R"({"enabled": "maybe"})", &body);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(*bad, 400) << body;
  get = bookie::testing::HttpGet(port, "/api/v1/autorecovery/who_is_auditor", &body);
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(json::parse(body), json({{"auditor", nullptr}}));
}

TEST_F(AutoRecoveryCliTest, UnderReplicatedLedgersAreListed) {
  EXPECT_TRUE(Quire({"ledger", "list", "--under-replicated"}).lines.empty());
  ASSERT_TRUE(store_->MarkUnderReplicated(42, "10.0.0.9:3181").ok());
  ASSERT_TRUE(store_->MarkUnderReplicated(42, "10.0.0.8:3181").ok());
  ASSERT_TRUE(store_->MarkUnderReplicated(7, "10.0.0.9:3181").ok());
  Outcome text = Quire({"ledger", "list", "--under-replicated"});
  ASSERT_EQ(text.exit_code(), 0) << text.text();
  ASSERT_EQ(text.lines.size(), 2u) << text.text();
  EXPECT_EQ(text.lines[0].rfind("7 lost 10.0.0.9:3181 since ", 0), 0u) << text.lines[0];
  EXPECT_EQ(text.lines[1].rfind("42 lost 10.0.0.8:3181,10.0.0.9:3181 since ", 0), 0u)
      << text.lines[1];
  Outcome js = Quire({"--json", "ledger", "list", "--under-replicated"});
  json j = json::parse(js.text());
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["ledger_id"], 42);
  EXPECT_EQ(j[1]["lost_bookies"], json({"10.0.0.8:3181", "10.0.0.9:3181"}));
  EXPECT_EQ(StatusJson()["underReplicatedLedgers"], 2);
  std::string body;
  auto get = bookie::testing::HttpGet(cluster_->bookie(0).http_port(),
                                      "/api/v1/autorecovery/list_under_replicated_ledger", &body);
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(json::parse(body), json({{"7", {"10.0.0.9:3181"}},
                                     {"42", {"10.0.0.8:3181", "10.0.0.9:3181"}}}));
}

TEST_F(AutoRecoveryCliTest, BookieRecoverMovesEveryLedgerOffADeadBookie) {
  auto on = [&](std::vector<int> idx) {
    std::vector<BookieId> b;
    for (int i : idx) b.push_back(cluster_->bookie_id(i));
    return b;
  };
  CreateLedgerOptions o{.ensemble_size = 3, .write_quorum_size = 3, .ack_quorum_size = 2,
                        .password = "pw"};
  o.bookies = on({0, 1, 2});
  auto closed = client_->CreateLedger(o);
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  for (EntryId e = 0; e < 30; ++e) ASSERT_TRUE((*closed)->Append(Payload(e)).ok());
  ASSERT_TRUE((*closed)->Close().ok());
  o.bookies = on({0, 2, 3});
  auto open = client_->CreateLedger(o);  // left open, its writer idle
  ASSERT_TRUE(open.ok());
  for (EntryId e = 0; e < 10; ++e) ASSERT_TRUE((*open)->Append(Payload(e)).ok());
  const BookieId dead = cluster_->bookie_id(0);
  cluster_->Kill(0);

  Outcome r = Quire({"--json", "bookie", "recover", dead});
  ASSERT_EQ(r.exit_code(), 0) << r.text();
  json j = json::parse(r.text());
  EXPECT_EQ(j["ledgers"], 2);
  EXPECT_EQ(j["entries"], 40);
  for (const auto& [id, n] : {std::pair{(*closed)->id(), 30}, std::pair{(*open)->id(), 10}}) {
    auto md = client_->ReadLedgerMetadata(id);
    ASSERT_TRUE(md.ok());
    EXPECT_TRUE(md->closed()) << "ledger " << id;
    EXPECT_FALSE(md->UsesBookie(dead)) << "ledger " << id;
    auto reader = client_->OpenLedger(id, "pw");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    auto problems = (*reader)->CheckReplicas(0, n - 1);
    ASSERT_TRUE(problems.ok());
    EXPECT_TRUE(problems->empty()) << "ledger " << id << ": " << problems->size() << " bad copies";
    auto got = (*reader)->Read(0, n - 1);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (EntryId e = 0; e < n; ++e) EXPECT_EQ((*got)[static_cast<size_t>(e)].payload, Payload(e));
  }
  EXPECT_FALSE((*open)->Append("late").ok()) << "the recovered ledger's writer was fenced";
  // Nothing left to move: a second run copies nothing.
  Outcome again = Quire({"--json", "bookie", "recover", dead});
  ASSERT_EQ(again.exit_code(), 0) << again.text();
  EXPECT_EQ(json::parse(again.text())["ledgers"], 0);
}

TEST_F(AutoRecoveryCliTest, RunIsAnAuditorCandidateUntilSigterm) {
  auto p = quire::testing::Subprocess::Start(
      {QUIRE_CLI_BINARY, "--metadata", cluster_->metadata_uri(), "autorecovery", "run", "--set",
       "autoRecoveryPollIntervalMs=50"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto line = p->ReadLine(std::chrono::seconds(60));
  ASSERT_TRUE(line.has_value());
  EXPECT_NE(line->find("autorecovery running as \"autorecovery "), std::string::npos) << *line;
  // The only candidate: it becomes the auditor and says so in the record.
  std::string auditor;
  for (int i = 0; i < 600 && auditor.empty(); ++i) {  // bounded poll of the metadata
    auto owner = store_->LockOwner("auditor");
    if (owner.ok() && owner->has_value()) auditor = **owner;
    if (auditor.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(auditor.rfind("autorecovery ", 0), 0u) << auditor;
  EXPECT_EQ(StatusJson()["auditor"], auditor);
  int status = p->Kill(SIGTERM);  // waits for the exit
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  // Its lock went with it.
  EXPECT_FALSE(store_->LockOwner("auditor")->has_value());
}

}  // namespace
}  // namespace quire::cli
