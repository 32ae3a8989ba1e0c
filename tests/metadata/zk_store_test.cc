// What is particular to the ZooKeeper driver: session expiry, and definite outcomes when the
// connection is lost mid-operation (injected at the driver boundary, or a real server stop).
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "metadata/store_harness.h"
#include "metadata/zk_acl.h"
#include "metadata/zk_store.h"

namespace quire::metadata::testing {
namespace {

using quire::testing::ZookeeperServer;
using std::chrono::milliseconds;
using std::chrono::seconds;

ZkMetadataStore* AsZk(MetadataStore* store) {
  auto* zk = dynamic_cast<ZkMetadataStore*>(store);
  EXPECT_NE(zk, nullptr);
  return zk;
}

// Drops (or lets through) the first mutating request on one path, once.
struct OneFault {
  std::string path;
  InjectedFault fault;
  std::atomic<bool> fired{false};
  std::function<void()> before;  // runs just before the faulty request
  std::function<void()> after;   // runs after a dropped reply's request was applied

  void Install(TestHooks* hooks, std::atomic<int>* retries) {
    hooks->before_request = [this](const FaultPoint& p) {
      if (p.path != path || fired.exchange(true)) return InjectedFault::kNone;
      if (before) before();
      return fault;
    };
    hooks->after_dropped_reply = [this](const FaultPoint&) {
      if (after) after();
    };
    hooks->on_retry = [retries](const FaultPoint&, int) { ++*retries; };
  }
};

class ZkFaultTest : public ::testing::Test {
 protected:
  ZkFaultTest() : harness_(Driver::kZk) {}

  void SetUp() override {
    plain_ = harness_.OpenInitialised();
    ASSERT_TRUE(plain_->CreateLedger(11, SampleLedger()).ok());
  }

  // A store whose requests to ledger 11 go through `fault`.
  std::unique_ptr<MetadataStore> FaultyStore(OneFault* fault) {
    MetadataOptions options = TestOptions();
    fault->Install(&options.test_hooks, &retries_);
    auto store = harness_.Open(options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }

  LedgerMetadata Marked(const std::string& who) {
    LedgerMetadata md = SampleLedger();
    md.custom_metadata["writer"] = who;
    return md;
  }

  StoreHarness harness_;
  std::unique_ptr<MetadataStore> plain_;
  std::atomic<int> retries_{0};
};

TEST_F(ZkFaultTest, LostReplyOfAppliedUpdateIsSuccess) {
  OneFault fault{harness_.LedgerLocation(11), InjectedFault::kDropReply};
  auto store = FaultyStore(&fault);
  auto v = store->UpdateLedger(11, Marked("me"), 0);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 1);
  EXPECT_TRUE(fault.fired);
  EXPECT_GE(retries_.load(), 1);
  auto read = plain_->ReadLedger(11);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->version, 1);  // applied once, not twice
  EXPECT_EQ(read->value.custom_metadata["writer"], "me");
}

TEST_F(ZkFaultTest, LostRequestIsSentAgain) {
  OneFault fault{harness_.LedgerLocation(11), InjectedFault::kDropRequest};
  auto store = FaultyStore(&fault);
  auto v = store->UpdateLedger(11, Marked("me"), 0);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 1);
  EXPECT_GE(retries_.load(), 1);
  EXPECT_EQ(plain_->ReadLedger(11)->value.custom_metadata["writer"], "me");
}

TEST_F(ZkFaultTest, CompetitorThatWinsWhileOurRequestIsLostMeansBadVersion) {
  OneFault fault{harness_.LedgerLocation(11), InjectedFault::kDropRequest};
  fault.before = [&] { ASSERT_TRUE(plain_->UpdateLedger(11, Marked("rival"), 0).ok()); };
  auto store = FaultyStore(&fault);
  auto v = store->UpdateLedger(11, Marked("me"), 0);
  EXPECT_EQ(v.status().code(), StatusCode::kBadVersion) << v.status().ToString();
  auto read = plain_->ReadLedger(11);
  EXPECT_EQ(read->version, 1);
  EXPECT_EQ(read->value.custom_metadata["writer"], "rival");
}

