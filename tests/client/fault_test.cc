// The client under failures, against real bookie processes: bookies killed mid-write (ensemble
// changes), the fencing race between a writer and a recovering process, recovery with bookies
// down or entries on too few of them, a bookie that missed the fence, busy bookies (writer,
// recovery, re-replication), tailing, a corrupt replica.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "bookie.pb.h"
#include "bookie/raw_client.h"
#include "client/client_context.h"
#include "client/client_test_util.h"
#include "client/digest.h"
#include "client/recovery.h"
#include "metadata/metadata_store.h"
#include "util/prometheus.h"
#include "util/subprocess.h"

namespace quire::client::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class FaultTest : public ClusterTest {
 protected:
  // Reads entries 0..last with a fresh client and checks them against Payload(id, max_extra).
  void ExpectEntries(LedgerId id, EntryId last, const std::string& password = "pw",
                     int max_extra = 200) {
    auto client = NewClient();
    auto reader = client->OpenLedger(id, password);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ASSERT_TRUE((*reader)->closed());
    ASSERT_EQ((*reader)->last_add_confirmed(), last);
    if (last < 0) return;
    auto got = (*reader)->Read(0, last);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (const Entry& e : *got) ASSERT_EQ(e.payload, Payload(e.id, max_extra)) << e.id;
  }

  // How many adds bookie `i` found its write cache full for (its /metrics): with
  // writeCacheMaxWaitMs = 0, each was answered TOO_MANY_REQUESTS.
  double WriteCacheWaits(int i) {
    std::string body;
    auto code = bookie::testing::HttpGet(cluster_->bookie(i).http_port(), "/metrics", &body);
    EXPECT_TRUE(code.ok() && *code == 200) << code.status().ToString();
    const std::string name = "quire_storage_write_cache_waits_total ";
    size_t at = body.find("\n" + name);
    EXPECT_NE(at, std::string::npos) << body;
    if (at == std::string::npos) return 0;
    return std::stod(body.substr(at + 1 + name.size()));
  }

  // A sample of the client's metrics (Client::MetricsText), or -1 if it has none of that name.
  // Recovery ends a ledger at an entry Qw - Qa + 1 bookies lack after waiting a speculative
  // timeout for the others; an entry on fewer than Qa bookies (never acknowledged) is kept only
  // if its copy comes in that time. A minute covers any bookie that answers at all (the read
  // timeout is 3 s): recovery then keeps every copy there is, whatever the machine's load.
  ClientOptions WaitingForEveryCopy() {
    ClientOptions options = TestClientOptions(cluster_->metadata_uri());
    options.speculative_read_timeout = std::chrono::minutes(1);
    return options;
  }

  static double ClientMetric(const Client& client, const std::string& series) {
    return quire::testing::SampleValue(client.MetricsText(), series).value_or(-1);
  }

  // The ledgers of these tests: E3/Qw3/Qa2, password "pw".
  static Result<std::unique_ptr<WriteHandle>> CreateLedger332(Client& client) {
    return client.CreateLedger({.ensemble_size = 3, .write_quorum_size = 3, .ack_quorum_size = 2,
                                .password = "pw"});
  }
};

TEST_P(FaultTest, BookieKilledMidWriteIsReplacedBySpare) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(4));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  std::vector<BookieId> first = (*writer)->metadata().ensembles[0].bookies;
  int victim = cluster_->IndexOf(first[1]);
  Completions done;
  constexpr EntryId kEntries = 3'000;
  for (EntryId e = 0; e < 1'000; ++e) (*writer)->AppendAsync(Payload(e), done.Callback());
  ASSERT_TRUE(done.WaitForAcked(500));
  cluster_->Kill(victim);
  for (EntryId e = 1'000; e < kEntries; ++e) (*writer)->AppendAsync(Payload(e), done.Callback());
  ASSERT_TRUE(done.WaitForEnded(kEntries));
  ASSERT_EQ(done.failed(), 0) << done.error().ToString();
  LedgerMetadata md = (*writer)->metadata();
  ASSERT_EQ(md.ensembles.size(), 2u) << md.Summary();
  const Ensemble& now = md.ensembles[1];
  EXPECT_EQ(std::count(now.bookies.begin(), now.bookies.end(), first[1]), 0);
  EXPECT_EQ(now.bookies[0], first[0]);
  EXPECT_EQ(now.bookies[2], first[2]);
  EXPECT_EQ(ClientMetric(*client, "quire_client_ensemble_changes_total"), 1);
  ASSERT_TRUE((*writer)->Close().ok());
  // The metadata store agrees, and every entry reads back.
  auto stored = client->ReadLedgerMetadata((*writer)->id());
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->ensembles, md.ensembles);
  ExpectEntries((*writer)->id(), kEntries - 1);
  // Entries from the change on are on the replacement.
  auto on_spare = ListEntriesOn(now.bookies[1], (*writer)->id());
  ASSERT_TRUE(on_spare.ok()) << on_spare.status().ToString();
  EXPECT_EQ(static_cast<EntryId>(on_spare->size()), kEntries - now.first_entry_id);
}

