// IoContextPool: one thread per context, connections spread round-robin.
#include "common/io_context_pool.h"

#include <future>
#include <set>
#include <thread>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

namespace quire {
namespace {

// The thread that runs a task posted to `io`.
std::thread::id RunnerOf(boost::asio::io_context& io) {
  std::promise<std::thread::id> id;
  boost::asio::post(io, [&id] { id.set_value(std::this_thread::get_id()); });
  return id.get_future().get();
}

TEST(IoContextPoolTest, EachContextHasItsOwnThreadAndNextGoesRoundTheContexts) {
  IoContextPool pool("t-io", 3);
  ASSERT_EQ(pool.size(), 3u);
  pool.Start();
  std::vector<boost::asio::io_context*> picked;
  for (int i = 0; i < 6; ++i) picked.push_back(&pool.Next());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(picked[i], picked[i + 3]);
  std::set<boost::asio::io_context*> distinct(picked.begin(), picked.end());
  EXPECT_EQ(distinct.size(), 3u);
  std::set<std::thread::id> threads;
  for (auto* io : distinct) {
    std::thread::id first = RunnerOf(*io);
    EXPECT_EQ(RunnerOf(*io), first);  // a context's tasks always run on its one thread
    threads.insert(first);
  }
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
}

TEST(IoContextPoolTest, ResponsiveOnlyWhileItsThreadsRun) {
  IoContextPool pool("t-io", 2);
  EXPECT_FALSE(pool.Responsive(std::chrono::milliseconds(1)));  // no thread yet
  pool.Start();
  EXPECT_TRUE(pool.Responsive(std::chrono::seconds(30)));
  // A blocked thread makes the pool unresponsive (what the bookie's watchdog looks for).
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  boost::asio::post(pool.first(), [released] { released.wait(); });
  EXPECT_FALSE(pool.Responsive(std::chrono::milliseconds(20)));
  release.set_value();
  EXPECT_TRUE(pool.Responsive(std::chrono::seconds(30)));
  pool.Stop();
  pool.Stop();  // idempotent
}

TEST(IoContextPoolTest, AtLeastOneContext) {
  IoContextPool pool("t-io", 0);
  EXPECT_EQ(pool.size(), 1u);
}

}  // namespace
}  // namespace quire
