// The daemon as operators meet it: kill -9 under load, read-only mode when the ledger disk fills,
// the admin endpoints, a second daemon on the same directories, clean shutdown.
#include <sys/mount.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <condition_variable>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "bookie/bookie_test_fixture.h"
#include "protocol/protocol.h"
#include "metadata/metadata_store.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace quire::bookie::testing {
namespace {

using DaemonTest = BookieTest;

// Writers on several connections pipeline adds until the bookie dies under them; every add whose
// OK arrived must be readable after a restart.
TEST_F(DaemonTest, KillNineUnderLoadLosesNoAcknowledgedEntry) {
  std::mt19937_64 rng(7);
  std::map<std::pair<int64_t, int64_t>, std::string> acked;
  int64_t ledger_base = 100;
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::mutex mu;
    std::condition_variable cv;
    size_t acks = 0;
    std::vector<std::thread> writers;
    for (int w = 0; w < 4; ++w) {
      int64_t ledger = ledger_base + w;
      writers.emplace_back([&, ledger] {
        auto c = RawClient::Connect("127.0.0.1", bookie_->port());
        if (!c.ok()) return;
        std::map<uint64_t, std::pair<int64_t, std::string>> pending;  // request id -> entry
        int64_t next = 0;
        while (true) {
          while (pending.size() < 32) {
            std::string payload = fmt::format("L{}E{}-{}", ledger, next, std::string(next % 500, 'p'));
            if (!c->Send(AddRequest(static_cast<uint64_t>(next + 1), ledger, next, "key", payload,
                                    next - 1))
                     .ok()) {
              return;
            }
            pending[static_cast<uint64_t>(next + 1)] = {next, payload};
            ++next;
          }
          auto r = c->Receive(std::chrono::seconds(30));
          if (!r.ok()) return;  // the bookie died
          auto it = pending.find(r->header().request_id());
          if (it == pending.end() || r->status() != proto::OK) return;
          std::lock_guard<std::mutex> lock(mu);
          acked[{ledger, it->second.first}] =
              EntryBody(ledger, it->second.first, it->second.first - 1, it->second.second);
          pending.erase(it);
          ++acks;
          cv.notify_all();
        }
      });
    }
    size_t kill_after = 200 + rng() % 2000;
    {
      std::unique_lock<std::mutex> lock(mu);
      ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(120), [&] { return acks >= kill_after; }))
          << "only " << acks << " acknowledgements";
    }
    bookie_->Kill();
    for (auto& t : writers) t.join();
    ASSERT_TRUE(bookie_->Restart().ok());
    RawClient c = Connect();
    uint64_t id = 1;
    for (const auto& [key, body] : acked) {
      proto::Response r = Call(c, ReadRequest(id++, key.first, key.second));
      ASSERT_EQ(r.status(), proto::OK) << "ledger " << key.first << " entry " << key.second;
      ASSERT_EQ(r.read().body(), body);
    }
    ledger_base += 10;  // fresh ledgers each round: entry ids never repeat with other bytes
  }
}

