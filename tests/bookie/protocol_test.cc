// The bookie protocol against a real quire-bookie process: every operation, pipelining,
// out-of-order completion, long polls.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bookie/bookie_test_fixture.h"
#include "protocol/protocol.h"

namespace quire::bookie::testing {
namespace {

using ProtocolTest = BookieTest;

TEST_F(ProtocolTest, EveryOperation) {
  RawClient c = Connect();
  // Add and read back.
  proto::Response r = Call(c, AddRequest(1, 10, 0, "key", "hello"));
  ASSERT_EQ(r.status(), proto::OK) << r.message();
  EXPECT_EQ(r.add().ledger_id(), 10);
  EXPECT_EQ(r.add().entry_id(), 0);
  ASSERT_EQ(Call(c, AddRequest(2, 10, 1, "key", "world", 0)).status(), proto::OK);
  r = Call(c, ReadRequest(3, 10, 1));
  ASSERT_EQ(r.status(), proto::OK) << r.message();
  EXPECT_EQ(r.read().body(), EntryBody(10, 1, 0, "world"));
  EXPECT_EQ(r.read().lac(), 0);
  EXPECT_EQ(Call(c, ReadRequest(4, 10, 7)).status(), proto::NO_SUCH_ENTRY);
  EXPECT_EQ(Call(c, ReadRequest(5, 99, 0)).status(), proto::NO_SUCH_LEDGER);

  // Batch add over two ledgers.
  proto::Request batch;
  batch.mutable_header()->set_protocol_version(1);
  batch.mutable_header()->set_operation(proto::BATCH_ADD);
  batch.mutable_header()->set_request_id(6);
  *batch.mutable_batch_add()->add_adds() = AddRequest(0, 11, 0, "k11", "a").add();
  *batch.mutable_batch_add()->add_adds() = AddRequest(0, 12, 0, "k12", "b").add();
  *batch.mutable_batch_add()->add_adds() = AddRequest(0, 11, 1, "k11", "c", 0).add();
  r = Call(c, batch);
  ASSERT_EQ(r.status(), proto::OK);
  ASSERT_EQ(r.batch_add().results_size(), 3);
  for (const auto& res : r.batch_add().results()) EXPECT_EQ(res.status(), proto::OK);
  EXPECT_EQ(Call(c, ReadRequest(7, 12, 0)).read().body(), EntryBody(12, 0, -1, "b"));

  // LAC: from entries, then an explicit LAC.
  r = Call(c, ReadLacRequest(8, 11));
  ASSERT_EQ(r.status(), proto::OK);
  EXPECT_EQ(r.read_lac().lac(), 0);
  EXPECT_EQ(r.read_lac().last_entry_body(), EntryBody(11, 1, 0, "c"));
  ASSERT_EQ(Call(c, WriteLacRequest(9, 11, "k11", 1, "signed-lac")).status(), proto::OK);
  r = Call(c, ReadLacRequest(10, 11));
  EXPECT_EQ(r.read_lac().lac(), 1);
  EXPECT_EQ(r.read_lac().explicit_lac_body(), "signed-lac");
  // An explicit LAC never goes back.
  ASSERT_EQ(Call(c, WriteLacRequest(20, 11, "k11", 0, "older")).status(), proto::OK);
  r = Call(c, ReadLacRequest(21, 11));
  EXPECT_EQ(r.read_lac().lac(), 1);
  EXPECT_EQ(r.read_lac().explicit_lac_body(), "signed-lac");

  // Force, info, list.
  EXPECT_EQ(Call(c, ForceLedgerRequest(11, 10, "key")).status(), proto::OK);
  EXPECT_EQ(Call(c, ForceLedgerRequest(12, 10, "bad")).status(), proto::UNAUTHORIZED);
  r = Call(c, BookieInfoRequest(13));
  ASSERT_EQ(r.status(), proto::OK);
  EXPECT_EQ(r.bookie_info().bookie_id(), bookie_->bookie_id());
  EXPECT_EQ(r.bookie_info().state(), proto::BookieInfoResponse::WRITABLE);
  EXPECT_GT(r.bookie_info().total_bytes(), 0u);
  EXPECT_EQ(r.bookie_info().http_port(), bookie_->http_port());
  r = Call(c, ListEntriesRequest(14, 11));
  ASSERT_EQ(r.status(), proto::OK);
  EXPECT_EQ(std::vector<int64_t>(r.list_entries().entry_ids().begin(),
                                 r.list_entries().entry_ids().end()),
            (std::vector<int64_t>{0, 1}));

  // Fencing read: fences, then reads; normal adds are refused, recovery adds accepted.
  r = Call(c, ReadRequest(15, 10, 1, /*fence=*/true, "key"));
  ASSERT_EQ(r.status(), proto::OK) << r.message();
  EXPECT_EQ(r.read().body(), EntryBody(10, 1, 0, "world"));
  EXPECT_EQ(Call(c, AddRequest(16, 10, 2, "key", "late", 1)).status(), proto::FENCED);
  EXPECT_EQ(Call(c, AddRequest(17, 10, 2, "key", "late", 1, /*recovery=*/true)).status(),
            proto::OK);
  // A fence of a ledger the bookie never saw: fenced, then "no such entry".
  EXPECT_EQ(Call(c, ReadRequest(18, 20, 0, true, "k20")).status(), proto::NO_SUCH_ENTRY);
  EXPECT_EQ(Call(c, AddRequest(19, 20, 0, "k20", "x")).status(), proto::FENCED);
}

TEST_F(ProtocolTest, TenThousandPipelinedRequestsOnOneConnection) {
  RawClient c = Connect();
  constexpr int kRequests = 10000;
  std::string frames;
  for (int i = 0; i < kRequests; ++i) {
    proto::Request r = AddRequest(static_cast<uint64_t>(i + 1), 1 + i % 8, i / 8, "key",
                                  "payload-" + std::to_string(i), i / 8 - 1);
    r.mutable_header()->set_protocol_version(1);
    frames += protocol::EncodeFrame(r);
  }
  ASSERT_TRUE(c.SendRaw(frames).ok());
  std::set<uint64_t> ids;
  for (int i = 0; i < kRequests; ++i) {
    auto r = c.Receive();
    ASSERT_TRUE(r.ok()) << "after " << i << " responses: " << r.status().ToString();
    ASSERT_EQ(r->status(), proto::OK) << r->message();
    ids.insert(r->header().request_id());
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRequests));
  EXPECT_EQ(*ids.begin(), 1u);
  EXPECT_EQ(*ids.rbegin(), static_cast<uint64_t>(kRequests));
  // And every entry reads back.
  auto r = Call(c, ReadRequest(kRequests + 1, 8, kRequests / 8 - 1));
  EXPECT_EQ(r.status(), proto::OK);
  EXPECT_EQ(r.read().body(), EntryBody(8, kRequests / 8 - 1, kRequests / 8 - 2,
                                       "payload-" + std::to_string(kRequests - 1)));
}

// Batches large and small, sent back to back so that reads end inside frames: the bookie keeps
// a large frame's adds in the buffer it read them into (ReadBuffer::Share), reads the next frames
// into new ones, and every entry reads back as sent.
TEST_F(ProtocolTest, BatchesOfEverySizeBackToBackReadBackAsSent) {
  RawClient c = Connect();
  const std::vector<int> batch_adds = {300, 1, 40, 700, 3, 300, 64, 1, 1, 500};
  std::string frames;
  int64_t entry = 0;
  uint64_t id = 0;
  auto payload = [](int64_t e) {
    return std::string(900 + static_cast<size_t>(e % 200), static_cast<char>('a' + e % 26));
  };
  for (int n : batch_adds) {
    proto::Request batch;
    batch.mutable_header()->set_protocol_version(1);
    batch.mutable_header()->set_operation(proto::BATCH_ADD);
    batch.mutable_header()->set_request_id(++id);
    for (int i = 0; i < n; ++i, ++entry) {
      *batch.mutable_batch_add()->add_adds() =
          AddRequest(0, 30, entry, "key", payload(entry), entry - 1).add();
    }
    frames += protocol::EncodeFrame(batch);
  }
  ASSERT_TRUE(c.SendRaw(frames).ok());
  for (size_t i = 0; i < batch_adds.size(); ++i) {
    auto r = c.Receive();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status(), proto::OK) << r->message();
    for (const auto& res : r->batch_add().results()) ASSERT_EQ(res.status(), proto::OK);
  }
  for (int64_t e = 0; e < entry; ++e) {
    proto::Response r = Call(c, ReadRequest(++id, 30, e));
    ASSERT_EQ(r.status(), proto::OK) << "entry " << e << ": " << r.message();
    ASSERT_EQ(r.read().body(), EntryBody(30, e, e - 1, payload(e))) << "entry " << e;
  }
}

