// The client tests' cluster harness: bookies start, register and serve with either metadata
// service; kill, restart and added bookies; CorruptEntry damages exactly one byte of one entry,
// silently or visibly to the bookie.
#include "client/test_cluster.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "bookie/raw_client.h"
#include "metadata/metadata_store.h"

namespace quire::client::testing {
namespace {

using bookie::testing::AddRequest;
using bookie::testing::BookieProcess;
using bookie::testing::RawClient;
using bookie::testing::ReadRequest;

constexpr char kMasterKey[] = "master-key";

std::unique_ptr<TestCluster> StartCluster(ClusterOptions options) {
  auto cluster = TestCluster::Start(options);
  EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
  return cluster.ok() ? std::move(*cluster) : nullptr;
}

RawClient Connect(const BookieProcess& bookie) {
  auto c = RawClient::Connect("127.0.0.1", bookie.port());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  if (!c.ok()) std::abort();
  return std::move(*c);
}

proto::Response Call(RawClient& c, const proto::Request& request) {
  EXPECT_TRUE(c.Send(request).ok());
  auto r = c.Receive();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : proto::Response();
}

// Adds entries 0..payloads.size()-1 of `ledger` to one bookie; each must be acknowledged.
void AddEntries(const BookieProcess& bookie, LedgerId ledger,
                const std::vector<std::string>& payloads) {
  RawClient c = Connect(bookie);
  for (size_t e = 0; e < payloads.size(); ++e) {
    auto id = static_cast<int64_t>(e);
    proto::Response r = Call(c, AddRequest(e + 1, ledger, id, kMasterKey, payloads[e], id - 1));
    ASSERT_EQ(r.status(), proto::OK) << r.message();
  }
}

// The registered writable bookies, sorted.
std::vector<BookieId> WritableBookies(const std::string& metadata_uri) {
  auto store = metadata::OpenMetadataStore(metadata_uri, {});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return {};
  auto list = (*store)->ListBookies();
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  return list.ok() ? list->writable : std::vector<BookieId>{};
}

std::vector<BookieId> Sorted(std::vector<BookieId> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

using Metadata = ClusterOptions::Metadata;

class TestClusterTest : public ::testing::TestWithParam<Metadata> {};

std::string MetadataName(const ::testing::TestParamInfo<Metadata>& param) {
  return param.param == Metadata::kFile ? "File" : "ZooKeeper";
}

INSTANTIATE_TEST_SUITE_P(Metadata, TestClusterTest,
                         ::testing::Values(Metadata::kFile, Metadata::kZooKeeper), MetadataName);

TEST_P(TestClusterTest, ThreeBookiesRegisterAndServe) {
  auto cluster = StartCluster({.metadata = GetParam(), .bookies = 3});
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->metadata_uri().rfind(GetParam() == Metadata::kFile ? "file://" : "zk://", 0),
            0u)
      << cluster->metadata_uri();
  EXPECT_EQ(cluster->zookeeper() != nullptr, GetParam() == Metadata::kZooKeeper);

  std::vector<BookieId> ids = cluster->bookie_ids();
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(std::set<BookieId>(ids.begin(), ids.end()).size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(cluster->IndexOf(ids[static_cast<size_t>(i)]), i);
    EXPECT_EQ(cluster->bookie_id(i), ids[static_cast<size_t>(i)]);
    EXPECT_TRUE(cluster->bookie(i).running());
    // Serving: a bookie answers for a ledger it never saw.
    EXPECT_EQ(ListEntriesOn(ids[static_cast<size_t>(i)], 42).status().code(),
              StatusCode::kNoSuchLedger);
  }
  EXPECT_EQ(cluster->IndexOf("127.0.0.1:1"), -1);
  EXPECT_NE(cluster->root(0), cluster->root(1));
  EXPECT_EQ(WritableBookies(cluster->metadata_uri()), Sorted(ids));
}

TEST_P(TestClusterTest, KillRestartStopAndAddBookies) {
  auto cluster = StartCluster({.metadata = GetParam(), .bookies = 3});
  ASSERT_NE(cluster, nullptr);
  const LedgerId ledger = 7;
  AddEntries(cluster->bookie(1), ledger, {"a", "b"});
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const BookieId id1 = cluster->bookie_id(1);

  cluster->Kill(1);
  EXPECT_FALSE(cluster->bookie(1).running());
  EXPECT_EQ(ListEntriesOn(id1, ledger).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(ListEntriesOn(cluster->bookie_id(0), ledger).status().Is(StatusCode::kNoSuchLedger));

  ASSERT_TRUE(cluster->Restart(1).ok());
  EXPECT_EQ(cluster->bookie_id(1), id1);      // same port
  auto entries = ListEntriesOn(id1, ledger);  // the acknowledged adds survived SIGKILL
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ(*entries, (std::vector<int64_t>{0, 1}));

  EXPECT_EQ(cluster->Stop(2), 0);  // a clean exit
  EXPECT_EQ(ListEntriesOn(cluster->bookie_id(2), ledger).status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(cluster->Restart(2).ok());

  auto added = cluster->AddBookie();
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(*added, 3);
  EXPECT_EQ(cluster->size(), 4);
  std::vector<BookieId> ids = cluster->bookie_ids();
  EXPECT_EQ(std::set<BookieId>(ids.begin(), ids.end()).size(), 4u);
  EXPECT_EQ(cluster->IndexOf(cluster->bookie_id(3)), 3);
  EXPECT_EQ(WritableBookies(cluster->metadata_uri()), Sorted(ids));
}

// Writes entries 0..2 to bookie 0, stops it cleanly, damages entry 1, restarts it.
class TestClusterCorruptEntryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = StartCluster({.bookies = 1});
    ASSERT_NE(cluster_, nullptr);
    AddEntries(cluster_->bookie(0), kLedger, payloads_);
  }

  // Stops bookie 0, runs CorruptEntry on entry 1 and restarts the bookie.
  void CorruptEntryOne(CorruptionKind kind) {
    ASSERT_EQ(cluster_->Stop(0), 0);
    Status s = CorruptEntry(cluster_->root(0), kLedger, 1, kind);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(cluster_->Restart(0).ok());
  }

  proto::Response Read(EntryId entry) {
    RawClient c = Connect(cluster_->bookie(0));
    return Call(c, ReadRequest(1, kLedger, entry));
  }

  static constexpr LedgerId kLedger = 5;
  const std::vector<std::string> payloads_ = {"entry zero", "entry one", "entry two"};
  std::unique_ptr<TestCluster> cluster_;
};

TEST_F(TestClusterCorruptEntryTest, SilentCorruptionIsServedWithExactlyOneByteChanged) {
  CorruptEntryOne(CorruptionKind::kSilent);
  for (EntryId e : {0, 2}) {
    proto::Response r = Read(e);
    ASSERT_EQ(r.status(), proto::OK) << r.message();
    EXPECT_EQ(r.read().body(),
              bookie::testing::EntryBody(kLedger, e, e - 1, payloads_[static_cast<size_t>(e)]));
  }
  proto::Response r = Read(1);
  ASSERT_EQ(r.status(), proto::OK) << "the bookie must not notice: " << r.message();
  std::string original = bookie::testing::EntryBody(kLedger, 1, 0, payloads_[1]);
  const std::string& served = r.read().body();
  ASSERT_EQ(served.size(), original.size());
  size_t differences = 0;
  for (size_t i = 0; i < served.size(); ++i) differences += served[i] != original[i] ? 1 : 0;
  EXPECT_EQ(differences, 1u);
  EXPECT_NE(served.back(), original.back());  // in the payload, not the body header
}

TEST_F(TestClusterCorruptEntryTest, DetectedCorruptionIsAnsweredCorruption) {
  CorruptEntryOne(CorruptionKind::kDetectedByBookie);
  proto::Response r = Read(1);
  EXPECT_EQ(r.status(), proto::CORRUPTION) << r.message();
  EXPECT_EQ(Read(0).status(), proto::OK);
  EXPECT_EQ(Read(2).status(), proto::OK);
}

TEST_F(TestClusterCorruptEntryTest, RefusesARunningBookieAndMissingEntries) {
  EXPECT_EQ(CorruptEntry(cluster_->root(0), kLedger, 1).code(), StatusCode::kFailedPrecondition);
  ASSERT_EQ(cluster_->Stop(0), 0);
  EXPECT_EQ(CorruptEntry(cluster_->root(0), kLedger, 3).code(), StatusCode::kNotFound);
  EXPECT_EQ(CorruptEntry(cluster_->root(0), kLedger + 1, 0).code(), StatusCode::kNotFound);
  // Nothing was damaged.
  ASSERT_TRUE(cluster_->Restart(0).ok());
  proto::Response r = Read(1);
  ASSERT_EQ(r.status(), proto::OK) << r.message();
  EXPECT_EQ(r.read().body(), bookie::testing::EntryBody(kLedger, 1, 0, payloads_[1]));
}

}  // namespace
}  // namespace quire::client::testing