TEST_F(ZkFaultTest, ApplyOverwrittenBeforeTheReReadIsAnUnknownOutcomeNotBadVersion) {
  // Our update applied (version 1), but another writer moved the ledger to version 2 before we
  // could look. The driver cannot tell that from "never applied", and kBadVersion is reserved for
  // writes that certainly did not apply (metadata_store.h): the outcome is unknown, re-read.
  OneFault fault{harness_.LedgerLocation(11), InjectedFault::kDropReply};
  fault.after = [&] { ASSERT_TRUE(plain_->UpdateLedger(11, Marked("rival"), 1).ok()); };
  auto store = FaultyStore(&fault);
  auto v = store->UpdateLedger(11, Marked("me"), 0);
  EXPECT_EQ(v.status().code(), StatusCode::kUnavailable) << v.status().ToString();
  EXPECT_NE(v.status().message().find("unknown"), std::string::npos) << v.status().ToString();
  EXPECT_EQ(plain_->ReadLedger(11)->version, 2);
}

TEST_F(ZkFaultTest, LostRepliesOfCreateDeleteAndRegisterAreSuccess) {
  OneFault create{harness_.LedgerLocation(12), InjectedFault::kDropReply};
  auto store = FaultyStore(&create);
  auto v = store->CreateLedger(12, Marked("me"));
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 0);
  EXPECT_TRUE(create.fired);

  OneFault del{harness_.LedgerLocation(12), InjectedFault::kDropReply};
  auto deleter = FaultyStore(&del);
  EXPECT_TRUE(deleter->DeleteLedger(12, 0).ok());
  EXPECT_TRUE(del.fired);
  EXPECT_EQ(plain_->ReadLedger(12).status().code(), StatusCode::kNoSuchLedger);

  auto* zk = AsZk(plain_.get());
  OneFault reg{zk->root() + "/bookies/writable/bk1:3181", InjectedFault::kDropReply};
  auto registrar = FaultyStore(&reg);
  auto handle = registrar->RegisterBookie("bk1:3181", BookieMode::kWritable, "");
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  EXPECT_TRUE(reg.fired);
  EXPECT_EQ(plain_->ListBookies()->writable, std::vector<BookieId>{"bk1:3181"});
}

TEST_F(ZkFaultTest, CreateLostWhileAnotherClientCreatesIsAlreadyExists) {
  OneFault fault{harness_.LedgerLocation(13), InjectedFault::kDropRequest};
  fault.before = [&] { ASSERT_TRUE(plain_->CreateLedger(13, Marked("rival")).ok()); };
  auto store = FaultyStore(&fault);
  EXPECT_EQ(store->CreateLedger(13, Marked("me")).status().code(), StatusCode::kAlreadyExists);
}

class ZkServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = ZookeeperServer::Start();
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    uri_ = "zk://" + server_->connect_string() + "/quire";
  }

  std::unique_ptr<ZookeeperServer> server_;
  std::string uri_;
};

