// Bad input against a running quire-bookie: each case must leave the bookie serving a second,
// well-behaved connection and keep every entry it stored.
#include <csignal>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "bookie/bookie_test_fixture.h"
#include "protocol/protocol.h"

namespace quire::bookie::testing {
namespace {

class BadInputTest : public BookieTest {
 protected:
  void SetUp() override {
    settings_ = {"maxInflightBytesPerConnection = 8388608", "maxInflightBytes = 67108864",
                 "maxReadsInFlightPerConnection = 16"};
    BookieTest::SetUp();
    if (HasFatalFailure()) return;
    RawClient c = Connect();
    for (int e = 0; e < 10; ++e) {
      ASSERT_EQ(Call(c, AddRequest(e + 1, 1, e, "key", "stored-" + std::to_string(e), e - 1))
                    .status(),
                proto::OK);
    }
  }

  // A second, well-behaved connection is served, and every stored entry is intact.
  void ExpectHealthy() {
    ASSERT_TRUE(bookie_->running());
    RawClient c = Connect();
    EXPECT_EQ(Call(c, AddRequest(900, 2, next_entry_, "k2", "fresh", next_entry_ - 1)).status(),
              proto::OK);
    ++next_entry_;
    for (int e = 0; e < 10; ++e) {
      proto::Response r = Call(c, ReadRequest(1000 + e, 1, e));
      ASSERT_EQ(r.status(), proto::OK) << r.message();
      EXPECT_EQ(r.read().body(), EntryBody(1, e, e - 1, "stored-" + std::to_string(e)));
    }
  }

  int64_t next_entry_ = 0;
};

TEST_F(BadInputTest, RandomBytes) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 5; ++round) {
    RawClient c = Connect();
    std::string junk(64 << 10, '\0');
    for (char& ch : junk) ch = static_cast<char>(rng());
    c.SetSendTimeout(std::chrono::seconds(5));
    c.SendRaw(junk).IgnoreError();  // the bookie may close before taking it all
    EXPECT_TRUE(c.WaitForClose(std::chrono::seconds(30)) || c.Receive().ok());
  }
  ExpectHealthy();
}

TEST_F(BadInputTest, TwoGiBLengthPrefixIsRefusedAndTheConnectionClosed) {
  RawClient c = Connect();
  ASSERT_TRUE(c.SendRaw(std::string("\x80\x00\x00\x00", 4)).ok());
  auto r = c.Receive();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status(), proto::BAD_REQUEST);
  EXPECT_NE(r->message().find("maxFrameSizeBytes"), std::string::npos) << r->message();
  EXPECT_TRUE(c.WaitForClose(std::chrono::seconds(30)));
  ExpectHealthy();
}

// A connection closed on an over-size frame (a client sent a bigger entry than the bookie
// accepts) is explained in the bookie's log, with the size and the limit: once per connection,
// and not once per frame when a client keeps doing it.
class OversizeFrameLogTest : public BookieTest {
 protected:
  OversizeFrameLogTest() { settings_ = {"logFile = " + dir_.Sub("bookie.log")}; }
};

TEST_F(OversizeFrameLogTest, TheBookieLogsWhyItClosedTheConnection) {
  constexpr int kConnections = 3;
  for (int i = 0; i < kConnections; ++i) {
    RawClient c = Connect();
    ASSERT_TRUE(c.SendRaw(std::string("\x00\xa0\x00\x00", 4)).ok());  // 10 MiB
    auto r = c.Receive();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status(), proto::BAD_REQUEST);
    EXPECT_TRUE(c.WaitForClose(std::chrono::seconds(30)));
  }
  ASSERT_EQ(bookie_->Stop(), 0);  // the log is complete
  std::ifstream in(dir_.Sub("bookie.log"));
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string why =
      "frame of 10485760 bytes exceeds maxFrameSizeBytes (5242880); answered BAD_REQUEST and "
      "closing the connection";
  int lines = 0;
  for (size_t at = log.find(why); at != std::string::npos; at = log.find(why, at + 1)) ++lines;
  EXPECT_GE(lines, 1) << log;
  EXPECT_LE(lines, kConnections) << log;
  EXPECT_NE(log.find("warn"), std::string::npos) << log;
}

