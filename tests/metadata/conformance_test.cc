// The MetadataStore contract (src/metadata/metadata_store.h), checked unchanged on every driver:
// mem://, file:// and zk:// (a real ZooKeeper server on a loopback port).
#include <signal.h>

#include <algorithm>
#include <barrier>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "common/build_info.h"
#include "metadata.pb.h"
#include "metadata/store_harness.h"
#include "util/subprocess.h"

namespace quire::metadata::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class ConformanceTest : public ::testing::TestWithParam<Driver> {
 protected:
  ConformanceTest() : harness_(GetParam()) {}

  // Starts the helper registering `bookie` and waits until it says it is registered. With a
  // takeover key, the helper also takes lock `witness`, which lasts as long as its session.
  quire::testing::Subprocess StartRegistrar(const std::string& bookie,
                                            milliseconds session = TestOptions().session_timeout,
                                            const std::string& takeover_key = "",
                                            const std::string& witness = "") {
    std::vector<std::string> argv = {HelperPath(), "register", harness_.uri(), bookie,
                                     std::to_string(session.count())};
    if (!takeover_key.empty()) argv.insert(argv.end(), {takeover_key, witness});
    auto child = quire::testing::Subprocess::Start(argv);
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    auto line = child->ReadLine(seconds(60));
    EXPECT_EQ(line.value_or("<nothing>"), "registered " + bookie);
    return std::move(child).value();
  }

  StoreHarness harness_;
};

TEST_P(ConformanceTest, InitIsIdempotentAndRequired) {
  auto store = harness_.Open();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->GetClusterInfo().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*store)->CreateLedger(1, SampleLedger()).status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ((*store)->AllocateLedgerId().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ((*store)->ListLedgers(0, 10).status().code(), StatusCode::kFailedPrecondition);

  auto first = (*store)->InitCluster();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->instance_id.empty());
  EXPECT_EQ(first->layout_version, 1u);
  auto again = (*store)->InitCluster();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->instance_id, first->instance_id);

  auto other = harness_.Open();
  ASSERT_TRUE(other.ok());
  auto info = (*other)->GetClusterInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->instance_id, first->instance_id);
  EXPECT_EQ(info->service_uri, harness_.uri());
}

TEST_P(ConformanceTest, LedgerLifecycle) {
  auto store = harness_.OpenInitialised();
  LedgerMetadata md = SampleLedger();
  auto v0 = store->CreateLedger(42, md);
  ASSERT_TRUE(v0.ok()) << v0.status().ToString();
  EXPECT_EQ(*v0, 0);
  EXPECT_EQ(store->CreateLedger(42, md).status().code(), StatusCode::kAlreadyExists);

  auto read = store->ReadLedger(42);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->value, md);
  EXPECT_EQ(read->version, 0);

  LedgerMetadata closed = md;
  closed.state = LedgerState::kClosed;
  closed.last_entry_id = 99;
  closed.length = 12345;
  auto v1 = store->UpdateLedger(42, closed, 0);
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(*v1, 1);
  EXPECT_EQ(store->UpdateLedger(42, md, 0).status().code(), StatusCode::kBadVersion);
  read = store->ReadLedger(42);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->value, closed);
  EXPECT_EQ(read->version, 1);

  LedgerMetadata invalid = md;
  invalid.ack_quorum_size = 3;  // Qa > Qw
  EXPECT_EQ(store->CreateLedger(43, invalid).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->UpdateLedger(42, invalid, 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ReadLedger(-1).status().code(), StatusCode::kInvalidArgument);

  EXPECT_EQ(store->DeleteLedger(42, 0).code(), StatusCode::kBadVersion);
  EXPECT_TRUE(store->DeleteLedger(42, 1).ok());
  EXPECT_EQ(store->ReadLedger(42).status().code(), StatusCode::kNoSuchLedger);
  EXPECT_EQ(store->UpdateLedger(42, md, 1).status().code(), StatusCode::kNoSuchLedger);
  EXPECT_EQ(store->DeleteLedger(42, kAnyVersion).code(), StatusCode::kNoSuchLedger);
}