TEST_F(ZkServerTest, ForcedSessionExpiryRestoresRegistrationAndLosesLocks) {
  Awaited<std::vector<SessionEvent>> events;
  std::vector<SessionEvent> seen;
  MetadataOptions options = TestOptions();
  options.on_session_event = [&](const SessionEvent& e) {
    seen.push_back(e);  // md-watch thread only
    events.Set(seen);
  };
  auto store = OpenMetadataStore(uri_, options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->InitCluster().ok());
  auto observer = OpenMetadataStore(uri_, TestOptions());
  ASSERT_TRUE(observer.ok());

  auto reg = (*store)->RegisterBookie("bk1:3181", BookieMode::kReadOnly, "");
  ASSERT_TRUE(reg.ok()) << reg.status().ToString();
  Awaited<bool> lost;
  auto lock = (*store)->TryLock("auditor", "me", [&] { lost.Set(true); });
  ASSERT_TRUE(lock.ok());
  Awaited<BookieList> bookies;
  auto watch = (*observer)->WatchBookies([&](const BookieList& l) { bookies.Set(l); });
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(bookies.WaitFor([](const BookieList& l) { return !l.read_only.empty(); }));

  auto* zk = AsZk(store->get());
  const int64_t old_session = zk->session_id();
  ASSERT_TRUE(server_->ExpireSession(old_session, zk->session_password()).ok());

  ASSERT_TRUE(events.WaitFor([](const auto& v) {
    return v.size() >= 2 && v[0].kind == SessionEventKind::kExpired &&
           v[1].kind == SessionEventKind::kRestored;
  }));
  EXPECT_TRUE(events.Get()[1].status.ok()) << events.Get()[1].status.ToString();
  EXPECT_NE(zk->session_id(), old_session);
  EXPECT_TRUE(lost.WaitFor([](bool b) { return b; }));
  EXPECT_FALSE((*lock)->held());
  ASSERT_TRUE(bookies.WaitFor(
      [](const BookieList& l) { return l.read_only == std::vector<BookieId>{"bk1:3181"}; }));
  // The restored registration belongs to the new session: it still moves and unregisters.
  ASSERT_TRUE((*reg)->SetMode(BookieMode::kWritable).ok());
  ASSERT_TRUE(bookies.WaitFor([](const BookieList& l) {
    return l.writable == std::vector<BookieId>{"bk1:3181"} && l.read_only.empty();
  }));
  lock->reset();
  reg->reset();
  ASSERT_TRUE(bookies.WaitFor([](const BookieList& l) { return l == BookieList{}; }));
  // Ledger watches are re-armed in the new session too.
  ASSERT_TRUE((*store)->CreateLedger(3, SampleLedger()).ok());
  Awaited<Version> version;
  auto ledger_watch = (*store)->WatchLedger(3, [&](const auto& r) {
    if (r.ok()) version.Set(r->version);
  });
  ASSERT_TRUE(version.WaitFor([](Version v) { return v == 0; }));
  ASSERT_TRUE(server_->ExpireSession(zk->session_id(), zk->session_password()).ok());
  ASSERT_TRUE(events.WaitFor([](const auto& v) { return v.size() >= 4; }));
  ASSERT_TRUE((*observer)->UpdateLedger(3, SampleLedger("other"), 0).ok());
  EXPECT_TRUE(version.WaitFor([](Version v) { return v == 1; }));
}

TEST_F(ZkServerTest, UpdateAcrossServerRestartIsAppliedOnce) {
  std::atomic<int> retries{0};
  Awaited<bool> retrying;
  MetadataOptions options = TestOptions();
  options.session_timeout = seconds(10);  // outlives the restart
  options.test_hooks.on_retry = [&](const FaultPoint&, int) {
    ++retries;
    retrying.Set(true);
  };
  auto store = OpenMetadataStore(uri_, options);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->InitCluster().ok());
  ASSERT_TRUE((*store)->CreateLedger(21, SampleLedger()).ok());

  ASSERT_TRUE(server_->Stop().ok());
  Result<Version> result = Status(StatusCode::kInternal, "not run");
  std::thread writer([&] {
    LedgerMetadata md = SampleLedger();
    md.state = LedgerState::kClosed;
    md.last_entry_id = 4;
    md.length = 500;
    result = (*store)->UpdateLedger(21, md, 0);
  });
  // Restart only once the update is known to be stuck retrying.
  ASSERT_TRUE(retrying.WaitFor([](bool b) { return b; }));
  ASSERT_TRUE(server_->Restart().ok());
  writer.join();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(*result, 1);
  auto read = (*store)->ReadLedger(21);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->version, 1);
  EXPECT_TRUE(read->value.closed());
}

