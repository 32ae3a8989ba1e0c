// protocol::WriteBuffer against a std::string doing the same: frames extended, appended,
// partly sent (Consume), cleared and swapped, in random order.
#include "protocol/write_buffer.h"

#include <cstring>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace quire::protocol {
namespace {

TEST(WriteBufferTest, HoldsWhatAStringDoingTheSameHolds) {
  std::mt19937_64 rng(7);
  WriteBuffer buffers[2];
  std::string models[2];
  for (int step = 0; step < 20000; ++step) {
    const int b = static_cast<int>(rng() % 2);
    WriteBuffer& buffer = buffers[b];
    std::string& model = models[b];
    switch (rng() % 6) {
      case 0:
      case 1: {  // a frame written through the pointer Extend gives
        std::string bytes(rng() % 3000, static_cast<char>('a' + step % 26));
        std::memcpy(buffer.Extend(bytes.size()), bytes.data(), bytes.size());
        model += bytes;
        break;
      }
      case 2: {
        std::string bytes = std::to_string(step);
        buffer.Append(bytes);
        model += bytes;
        break;
      }
      case 3: {  // a partial send
        size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
        buffer.Consume(n);
        model.erase(0, n);
        break;
      }
      case 4:
        if (rng() % 8 == 0) {
          buffer.Clear();
          model.clear();
        }
        break;
      case 5:
        buffers[0].swap(buffers[1]);
        models[0].swap(models[1]);
        break;
    }
    ASSERT_EQ(buffers[0].view(), models[0]) << "step " << step;
    ASSERT_EQ(buffers[1].view(), models[1]) << "step " << step;
    ASSERT_EQ(buffers[0].empty(), models[0].empty());
  }
}

// The point of Clear keeping the memory: the next frames go where the last ones were.
TEST(WriteBufferTest, AClearedBufferWritesTheNextFramesIntoTheSameMemory) {
  WriteBuffer buffer;
  buffer.Append(std::string(4096, 'x'));
  const char* at = buffer.data();
  buffer.Clear();
  EXPECT_TRUE(buffer.empty());
  std::memset(buffer.Extend(4000), 'y', 4000);
  EXPECT_EQ(buffer.data(), at);
  EXPECT_EQ(buffer.view(), std::string(4000, 'y'));
}

}  // namespace
}  // namespace quire::protocol
