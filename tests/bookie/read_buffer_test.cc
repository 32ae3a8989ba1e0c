// protocol::ReadBuffer: what a connection has read and not yet parsed.
#include "protocol/read_buffer.h"

#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace quire::protocol {
namespace {

void Put(ReadBuffer& b, std::string_view bytes) {
  auto [room, size] = b.Room(bytes.size());
  ASSERT_GE(size, bytes.size());
  std::memcpy(room, bytes.data(), bytes.size());
  b.Commit(bytes.size());
}

TEST(ReadBufferTest, KeepsUnparsedBytesInOrderAcrossReads) {
  ReadBuffer b;
  Put(b, "hello ");
  Put(b, "world");
  EXPECT_EQ(b.data(), "hello world");
  b.Consume(6);
  EXPECT_EQ(b.data(), "world");
  Put(b, "!");
  EXPECT_EQ(b.data(), "world!");
  b.Consume(6);
  EXPECT_EQ(b.size(), 0u);
}

TEST(ReadBufferTest, ReusesItsRoomOnceEverythingIsParsed) {
  ReadBuffer b;
  auto [first, size] = b.Room(64 << 10);
  ASSERT_GE(size, 64u << 10);
  for (int i = 0; i < 100; ++i) {
    auto [room, n] = b.Room(64 << 10);
    EXPECT_EQ(room, first);  // no new allocation, and nothing moved
    std::memset(room, 'x', 1000);
    b.Commit(1000);
    b.Consume(1000);
  }
  EXPECT_EQ(b.capacity(), size);
}

TEST(ReadBufferTest, MovesAPartialFrameToTheFrontBeforeGrowing) {
  ReadBuffer b;
  auto [room, size] = b.Room(100);
  std::string fill(size, 'a');
  fill.back() = 'z';
  Put(b, fill);
  b.Consume(size - 1);  // one byte left at the very end
  auto [next, left] = b.Room(size - 1);
  EXPECT_EQ(b.capacity(), size);  // moved, not grown
  EXPECT_EQ(b.data(), "z");
  EXPECT_EQ(next, room + 1);
  EXPECT_GE(left, size - 1);
}

TEST(ReadBufferTest, GrowsForALargeFrameKeepingItsStartAndGivesTheMemoryBackAfter) {
  ReadBuffer b;
  Put(b, "head");
  std::string big(3 * ReadBuffer::kKeepBytes, 'b');
  Put(b, big);
  EXPECT_EQ(b.size(), 4 + big.size());
  EXPECT_EQ(b.data().substr(0, 5), "headb");
  EXPECT_GT(b.capacity(), ReadBuffer::kKeepBytes);
  b.Consume(b.size());
  EXPECT_EQ(b.capacity(), 0u);  // a connection does not keep megabytes after one big frame
  Put(b, "again");
  EXPECT_EQ(b.data(), "again");
}

TEST(ReadBufferTest, ClearDropsTheBytes) {
  ReadBuffer b;
  Put(b, "partial");
  b.Clear();
  EXPECT_EQ(b.size(), 0u);
  Put(b, "new");
  EXPECT_EQ(b.data(), "new");
}

}  // namespace
}  // namespace quire::protocol