TEST_F(ZkServerTest, UnreachableServerMeansUnavailableOrTimeoutWithinTheBudget) {
  MetadataOptions options = TestOptions();
  options.operation_timeout = milliseconds(1500);
  auto store = OpenMetadataStore(uri_, options);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->InitCluster().ok());
  ASSERT_TRUE((*store)->CreateLedger(31, SampleLedger()).ok());
  ASSERT_TRUE(server_->Pause().ok());
  auto update = (*store)->UpdateLedger(31, SampleLedger("paused"), 0);
  EXPECT_TRUE(update.status().Is(StatusCode::kTimeout) ||
              update.status().Is(StatusCode::kUnavailable))
      << update.status().ToString();
  auto read = (*store)->ReadLedger(31);
  EXPECT_TRUE(read.status().Is(StatusCode::kTimeout) || read.status().Is(StatusCode::kUnavailable))
      << read.status().ToString();
  ASSERT_TRUE(server_->Resume().ok());
  // Afterwards the outcome is one of the two, never a mix, and the store works again.
  auto after = (*store)->ReadLedger(31);
  for (int i = 0; i < 10 && !after.ok(); ++i) after = (*store)->ReadLedger(31);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  if (after->version == 1) {
    EXPECT_EQ(after->value.creator, "paused");
  } else {
    EXPECT_EQ(after->version, 0);
    EXPECT_EQ(after->value.creator, "test");
  }
}

TEST_F(ZkServerTest, OpenFailsWhenNoServerAnswers) {
  ASSERT_TRUE(server_->Stop().ok());
  MetadataOptions options = TestOptions();
  options.operation_timeout = milliseconds(500);
  auto store = OpenMetadataStore(uri_, options);
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().ToString();
}

TEST_F(ZkServerTest, CookiesAndLedgersSurviveServerRestart) {
  {
    auto store = OpenMetadataStore(uri_, TestOptions());
    ASSERT_TRUE(store.ok());
    auto info = (*store)->InitCluster();
    ASSERT_TRUE(info.ok());
    Cookie c{"bk1:3181", info->instance_id, {"/j"}, {"/l"}, {}, 1};
    ASSERT_TRUE((*store)->WriteCookie(c, kNewRecord).ok());
    ASSERT_TRUE((*store)->CreateLedger(5, SampleLedger()).ok());
  }
  ASSERT_TRUE(server_->Restart().ok());
  auto store = OpenMetadataStore(uri_, TestOptions());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto cookie = (*store)->ReadCookie("bk1:3181");
  ASSERT_TRUE(cookie.ok()) << cookie.status().ToString();
  EXPECT_EQ(cookie->value.ledger_dirs, std::vector<std::string>{"/l"});
  EXPECT_TRUE((*store)->ReadLedger(5).ok());
}

TEST_F(ZkServerTest, LedgerIdsMoveToTheNextEpochWhenOneIsUsedUp) {
  MetadataOptions options = TestOptions();
  options.test_hooks.zk_ids_per_epoch = 10;
  auto a = OpenMetadataStore(uri_, options);
  auto b = OpenMetadataStore(uri_, options);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->InitCluster().ok());
  std::vector<LedgerId> ids;
  for (int i = 0; i < 40; ++i) {
    auto id = (i % 2 == 0 ? *a : *b)->AllocateLedgerId();
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    if (!ids.empty()) {
      EXPECT_GT(*id, ids.back());
    }
    ids.push_back(*id);
  }
  EXPECT_GE(ids.back(), 30);  // several epochs of 10
}


