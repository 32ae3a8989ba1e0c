// The client's connection to a bookie (client/bookie_client.h) against a real quire-bookie: adds
// queued together go out as one BATCH_ADD, and each add gets its own answer from it. Then add
// coalescing (client/add_coalescing.h) against a scripted bookie that answers only when the test
// says, so that "held until the add in flight is answered" is observed, not timed.
#include "client/bookie_client.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <future>
#include <map>
#include <span>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "bookie/bookie_test_fixture.h"
#include "client/bookie_calls.h"
#include "protocol/protocol.h"
#include "util/prometheus.h"

namespace quire::client {
namespace {

using bookie::testing::AddRequest;
using bookie::testing::ReadRequest;

class BookieClientTest : public bookie::testing::BookieTest {
 protected:
  std::optional<double> Requests(const std::string& op, const std::string& status) {
    std::string text;
    auto got = bookie::testing::HttpGet(bookie_->http_port(), "/metrics", &text);
    EXPECT_TRUE(got.ok() && *got == 200);
    return quire::testing::SampleValue(
        text, "quire_bookie_requests_total{operation=\"" + op + "\",status=\"" + status + "\"}");
  }
};

TEST_F(BookieClientTest, AddsQueuedTogetherGoAsOneBatchAndEachGetsItsOwnAnswer) {
  // Ledger 2 belongs to "key 2": an add with another key is refused, alone in its batch.
  bookie::testing::RawClient raw = Connect();
  ASSERT_EQ(Call(raw, AddRequest(1, 2, 0, "key 2", "first")).status(), proto::OK);

  boost::asio::io_context io;
  auto client = std::make_unique<BookieClient>(io, BookieClientOptions{});
  constexpr int kAdds = 20;
  std::vector<proto::Status> answers(kAdds + 1, proto::Status(-1));
  std::promise<void> all_answered;
  int left = kAdds + 1;  // touched only on the io thread
  auto send = [&](int i, proto::Request request) {
    client->Send(bookie_->bookie_id(), std::move(request), std::chrono::seconds(30),
                 [&, i](Result<proto::Response> r) {
                   EXPECT_TRUE(r.ok()) << r.status().ToString();
                   if (r.ok()) answers[static_cast<size_t>(i)] = r->status();
                   if (--left == 0) all_answered.set_value();
                 });
  };
  // Nothing runs before io.run(): every add below is queued before the connection exists, so
  // they leave together.
  for (int e = 0; e < kAdds; ++e) send(e, AddRequest(0, 1, e, "key 1", "payload"));
  send(kAdds, AddRequest(0, 2, 1, "not key 2", "refused"));
  auto work = boost::asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  all_answered.get_future().wait();
  client.reset();  // closes the connection on the io thread
  work.reset();
  runner.join();

  for (int e = 0; e < kAdds; ++e) EXPECT_EQ(answers[static_cast<size_t>(e)], proto::OK) << e;
  EXPECT_EQ(answers[kAdds], proto::UNAUTHORIZED);
  // One frame carried them all; the metrics count it by its failed add.
  EXPECT_EQ(Requests("batch-add", "unauthorized"), 1);
  EXPECT_EQ(Requests("batch-add", "ok"), 0);
  EXPECT_EQ(Requests("add", "ok"), 1);  // the raw client's
  for (int e = 0; e < kAdds; ++e) {
    EXPECT_EQ(Call(raw, ReadRequest(100 + static_cast<uint64_t>(e), 1, e)).status(), proto::OK);
  }
  EXPECT_EQ(Call(raw, ReadRequest(200, 2, 1)).status(), proto::NO_SUCH_ENTRY);
}

// A stand-in for a bookie, below the connection under test: it accepts one connection, gives the
// test each request frame, and answers (OK) only the requests the test passes to Answer. Every
// wait is bounded (kWait): a client that never sends fails the test instead of hanging it.
class ScriptedBookie {
 public:
  static constexpr int kWaitMs = 30'000;

  ScriptedBookie() : acceptor_(io_, {boost::asio::ip::address_v4::loopback(), 0}) {}
  BookieId id() const { return fmt::format("127.0.0.1:{}", acceptor_.local_endpoint().port()); }

