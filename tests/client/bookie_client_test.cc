// The client's connection to a bookie (client/bookie_client.h) against a real quire-bookie: adds
// queued together go out as one BATCH_ADD, and each add gets its own answer from it.
#include "client/bookie_client.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "bookie/bookie_test_fixture.h"
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

}  // namespace
}  // namespace quire::client