TEST_F(DaemonTest, AdminEndpointsAndCleanShutdown) {
  std::string body;
  auto status = HttpGet(bookie_->http_port(), "/health", &body);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 200);
  status = HttpGet(bookie_->http_port(), "/api/v1/bookie/info", &body);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 200);
  EXPECT_NE(body.find(bookie_->bookie_id()), std::string::npos) << body;
  status = HttpGet(bookie_->http_port(), "/api/v1/bookie/state", &body);
  EXPECT_EQ(*status, 200);
  EXPECT_NE(body.find("\"writable\":true"), std::string::npos) << body;
  RawClient c = Connect();
  ASSERT_EQ(Call(c, AddRequest(1, 1, 0, "k", "x")).status(), proto::OK);
  ASSERT_EQ(Call(c, ReadRequest(2, 1, 0)).status(), proto::OK);
  status = HttpGet(bookie_->http_port(), "/metrics", &body);
  EXPECT_EQ(*status, 200);
  for (const char* name : {"quire_bookie_request_latency_seconds_bucket{operation=\"add\"",
                           "quire_bookie_request_latency_seconds_count{operation=\"read\"",
                           "quire_journal_sync_latency_seconds_sum",
                           "quire_journal_records_per_sync_bucket", "quire_bookie_connections",
                           "quire_storage_added_bytes_total", "quire_bookie_writable 1",
                           "quire_gc_passes_total 0", "quire_gc_bytes_reclaimed_total",
                           "quire_gc_pass_duration_seconds_count",
                           "quire_gc_entry_log_live_fraction_bucket{le=\"1\"}",
                           "quire_storage_cached_ledgers", "quire_bookie_known_lacs",
                           "quire_storage_flushes_held_back_total 0",
                           "quire_bookie_dispatch_seconds_count"}) {
    EXPECT_NE(body.find(name), std::string::npos) << name << " missing from /metrics";
  }
  status = HttpGet(bookie_->http_port(), "/api/v1/bookie/gc", &body);
  EXPECT_EQ(*status, 200);
  EXPECT_NE(body.find("\"is_in_force_gc\":\"false\""), std::string::npos) << body;
  // SIGTERM: a clean exit, the registration gone.
  c.Close();
  int exit_status = bookie_->Stop();
  EXPECT_TRUE(WIFEXITED(exit_status) && WEXITSTATUS(exit_status) == 0) << exit_status;
  auto store = metadata::OpenMetadataStore(metadata_uri_, {});
  ASSERT_TRUE(store.ok());
  auto bookies = (*store)->ListBookies();
  ASSERT_TRUE(bookies.ok());
  EXPECT_TRUE(bookies->writable.empty() && bookies->read_only.empty());
}

// The status and JSON body of an admin HTTP call to the test's bookie; a failed call fails the test.
struct HttpAnswer {
  int status = 0;
  nlohmann::json json;
  std::string body;
};
HttpAnswer Http(const BookieProcess& bookie, std::string_view method, const std::string& path,
                std::string_view body = "") {
  HttpAnswer a;
  auto status = HttpCall(bookie.http_port(), method, path, body, &a.body);
  EXPECT_TRUE(status.ok()) << path << ": " << status.status().ToString();
  if (!status.ok()) return a;
  a.status = *status;
  a.json = nlohmann::json::parse(a.body, nullptr, /*allow_exceptions=*/false);
  return a;
}

// Where the registry lists the bookie now: "writable", "read-only" or "" (not registered).
std::string RegisteredAs(const std::string& metadata_uri, const BookieId& id) {
  auto store = metadata::OpenMetadataStore(metadata_uri, {});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return "";
  auto list = (*store)->ListBookies();
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  if (!list.ok()) return "";
  auto has = [&](const std::vector<BookieId>& v) { return std::count(v.begin(), v.end(), id) > 0; };
  return has(list->writable) ? "writable" : has(list->read_only) ? "read-only" : "";
}

