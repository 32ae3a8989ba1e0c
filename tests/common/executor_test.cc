// The callback executor (common/executor.h): order, Drain, and Drain from its own thread.
#include "common/executor.h"

#include <gtest/gtest.h>

#include <future>
#include <vector>

namespace quire {
namespace {

// Drain returns only after every task submitted before it ran: the first task holds the thread
// until the test lets it go, so the others are still queued when Drain is called.
TEST(ExecutorTest, DrainWaitsForEveryTaskSubmittedBefore) {
  Executor executor("test", 1);
  std::promise<void> go;
  std::shared_future<void> released = go.get_future().share();
  std::vector<int> ran;  // touched only on the executor's thread until Drain returns
  executor.Submit([released] { released.wait(); });
  for (int i = 0; i < 100; ++i) executor.Submit([&ran, i] { ran.push_back(i); });
  std::future<void> drained = std::async(std::launch::async, [&] { executor.Drain(); });
  go.set_value();
  drained.get();
  ASSERT_EQ(ran.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ran[static_cast<size_t>(i)], i);
}

// From a task, Drain cannot wait for the tasks queued behind it (they run after it returns).
TEST(ExecutorTest, DrainFromItsOwnThreadReturnsAtOnce) {
  Executor executor("test", 1);
  std::promise<bool> inner;
  executor.Submit([&] {
    executor.Drain();
    inner.set_value(true);
  });
  EXPECT_TRUE(inner.get_future().get());
}

}  // namespace
}  // namespace quire