  // The next request on the connection (accepting it first, once).
  proto::Request Next() {
    if (!socket_) {
      Await(acceptor_.native_handle());
      if (HasFatalFailure()) return {};
      socket_.emplace(acceptor_.accept());
    }
    char header[protocol::kFrameHeaderSize];
    ReadExactly(header, sizeof(header));
    if (HasFatalFailure()) return {};
    Result<uint32_t> length = protocol::DecodeFrameLength(header, protocol::kDefaultMaxFrameSize);
    EXPECT_TRUE(length.ok());
    std::string body(length.ok() ? *length : 0, '\0');
    ReadExactly(body.data(), body.size());
    if (HasFatalFailure()) return {};
    proto::Request request;
    EXPECT_TRUE(request.ParseFromString(body));
    return request;
  }

  // OK for `request`; for a BATCH_ADD, OK for each of its adds but `fenced_entry`, refused as
  // fenced.
  void Answer(const proto::Request& request, int64_t fenced_entry = -1) {
    proto::Response response = protocol::MakeResponse(request.header(), proto::OK);
    for (const proto::AddRequest& add : request.batch_add().adds()) {
      proto::AddResult* result = response.mutable_batch_add()->add_results();
      result->set_ledger_id(add.ledger_id());
      result->set_entry_id(add.entry_id());
      result->set_status(add.entry_id() == fenced_entry ? proto::FENCED : proto::OK);
      if (add.entry_id() == fenced_entry) result->set_message("ledger 1 is fenced");
    }
    boost::asio::write(*socket_, boost::asio::buffer(protocol::EncodeFrame(response)));
  }

 private:
  static void Await(int fd) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, kWaitMs), 1) << "the client sent nothing in " << kWaitMs << " ms";
  }
  void ReadExactly(char* into, size_t n) {
    for (size_t got = 0; got < n;) {
      Await(socket_->native_handle());
      if (HasFatalFailure()) return;
      got += socket_->read_some(boost::asio::buffer(into + got, n - got));
    }
  }
  static bool HasFatalFailure() { return ::testing::Test::HasFatalFailure(); }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::optional<boost::asio::ip::tcp::socket> socket_;
};

// Where SendAdd's answers go in these tests: each add's status to its promise, and the number of
// outcomes of each call.
class PromiseSink : public AddSink {
 public:
  std::future<Status> Expect(int64_t entry) {
    MutexLock lock(mu_);
    return promises_[entry].get_future();
  }
  void OnAddOutcomes(const BookieId& bookie, std::span<const AddOutcome> outcomes) override {
    MutexLock lock(mu_);
    calls_.push_back(outcomes.size());
    for (const AddOutcome& o : outcomes) promises_[o.entry].set_value(o.ToStatus(bookie));
  }
  std::vector<size_t> calls() const {
    MutexLock lock(mu_);
    return calls_;
  }

 private:
  mutable Mutex mu_;
  std::map<int64_t, std::promise<Status>> promises_ QUIRE_GUARDED_BY(mu_);
  std::vector<size_t> calls_ QUIRE_GUARDED_BY(mu_);
};

// A BookieClient with its own I/O thread, and adds whose answers the test can wait for.
class CoalescingTest : public ::testing::Test {
 protected:
  void Start(AddCoalescing coalescing) {
    BookieClientOptions options;
    options.coalescing = coalescing;
    client_ = std::make_unique<BookieClient>(io_, options);
    runner_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    client_.reset();  // fails what is still in flight, on the I/O thread
    work_.reset();
    if (runner_.joinable()) runner_.join();
  }

  // Sends add `entry` of ledger 1; the future holds its answer's status.
  std::future<Status> Add(int64_t entry) {
    auto done = std::make_shared<std::promise<Status>>();
    std::future<Status> answered = done->get_future();
    proto::Request request = bookie::testing::AddRequest(0, 1, entry, "key", "payload");
    client_->Send(bookie_.id(), std::move(request), std::chrono::seconds(60),
                  [id = bookie_.id(), done](Result<proto::Response> r) {
                    done->set_value(ResponseStatus(id, r));
                  });
    return answered;
  }

  // The same through SendAdd, the writer's path, which queues from this thread.
  std::future<Status> SendAdd(int64_t entry, size_t body_bytes = 7) {
    std::future<Status> answered = sink_->Expect(entry);
    protocol::AddToSend add{.ledger_id = 1,
                            .entry_id = entry,
                            .master_key = std::make_shared<const std::string>("key"),
                            .body = std::make_shared<const std::string>(body_bytes, 'b')};
    client_->SendAdd(bookie_.id(), std::move(add), std::chrono::seconds(60), sink_, /*tag=*/0);
    return answered;
  }

  // Sends add 0 through SendAdd and has it answered: the connection is open (and quiet).
  void OpenWithAdd0() {
    std::future<Status> first = SendAdd(0);
    bookie_.Answer(bookie_.Next());
    ASSERT_TRUE(first.get().ok());
  }