// A bookie whose write cache stays full answers TOO_MANY_REQUESTS: back-pressure from a live
// bookie. The writer sends the add again after a pause instead of replacing the bookie, so with
// no spare and Qa = Qw = E every entry still succeeds and the ensemble never changes.
TEST_P(FaultTest, BusyBookiesSlowTheWriterDownWithoutAnEnsembleChange) {
  // The bookies' flushes stall until a write cache is full (a test fault; without it, a fast
  // machine flushed 1 MiB halves quicker than the adds filled them and nothing pushed back).
  bool stalled = false;
  ASSERT_NO_FATAL_FAILURE(stalled = StartClusterWithFault(
      "QUIRE_TEST_FAULT_STALL_FLUSH", 3, {"writeCacheMaxSizeMB = 2", "writeCacheMaxWaitMs = 0"}));
  ClientOptions options = TestClientOptions(cluster_->metadata_uri());
  options.max_outstanding_adds = 400;
  // The library's default pauses (6.3 s in all before a busy bookie counts as failed), not the
  // tests' short ones (0.3 s): a bookie under ASan on a loaded machine can take longer than that
  // to flush, and this test is about back-pressure, not about giving up.
  options.reconnect_backoff_min = ClientOptions{}.reconnect_backoff_min;
  options.reconnect_backoff_max = ClientOptions{}.reconnect_backoff_max;
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  auto writer = client->CreateLedger(
      {.ensemble_size = 3, .write_quorum_size = 3, .ack_quorum_size = 3, .password = "pw"});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  // ~20 KiB entries, 400 in flight: far more than the 1 MiB half of each bookie's write cache.
  constexpr int kMaxExtra = 40'000;
  constexpr EntryId kEntries = 2'000;
  Completions done;
  for (EntryId e = 0; e < kEntries; ++e) {
    (*writer)->AppendAsync(Payload(e, kMaxExtra), done.Callback());
  }
  ASSERT_TRUE(done.WaitForEnded(kEntries));
  ASSERT_EQ(done.failed(), 0) << done.error().ToString();
  EXPECT_EQ((*writer)->metadata().ensembles.size(), 1u) << (*writer)->metadata().Summary();
  ASSERT_TRUE((*writer)->Close().ok());
  ExpectEntries((*writer)->id(), kEntries - 1, "pw", kMaxExtra);

  // The bookies did push back: adds found their write cache full (and, with no wait allowed,
  // were answered TOO_MANY_REQUESTS).
  double waits = 0;
  for (int i = 0; i < 3; ++i) waits += WriteCacheWaits(i);
  if (stalled) {
    EXPECT_GT(waits, 0) << "no bookie was ever busy: the test did not test back-pressure";
  }
}