TEST_F(BadInputTest, TruncatedFrameThenClose) {
  {
    RawClient c = Connect();
    std::string frame = protocol::EncodeFrame(AddRequest(1, 1, 10, "key", "never-complete", 9));
    ASSERT_TRUE(c.SendRaw(frame.substr(0, frame.size() / 2)).ok());
  }  // closed mid-frame
  ExpectHealthy();
  RawClient c = Connect();
  EXPECT_EQ(Call(c, ReadRequest(2, 1, 10)).status(), proto::NO_SUCH_ENTRY);
}

TEST_F(BadInputTest, UnknownOperationIsAnsweredAndTheConnectionStaysUsable) {
  RawClient c = Connect();
  proto::Request r;
  r.mutable_header()->set_protocol_version(1);
  r.mutable_header()->set_operation(static_cast<proto::Operation>(99));
  r.mutable_header()->set_request_id(77);
  proto::Response resp = Call(c, r);
  EXPECT_EQ(resp.status(), proto::BAD_REQUEST);
  r.mutable_header()->set_operation(proto::ADD_ENTRY);
  r.mutable_header()->set_protocol_version(2);
  EXPECT_EQ(Call(c, r).status(), proto::BAD_VERSION);
  EXPECT_EQ(Call(c, ReadRequest(78, 1, 3)).status(), proto::OK);
  ExpectHealthy();
}

TEST_F(BadInputTest, NegativeAndHugeIds) {
  RawClient c = Connect();
  EXPECT_EQ(Call(c, AddRequest(1, -1, 0, "k", "x")).status(), proto::BAD_REQUEST);
  EXPECT_EQ(Call(c, AddRequest(2, 5, INT64_MIN, "k", "x")).status(), proto::BAD_REQUEST);
  EXPECT_EQ(Call(c, ReadRequest(3, -5, 0)).status(), proto::BAD_REQUEST);
  EXPECT_EQ(Call(c, ReadRequest(4, 1, -2)).status(), proto::BAD_REQUEST);
  EXPECT_EQ(Call(c, LongPollRequest(5, 1, -7, 100)).status(), proto::BAD_REQUEST);
  // The largest ids are valid.
  EXPECT_EQ(Call(c, AddRequest(6, INT64_MAX, INT64_MAX, "k", "edge", 0)).status(), proto::OK);
  proto::Response r = Call(c, ReadRequest(7, INT64_MAX, INT64_MAX));
  EXPECT_EQ(r.status(), proto::OK);
  EXPECT_EQ(r.read().body(), EntryBody(INT64_MAX, INT64_MAX, 0, "edge"));
  // A body whose ids differ from the request's.
  proto::Request mismatched = AddRequest(8, 6, 0, "k", "x");
  mismatched.mutable_add()->set_entry_id(1);
  EXPECT_EQ(Call(c, mismatched).status(), proto::BAD_REQUEST);
  EXPECT_EQ(Call(c, ReadRequest(9, 6, 1)).status(), proto::NO_SUCH_LEDGER);
  ExpectHealthy();
}

TEST_F(BadInputTest, WrongMasterKeyIsUnauthorizedAndStoresNothing) {
  RawClient c = Connect();
  EXPECT_EQ(Call(c, AddRequest(1, 1, 10, "wrong", "intruder", 9)).status(), proto::UNAUTHORIZED);
  EXPECT_EQ(Call(c, ReadRequest(2, 1, 10)).status(), proto::NO_SUCH_ENTRY);
  EXPECT_EQ(Call(c, ReadRequest(3, 1, 0, /*fence=*/true, "wrong")).status(), proto::UNAUTHORIZED);
  EXPECT_EQ(Call(c, WriteLacRequest(4, 1, "wrong", 5, "x")).status(), proto::UNAUTHORIZED);
  // Not fenced by the refused fence.
  EXPECT_EQ(Call(c, AddRequest(5, 1, 10, "key", "stored-10", 9)).status(), proto::OK);
  ExpectHealthy();
}