// An operator makes the bookie read-only by hand (as before a decommission), and lifts it later:
// adds are refused while it is on and reads go on; the bookie is live but not ready; the registry
// follows at once (the answer comes after the registration moved); a restart keeps the mode.
TEST_F(DaemonTest, ManualReadOnlyRefusesAddsUntilLiftedAndSurvivesARestart) {
  RawClient c = Connect();
  ASSERT_EQ(Call(c, AddRequest(1, 1, 0, "k", "before")).status(), proto::OK);
  EXPECT_EQ(Http(*bookie_, "GET", "/api/v1/bookie/state/readonly").json["readOnly"], false);

  HttpAnswer on = Http(*bookie_, "PUT", "/api/v1/bookie/state/readonly", R"({"readOnly": true})");
  ASSERT_EQ(on.status, 200) << on.body;
  EXPECT_EQ(on.json["readOnly"], true);
  EXPECT_EQ(on.json["manual"], true);
  auto expect_read_only = [&](RawClient& client, uint64_t request_id) {
    EXPECT_EQ(Call(client, AddRequest(request_id, 1, 1, "k", "refused", 0)).status(),
              proto::READ_ONLY);
    EXPECT_EQ(Call(client, ReadRequest(request_id + 1, 1, 0)).status(), proto::OK)
        << "reads go on while read-only";
    EXPECT_EQ(Http(*bookie_, "GET", "/health/live").status, 200);
    HttpAnswer ready = Http(*bookie_, "GET", "/health/ready");
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.json.value("reason", "").find("operator"), std::string::npos) << ready.body;
    EXPECT_EQ(Http(*bookie_, "GET", "/health").status, 503) << "/health is ready's alias";
    EXPECT_EQ(Http(*bookie_, "GET", "/heartbeat").status, 200);
    EXPECT_EQ(Http(*bookie_, "GET", "/api/v1/bookie/state/readonly").json["readOnly"], true);
    EXPECT_EQ(RegisteredAs(metadata_uri_, bookie_->bookie_id()), "read-only");
  };
  expect_read_only(c, 2);

  // The mode is on the bookie's disk: a restart comes back read-only.
  c.Close();
  ASSERT_EQ(bookie_->Stop(), 0);
  ASSERT_TRUE(bookie_->Restart().ok());
  c = Connect();
  expect_read_only(c, 4);

  HttpAnswer off = Http(*bookie_, "PUT", "/api/v1/bookie/state/readonly", R"({"readOnly": false})");
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_EQ(off.json["readOnly"], false);
  EXPECT_EQ(Call(c, AddRequest(6, 1, 1, "k", "after", 0)).status(), proto::OK);
  EXPECT_EQ(Http(*bookie_, "GET", "/health/ready").status, 200);
  EXPECT_EQ(RegisteredAs(metadata_uri_, bookie_->bookie_id()), "writable");
  // Lifted for good: the next start is writable.
  c.Close();
  ASSERT_EQ(bookie_->Stop(), 0);
  ASSERT_TRUE(bookie_->Restart().ok());
  c = Connect();
  EXPECT_EQ(Call(c, AddRequest(7, 1, 2, "k", "later", 1)).status(), proto::OK);
  EXPECT_EQ(Http(*bookie_, "GET", "/health/ready").status, 200);
}

// BookKeeper's read endpoints on a real bookie: info (with the version), list_bookies,
// list_ledger; and the version in /metrics.
TEST_F(DaemonTest, InfoListBookiesAndListLedgerAnswerInBookKeepersShape) {
  HttpAnswer info = Http(*bookie_, "GET", "/api/v1/bookie/info");
  ASSERT_EQ(info.status, 200) << info.body;
  EXPECT_EQ(info.json["bookieId"], bookie_->bookie_id());
  EXPECT_TRUE(info.json["version"].is_string() && !info.json["version"].get<std::string>().empty())
      << info.body;
  EXPECT_TRUE(info.json["commit"].is_string()) << info.body;
  EXPECT_TRUE(info.json["malloc"].is_string()) << info.body;
  EXPECT_GT(info.json.value("totalSpace", uint64_t{0}), 0u) << info.body;
  EXPECT_TRUE(info.json["freeSpace"].is_number_unsigned()) << info.body;

  EXPECT_EQ(Http(*bookie_, "GET", "/api/v1/bookie/list_bookies").json,
            (nlohmann::json{{bookie_->bookie_id(), nullptr}}));
  EXPECT_EQ(Http(*bookie_, "GET", "/api/v1/bookie/list_bookies?type=rw&print_hostnames=true").json,
            (nlohmann::json{{bookie_->bookie_id(), "127.0.0.1"}}));
  EXPECT_EQ(Http(*bookie_, "GET", "/api/v1/bookie/list_bookies?type=ro").json,
            nlohmann::json::object());

  auto store = metadata::OpenMetadataStore(metadata_uri_, {});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(Http(*bookie_, "GET", "/api/v1/bookie/list_ledger").json, nlohmann::json::object());
  LedgerMetadata md;
  md.ensemble_size = md.write_quorum_size = md.ack_quorum_size = 1;
  md.ensembles = {Ensemble{0, {bookie_->bookie_id()}}};
  for (LedgerId id : {LedgerId{5}, LedgerId{70000}}) ASSERT_TRUE((*store)->CreateLedger(id, md).ok());
  nlohmann::json ledgers{{"5", nullptr}, {"70000", nullptr}};
  EXPECT_EQ(Http(*bookie_, "GET", "/api/v1/bookie/list_ledger").json, ledgers);
  EXPECT_EQ(Http(*bookie_, "GET", "/api/v1/ledger/list").json, ledgers);

  HttpAnswer metrics = Http(*bookie_, "GET", "/metrics");
  std::string build_info = fmt::format("quire_build_info{{version=\"{}\",commit=\"{}\"}} 1",
                                       info.json["version"].get<std::string>(),
                                       info.json["commit"].get<std::string>());
  EXPECT_NE(metrics.body.find(build_info), std::string::npos) << metrics.body;
}