TEST_F(ProtocolTest, ResponsesCompleteOutOfOrderAndLongPollWakesOnANewEntry) {
  RawClient c = Connect();
  ASSERT_EQ(Call(c, AddRequest(1, 5, 0, "k", "e0")).status(), proto::OK);
  // Request 2 waits for the LAC of ledger 5 to pass -1; request 3 is answered meanwhile.
  ASSERT_TRUE(c.Send(LongPollRequest(2, 5, -1, 30000)).ok());
  ASSERT_TRUE(c.Send(AddRequest(3, 6, 0, "k", "other")).ok());
  auto first = c.Receive();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->header().request_id(), 3u) << "the long poll must not block later requests";
  // Entry 1 carries LAC 0: the long poll wakes, with entry 0 piggybacked.
  ASSERT_TRUE(c.Send(AddRequest(4, 5, 1, "k", "e1", 0)).ok());
  std::map<uint64_t, proto::Response> got;
  for (int i = 0; i < 2; ++i) {
    auto r = c.Receive();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    got[r->header().request_id()] = *r;
  }
  ASSERT_EQ(got.count(2), 1u);
  EXPECT_EQ(got[2].status(), proto::OK) << got[2].message();
  EXPECT_EQ(got[2].read().lac(), 0);
  EXPECT_EQ(got[2].read().body(), EntryBody(5, 0, -1, "e0"));
  EXPECT_EQ(got[4].status(), proto::OK);
}