// Digest ACLs (zk_acl.h): nodes made with credentials admit only sessions that have them. A
// session without them, or with a wrong password, gets kUnauthorized at once, not a timeout.
class ZkAclTest : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv(kZkAclCredentialsFileVariable); }
  void TearDown() override { unsetenv(kZkAclCredentialsFileVariable); }

  MetadataOptions WithCredentials(const std::string& name, const std::string& lines) {
    std::string path = dir_.Sub(name);
    std::ofstream(path) << lines;
    MetadataOptions options = TestOptions();
    options.zk_acl_credentials_file = path;
    return options;
  }

  static void ExpectRefused(MetadataStore* store) {
    auto read = store->ReadLedger(7);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().code(), StatusCode::kUnauthorized) << read.status().ToString();
    EXPECT_NE(read.status().message().find("QUIRE_ZK_ACL_CREDENTIALS_FILE"), std::string::npos)
        << read.status().ToString();
    auto update = store->UpdateLedger(7, SampleLedger("intruder"), 0);
    ASSERT_FALSE(update.ok());
    EXPECT_EQ(update.status().code(), StatusCode::kUnauthorized) << update.status().ToString();
    Status deleted = store->DeleteLedger(7, kAnyVersion);
    EXPECT_EQ(deleted.code(), StatusCode::kUnauthorized) << deleted.ToString();
  }

  quire::testing::TempDir dir_{"quire-zk-acl-test"};
  StoreHarness harness_{Driver::kZk};
};

TEST_F(ZkAclTest, LedgerMetadataMadeWithCredentialsNeedsThem) {
  MetadataOptions owner_options =
      WithCredentials("credentials", "# the cluster's\nquire:s3cret:with-colon\n");
  auto owner = harness_.OpenInitialised(owner_options);
  ASSERT_TRUE(owner->CreateLedger(7, SampleLedger()).ok());

  // No credentials: the store may open (opening reads nothing), but the ledger is out of reach.
  auto anonymous = harness_.Open(TestOptions());
  ASSERT_TRUE(anonymous.ok()) << anonymous.status().ToString();
  ExpectRefused(anonymous->get());
  auto cluster = (*anonymous)->GetClusterInfo();
  EXPECT_EQ(cluster.status().code(), StatusCode::kUnauthorized) << cluster.status().ToString();

  // The right user with a wrong password is no better.
  auto wrong = harness_.Open(WithCredentials("wrong", "quire:s3cret\n"));
  ASSERT_TRUE(wrong.ok()) << wrong.status().ToString();
  ExpectRefused(wrong->get());

  // A plain ZooKeeper client (someone who reaches the ZooKeeper port) cannot change it either.
  EXPECT_FALSE(ZkSetRaw(SharedZookeeper().connect_string(), harness_.LedgerLocation(7), "x").ok());

  // With the credentials, from the options or from the environment, it reads and changes it.
  auto same = harness_.Open(owner_options);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  auto read = (*same)->ReadLedger(7);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  auto updated = (*same)->UpdateLedger(7, SampleLedger("owner"), read->version);
  ASSERT_TRUE(updated.ok()) << updated.status().ToString();
  setenv(kZkAclCredentialsFileVariable, owner_options.zk_acl_credentials_file.c_str(), 1);
  auto from_env = harness_.Open(TestOptions());
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  auto again = (*from_env)->ReadLedger(7);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->version, *updated);
}

TEST_F(ZkAclTest, ABadCredentialsFileIsAnErrorNamingItsLine) {
  auto store = harness_.Open(WithCredentials("bad", "quire:ok\nno-colon-here\n"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(store.status().message().find("line 2"), std::string::npos)
      << store.status().ToString();
  EXPECT_EQ(store.status().message().find("no-colon-here"), std::string::npos)
      << "the file's content must not be echoed: " << store.status().ToString();
}

TEST(ZkDigestTest, IsZooKeepersDigestAuthenticationProviderEncoding) {
  // DigestAuthenticationProvider.generateDigest("super:test"), as ZooKeeper's docs give it.
  EXPECT_EQ(ZkDigest("super:test"), "D/InIHSb7yEEbrWz8b9l71RjZJU=");
}

}  // namespace
}  // namespace quire::metadata::testing