TEST_F(DaemonTest, ASecondDaemonOnTheSameDirectoriesIsRefused) {
  // The same bookie id (so the cookie checks pass), listening on another loopback address: only
  // the directory lock can stop it.
  BookieProcessOptions o{dir_.Sub("bookie2-conf"), metadata_uri_,
                         {"bookiePort = " + std::to_string(bookie_->port()),
                          "bookieBindAddress = 127.0.0.2",
                          "journalDirectories = " + dir_.Sub("bookie/journal"),
                          "ledgerDirectories = " + dir_.Sub("bookie/ledgers")}};
  auto second = BookieProcess::Start(o);
  EXPECT_FALSE(second.ok()) << "a second bookie process started on locked directories";
  RawClient c = Connect();  // the first one is unaffected
  EXPECT_EQ(Call(c, AddRequest(1, 1, 0, "k", "x")).status(), proto::OK);
}

// A bk_server.conf name for a key that means the same thing is accepted, with a note in the log
// once per name; both names with different values refuse to start (exit 2, naming both).
class BookKeeperNamesTest : public BookieTest {
 protected:
  BookKeeperNamesTest() {
    settings_ = {"serverNumIOThreads = 3", "zkTimeout = 2000",  // the same value as the test's
                 "metadataSessionTimeoutMs = 2000", "logFile = " + dir_.Sub("bookie.log")};
  }
};

TEST_F(BookKeeperNamesTest, AreAcceptedWithANoteAndRefusedWhenTheyDisagree) {
  ASSERT_EQ(bookie_->Stop(), 0);  // the log is complete
  std::ifstream in(dir_.Sub("bookie.log"));
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* note : {"key 'serverNumIOThreads' is BookKeeper's name for 'numIoThreads'",
                           "key 'zkTimeout' is BookKeeper's name for 'metadataSessionTimeoutMs'"}) {
    size_t at = log.find(note);
    EXPECT_NE(at, std::string::npos) << note << "\n" << log;
    EXPECT_EQ(log.find(note, at + 1), std::string::npos) << "noted twice: " << note;
  }
  auto refused = quire::testing::Subprocess::Start(
      {"/bin/sh", "-c",
       fmt::format("exec '{}' --conf '{}' --set metadataSessionTimeoutMs=5000 2>&1",
                   QUIRE_BOOKIE_BINARY, dir_.Sub("bookie/bookie.conf"))});
  ASSERT_TRUE(refused.ok());
  std::string out;
  for (int i = 0; i < 100; ++i) {
    auto line = refused->ReadLine(std::chrono::seconds(60));
    if (!line) break;
    out += *line + "\n";
  }
  int status = refused->Wait(std::chrono::seconds(60));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status << "\n" << out;
  EXPECT_NE(out.find("key 'zkTimeout' is BookKeeper's name for 'metadataSessionTimeoutMs', and "
                     "both are set, to different values"),
            std::string::npos)
      << out;
}

TEST_F(DaemonTest, WipedDirectoriesOfAKnownBookieAreRefused) {
  ASSERT_EQ(bookie_->Stop(), 0);
  std::error_code ec;
  std::filesystem::remove_all(dir_.Sub("bookie/ledgers"), ec);
  std::filesystem::remove_all(dir_.Sub("bookie/journal"), ec);
  EXPECT_FALSE(bookie_->Restart().ok()) << "a bookie whose disks were wiped must not start";
}