TEST_P(ConformanceTest, ConcurrentCompareAndSetHasExactlyOneWinner) {
  auto a = harness_.OpenInitialised();
  auto b = harness_.OpenInitialised();
  ASSERT_TRUE(a->CreateLedger(7, SampleLedger()).ok());
  for (int round = 0; round < 20; ++round) {
    auto current = a->ReadLedger(7);
    ASSERT_TRUE(current.ok());
    std::barrier start(2);
    Result<Version> results[2] = {Status(StatusCode::kInternal, "unset"),
                                  Status(StatusCode::kInternal, "unset")};
    MetadataStore* stores[2] = {a.get(), b.get()};
    std::thread threads[2];
    for (int i = 0; i < 2; ++i) {
      threads[i] = std::thread([&, i] {
        LedgerMetadata md = current->value;
        md.custom_metadata["winner"] = std::to_string(i);
        start.arrive_and_wait();
        results[i] = stores[i]->UpdateLedger(7, md, current->version);
      });
    }
    for (auto& t : threads) t.join();
    int winners = 0;
    int winner = -1;
    for (int i = 0; i < 2; ++i) {
      if (results[i].ok()) {
        ++winners;
        winner = i;
        EXPECT_EQ(*results[i], current->version + 1);
      } else {
        EXPECT_EQ(results[i].status().code(), StatusCode::kBadVersion)
            << results[i].status().ToString();
      }
    }
    ASSERT_EQ(winners, 1) << "round " << round;
    auto after = b->ReadLedger(7);
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->value.custom_metadata["winner"], std::to_string(winner));
  }
}