TEST_P(FaultTest, TwoBookiesKilledAtOnceAreBothReplaced) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(5));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  std::vector<BookieId> first = (*writer)->metadata().ensembles[0].bookies;
  Completions done;
  for (EntryId e = 0; e < 500; ++e) (*writer)->AppendAsync(Payload(e), done.Callback());
  ASSERT_TRUE(done.WaitForAcked(500));
  cluster_->Kill(cluster_->IndexOf(first[0]));
  cluster_->Kill(cluster_->IndexOf(first[2]));
  for (EntryId e = 500; e < 1'500; ++e) (*writer)->AppendAsync(Payload(e), done.Callback());
  ASSERT_TRUE(done.WaitForEnded(1'500));
  ASSERT_EQ(done.failed(), 0) << done.error().ToString();
  LedgerMetadata md = (*writer)->metadata();
  for (const BookieId& b : md.LastEnsemble().bookies) {
    EXPECT_NE(b, first[0]);
    EXPECT_NE(b, first[2]);
  }
  ASSERT_TRUE((*writer)->Close().ok());
  ExpectEntries((*writer)->id(), 1'499);
}

// A failure during a change: two of the three spares are dead but still registered (their
// sessions have not expired), so the change may well pick a dead one and must change again.
TEST_P(FaultTest, ReplacementThatFailsTooIsReplacedAgain) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(6));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  std::vector<BookieId> first = (*writer)->metadata().ensembles[0].bookies;
  std::vector<int> spares;
  for (int i = 0; i < cluster_->size(); ++i) {
    if (std::find(first.begin(), first.end(), cluster_->bookie_id(i)) == first.end()) {
      spares.push_back(i);
    }
  }
  ASSERT_EQ(spares.size(), 3u);
  Completions done;
  for (EntryId e = 0; e < 300; ++e) (*writer)->AppendAsync(Payload(e), done.Callback());
  ASSERT_TRUE(done.WaitForAcked(300));
  cluster_->Kill(spares[0]);
  cluster_->Kill(spares[1]);
  cluster_->Kill(cluster_->IndexOf(first[0]));
  for (EntryId e = 300; e < 1'300; ++e) (*writer)->AppendAsync(Payload(e), done.Callback());
  ASSERT_TRUE(done.WaitForEnded(1'300));
  ASSERT_EQ(done.failed(), 0) << done.error().ToString();
  ASSERT_TRUE((*writer)->Close().ok());
  // Position 0 went to a spare (a dead one only if the writer never had to learn it was dead:
  // entries complete on Qa = 2 of the write set), never back to the killed bookie.
  LedgerMetadata md = (*writer)->metadata();
  ASSERT_GE(md.ensembles.size(), 2u);
  int replacement = cluster_->IndexOf(md.LastEnsemble().bookies[0]);
  EXPECT_TRUE(std::count(spares.begin(), spares.end(), replacement) == 1) << md.Summary();
  for (const Ensemble& e : md.ensembles) {
    if (e.first_entry_id > 0) {
      EXPECT_NE(e.bookies[0], first[0]) << md.Summary();
    }
  }
  ExpectEntries((*writer)->id(), 1'299);
}

TEST_P(FaultTest, WithoutSpareWriterFailsOnceAWriteSetIsBelowQa) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  std::vector<BookieId> ensemble = (*writer)->metadata().ensembles[0].bookies;
  for (EntryId e = 0; e < 100; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  // One down: every write set still has Qa = 2 live bookies; the writer carries on.
  cluster_->Kill(cluster_->IndexOf(ensemble[0]));
  for (EntryId e = 100; e < 200; ++e) {
    auto r = (*writer)->Append(Payload(e));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // Two down: no write set can reach Qa.
  cluster_->Kill(cluster_->IndexOf(ensemble[1]));
  auto r = (*writer)->Append(Payload(200));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().Is(StatusCode::kUnavailable)) << r.status().ToString();
  EXPECT_NE(r.status().message().find("not enough bookies"), std::string::npos)
      << r.status().ToString();
  EXPECT_TRUE((*writer)->Append("later").status().Is(StatusCode::kUnavailable));
  // Nothing acknowledged is lost: with the bookies back, recovery closes at entry 199.
  ASSERT_TRUE(cluster_->Restart(cluster_->IndexOf(ensemble[0])).ok());
  ASSERT_TRUE(cluster_->Restart(cluster_->IndexOf(ensemble[1])).ok());
  auto recovered = NewClient()->RecoverLedger((*writer)->id(), "pw");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_GE((*recovered)->last_add_confirmed(), 199);
  ExpectEntries((*writer)->id(), (*recovered)->last_add_confirmed());
}

// Writer A appends as fast as it can; process B recovers the ledger at a random moment. A's
// appends then fail as fenced, the closed ledger holds every entry A saw acknowledged, and three
// independent readers read the same entries.
TEST_P(FaultTest, FencingRaceExactlyOneWriterWins) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  std::mt19937 rng(std::random_device{}());
  constexpr int kRounds = 50;
  // Bounds each round; B normally fences A long before (A writes while B's process starts).
  constexpr EntryId kMaxEntries = 5'000;
  auto client_a = NewClient();
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto writer = CreateLedger332(*client_a);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    LedgerId id = (*writer)->id();
    Completions done;
    std::atomic<bool> stop{false};
    std::atomic<EntryId> sent{0};
    std::thread appender([&] {
      for (EntryId e = 0; e < kMaxEntries && !stop; ++e) {
        (*writer)->AppendAsync(Payload(e), done.Callback());
        sent = e + 1;
        if (done.failed() > 0) break;
      }
    });
    // B starts after a random number of acknowledged entries (0..300), not after a sleep.
    int64_t wait_for = std::uniform_int_distribution<int64_t>(0, 300)(rng);
    ASSERT_TRUE(done.WaitForAcked(wait_for));
    auto b = quire::testing::Subprocess::Start(
        {CLIENT_RECOVER_TOOL, cluster_->metadata_uri(), std::to_string(id), "pw"});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    auto line = b->ReadLine(milliseconds(60'000));
    ASSERT_TRUE(line.has_value()) << "recovery process gave no answer";
    EXPECT_EQ(b->Wait(milliseconds(10'000)), 0);
    EntryId recovered_last = std::stoll(*line);
    // A's appends end with kFenced (the appender stops at the first failure).
    stop = true;
    appender.join();
    // Every append sent has ended, and A never saw one acknowledged beyond the recovered end.
    ASSERT_TRUE(done.WaitForEnded(sent.load()));
    if (sent.load() < kMaxEntries) {
      EXPECT_GT(done.failed(), 0) << "the writer was never told it was fenced";
      EXPECT_TRUE(done.error().Is(StatusCode::kFenced)) << done.error().ToString();
    }
    EXPECT_LE(done.last(), recovered_last);
    EXPECT_TRUE((*writer)->Append("after").status().Is(StatusCode::kFenced));
    // Close succeeds only if the recovery closed the ledger at A's LAC (docs/semantics.md,
    // writing step 6).
    Status closed = (*writer)->Close();
    if (recovered_last == (*writer)->last_add_confirmed()) {
      EXPECT_TRUE(closed.ok()) << closed.ToString();
    } else {
      EXPECT_TRUE(closed.Is(StatusCode::kFenced)) << closed.ToString();
    }
    // Three independent readers see the same closed ledger, holding everything A saw acked.
    std::vector<std::vector<Entry>> seen;
    for (int r = 0; r < 3; ++r) {
      auto client = NewClient();
      auto reader = client->OpenLedger(id, "pw");
      ASSERT_TRUE(reader.ok()) << reader.status().ToString();
      ASSERT_TRUE((*reader)->closed());
      ASSERT_EQ((*reader)->last_add_confirmed(), recovered_last);
      if (recovered_last < 0) {
        seen.emplace_back();
        continue;
      }
      auto got = (*reader)->Read(0, recovered_last);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      for (const Entry& e : *got) ASSERT_EQ(e.payload, Payload(e.id));
      seen.push_back(std::move(*got));
    }
    for (int r = 1; r < 3; ++r) {
      ASSERT_EQ(seen[r].size(), seen[0].size());
      for (size_t i = 0; i < seen[r].size(); ++i) ASSERT_EQ(seen[r][i].payload, seen[0][i].payload);
    }
    EXPECT_GE(static_cast<EntryId>(seen[0].size()) - 1, done.last());
  }
}

// Bookie C is down while the ledger is fenced (fencing completes with A and B), and comes back
// before the recovery reads. The reads carry the fence: afterwards C refuses the old writer.
TEST_P(FaultTest, RecoveryReadsFenceABookieThatMissedTheFence) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  LedgerId id = (*writer)->id();
  std::vector<BookieId> ensemble = (*writer)->metadata().ensembles[0].bookies;
  for (EntryId e = 0; e < 50; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  int c = cluster_->IndexOf(ensemble[2]);
  cluster_->Kill(c);
  // Acknowledged by A and B only.
  for (EntryId e = 50; e < 60; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());

  auto store = metadata::OpenMetadataStore(cluster_->metadata_uri(), {});
  ASSERT_TRUE(store.ok());
  ClientContext ctx(TestClientOptions(cluster_->metadata_uri()), std::move(*store));
  RecoveryHooks hooks;
  hooks.after_fencing = [&] { ASSERT_TRUE(cluster_->Restart(c).ok()); };
  auto md = RecoverLedger(ctx, id, "pw", hooks);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->value.last_entry_id, 59);
  // C was fenced by the recovery reads: an add by the old writer is refused.
  auto raw = bookie::testing::RawClient::Connect("127.0.0.1", cluster_->bookie(c).port());
  ASSERT_TRUE(raw.ok());
  Digest digest(DigestType::kCrc32c, "pw");
  proto::Request add;
  add.mutable_header()->set_operation(proto::ADD_ENTRY);
  add.mutable_header()->set_request_id(1);
  add.mutable_add()->set_ledger_id(id);
  add.mutable_add()->set_entry_id(60);
  add.mutable_add()->set_master_key(MasterKey("pw"));
  add.mutable_add()->set_body(digest.EncodeEntry(id, 60, 59, 0, "late"));
  ASSERT_TRUE(raw->Send(add).ok());
  auto resp = raw->Receive();
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->status(), proto::FENCED) << resp->message();
  // The recovered tail is on C too now.
  auto on_c = ListEntriesOn(ensemble[2], id);
  ASSERT_TRUE(on_c.ok());
  EXPECT_EQ(on_c->back(), 59);
  ExpectEntries(id, 59);
}

TEST_P(FaultTest, RecoveryWithOneBookieDown) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  for (EntryId e = 0; e < 200; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  cluster_->Kill(cluster_->IndexOf((*writer)->metadata().ensembles[0].bookies[1]));
  auto recovered = NewClient()->RecoverLedger((*writer)->id(), "pw");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ((*recovered)->last_add_confirmed(), 199);
  EXPECT_TRUE((*writer)->Append("x").status().Is(StatusCode::kFenced));
  ExpectEntries((*writer)->id(), 199);
}

// The writer died after sending its last entries to one bookie only: recovery finds them there
// and re-replicates them, so every reader sees them.
TEST_P(FaultTest, RecoveryKeepsEntriesFoundOnFewerThanQaBookies) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  LedgerId id = (*writer)->id();
  std::vector<BookieId> ensemble = (*writer)->metadata().ensembles[0].bookies;
  uint64_t length = 0;
  for (EntryId e = 0; e < 20; ++e) {
    ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
    length += Payload(e).size();
  }
  writer->reset();  // the writer "crashes"
  // Entries 20 and 21 reach bookie 0 only.
  auto raw = bookie::testing::RawClient::Connect("127.0.0.1",
                                                 cluster_->bookie(cluster_->IndexOf(ensemble[0])).port());
  ASSERT_TRUE(raw.ok());
  Digest digest(DigestType::kCrc32c, "pw");
  for (EntryId e = 20; e < 22; ++e) {
    length += Payload(e).size();
    proto::Request add;
    add.mutable_header()->set_operation(proto::ADD_ENTRY);
    add.mutable_header()->set_request_id(static_cast<uint64_t>(e));
    add.mutable_add()->set_ledger_id(id);
    add.mutable_add()->set_entry_id(e);
    add.mutable_add()->set_master_key(MasterKey("pw"));
    add.mutable_add()->set_body(digest.EncodeEntry(id, e, 18, length, Payload(e)));
    ASSERT_TRUE(raw->Send(add).ok());
    auto resp = raw->Receive();
    ASSERT_TRUE(resp.ok());
    ASSERT_EQ(resp->status(), proto::OK);
  }
  auto recovered = NewClient(WaitingForEveryCopy())->RecoverLedger(id, "pw");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ((*recovered)->last_add_confirmed(), 21);
  EXPECT_EQ((*recovered)->metadata().length, length);
  for (const BookieId& b : ensemble) {
    auto held = ListEntriesOn(b, id);
    ASSERT_TRUE(held.ok());
    EXPECT_EQ(held->size(), 22u) << b;
  }
  ExpectEntries(id, 21);
}

// Recovery re-writes what it found 64 entries at a time to every bookie of their write sets; a
// bookie whose write cache is full answers TOO_MANY_REQUESTS, which is back-pressure, not a
// failure: recovery sends those adds again after a pause and completes.
TEST_P(FaultTest, RecoveryRewritesThroughBusyBookies) {
  // The bookies' flushes stall until a write cache is full (a test fault; without it, a fast
  // machine flushed 1 MiB halves quicker than the adds filled them and nothing pushed back).
  bool stalled = false;
  ASSERT_NO_FATAL_FAILURE(stalled = StartClusterWithFault(
      "QUIRE_TEST_FAULT_STALL_FLUSH", 3, {"writeCacheMaxSizeMB = 2", "writeCacheMaxWaitMs = 0"}));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  LedgerId id = (*writer)->id();
  std::vector<BookieId> ensemble = (*writer)->metadata().ensembles[0].bookies;
  writer->reset();  // the writer "crashes" before anything reached the other two bookies
  // ~50 KiB entries on bookie 0 only, none confirmed: recovery re-writes all of them, 64 at a
  // time (~3 MiB per bookie per window against a 2 MiB write cache).
  constexpr int kMaxExtra = 100'000;
  constexpr EntryId kEntries = 320;
  int seeder = cluster_->IndexOf(ensemble[0]);
  auto raw = bookie::testing::RawClient::Connect("127.0.0.1", cluster_->bookie(seeder).port());
  ASSERT_TRUE(raw.ok());
  Digest digest(DigestType::kCrc32c, "pw");
  uint64_t length = 0;
  uint64_t request_id = 0;
  for (EntryId e = 0; e < kEntries; ++e) {
    length += Payload(e, kMaxExtra).size();
    proto::Request add;
    add.mutable_header()->set_operation(proto::ADD_ENTRY);
    add.mutable_add()->set_ledger_id(id);
    add.mutable_add()->set_entry_id(e);
    add.mutable_add()->set_master_key(MasterKey("pw"));
    add.mutable_add()->set_body(digest.EncodeEntry(id, e, -1, length, Payload(e, kMaxExtra)));
    // Bookie 0's own write cache may push back too: send again until it takes the entry.
    proto::Status status = proto::TOO_MANY_REQUESTS;
    for (int attempt = 0; attempt < 10'000 && status == proto::TOO_MANY_REQUESTS; ++attempt) {
      add.mutable_header()->set_request_id(++request_id);
      ASSERT_TRUE(raw->Send(add).ok());
      auto resp = raw->Receive();
      ASSERT_TRUE(resp.ok());
      status = resp->status();
    }
    ASSERT_EQ(status, proto::OK) << "entry " << e;
  }
  auto recovered = NewClient(WaitingForEveryCopy())->RecoverLedger(id, "pw");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ((*recovered)->last_add_confirmed(), kEntries - 1);
  EXPECT_EQ((*recovered)->metadata().length, length);
  for (const BookieId& b : ensemble) {
    auto held = ListEntriesOn(b, id);
    ASSERT_TRUE(held.ok());
    EXPECT_EQ(held->size(), static_cast<size_t>(kEntries)) << b;
  }
  ExpectEntries(id, kEntries - 1, "pw", kMaxExtra);
  // The two bookies that only recovery wrote to did push back.
  if (stalled) {
    EXPECT_GT(WriteCacheWaits(cluster_->IndexOf(ensemble[1])) +
                  WriteCacheWaits(cluster_->IndexOf(ensemble[2])),
              0)
        << "no bookie was ever busy: the test did not test back-pressure";
  }
}

// Re-replication copies 64 entries at a time to the replacement; when its write cache is full it
// answers TOO_MANY_REQUESTS and the copy is sent again after a pause, so the replacement
// completes.
TEST_P(FaultTest, ReplacingABookieCopiesThroughABusyReplacement) {
  bool stalled = false;  // flushes wait for a full write cache, as above
  ASSERT_NO_FATAL_FAILURE(stalled = StartClusterWithFault(
      "QUIRE_TEST_FAULT_STALL_FLUSH", 4, {"writeCacheMaxSizeMB = 2", "writeCacheMaxWaitMs = 0"}));
  auto client = NewClient();
  auto writer = client->CreateLedger(
      {.ensemble_size = 3, .write_quorum_size = 3, .ack_quorum_size = 3, .password = "pw"});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  LedgerId id = (*writer)->id();
  constexpr int kMaxExtra = 100'000;
  constexpr EntryId kEntries = 320;
  Completions done;
  for (EntryId e = 0; e < kEntries; ++e) {
    (*writer)->AppendAsync(Payload(e, kMaxExtra), done.Callback());
  }
  ASSERT_TRUE(done.WaitForEnded(kEntries));
  ASSERT_EQ(done.failed(), 0) << done.error().ToString();
  ASSERT_TRUE((*writer)->Close().ok());
  std::vector<BookieId> ensemble = (*writer)->metadata().ensembles[0].bookies;
  ASSERT_EQ((*writer)->metadata().ensembles.size(), 1u) << (*writer)->metadata().Summary();
  int spare = -1;
  for (int i = 0; i < 4; ++i) {
    if (std::count(ensemble.begin(), ensemble.end(), cluster_->bookie_id(i)) == 0) spare = i;
  }
  ASSERT_GE(spare, 0);
  const double waits_before = WriteCacheWaits(spare);  // the spare took no adds so far

  auto copied = client->ReplaceBookie(id, ensemble[1], "pw");
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(copied->entries, kEntries);
  auto md = client->ReadLedgerMetadata(id);
  ASSERT_TRUE(md.ok());
  // Each entry travels with its header and digest: more than the payloads alone.
  EXPECT_GT(copied->bytes, static_cast<int64_t>(md->length));
  EXPECT_EQ(md->ensembles[0].bookies[1], cluster_->bookie_id(spare)) << md->Summary();
  auto held = ListEntriesOn(cluster_->bookie_id(spare), id);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_EQ(held->size(), static_cast<size_t>(kEntries));
  ExpectEntries(id, kEntries - 1, "pw", kMaxExtra);
  if (stalled) {
    EXPECT_GT(WriteCacheWaits(spare), waits_before)
        << "the replacement was never busy: the test did not test back-pressure";
  }
}

TEST_P(FaultTest, RecoveryThatCannotDecideFailsThenSucceeds) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  LedgerId id = (*writer)->id();
  std::vector<BookieId> ensemble = (*writer)->metadata().ensembles[0].bookies;
  for (EntryId e = 0; e < 30; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  cluster_->Kill(cluster_->IndexOf(ensemble[0]));
  cluster_->Kill(cluster_->IndexOf(ensemble[1]));
  auto recoverer = NewClient();
  auto failed = recoverer->RecoverLedger(id, "pw");
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(failed.status().Is(StatusCode::kUnavailable)) << failed.status().ToString();
  auto md = client->ReadLedgerMetadata(id);
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->state, LedgerState::kInRecovery);  // never guessed an end
  ASSERT_TRUE(cluster_->Restart(cluster_->IndexOf(ensemble[0])).ok());
  auto recovered = recoverer->RecoverLedger(id, "pw");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ((*recovered)->last_add_confirmed(), 29);
  ExpectEntries(id, 29);
}

TEST_P(FaultTest, TailingReaderFollowsTheWriterToTheEnd) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = client->CreateLedger({.ensemble_size = 3, .write_quorum_size = 2,
                                      .ack_quorum_size = 2, .password = "pw"});
  ASSERT_TRUE(writer.ok());
  LedgerId id = (*writer)->id();
  auto reader_client = NewClient();
  auto reader = reader_client->OpenLedger(id, "pw");
  ASSERT_TRUE(reader.ok());
  std::mutex mu;
  std::condition_variable cv;
  EntryId seen = kNoEntry;
  bool ended = false;
  Status tail_error;
  std::thread tail([&] {
    EntryId next = 0;
    for (int i = 0; i < 100'000; ++i) {
      auto batch = (*reader)->ReadNext(next, 500, milliseconds(2'000));
      std::lock_guard<std::mutex> lock(mu);
      if (!batch.ok()) {
        tail_error = batch.status();
        break;
      }
      for (const Entry& e : batch->entries) {
        if (e.id != next || e.payload != Payload(e.id)) {
          tail_error = Corruption("tail got entry " + std::to_string(e.id));
        }
        ++next;
      }
      seen = next - 1;
      cv.notify_all();
      if (batch->end_of_ledger || !tail_error.ok()) {
        ended = batch->end_of_ledger;
        break;
      }
    }
  });
  constexpr EntryId kHalf = 1'000;
  for (EntryId e = 0; e < kHalf; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  {
    // While the writer is open and idle, the reader catches up to its LAC (explicit LAC).
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(60), [&] { return seen == kHalf - 1 || !tail_error.ok(); }))
        << "the tailing reader saw " << seen;
    ASSERT_FALSE(ended);
  }
  for (EntryId e = kHalf; e < 2 * kHalf; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  tail.join();
  EXPECT_TRUE(tail_error.ok()) << tail_error.ToString();
  EXPECT_TRUE(ended);
  EXPECT_EQ(seen, 2 * kHalf - 1);
}

// Bookies that report every LAC 1000 higher than it is (a test fault: faulty bookies) move neither
// a tailing reader's LAC nor a recovery's starting point: only what the writer signed counts.
// (Trusting the number, the tailer ran past the writer's last entry, and recovery looked for
// entry LAC + 1000.)
class LyingBookiesTest : public FaultTest {
 protected:
  static constexpr EntryId kLast = 19;

  void SetUp() override {
#ifndef QUIRE_TEST_FAULTS
    GTEST_SKIP() << "needs a build with QUIRE_TEST_FAULTS (the asan preset)";
#endif
    ASSERT_NO_FATAL_FAILURE(StartClusterWithFault("QUIRE_TEST_FAULT_INFLATE_LAC", 3));
    client_ = NewClient();
    auto writer = CreateLedger332(*client_);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    writer_ = std::move(*writer);
  }
  void Write() {
    for (EntryId e = 0; e <= kLast; ++e) ASSERT_TRUE(writer_->Append(Payload(e)).ok());
  }

  std::unique_ptr<Client> client_;
  std::unique_ptr<WriteHandle> writer_;
};

TEST_P(LyingBookiesTest, ATailingReaderGoesNoFurtherThanTheWriter) {
  auto reader_client = NewClient();
  auto reader = reader_client->OpenLedger(writer_->id(), "pw");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->last_add_confirmed(), kNoEntry);
  ASSERT_NO_FATAL_FAILURE(Write());
  // The reader's LAC is behind the bookies': it long-polls, and the answers say "LAC + 1000".
  auto batch = (*reader)->ReadNext(0, 1'000, milliseconds(5'000));
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_LE((*reader)->last_add_confirmed(), kLast);
  ASSERT_FALSE(batch->entries.empty());
  for (const Entry& e : batch->entries) EXPECT_EQ(e.payload, Payload(e.id)) << e.id;
  EXPECT_LE(batch->entries.back().id, kLast);
  auto lac = (*reader)->ReadLac();
  ASSERT_TRUE(lac.ok()) << lac.status().ToString();
  EXPECT_LE(*lac, kLast);
}

TEST_P(LyingBookiesTest, RecoveryEndsAtTheWritersLastEntry) {
  ASSERT_NO_FATAL_FAILURE(Write());
  auto recovering_client = NewClient();
  auto recovered = recovering_client->RecoverLedger(writer_->id(), "pw");
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  EXPECT_EQ((*recovered)->last_add_confirmed(), kLast);
  EXPECT_FALSE(writer_->Append(Payload(kLast + 1)).ok());
}

INSTANTIATE_TEST_SUITE_P(Metadata, LyingBookiesTest,
                         ::testing::Values(ClusterOptions::Metadata::kFile,
                                           ClusterOptions::Metadata::kZooKeeper),
                         MetadataName);

// SIGSTOP bookie i and wait until it is stopped (kill() only sends the signal; a thread still
// running for a moment could answer). The caller must SIGCONT it.
void PauseBookie(TestCluster& cluster, int i) {
  pid_t pid = cluster.bookie(i).pid();
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, WUNTRACED), pid);
  ASSERT_TRUE(WIFSTOPPED(status)) << status;
}

// A replica that does not answer (SIGSTOP) costs a read the speculative timeout, not the read
// timeout: the read goes on to the next replica.
TEST_P(FaultTest, SpeculativeReadGoesAroundAStalledBookie) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  ClientOptions options = TestClientOptions(cluster_->metadata_uri());
  options.read_timeout = std::chrono::minutes(10);
  options.speculative_read_timeout = milliseconds(50);
  auto client = NewClient(options);
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  for (EntryId e = 0; e < 30; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  auto reader = client->OpenLedger((*writer)->id(), "pw");
  ASSERT_TRUE(reader.ok());
  // Every entry's write set holds the stalled bookie, first for a third of them.
  pid_t stalled = cluster_->bookie(0).pid();
  // Stopped before the reads go out (the bookie is this process's child).
  ASSERT_NO_FATAL_FAILURE(PauseBookie(*cluster_, 0));
  auto read = std::async(std::launch::async, [&] { return (*reader)->Read(0, 29); });
  // Bounded well below the read timeout: only speculation can answer in time.
  bool answered = read.wait_for(seconds(60)) == std::future_status::ready;
  ASSERT_EQ(::kill(stalled, SIGCONT), 0);
  ASSERT_TRUE(answered) << "the read waited for the stalled bookie";
  auto got = read.get();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (const Entry& e : *got) EXPECT_EQ(e.payload, Payload(e.id));
  // At least the ten entries whose first replica is the stalled bookie went around it.
  EXPECT_GE(ClientMetric(*client, "quire_client_speculative_reads_total"), 10);
  // Connections to the stalled bookie still hold requests; the client's teardown aborts them.
}

// Reads remember a bookie that kept them waiting and ask it last: with one of three bookies
// paused, a reader pays the speculative timeout about once, not for every entry whose write set
// it leads (a third of them: 100 here, as before SlowBookies).
TEST_P(FaultTest, ReadsAskAPausedBookieLastOnceItKeptOneWaiting) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  for (EntryId e = 0; e < 300; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  ClientOptions options = TestClientOptions(cluster_->metadata_uri());
  options.read_timeout = std::chrono::minutes(10);
  options.speculative_read_timeout = milliseconds(500);
  auto reading = NewClient(options);
  auto reader = reading->OpenLedger((*writer)->id(), "pw");
  ASSERT_TRUE(reader.ok());
  const int paused = cluster_->IndexOf((*writer)->metadata().ensembles[0].bookies[0]);
  ASSERT_NO_FATAL_FAILURE(PauseBookie(*cluster_, paused));
  auto read = std::async(std::launch::async, [&]() -> Status {
    for (EntryId e = 0; e < 300; ++e) {  // one at a time: each decides the next one's order
      auto got = (*reader)->Read(e, e);
      if (!got.ok()) return got.status();
      if ((*got)[0].payload != Payload(e)) return Status(StatusCode::kCorruption, "payload");
    }
    return Status::Ok();
  });
  bool answered = read.wait_for(seconds(120)) == std::future_status::ready;
  ASSERT_EQ(::kill(cluster_->bookie(paused).pid(), SIGCONT), 0);
  ASSERT_TRUE(answered) << "the reads waited for the paused bookie";
  Status s = read.get();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_LE(ClientMetric(*reading, "quire_client_speculative_reads_total"), 5);
}

// Recovery decides on the answers it has: with one of three bookies paused (E3/Qw3/Qa2), the
// other two fence, give every entry's copy or the Qw - Qa + 1 "no such entry" answers, and take
// every re-write. With read and add timeouts of ten minutes, only that can finish.
TEST_P(FaultTest, RecoveryDecidesWithoutWaitingForAPausedBookie) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  LedgerId id = (*writer)->id();
  for (EntryId e = 0; e < 300; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  const int paused = cluster_->IndexOf((*writer)->metadata().ensembles[0].bookies[1]);
  ASSERT_NO_FATAL_FAILURE(PauseBookie(*cluster_, paused));
  ClientOptions options = TestClientOptions(cluster_->metadata_uri());
  options.read_timeout = std::chrono::minutes(10);
  options.add_timeout = std::chrono::minutes(10);
  options.speculative_read_timeout = milliseconds(200);
  auto recovering = NewClient(options);
  auto recovered =
      std::async(std::launch::async, [&] { return recovering->RecoverLedger(id, "pw"); });
  bool answered = recovered.wait_for(seconds(120)) == std::future_status::ready;
  ASSERT_EQ(::kill(cluster_->bookie(paused).pid(), SIGCONT), 0);
  ASSERT_TRUE(answered) << "recovery waited for the paused bookie";
  auto r = recovered.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->last_add_confirmed(), 299);
  EXPECT_TRUE((*writer)->Append("x").status().Is(StatusCode::kFenced));
  ExpectEntries(id, 299);
}

