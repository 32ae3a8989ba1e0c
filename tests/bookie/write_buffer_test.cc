// protocol::WriteBuffer against a std::string doing the same: frames extended, appended, given
// referenced bodies, partly sent (Consume, after Gather, as sendmsg would), cleared and swapped,
// in random order.
#include "protocol/write_buffer.h"

#include <cstring>
#include <memory>
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
    switch (rng() % 7) {
      case 0:
      case 1: {  // a frame written through the pointer Extend gives
        std::string bytes(rng() % 3000, static_cast<char>('a' + step % 26));
        std::memcpy(buffer.Extend(bytes.size()), bytes.data(), bytes.size());
        model += bytes;
        break;
      }
      case 6: {  // a frame with bodies referenced between its bytes, as FrameWriter makes one
        const size_t size = rng() % 40;
        char* frame = buffer.Extend(size);
        std::string expected;
        size_t written = 0;
        for (int body = 0; body < 3; ++body) {
          const size_t upto = written + rng() % (size - written + 1);
          for (; written < upto; ++written) {
            frame[written] = static_cast<char>('A' + written % 26);
            expected += frame[written];
          }
          auto bytes = std::make_shared<const std::string>(1 + rng() % 2000,
                                                           static_cast<char>('0' + body));
          buffer.Reference(frame + written, bytes);
          expected += *bytes;
        }
        for (; written < size; ++written) {
          frame[written] = static_cast<char>('a' + written % 26);
          expected += frame[written];
        }
        model += expected;
        break;
      }
      case 2: {
        std::string bytes = std::to_string(step);
        buffer.Append(bytes);
        model += bytes;
        break;
      }
      case 3: {  // a partial send: what a few pieces of Gather hold, or less
        iovec pieces[4];
        const size_t count = buffer.Gather(pieces, 1 + rng() % 4);
        std::string gathered;
        for (size_t i = 0; i < count; ++i) {
          gathered.append(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
        }
        ASSERT_EQ(gathered, model.substr(0, gathered.size())) << "step " << step;
        size_t n = rng() % (gathered.size() + 1);
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
    ASSERT_EQ(buffers[0].ToString(), models[0]) << "step " << step;
    ASSERT_EQ(buffers[1].ToString(), models[1]) << "step " << step;
    ASSERT_EQ(buffers[0].size(), models[0].size());
    ASSERT_EQ(buffers[0].empty(), models[0].empty());
  }
}

// The point of Clear keeping the memory: the next frames go where the last ones were.
TEST(WriteBufferTest, AClearedBufferWritesTheNextFramesIntoTheSameMemory) {
  WriteBuffer buffer;
  buffer.Append(std::string(4096, 'x'));
  const char* at = buffer.owned_data();
  buffer.Clear();
  EXPECT_TRUE(buffer.empty());
  std::memset(buffer.Extend(4000), 'y', 4000);
  EXPECT_EQ(buffer.owned_data(), at);
  EXPECT_EQ(buffer.contiguous(), std::string(4000, 'y'));
}

// A referenced body is the writer's own bytes (no copy), held until sent, then let go.
TEST(WriteBufferTest, AReferencedBodyIsSentFromWhereItLiesAndLetGoOnceSent) {
  WriteBuffer buffer;
  buffer.set_reference_from(512);
  EXPECT_FALSE(buffer.References(511));
  EXPECT_TRUE(buffer.References(512));
  auto body = std::make_shared<const std::string>(1000, 'b');
  char* header = buffer.Extend(6);
  std::memcpy(header, "head", 4);
  buffer.Reference(header + 4, body);
  std::memcpy(header + 4, "er", 2);
  EXPECT_EQ(body.use_count(), 2);
  iovec pieces[8];
  ASSERT_EQ(buffer.Gather(pieces, 8), 3u);
  EXPECT_EQ(pieces[1].iov_base, body->data());
  EXPECT_EQ(pieces[1].iov_len, 1000u);
  EXPECT_EQ(buffer.ToString(), "head" + *body + "er");
  buffer.Consume(4 + 999);
  EXPECT_EQ(body.use_count(), 2);  // one byte of it is still to go
  ASSERT_EQ(buffer.Gather(pieces, 8), 2u);
  EXPECT_EQ(pieces[0].iov_base, body->data() + 999);
  buffer.Consume(1);
  EXPECT_EQ(body.use_count(), 1);
  EXPECT_EQ(buffer.ToString(), "er");
  EXPECT_EQ(buffer.size(), 2u);
}

}  // namespace
}  // namespace quire::protocol
