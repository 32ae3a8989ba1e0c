// Quorum writes and reads against real bookies: every entry comes back byte-exact and lives on
// exactly the bookies of its write set.
#include <fstream>
#include <set>

#include "client/client_test_util.h"
#include "metadata/metadata_store.h"
#include "util/prometheus.h"

namespace quire::client::testing {
namespace {

struct Quorum {
  int e, qw, qa;
};

class WriteReadTest : public ClusterTest {
 protected:
  void WriteAndCheck(Quorum q, int64_t entries) {
    ASSERT_NO_FATAL_FAILURE(StartCluster(5));
    auto client = NewClient();
    ASSERT_NE(client, nullptr);
    auto writer = client->CreateLedger({.ensemble_size = q.e,
                                        .write_quorum_size = q.qw,
                                        .ack_quorum_size = q.qa,
                                        .password = "pw"});
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    LedgerId id = (*writer)->id();
    Completions done;
    for (EntryId e = 0; e < entries; ++e) (*writer)->AppendAsync(Payload(e), done.Callback());
    ASSERT_TRUE(done.WaitForEnded(entries));
    ASSERT_EQ(done.failed(), 0) << done.error().ToString();
    ASSERT_EQ(done.last(), entries - 1);
    ASSERT_TRUE((*writer)->Close().ok());

    auto reader = client->OpenLedger(id, "pw");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ASSERT_TRUE((*reader)->closed());
    ASSERT_EQ((*reader)->last_add_confirmed(), entries - 1);
    constexpr EntryId kChunk = 10'000;
    for (EntryId first = 0; first < entries; first += kChunk) {
      EntryId last = std::min(entries - 1, first + kChunk - 1);
      auto got = (*reader)->Read(first, last);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      ASSERT_EQ(got->size(), static_cast<size_t>(last - first + 1));
      for (const Entry& entry : *got) ASSERT_EQ(entry.payload, Payload(entry.id)) << entry.id;
    }

    // Placement: entry e is on exactly the bookies of its write set.
    LedgerMetadata md = (*reader)->metadata();
    ASSERT_EQ(md.ensembles.size(), 1u);
    for (const BookieId& b : cluster_->bookie_ids()) {
      auto held = ListEntriesOn(b, id);
      std::set<int64_t> on_bookie;
      if (held.ok()) on_bookie.insert(held->begin(), held->end());
      else ASSERT_TRUE(held.status().Is(StatusCode::kNoSuchLedger)) << held.status().ToString();
      int64_t expected = 0;
      for (EntryId e = 0; e < entries; ++e) {
        auto ws = md.WriteSet(e);
        bool in_write_set = std::find(ws.begin(), ws.end(), b) != ws.end();
        ASSERT_EQ(on_bookie.count(e) == 1, in_write_set) << "entry " << e << " bookie " << b;
        expected += in_write_set ? 1 : 0;
      }
      EXPECT_EQ(static_cast<int64_t>(on_bookie.size()), expected) << b;
    }
  }
};

constexpr int64_t kEntries = 100'000;

TEST_P(WriteReadTest, E1Qw1Qa1) { WriteAndCheck({1, 1, 1}, kEntries); }
TEST_P(WriteReadTest, E3Qw3Qa2) { WriteAndCheck({3, 3, 2}, kEntries); }
TEST_P(WriteReadTest, E3Qw2Qa2) { WriteAndCheck({3, 2, 2}, kEntries); }
TEST_P(WriteReadTest, E5Qw3Qa2) { WriteAndCheck({5, 3, 2}, kEntries); }

TEST_P(WriteReadTest, HmacDigestAndPasswords) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = client->CreateLedger(
      {.digest_type = DigestType::kHmacSha256, .password = "secret"});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  for (EntryId e = 0; e < 100; ++e) ASSERT_EQ(*(*writer)->Append(Payload(e)), e);
  // A reader of the open ledger learns the LAC from the bookies.
  auto tail = client->OpenLedger((*writer)->id(), "secret");
  ASSERT_TRUE(tail.ok());
  auto lac = (*tail)->ReadLac();
  ASSERT_TRUE(lac.ok()) << lac.status().ToString();
  EXPECT_GE(*lac, 90);  // entries carry the LAC of their predecessors
  EXPECT_LE(*lac, 99);
  ASSERT_TRUE((*writer)->Close().ok());

