// A writer through rolling restarts (issue 15): 5 real bookies, one writer (E3/Qw3/Qa2), each
// bookie in turn stopped and started again, registered and serving before the next one goes,
// first gracefully (SIGTERM), then with SIGKILL. No append may fail, and every acknowledged entry
// reads back. Before BookieChoice, a bookie the writer saw fail was never chosen again and a
// position without a spare was never retried: the writer died at the third restart or so.
#include <atomic>
#include <thread>

#include "client/client_test_util.h"

namespace quire::client::testing {
namespace {

class RollingRestartTest : public ClusterTest {};

// Appends Payload(0), Payload(1), ... on its own thread until stopped or an append fails; the
// back-pressure of max_outstanding_adds paces it. Stopped and joined by the destructor.
class Appender {
 public:
  explicit Appender(WriteHandle& writer)
      : thread_([this, &writer] {
          for (EntryId e = 0; !stop_ && done.failed() == 0; ++e) {
            writer.AppendAsync(Payload(e), done.Callback());
            appended_ = e + 1;
          }
        }) {}
  ~Appender() { Stop(); }
  // Returns how many appends were made.
  int64_t Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return appended_;
  }

  Completions done;

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> appended_{0};
  std::thread thread_;  // last: starts once the members it uses exist
};

TEST_P(RollingRestartTest, WriterSurvivesGracefulAndKillRollingRestarts) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(5));
  ClientOptions options = TestClientOptions(cluster_->metadata_uri());
  options.max_outstanding_adds = 100;
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  auto writer = client->CreateLedger(
      {.ensemble_size = 3, .write_quorum_size = 3, .ack_quorum_size = 2, .password = "pw"});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  Appender appender(**writer);
  // Progress between two restarts: the writer is writing while each bookie goes and comes back.
  auto more_acked = [&](int64_t n) { return appender.done.WaitForAcked(appender.done.acked() + n); };
  for (bool kill : {false, true}) {
    for (int i = 0; i < cluster_->size(); ++i) {
      ASSERT_TRUE(more_acked(200)) << (kill ? "kill -9" : "SIGTERM") << " of bookie " << i
                                   << ": " << appender.done.error().ToString();
      if (kill) {
        cluster_->Kill(i);
      } else {
        ASSERT_EQ(cluster_->Stop(i), 0);
      }
      Status restarted = cluster_->Restart(i);
      ASSERT_TRUE(restarted.ok()) << restarted.ToString();
    }
  }
  ASSERT_TRUE(more_acked(200)) << appender.done.error().ToString();
  int64_t appended = appender.Stop();
  ASSERT_TRUE(appender.done.WaitForEnded(appended));
  ASSERT_EQ(appender.done.failed(), 0) << appender.done.error().ToString();
  ASSERT_TRUE((*writer)->Close().ok());

  // Every acknowledged entry reads back, from a fresh client.
  const EntryId last = appender.done.last();
  ASSERT_EQ(last, appended - 1);
  auto reader = NewClient()->OpenLedger((*writer)->id(), "pw");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->last_add_confirmed(), last);
  auto got = (*reader)->Read(0, last);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(static_cast<EntryId>(got->size()), last + 1);
  for (const Entry& e : *got) ASSERT_EQ(e.payload, Payload(e.id)) << e.id;
}

INSTANTIATE_TEST_SUITE_P(Metadata, RollingRestartTest,
                         ::testing::Values(ClusterOptions::Metadata::kFile,
                                           ClusterOptions::Metadata::kZooKeeper),
                         MetadataName);

}  // namespace
}  // namespace quire::client::testing