  // Add 0 is held by the bookie: the next five wait in the client, whatever the timing, and
  // leave as one batch, in order, once it is answered. `add(e)` sends add e.
  void ExpectHeldAddsLeaveAsOneBatch(const std::function<std::future<Status>(int64_t)>& add) {
    std::future<Status> first = add(0);
    proto::Request in_flight = bookie_.Next();
    ASSERT_EQ(in_flight.header().operation(), proto::ADD_ENTRY);
    std::vector<std::future<Status>> held;
    for (int64_t e = 1; e <= 5; ++e) held.push_back(add(e));
    bookie_.Answer(in_flight);
    EXPECT_TRUE(first.get().ok());

    proto::Request batch = bookie_.Next();
    ASSERT_EQ(batch.header().operation(), proto::BATCH_ADD);
    ASSERT_EQ(batch.batch_add().adds_size(), 5);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(batch.batch_add().adds(i).entry_id(), i + 1);
    bookie_.Answer(batch);
    for (auto& f : held) EXPECT_TRUE(f.get().ok());
  }

  ScriptedBookie bookie_;
  std::shared_ptr<PromiseSink> sink_ = std::make_shared<PromiseSink>();
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::unique_ptr<BookieClient> client_;
  std::thread runner_;
};

TEST_F(CoalescingTest, AddsWaitForTheAddInFlightAndThenLeaveAsOneBatch) {
  Start({.window = 1});
  ExpectHeldAddsLeaveAsOneBatch([this](int64_t e) { return Add(e); });
}

TEST_F(CoalescingTest, AFullBatchLeavesWithoutWaiting) {
  // Any queued add counts as a full batch: nothing waits for the add in flight.
  Start({.window = 1, .full_batch_bytes = 1});
  std::future<Status> first = Add(0);
  proto::Request in_flight = bookie_.Next();
  std::future<Status> second = Add(1);
  proto::Request next = bookie_.Next();  // arrives while add 0 is unanswered
  EXPECT_EQ(next.header().operation(), proto::ADD_ENTRY);
  EXPECT_EQ(next.add().entry_id(), 1);
  bookie_.Answer(next);
  bookie_.Answer(in_flight);
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(second.get().ok());
}

TEST_F(CoalescingTest, WindowZeroSendsEachAddAtOnce) {
  Start({.window = 0});
  std::future<Status> first = Add(0);
  proto::Request in_flight = bookie_.Next();
  std::future<Status> second = Add(1);
  EXPECT_EQ(bookie_.Next().add().entry_id(), 1);  // arrives while add 0 is unanswered
  bookie_.Answer(in_flight);
  EXPECT_TRUE(first.get().ok());
}

// Through SendAdd, which queues them from the sending thread: the same.
TEST_F(CoalescingTest, AddsSentBehindOneInFlightLeaveTogetherWhenItIsAnswered) {
  Start({.window = 1});
  ExpectHeldAddsLeaveAsOneBatch([this](int64_t e) { return SendAdd(e); });
  // The batch's five answers reach the sink in one call (the writer locks once for them).
  EXPECT_EQ(sink_->calls(), (std::vector<size_t>{1, 5}));
}

// Each add of a batch gets its own result: one refused, the others acknowledged.
TEST_F(CoalescingTest, EachAddOfABatchGetsItsOwnResult) {
  Start({.window = 1});
  std::future<Status> first = SendAdd(0);
  proto::Request in_flight = bookie_.Next();
  std::vector<std::future<Status>> held;
  for (int64_t e = 1; e <= 3; ++e) held.push_back(SendAdd(e));
  bookie_.Answer(in_flight);
  EXPECT_TRUE(first.get().ok());
  proto::Request batch = bookie_.Next();
  ASSERT_EQ(batch.batch_add().adds_size(), 3);
  bookie_.Answer(batch, /*fenced_entry=*/2);
  EXPECT_TRUE(held[0].get().ok());
  Status refused = held[1].get();
  EXPECT_TRUE(refused.Is(StatusCode::kFenced)) << refused.ToString();
  EXPECT_NE(refused.message().find(bookie_.id()), std::string::npos) << refused.ToString();
  EXPECT_NE(refused.message().find("ledger 1 is fenced"), std::string::npos) << refused.ToString();
  EXPECT_TRUE(held[2].get().ok());
}