TEST_F(ProtocolTest, LongPollTimesOutWithTheCurrentLac) {
  RawClient c = Connect();
  ASSERT_EQ(Call(c, AddRequest(1, 7, 0, "k", "e0")).status(), proto::OK);
  ASSERT_EQ(Call(c, AddRequest(2, 7, 1, "k", "e1", 0)).status(), proto::OK);
  proto::Response r = Call(c, LongPollRequest(3, 7, 0, 200));
  EXPECT_EQ(r.status(), proto::TIMEOUT);
  EXPECT_EQ(r.read().lac(), 0);
  // A long poll whose condition already holds is answered at once.
  r = Call(c, LongPollRequest(4, 7, -1, 30000));
  EXPECT_EQ(r.status(), proto::OK);
  EXPECT_EQ(r.read().lac(), 0);
}

TEST_F(ProtocolTest, EntriesSurviveARestartAndTheLacIsRecovered) {
  RawClient c = Connect();
  for (int e = 0; e < 20; ++e) {
    ASSERT_EQ(Call(c, AddRequest(e + 1, 3, e, "k", "v" + std::to_string(e), e - 1)).status(),
              proto::OK);
  }
  c.Close();
  ASSERT_EQ(bookie_->Stop(), 0);
  ASSERT_TRUE(bookie_->Restart().ok());
  RawClient d = Connect();
  for (int e = 0; e < 20; ++e) {
    auto r = Call(d, ReadRequest(e + 1, 3, e));
    ASSERT_EQ(r.status(), proto::OK);
    EXPECT_EQ(r.read().body(), EntryBody(3, e, e - 1, "v" + std::to_string(e)));
  }
  EXPECT_EQ(Call(d, ReadLacRequest(30, 3)).read_lac().lac(), 18);
}

}  // namespace
}  // namespace quire::bookie::testing