TEST_P(ConformanceTest, ConcurrentAllocatorsNeverCollide) {
  constexpr int kAllocators = 8;
  constexpr int kIds = 1000;
  harness_.OpenInitialised();
  std::vector<std::vector<LedgerId>> ids(kAllocators);
  std::vector<std::thread> threads;
  for (int i = 0; i < kAllocators; ++i) {
    threads.emplace_back([&, i] {
      auto store = harness_.Open();
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      for (int n = 0; n < kIds; ++n) {
        auto id = (*store)->AllocateLedgerId();
        ASSERT_TRUE(id.ok()) << id.status().ToString();
        ids[i].push_back(*id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<LedgerId> all;
  for (const auto& mine : ids) {
    ASSERT_EQ(mine.size(), static_cast<size_t>(kIds));
    EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end()));
    for (LedgerId id : mine) {
      EXPECT_GE(id, 0);
      all.insert(id);
    }
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kAllocators * kIds));
}

TEST_P(ConformanceTest, AllocatorsInOtherProcessesNeverCollide) {
  if (!harness_.shared_across_processes()) GTEST_SKIP() << "mem:// is private to one process";
  constexpr int kProcesses = 3;
  constexpr int kIds = 300;
  auto store = harness_.OpenInitialised();
  std::vector<quire::testing::Subprocess> children;
  for (int i = 0; i < kProcesses; ++i) {
    auto child = quire::testing::Subprocess::Start(
        {HelperPath(), "allocate", harness_.uri(), std::to_string(kIds)});
    ASSERT_TRUE(child.ok()) << child.status().ToString();
    children.push_back(std::move(child).value());
  }
  std::set<LedgerId> all;
  for (int n = 0; n < kIds; ++n) {
    auto id = store->AllocateLedgerId();
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    all.insert(*id);
  }
  for (auto& child : children) {
    for (int n = 0; n < kIds; ++n) {
      auto line = child.ReadLine(seconds(60));
      ASSERT_TRUE(line.has_value()) << "helper stopped after " << n << " ids";
      all.insert(std::stoll(*line));
    }
    EXPECT_EQ(child.ReadLine(seconds(60)).value_or(""), "done");
    EXPECT_EQ(child.Wait(seconds(60)), 0);
  }
  EXPECT_EQ(all.size(), static_cast<size_t>((kProcesses + 1) * kIds));
}

TEST_P(ConformanceTest, IteratesTenThousandLedgersInPages) {
  constexpr int kLedgers = 10'000;
  auto store = harness_.OpenInitialised();
  std::vector<std::vector<LedgerId>> created(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int n = t; n < kLedgers; n += 4) {
        auto id = store->AllocateLedgerId();
        ASSERT_TRUE(id.ok()) << id.status().ToString();
        auto v = store->CreateLedger(*id, SampleLedger());
        ASSERT_TRUE(v.ok()) << v.status().ToString();
        created[t].push_back(*id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<LedgerId> expected;
  for (const auto& c : created) expected.insert(expected.end(), c.begin(), c.end());
  std::sort(expected.begin(), expected.end());
  ASSERT_EQ(expected.size(), static_cast<size_t>(kLedgers));

  std::vector<LedgerId> listed;
  LedgerId from = 0;
  int pages = 0;
  while (true) {
    auto page = store->ListLedgers(from, 999);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    if (page->empty()) break;
    ASSERT_LE(page->size(), 999u);
    listed.insert(listed.end(), page->begin(), page->end());
    from = page->back() + 1;
    ASSERT_LT(++pages, 100);
  }
  EXPECT_EQ(listed, expected);

  std::vector<LedgerId> visited;
  ASSERT_TRUE(ForEachLedger(*store, [&](LedgerId id) {
                visited.push_back(id);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(visited, expected);
}

TEST_P(ConformanceTest, IterationCrossesEveryLevelOfTheHierarchy) {
  auto store = harness_.OpenInitialised();
  const std::vector<LedgerId> ids = {0,           1, 9'999, 10'000, 123'456'789, 10'000'000'000'005,
                                     kMaxLedgerId};
  for (LedgerId id : ids) ASSERT_TRUE(store->CreateLedger(id, SampleLedger()).ok()) << id;
  auto all = store->ListLedgers(0, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, ids);
  auto two = store->ListLedgers(2, 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, (std::vector<LedgerId>{9'999, 10'000}));
  auto tail = store->ListLedgers(123'456'790, 10);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, (std::vector<LedgerId>{10'000'000'000'005, kMaxLedgerId}));
  auto last = store->ListLedgers(kMaxLedgerId, 10);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(*last, (std::vector<LedgerId>{kMaxLedgerId}));
  ASSERT_TRUE(store->DeleteLedger(10'000, kAnyVersion).ok());
  auto after = store->ListLedgers(9'999, 2);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(*after, (std::vector<LedgerId>{9'999, 123'456'789}));
}

TEST_P(ConformanceTest, LedgerWatchSeesUpdatesCloseAndDelete) {
  auto writer = harness_.OpenInitialised();
  auto reader = harness_.OpenInitialised();
  ASSERT_TRUE(writer->CreateLedger(5, SampleLedger()).ok());
  Awaited<std::pair<StatusCode, Versioned<LedgerMetadata>>> seen;
  auto watch = reader->WatchLedger(5, [&](const Result<Versioned<LedgerMetadata>>& r) {
    seen.Set({r.status().code(), r.ok() ? *r : Versioned<LedgerMetadata>{}});
  });
  ASSERT_TRUE(watch.ok()) << watch.status().ToString();
  ASSERT_TRUE(seen.WaitFor([](const auto& s) { return s.first == StatusCode::kOk; }));
  EXPECT_EQ(seen.Get().second.version, 0);

  LedgerMetadata md = SampleLedger();
  md.ensembles.push_back(Ensemble{10, {"bk1:3181", "bk4:3181", "bk3:3181"}});
  ASSERT_TRUE(writer->UpdateLedger(5, md, 0).ok());
  ASSERT_TRUE(seen.WaitFor([](const auto& s) { return s.second.version >= 1; }));

  md.state = LedgerState::kClosed;
  md.last_entry_id = 20;
  md.length = 2100;
  ASSERT_TRUE(writer->UpdateLedger(5, md, 1).ok());
  ASSERT_TRUE(seen.WaitFor([](const auto& s) { return s.second.value.closed(); }));
  EXPECT_EQ(seen.Get().second.value.last_entry_id, 20);
  EXPECT_EQ(seen.Get().second.version, 2);

  ASSERT_TRUE(writer->DeleteLedger(5, 2).ok());
  ASSERT_TRUE(seen.WaitFor([](const auto& s) { return s.first == StatusCode::kNoSuchLedger; }));
  watch->reset();
}

TEST_P(ConformanceTest, BookieRegistryListsAndWatches) {
  auto store = harness_.OpenInitialised();
  auto observer = harness_.OpenInitialised();
  Awaited<BookieList> seen;
  auto watch = observer->WatchBookies([&](const BookieList& l) { seen.Set(l); });
  ASSERT_TRUE(watch.ok());
  ASSERT_TRUE(seen.WaitFor([](const BookieList& l) { return l == BookieList{}; }));

  auto bk1 = store->RegisterBookie("bk1:3181", BookieMode::kWritable, "");
  ASSERT_TRUE(bk1.ok()) << bk1.status().ToString();
  auto bk2 = store->RegisterBookie("bk2:3181", BookieMode::kReadOnly, "");
  ASSERT_TRUE(bk2.ok()) << bk2.status().ToString();
  EXPECT_EQ(store->RegisterBookie("bk1:3181", BookieMode::kWritable, "").status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(store->RegisterBookie("bad/id", BookieMode::kWritable, "").status().code(),
            StatusCode::kInvalidArgument);

  BookieList both{{"bk1:3181"}, {"bk2:3181"}};
  auto listed = observer->ListBookies();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, both);
  // The records say each bookie's mode and the version of the process that registered it.
  auto registrations = observer->ListRegistrations();
  ASSERT_TRUE(registrations.ok()) << registrations.status().ToString();
  ASSERT_EQ(registrations->size(), 2u);
  EXPECT_EQ((*registrations)[0].bookie_id, "bk1:3181");
  EXPECT_EQ((*registrations)[0].mode, BookieMode::kWritable);
  EXPECT_EQ((*registrations)[1].bookie_id, "bk2:3181");
  EXPECT_EQ((*registrations)[1].mode, BookieMode::kReadOnly);
  for (const RegisteredBookie& r : *registrations) {
    EXPECT_EQ(r.version, QuireVersion()) << r.bookie_id;
    EXPECT_FALSE(r.owner.empty()) << r.bookie_id;
  }
  ASSERT_TRUE(seen.WaitFor([&](const BookieList& l) { return l == both; }));

  ASSERT_TRUE((*bk1)->SetMode(BookieMode::kReadOnly).ok());
  EXPECT_EQ((*bk1)->mode(), BookieMode::kReadOnly);
  BookieList read_only{{}, {"bk1:3181", "bk2:3181"}};
  ASSERT_TRUE(seen.WaitFor([&](const BookieList& l) { return l == read_only; }));
  ASSERT_TRUE((*bk1)->SetMode(BookieMode::kWritable).ok());
  ASSERT_TRUE(seen.WaitFor([&](const BookieList& l) { return l == both; }));

  bk2->reset();
  BookieList one{{"bk1:3181"}, {}};
  ASSERT_TRUE(seen.WaitFor([&](const BookieList& l) { return l == one; }));
  listed = observer->ListBookies();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, one);
  bk1->reset();
  ASSERT_TRUE(seen.WaitFor([](const BookieList& l) { return l == BookieList{}; }));
}

TEST_P(ConformanceTest, RegistrationOfLiveBookieIsRefusedToOthers) {
  MetadataOptions quick = TestOptions();
  quick.operation_timeout = seconds(2);
  quick.session_timeout = milliseconds(1000);
  auto a = harness_.OpenInitialised(quick);
  auto b = harness_.OpenInitialised(quick);
  auto reg = a->RegisterBookie("bk1:3181", BookieMode::kWritable, "");
  ASSERT_TRUE(reg.ok());
  // b waits (bounded) for a's registration to expire; a is alive, so it never does.
  auto refused = b->RegisterBookie("bk1:3181", BookieMode::kReadOnly, "");
  EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists) << refused.status().ToString();
  reg->reset();
  auto taken = b->RegisterBookie("bk1:3181", BookieMode::kReadOnly, "");
  EXPECT_TRUE(taken.ok()) << taken.status().ToString();
}

TEST_P(ConformanceTest, RegistrationVanishesWhenItsProcessIsKilled) {
  if (!harness_.shared_across_processes()) GTEST_SKIP() << "mem:// is private to one process";
  auto store = harness_.OpenInitialised();
  Awaited<BookieList> seen;
  auto watch = store->WatchBookies([&](const BookieList& l) { seen.Set(l); });
  ASSERT_TRUE(watch.ok());
  auto child = StartRegistrar("bk9:3181");
  ASSERT_TRUE(seen.WaitFor(
      [](const BookieList& l) { return l.writable == std::vector<BookieId>{"bk9:3181"}; }));
  child.Kill(SIGKILL);
  // Gone within the session timeout (plus the detection granularity): bounded wait on the watch.
  ASSERT_TRUE(seen.WaitFor([](const BookieList& l) { return l.writable.empty(); }, seconds(30)))
      << "registration still listed after the owner was killed";
  auto listed = store->ListBookies();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->writable.empty());
  // The bookie can come back under the same id (its new process registers again).
  auto again = store->RegisterBookie("bk9:3181", BookieMode::kWritable, "");
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

// A bookie that restarts after kill -9 presents the same takeover key (its host and directories,
// whose locks it holds) and takes its registration over at once: while the killed process's
// session is still alive, as the lock that process took, still held, shows. Another key (another
// bookie under the same id) still has to wait for the holder's session, and is refused while
// the holder lives.
TEST_P(ConformanceTest, RegistrationOfAKilledProcessIsTakenOverAtOnceWithItsKey) {
  if (!harness_.shared_across_processes()) GTEST_SKIP() << "mem:// is private to one process";
  const std::string key = "host-a|/data/journal|/data/ledgers";
  MetadataOptions quick = TestOptions();
  quick.operation_timeout = seconds(2);  // bounds the wait of the refused registration below
  auto store = harness_.OpenInitialised(quick);

  // The holder alive, another key: refused after the bounded wait.
  auto alive = StartRegistrar("bk7:3181", seconds(60), key, "witness-7");
  auto refused = store->RegisterBookie("bk7:3181", BookieMode::kWritable, "host-b|/other");
  EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists) << refused.status().ToString();
  alive.Kill(SIGKILL);
  // Dead, but its session (60 s) lives on: a registration without its key still waits for it.
  auto still = store->RegisterBookie("bk7:3181", BookieMode::kWritable, "");
  EXPECT_EQ(still.status().code(), StatusCode::kAlreadyExists) << still.status().ToString();

  // With its key: taken over at once, while the killed process's session still holds its lock.
  auto taken = store->RegisterBookie("bk7:3181", BookieMode::kReadOnly, key);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  auto owner = store->LockOwner("witness-7");
  ASSERT_TRUE(owner.ok()) << owner.status().ToString();
  EXPECT_EQ(owner->value_or("<free>"), "helper") << "the killed process's session had expired";
  auto listed = store->ListRegistrations();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].mode, BookieMode::kReadOnly);  // ours, not the killed one's
  // The key stays with the registration: a move keeps it, and so a later restart takes it too.
  ASSERT_TRUE((*taken)->SetMode(BookieMode::kWritable).ok());
  auto other = harness_.OpenInitialised(quick);
  auto again = other->RegisterBookie("bk7:3181", BookieMode::kWritable, key);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST_P(ConformanceTest, RegistrationVanishesWhenItsProcessHangs) {
  if (!harness_.shared_across_processes()) GTEST_SKIP() << "mem:// is private to one process";
  auto store = harness_.OpenInitialised();
  Awaited<BookieList> seen;
  auto watch = store->WatchBookies([&](const BookieList& l) { seen.Set(l); });
  ASSERT_TRUE(watch.ok());
  auto child = StartRegistrar("bk8:3181");
  ASSERT_TRUE(seen.WaitFor([](const BookieList& l) { return !l.writable.empty(); }));
  ASSERT_EQ(kill(child.pid(), SIGSTOP), 0);  // alive, but no longer renewing
  ASSERT_TRUE(seen.WaitFor([](const BookieList& l) { return l.writable.empty(); }, seconds(30)));
  child.Kill(SIGKILL);
}

TEST_P(ConformanceTest, CookiesPersistAcrossReopen) {
  Cookie cookie;
  cookie.bookie_id = "bk1:3181";
  cookie.journal_dirs = {"/data/journal"};
  cookie.ledger_dirs = {"/data/ledgers1", "/data/ledgers2"};
  cookie.creation_time_ms = 1'700'000'000'000;
  {
    auto store = harness_.OpenInitialised();
    cookie.instance_id = store->GetClusterInfo()->instance_id;
    EXPECT_EQ(store->ReadCookie("bk1:3181").status().code(), StatusCode::kNotFound);
    auto v = store->WriteCookie(cookie, kNewRecord);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(*v, 0);
    EXPECT_EQ(store->WriteCookie(cookie, kNewRecord).status().code(), StatusCode::kAlreadyExists);
  }
  auto reopened = harness_.Open();
  ASSERT_TRUE(reopened.ok());
  auto read = (*reopened)->ReadCookie("bk1:3181");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->value, cookie);
  EXPECT_EQ(read->version, 0);

  Cookie grown = cookie;
  grown.ledger_dirs.push_back("/data/ledgers3");
  EXPECT_EQ((*reopened)->WriteCookie(grown, 5).status().code(), StatusCode::kBadVersion);
  auto v1 = (*reopened)->WriteCookie(grown, 0);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(*v1, 1);
  EXPECT_EQ((*reopened)->ReadCookie("bk1:3181")->value, grown);
  EXPECT_EQ((*reopened)->DeleteCookie("bk1:3181", 0).code(), StatusCode::kBadVersion);
  EXPECT_TRUE((*reopened)->DeleteCookie("bk1:3181", 1).ok());
  EXPECT_EQ((*reopened)->ReadCookie("bk1:3181").status().code(), StatusCode::kNotFound);
}

TEST_P(ConformanceTest, UnderReplicationMarkers) {
  auto store = harness_.OpenInitialised();
  ASSERT_TRUE(store->MarkUnderReplicated(1, "bk2:3181").ok());
  ASSERT_TRUE(store->MarkUnderReplicated(1, "bk1:3181").ok());
  ASSERT_TRUE(store->MarkUnderReplicated(1, "bk2:3181").ok());  // idempotent
  ASSERT_TRUE(store->MarkUnderReplicated(50'000, "bk3:3181").ok());
  auto listed = store->ListUnderReplicated(0, 100);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].ledger_id, 1);
  EXPECT_EQ((*listed)[0].lost_bookies, (std::vector<BookieId>{"bk1:3181", "bk2:3181"}));
  EXPECT_EQ((*listed)[1].ledger_id, 50'000);
  EXPECT_EQ((*listed)[1].lost_bookies, (std::vector<BookieId>{"bk3:3181"}));
  auto paged = store->ListUnderReplicated(2, 1);
  ASSERT_TRUE(paged.ok());
  ASSERT_EQ(paged->size(), 1u);
  EXPECT_EQ((*paged)[0].ledger_id, 50'000);

  ASSERT_TRUE(store->ClearUnderReplicated(1).ok());
  ASSERT_TRUE(store->ClearUnderReplicated(1).ok());  // already clear
  listed = store->ListUnderReplicated(0, 100);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].ledger_id, 50'000);
}

TEST_P(ConformanceTest, CookiesAreListedAndAutoRecoveryRecordIsCompareAndSet) {
  auto store = harness_.OpenInitialised();
  auto none = store->ListCookies();
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  for (const char* id : {"bk2:3181", "bk1:3181"}) {
    Cookie c{.bookie_id = id, .instance_id = "i", .journal_dirs = {"/j"}, .ledger_dirs = {"/l"}};
    ASSERT_TRUE(store->WriteCookie(c, metadata::kNewRecord).ok());
  }
  auto cookies = store->ListCookies();
  ASSERT_TRUE(cookies.ok()) << cookies.status().ToString();
  EXPECT_EQ(*cookies, (std::vector<BookieId>{"bk1:3181", "bk2:3181"}));
  ASSERT_TRUE(store->DeleteCookie("bk1:3181", metadata::kAnyVersion).ok());
  EXPECT_EQ(*store->ListCookies(), (std::vector<BookieId>{"bk2:3181"}));

  // Never written: the defaults, to be created.
  auto initial = store->ReadAutoRecovery();
  ASSERT_TRUE(initial.ok()) << initial.status().ToString();
  EXPECT_EQ(initial->version, metadata::kNewRecord);
  EXPECT_TRUE(initial->value.enabled);
  metadata::AutoRecoveryState state;
  state.enabled = false;
  state.missing_bookies = {{"bk2:3181", 1234}};
  state.audit_time_ms = 99;
  state.auditor = "bookie bk1:3181";
  state.last_check_time_ms = 77;
  auto v = store->WriteAutoRecovery(state, metadata::kNewRecord);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  // A second creation and a stale version both lose.
  EXPECT_FALSE(store->WriteAutoRecovery(state, metadata::kNewRecord).ok());
  auto read = store->ReadAutoRecovery();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->value, state);
  EXPECT_EQ(read->version, *v);
  state.enabled = true;
  ASSERT_TRUE(store->WriteAutoRecovery(state, *v).ok());
  EXPECT_EQ(store->WriteAutoRecovery(state, *v).status().code(), StatusCode::kBadVersion);
  EXPECT_TRUE(store->ReadAutoRecovery()->value.enabled);
}

TEST_P(ConformanceTest, LockHasOneOwner) {
  auto a = harness_.OpenInitialised();
  auto b = harness_.OpenInitialised();
  auto held = a->TryLock("auditor", "auditor-a", nullptr);
  ASSERT_TRUE(held.ok()) << held.status().ToString();
  EXPECT_TRUE((*held)->held());
  auto refused = b->TryLock("auditor", "auditor-b", nullptr);
  EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(refused.status().message().find("auditor-a"), std::string::npos)
      << refused.status().ToString();
  auto owner = b->LockOwner("auditor");
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(owner->value_or(""), "auditor-a");
  held->reset();
  owner = b->LockOwner("auditor");
  ASSERT_TRUE(owner.ok());
  EXPECT_FALSE(owner->has_value());
  auto taken = b->TryLock("auditor", "auditor-b", nullptr);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_EQ(b->LockOwner("auditor")->value_or(""), "auditor-b");
}

TEST_P(ConformanceTest, CorruptOrFutureRecordsAreCorruption) {
  auto store = harness_.OpenInitialised();
  ASSERT_TRUE(store->CreateLedger(77, SampleLedger()).ok());
  ASSERT_TRUE(store->CreateLedger(78, SampleLedger()).ok());

  ASSERT_TRUE(harness_.WriteRawLedgerRecord(77, std::string("\xff\xfe garbage \x01", 12)).ok());
  auto garbage = store->ReadLedger(77);
  EXPECT_EQ(garbage.status().code(), StatusCode::kCorruption);
  EXPECT_NE(garbage.status().message().find(harness_.LedgerLocation(77)), std::string::npos)
      << garbage.status().ToString();

  quire::proto::LedgerMetadataRecord future;
  future.set_format_version(99);
  future.set_ensemble_size(3);
  ASSERT_TRUE(harness_.WriteRawLedgerRecord(78, future.SerializeAsString()).ok());
  auto newer = store->ReadLedger(78);
  EXPECT_EQ(newer.status().code(), StatusCode::kCorruption);
  EXPECT_NE(newer.status().message().find("format version 99"), std::string::npos)
      << newer.status().ToString();
  EXPECT_NE(newer.status().message().find(harness_.LedgerLocation(78)), std::string::npos);

  // A watcher hears of it too, and a listing still works.
  Awaited<StatusCode> seen;
  auto watch = store->WatchLedger(78, [&](const auto& r) { seen.Set(r.status().code()); });
  ASSERT_TRUE(watch.ok());
  EXPECT_TRUE(seen.WaitFor([](StatusCode c) { return c == StatusCode::kCorruption; }));
  auto ids = store->ListLedgers(0, 10);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<LedgerId>{77, 78}));
}