// ReadLac decides once every write set has Qw - Qa + 1 answers and gives the rest a grace: with
// one of three bookies paused and a ten-minute read timeout, it answers, and no lower than the
// LAC the live bookies prove.
TEST_P(FaultTest, ReadLacDecidesWithoutWaitingForAPausedBookie) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  auto client = NewClient();
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  for (EntryId e = 0; e < 20; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  ClientOptions options = TestClientOptions(cluster_->metadata_uri());
  options.read_timeout = std::chrono::minutes(10);
  auto reading = NewClient(options);
  auto reader = reading->OpenLedger((*writer)->id(), "pw");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const int paused = cluster_->IndexOf((*writer)->metadata().ensembles[0].bookies[0]);
  ASSERT_NO_FATAL_FAILURE(PauseBookie(*cluster_, paused));
  auto lac = std::async(std::launch::async, [&] { return (*reader)->ReadLac(); });
  bool answered = lac.wait_for(seconds(120)) == std::future_status::ready;
  ASSERT_EQ(::kill(cluster_->bookie(paused).pid(), SIGCONT), 0);
  ASSERT_TRUE(answered) << "ReadLac waited for the paused bookie";
  auto got = lac.get();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_GE(*got, 18);  // entry 19 carries LAC 18; an explicit LAC may have said 19
}