// Both ports are bound before the bookie touches its directories or the metadata store, so an
// operator whose admin port is taken can simply choose another: nothing was half-initialised.
TEST_F(DaemonTest, AnAdminPortInUseFailsBeforeTheBookieTouchesItsDirectories) {
  BookieProcessOptions o{dir_.Sub("bookie2"), metadata_uri_,
                         {"httpServerPort = " + std::to_string(bookie_->http_port())}};
  auto second = BookieProcess::Start(o);
  ASSERT_FALSE(second.ok()) << "a second bookie started on an admin port that is in use";
  for (const char* sub : {"bookie2/journal", "bookie2/ledgers"}) {
    std::error_code ec;
    bool empty = !std::filesystem::exists(dir_.Sub(sub), ec) ||
                 std::filesystem::is_empty(dir_.Sub(sub), ec);
    EXPECT_TRUE(empty) << dir_.Sub(sub) << " was written by a bookie that could not start";
  }
  auto store = metadata::OpenMetadataStore(metadata_uri_, {});
  ASSERT_TRUE(store.ok());
  auto bookies = (*store)->ListBookies();
  ASSERT_TRUE(bookies.ok());
  EXPECT_EQ(bookies->writable.size() + bookies->read_only.size(), 1u);
}

class ReadOnlyTest : public BookieTest {
 protected:
  void SetUp() override {
    mount_point_ = dir_.Sub("small-disk");
    std::filesystem::create_directories(mount_point_);
    if (mount("quire-test", mount_point_.c_str(), "tmpfs", 0, "size=64m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << std::strerror(errno);
    }
    mounted_ = true;
    // The index takes under 1 MiB (it preallocates nothing); the 44 MiB filler takes usage to
    // ~70 %, past 0.6, and removing it to a few per cent, below 0.45.
    settings_ = {"ledgerDirectories = " + mount_point_ + "/ledgers",
                 "diskUsageThreshold = 0.6", "diskUsageLwmThreshold = 0.45",
                 "diskCheckIntervalMs = 50", "writeCacheMaxSizeMB = 4",
                 "readAheadCacheMaxSizeMB = 2"};
    BookieTest::SetUp();
  }
  void TearDown() override {
    bookie_.reset();  // stop the process before the disk goes away
    if (mounted_) umount2(mount_point_.c_str(), MNT_DETACH);
  }

  // Waits (bounded) until the registry lists the bookie as read-only (or writable).
  bool WaitForMode(bool read_only) {
    auto store = metadata::OpenMetadataStore(metadata_uri_, {});
    if (!store.ok()) return false;
    for (int attempt = 0; attempt < 300; ++attempt) {
      auto list = (*store)->ListBookies();
      if (list.ok()) {
        const auto& v = read_only ? list->read_only : list->writable;
        if (std::find(v.begin(), v.end(), bookie_->bookie_id()) != v.end()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  std::string mount_point_;
  bool mounted_ = false;
};

TEST_F(ReadOnlyTest, AFullLedgerDiskTurnsTheBookieReadOnlyAndBack) {
  RawClient c = Connect();
  ASSERT_EQ(Call(c, AddRequest(1, 1, 0, "k", "before")).status(), proto::OK);
  // Fill the ledger disk past diskUsageThreshold.
  {
    std::ofstream filler(mount_point_ + "/filler");
    filler << std::string(44 << 20, 'f');
  }
  ASSERT_TRUE(WaitForMode(/*read_only=*/true)) << "the registry never showed the bookie read-only";
  std::string body;
  auto status = HttpGet(bookie_->http_port(), "/health/ready", &body);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 503);
  EXPECT_NE(body.find("full"), std::string::npos) << body;
  status = HttpGet(bookie_->http_port(), "/health/live", &body);
  EXPECT_EQ(*status, 200) << "a full bookie still serves reads: it must not be restarted";
  EXPECT_EQ(Call(c, AddRequest(2, 1, 1, "k", "refused", 0)).status(), proto::READ_ONLY);
  proto::Response r = Call(c, ReadRequest(3, 1, 0));
  EXPECT_EQ(r.status(), proto::OK) << "reads go on while read-only";
  EXPECT_EQ(Call(c, BookieInfoRequest(4)).bookie_info().state(),
            proto::BookieInfoResponse::READ_ONLY);
  // Below the low-water mark it is writable again.
  std::filesystem::remove(mount_point_ + "/filler");
  ASSERT_TRUE(WaitForMode(/*read_only=*/false));
  status = HttpGet(bookie_->http_port(), "/health", &body);
  EXPECT_EQ(*status, 200);
  EXPECT_EQ(Call(c, AddRequest(5, 1, 1, "k", "after", 0)).status(), proto::OK);
}

class IdleTest : public BookieTest {
 protected:
  void SetUp() override {
    settings_ = {"connectionIdleTimeoutMs = 200"};
    BookieTest::SetUp();
  }
};

TEST_F(IdleTest, IdleConnectionsAreClosedButBusyOnesAreNot) {
  RawClient busy = Connect();
  ASSERT_EQ(Call(busy, AddRequest(1, 1, 0, "k", "x")).status(), proto::OK);
  // A long poll in flight keeps its connection open past the idle timeout...
  ASSERT_TRUE(busy.Send(LongPollRequest(2, 1, 0, 1500)).ok());
  RawClient idle = Connect();
  EXPECT_TRUE(idle.WaitForClose(std::chrono::seconds(30))) << "an idle connection stayed open";
  auto r = busy.Receive(std::chrono::seconds(30));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status(), proto::TIMEOUT);
  // ... and once idle it is closed too.
  EXPECT_TRUE(busy.WaitForClose(std::chrono::seconds(30)));
}

// A journal on a tiny disk: when it fills, the journal fails, and the bookie turns read-only for
// good (an I/O error is sticky), while it keeps serving what it stored.
class JournalErrorTest : public BookieTest {
 protected:
  void SetUp() override {
    mount_point_ = dir_.Sub("tiny-journal-disk");
    std::filesystem::create_directories(mount_point_);
    if (mount("quire-test", mount_point_.c_str(), "tmpfs", 0, "size=8m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << std::strerror(errno);
    }
    mounted_ = true;
    settings_ = {"journalDirectories = " + mount_point_ + "/journal",
                 "journalPreAllocSizeMB = 1", "diskCheckIntervalMs = 50"};
    BookieTest::SetUp();
  }
  void TearDown() override {
    bookie_.reset();
    if (mounted_) umount2(mount_point_.c_str(), MNT_DETACH);
  }
  std::string mount_point_;
  bool mounted_ = false;
};

TEST_F(JournalErrorTest, AFullJournalDiskMakesTheBookieReadOnlyForGood) {
  RawClient c = Connect();
  ASSERT_EQ(Call(c, AddRequest(1, 1, 0, "k", "kept")).status(), proto::OK);
  std::string big(256 << 10, 'J');
  proto::Status last = proto::OK;
  int64_t e = 1;
  for (; e < 100 && last == proto::OK; ++e) {
    last = Call(c, AddRequest(static_cast<uint64_t>(e + 1), 1, e, "k", big, e - 1)).status();
  }
  EXPECT_EQ(last, proto::IO_ERROR) << "the journal disk never filled";
  // Read-only now, and it stays so: the cause was an I/O error.
  EXPECT_EQ(Call(c, AddRequest(500, 1, e, "k", "x", e - 1)).status(), proto::READ_ONLY);
  std::string body;
  bool unhealthy = false;
  for (int attempt = 0; attempt < 300 && !unhealthy; ++attempt) {
    auto status = HttpGet(bookie_->http_port(), "/health", &body);
    unhealthy = status.ok() && *status == 503;
    if (!unhealthy) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(unhealthy) << body;
  EXPECT_NE(body.find("storage error"), std::string::npos) << body;
  proto::Response r = Call(c, ReadRequest(501, 1, 0));
  EXPECT_EQ(r.status(), proto::OK) << "reads go on";
  EXPECT_EQ(r.read().body(), EntryBody(1, 0, -1, "kept"));
}

}  // namespace
}  // namespace quire::bookie::testing