TEST_F(BadInputTest, AddToAFencedLedgerIsFenced) {
  RawClient c = Connect();
  ASSERT_EQ(Call(c, ReadRequest(1, 1, 9, /*fence=*/true, "key")).status(), proto::OK);
  EXPECT_EQ(Call(c, AddRequest(2, 1, 10, "key", "late", 9)).status(), proto::FENCED);
  EXPECT_EQ(Call(c, WriteLacRequest(3, 1, "key", 9, "x")).status(), proto::FENCED);
  EXPECT_EQ(Call(c, ReadRequest(4, 1, 10)).status(), proto::NO_SUCH_ENTRY);
  ExpectHealthy();
}

// Reads /metrics and returns the value of a sample line "name value", or -1.
double Metric(uint16_t http_port, const std::string& name) {
  std::string body;
  auto status = HttpGet(http_port, "/metrics", &body);
  if (!status.ok() || *status != 200) return -1;
  size_t at = body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + name.size() + 2));
}

TEST_F(BadInputTest, AClientThatNeverReadsItsResponsesKeepsMemoryBounded) {
  // A 1 MiB entry, then a client that never reads asks for it 4,096 times: 4 GiB of answers.
  {
    RawClient c = Connect();
    ASSERT_EQ(Call(c, AddRequest(1, 3, 0, "k", std::string(1 << 20, 'B'))).status(), proto::OK);
  }
  long rss_before = bookie_->RssKiB();
  RawClient greedy = Connect();
  greedy.SetReceiveBuffer(4096);
  greedy.SetSendTimeout(std::chrono::seconds(3));
  std::string frames;
  for (int i = 0; i < 4096; ++i) frames += protocol::EncodeFrame(ReadRequest(10 + i, 3, 0));
  greedy.SendRaw(frames).IgnoreError();  // may time out once the bookie stops reading
  // The bookie stops reading the greedy connection (bounded wait on its metric)...
  double pauses = 0;
  for (int attempt = 0; attempt < 300 && pauses < 1; ++attempt) {
    pauses = Metric(bookie_->http_port(), "quire_bookie_read_pauses_total");
    if (pauses < 1) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(pauses, 1) << "the bookie never applied back-pressure";
  // ... and keeps serving everyone else meanwhile.
  ExpectHealthy();
  long rss_after = bookie_->RssKiB();
  RecordProperty("rss_before_kib", std::to_string(rss_before));
  RecordProperty("rss_after_kib", std::to_string(rss_after));
  std::printf("bookie RSS: %ld KiB before, %ld KiB with a client holding 4 GiB of unread answers\n",
              rss_before, rss_after);
  // Bound: 8 MiB per connection + 16 reads of 1 MiB in flight, plus allocator slack.
  EXPECT_LT(rss_after - rss_before, 128 * 1024) << "RSS grew by more than 128 MiB";
  greedy.Close();
  ExpectHealthy();
}

TEST_F(BadInputTest, AThousandConnectionsOpenedAndDropped) {
  for (int i = 0; i < 1000; ++i) {
    RawClient c = Connect();
    if (i % 3 == 1) c.SendRaw(std::string("\x00\x00\x01", 3)).IgnoreError();  // half a length
    if (i % 3 == 2) c.SendRaw(protocol::EncodeFrame(ReadRequest(i, 1, 0))).IgnoreError();
  }
  ExpectHealthy();
  // Every dropped connection is closed on the bookie's side too (bounded wait on /metrics).
  std::string body;
  bool settled = false;
  for (int attempt = 0; attempt < 300 && !settled; ++attempt) {
    auto status = HttpGet(bookie_->http_port(), "/metrics", &body);
    ASSERT_TRUE(status.ok()) << status.status().ToString();
    settled = body.find("\nquire_bookie_connections 0\n") != std::string::npos;
    if (!settled) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(settled) << "connections still open after 30 s:\n" << body;
}

}  // namespace
}  // namespace quire::bookie::testing