// More than the socket buffers hold, sent while the bookie reads nothing: the adds queued by the
// sending thread behind the write that cannot finish follow it. Every frame arrives whole, in
// order.
TEST_F(CoalescingTest, AddsLargerThanTheSocketBuffersArriveWholeAndInOrder) {
  Start({.window = 0});
  ASSERT_NO_FATAL_FAILURE(OpenWithAdd0());

  constexpr int kAdds = 24;
  constexpr size_t kBody = 1 << 20;  // 24 MiB in all: more than loopback buffers hold
  std::vector<std::future<Status>> answers;
  for (int64_t e = 1; e <= kAdds; ++e) answers.push_back(SendAdd(e, kBody));
  int64_t next = 1;
  while (next <= kAdds && !::testing::Test::HasFailure()) {
    proto::Request r = bookie_.Next();
    std::vector<proto::AddRequest> adds;
    if (r.header().operation() == proto::ADD_ENTRY) adds.push_back(r.add());
    for (const proto::AddRequest& a : r.batch_add().adds()) adds.push_back(a);
    ASSERT_FALSE(adds.empty()) << r.ShortDebugString().substr(0, 200);
    for (const proto::AddRequest& a : adds) {
      EXPECT_EQ(a.entry_id(), next++);
      EXPECT_EQ(a.body(), std::string(kBody, 'b'));
    }
    bookie_.Answer(r);
  }
  for (auto& f : answers) EXPECT_TRUE(f.get().ok());
}

// A lone add on a quiet connection is written by the thread that sends it: it reaches the bookie
// while the connection's I/O thread is busy with something else.
TEST_F(CoalescingTest, ALoneAddLeavesFromTheSendingThreadWhileTheIOThreadIsBusy) {
  Start({.window = 1, .lone_add_gap = std::chrono::microseconds(1)});
  ASSERT_NO_FATAL_FAILURE(OpenWithAdd0());  // through the I/O thread

  std::promise<void> busy, release;
  boost::asio::post(io_, [&] {
    busy.set_value();
    release.get_future().wait();
  });
  busy.get_future().wait();
  std::future<Status> second = SendAdd(1);
  proto::Request request = bookie_.Next();  // arrives while the I/O thread is held
  release.set_value();
  EXPECT_EQ(request.add().entry_id(), 1);
  bookie_.Answer(request);
  EXPECT_TRUE(second.get().ok());
}

// A lone add larger than the socket takes at once: the sending thread writes what the socket
// takes, the I/O thread the rest, and the add sent behind it follows. Both arrive whole, in order.
TEST_F(CoalescingTest, WhatTheSocketDoesNotTakeFromTheSendingThreadTheIOThreadWrites) {
  Start({.window = 0, .lone_add_gap = std::chrono::microseconds(1)});
  ASSERT_NO_FATAL_FAILURE(OpenWithAdd0());

  constexpr size_t kBody = 4 << 20;  // more than a new loopback connection's buffers
  std::future<Status> large = SendAdd(1, kBody);
  std::future<Status> behind = SendAdd(2);
  proto::Request r1 = bookie_.Next();
  EXPECT_EQ(r1.add().entry_id(), 1);
  EXPECT_EQ(r1.add().body(), std::string(kBody, 'b'));
  proto::Request r2 = bookie_.Next();
  EXPECT_EQ(r2.add().entry_id(), 2);
  bookie_.Answer(r1);
  bookie_.Answer(r2);
  EXPECT_TRUE(large.get().ok());
  EXPECT_TRUE(behind.get().ok());
}

TEST(AddCoalescingTest, SendsFromTheCallerOnlyOnAConnectionQuietForTheGap) {
  using std::chrono::microseconds;
  AddCoalescing c{.lone_add_gap = microseconds(500)};
  EXPECT_FALSE(c.SendFromCaller(microseconds(499)));
  EXPECT_TRUE(c.SendFromCaller(microseconds(500)));
  EXPECT_TRUE(c.SendFromCaller(std::chrono::seconds(3)));
  AddCoalescing never{.lone_add_gap = microseconds(0)};
  EXPECT_FALSE(never.SendFromCaller(std::chrono::hours(1)));
}

TEST(AddCoalescingTest, HoldsOnlyAtTheWindowAndBelowAFullBatch) {
  AddCoalescing c{.window = 2, .full_batch_bytes = 1000};
  EXPECT_FALSE(c.Hold(0, 10));
  EXPECT_FALSE(c.Hold(1, 10));
  EXPECT_TRUE(c.Hold(2, 10));
  EXPECT_TRUE(c.Hold(3, 999));
  EXPECT_FALSE(c.Hold(2, 1000));
  EXPECT_FALSE(AddCoalescing{.window = 0}.Hold(5, 10));
}

}  // namespace
}  // namespace quire::client