// Opening an empty ledger for writing checks that no bookie holds entries of it (a writer that
// never claimed it). With one of three bookies paused and a ten-minute read timeout it decides
// from the two that answer (every write set then has Qw - Qa + 1 = 2 answers) after a grace.
TEST_P(FaultTest, OpenForWritingDecidesWithoutWaitingForAPausedBookie) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  ClientOptions options = TestClientOptions(cluster_->metadata_uri());
  options.read_timeout = std::chrono::minutes(10);
  auto client = NewClient(options);
  CreateLedgerOptions create;
  create.ensemble_size = 3;
  create.write_quorum_size = 3;
  create.ack_quorum_size = 2;
  create.password = "pw";
  auto id = client->CreateEmptyLedger(create);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto md = client->ReadLedgerMetadata(*id);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  const int paused = cluster_->IndexOf(md->ensembles[0].bookies[0]);
  ASSERT_NO_FATAL_FAILURE(PauseBookie(*cluster_, paused));
  auto opened = std::async(std::launch::async,
                           [&] { return client->OpenLedgerForWriting(*id, "pw"); });
  bool answered = opened.wait_for(seconds(120)) == std::future_status::ready;
  ASSERT_EQ(::kill(cluster_->bookie(paused).pid(), SIGCONT), 0);
  ASSERT_TRUE(answered) << "OpenLedgerForWriting waited for the paused bookie";
  auto writer = opened.get();
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  EXPECT_EQ((*writer)->id(), *id);
}