  auto wrong = client->OpenLedger((*writer)->id(), "guess");
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(wrong.status().Is(StatusCode::kUnauthorized)) << wrong.status().ToString();
  auto reader = client->OpenLedger((*writer)->id(), "secret");
  ASSERT_TRUE(reader.ok());
  auto got = (*reader)->Read(0, 99);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (const Entry& e : *got) EXPECT_EQ(e.payload, Payload(e.id));
  // Beyond the end is refused, not guessed.
  EXPECT_TRUE((*reader)->Read(0, 100).status().Is(StatusCode::kInvalidArgument));
  // Appends after close fail.
  EXPECT_TRUE((*writer)->Append("late").status().Is(StatusCode::kLedgerClosed));
}

// Operators' tools (decommission, check, autorecovery) need no password: the metadata keeps the
// ledger's keys. A record written before it kept them needs the password, and says so.
TEST_P(WriteReadTest, RepairUsesTheKeysTheMetadataKeepsAndOlderRecordsNeedThePassword) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(4));
  auto client = NewClient();
  auto writer = client->CreateLedger({.ensemble_size = 3,
                                      .write_quorum_size = 3,
                                      .ack_quorum_size = 2,
                                      .digest_type = DigestType::kHmacSha256,
                                      .password = "secret"});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  LedgerId id = (*writer)->id();
  for (EntryId e = 0; e < 50; ++e) ASSERT_EQ(*(*writer)->Append(Payload(e)), e);
  ASSERT_TRUE((*writer)->Close().ok());

  auto md = client->ReadLedgerMetadata(id);
  ASSERT_TRUE(md.ok());
  EXPECT_FALSE(md->master_key.empty());
  EXPECT_FALSE(md->digest_key.empty());
  auto repair = client->OpenLedgerForRepair(id);
  ASSERT_TRUE(repair.ok()) << repair.status().ToString();
  auto got = (*repair)->Read(0, 49);  // the HMAC of every entry checks with the kept key
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (const Entry& e : *got) EXPECT_EQ(e.payload, Payload(e.id));
  // Applications still need the password.
  EXPECT_TRUE(client->OpenLedger(id, "").status().Is(StatusCode::kUnauthorized));
  // A bookie's copies move without it; a wrong one given is still refused.
  const BookieId moved = md->ensembles[0].bookies[0];
  EXPECT_TRUE(client->ReplaceBookie(id, moved, "guess").status().Is(StatusCode::kUnauthorized));
  auto copied = client->ReplaceBookie(id, moved, "");
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(copied->entries, 50);

  // The same ledger as an older client wrote it: no keys.
  auto store = metadata::OpenMetadataStore(cluster_->metadata_uri(), {});
  ASSERT_TRUE(store.ok());
  auto stored = (*store)->ReadLedger(id);
  ASSERT_TRUE(stored.ok());
  LedgerMetadata old = stored->value;
  old.master_key.clear();
  old.digest_key.clear();
  ASSERT_TRUE((*store)->UpdateLedger(id, old, stored->version).ok());
  Status refused = client->OpenLedgerForRepair(id).status();
  EXPECT_TRUE(refused.Is(StatusCode::kUnauthorized)) << refused.ToString();
  EXPECT_NE(refused.message().find("give its password"), std::string::npos) << refused.ToString();
  const BookieId next = old.ensembles[0].bookies[1];
  EXPECT_TRUE(client->ReplaceBookie(id, next, "").status().Is(StatusCode::kUnauthorized));
  copied = client->ReplaceBookie(id, next, "secret");
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  auto reader = client->OpenLedger(id, "secret");
  ASSERT_TRUE(reader.ok());
  got = (*reader)->Read(0, 49);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (const Entry& e : *got) EXPECT_EQ(e.payload, Payload(e.id));
}