TEST_P(ConformanceTest, NukeRefusesWhileBookiesAreRegistered) {
  auto store = harness_.OpenInitialised();
  ASSERT_TRUE(store->CreateLedger(1, SampleLedger()).ok());
  auto reg = store->RegisterBookie("bk1:3181", BookieMode::kWritable, "");
  ASSERT_TRUE(reg.ok());
  Status refused = store->Nuke(false);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("bk1:3181"), std::string::npos) << refused.ToString();
  EXPECT_TRUE(store->ReadLedger(1).ok());
  reg->reset();
  ASSERT_TRUE(store->Nuke(false).ok());
  EXPECT_EQ(store->GetClusterInfo().status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store->ReadLedger(1).status().code(), StatusCode::kNoSuchLedger);
  auto info = store->InitCluster();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  auto id = store->AllocateLedgerId();
  EXPECT_TRUE(id.ok()) << id.status().ToString();
}

TEST_P(ConformanceTest, ForcedNukeRemovesEverything) {
  auto store = harness_.OpenInitialised();
  auto other = harness_.OpenInitialised();
  auto reg = other->RegisterBookie("bk1:3181", BookieMode::kWritable, "");
  ASSERT_TRUE(reg.ok());
  for (LedgerId id = 0; id < 50; ++id)
    ASSERT_TRUE(store->CreateLedger(id * 977, SampleLedger()).ok());
  ASSERT_TRUE(store->Nuke(true).ok());
  EXPECT_EQ(store->ListLedgers(0, 10).status().code(), StatusCode::kFailedPrecondition);
  reg->reset();
}

INSTANTIATE_TEST_SUITE_P(Drivers, ConformanceTest,
                         ::testing::Values(Driver::kMem, Driver::kFile, Driver::kZk),
                         [](const ::testing::TestParamInfo<Driver>& p) {
                           return DriverName(p.param);
                         });

}  // namespace
}  // namespace quire::metadata::testing