TEST_P(FaultTest, CorruptReplicaIsSkippedAndReported) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));
  std::mutex mu;
  std::vector<BadCopy> reported;
  ClientOptions options = TestClientOptions(cluster_->metadata_uri());
  options.on_bad_copy = [&](const BadCopy& bad) {
    std::lock_guard<std::mutex> lock(mu);
    reported.push_back(bad);
  };
  auto client = NewClient(options);
  auto writer = CreateLedger332(*client);
  ASSERT_TRUE(writer.ok());
  LedgerId id = (*writer)->id();
  for (EntryId e = 0; e < 30; ++e) ASSERT_TRUE((*writer)->Append(Payload(e)).ok());
  ASSERT_TRUE((*writer)->Close().ok());
  // Entry 4's first replica is ensemble position 4 % 3 = 1: damage that copy.
  BookieId victim = (*writer)->metadata().ensembles[0].bookies[1];
  int v = cluster_->IndexOf(victim);
  ASSERT_EQ(cluster_->Stop(v), 0);
  ASSERT_TRUE(CorruptEntry(cluster_->root(v), id, 4, CorruptionKind::kSilent).ok());
  ASSERT_TRUE(cluster_->Restart(v).ok());

  auto reader = client->OpenLedger(id, "pw");
  ASSERT_TRUE(reader.ok());
  auto got = (*reader)->Read(0, 29);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (const Entry& e : *got) EXPECT_EQ(e.payload, Payload(e.id));
  EXPECT_EQ(ClientMetric(*client, "quire_client_bad_copies_total"), 1);
  reader->reset();
  writer->reset();
  client.reset();  // the last owner: drains the callback thread
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0].bookie_id, victim);
  EXPECT_EQ(reported[0].entry_id, 4);
  EXPECT_EQ(reported[0].ledger_id, id);
}

INSTANTIATE_TEST_SUITE_P(Metadata, FaultTest,
                         ::testing::Values(ClusterOptions::Metadata::kFile,
                                           ClusterOptions::Metadata::kZooKeeper),
                         MetadataName);

}  // namespace
}  // namespace quire::client::testing