TEST_P(WriteReadTest, PlacementNeedsEnoughWritableBookies) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = client->CreateLedger({.ensemble_size = 4, .write_quorum_size = 3,
                                      .ack_quorum_size = 2});
  ASSERT_FALSE(writer.ok());
  EXPECT_TRUE(writer.status().Is(StatusCode::kUnavailable)) << writer.status().ToString();
  auto bad = client->CreateLedger({.ensemble_size = 2, .write_quorum_size = 3,
                                   .ack_quorum_size = 2});
  EXPECT_TRUE(bad.status().Is(StatusCode::kInvalidArgument)) << bad.status().ToString();
}

// Client::MetricsText(): every append and entry read counted by status and timed.
class ClientMetricsTest : public ClusterTest {
 protected:
  // Appends `entries`, closes, appends once more (refused: closed), reads them all back;
  // returns the client's metrics text.
  std::string Exercise(EntryId entries) {
    auto client = NewClient();
    auto writer = client->CreateLedger({.ensemble_size = 3, .write_quorum_size = 3,
                                        .ack_quorum_size = 2, .password = "pw"});
    EXPECT_TRUE(writer.ok()) << writer.status().ToString();
    if (!writer.ok()) return "";
    for (EntryId e = 0; e < entries; ++e) EXPECT_TRUE((*writer)->Append(Payload(e)).ok());
    EXPECT_TRUE((*writer)->Close().ok());
    EXPECT_TRUE((*writer)->Append("late").status().Is(StatusCode::kLedgerClosed));
    auto reader = client->OpenLedger((*writer)->id(), "pw");
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    if (!reader.ok()) return "";
    auto got = (*reader)->Read(0, entries - 1);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return client->MetricsText();
  }
};

TEST_P(ClientMetricsTest, AppendsAndReadsAreCountedByStatusAndTimed) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  std::string text = Exercise(100);
  auto operations = [&](const std::string& op, const std::string& status) {
    return quire::testing::SampleValue(
        text, "quire_client_operations_total{operation=\"" + op + "\",status=\"" + status +
                  "\"}");
  };
  EXPECT_EQ(operations("append", "ok"), 100) << text;
  EXPECT_EQ(operations("append", "ledger-closed"), 1) << text;
  EXPECT_EQ(operations("read", "ok"), 100) << text;
  EXPECT_EQ(quire::testing::SampleValue(
                text, "quire_client_operation_latency_seconds_count{operation=\"read\","
                      "status=\"ok\"}"),
            100)
      << text;
  EXPECT_EQ(quire::testing::SampleValue(text, "quire_client_ensemble_changes_total"), 0) << text;
  EXPECT_EQ(quire::testing::SampleValue(text, "quire_client_bad_copies_total"), 0) << text;
  EXPECT_TRUE(quire::testing::SampleValue(text, "quire_client_speculative_reads_total")) << text;
}

TEST_P(ClientMetricsTest, PromtoolAcceptsTheClientsMetrics) {
  std::optional<std::string> promtool = quire::testing::FindPromtool();
  if (!promtool) GTEST_SKIP() << "promtool is not installed (Debian: apt-get install prometheus)";
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  std::string path = cluster_->dir() + "/client-metrics.txt";
  std::ofstream(path) << Exercise(10);
  auto run = quire::testing::RunPromtool(*promtool, {"check", "metrics"}, path);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->exit_code, 0) << run->output;
  EXPECT_EQ(run->output, "") << "promtool's lint findings";
}

INSTANTIATE_TEST_SUITE_P(Metadata, ClientMetricsTest,
                         ::testing::Values(ClusterOptions::Metadata::kFile), MetadataName);

INSTANTIATE_TEST_SUITE_P(Metadata, WriteReadTest,
                         ::testing::Values(ClusterOptions::Metadata::kFile,
                                           ClusterOptions::Metadata::kZooKeeper),
                         MetadataName);

}  // namespace
}  // namespace quire::client::testing
