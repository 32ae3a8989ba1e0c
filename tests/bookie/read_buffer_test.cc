// protocol::ReadBuffer: what a connection has read and not yet parsed.
#include "protocol/read_buffer.h"

#include <cstring>
#include <memory>
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

// What the bookie does with a large BATCH_ADD frame: its adds view the bytes where they were read
// (Share), so the buffer must never write over them while the adds live, and must not keep the
// allocation for itself once everything in it is parsed.
TEST(ReadBufferTest, BytesLentOutStayAsReadWhileTheBufferReadsOn) {
  ReadBuffer b;
  b.Room(64);
  Put(b, "frame-one|next");
  std::string_view lent = b.data().substr(0, 10);
  std::shared_ptr<const void> owner = b.Share();
  ASSERT_NE(owner, nullptr);
  b.Consume(10);
  EXPECT_EQ(b.data(), "next");
  // Room at the end of the lent allocation is used...
  Put(b, "-a");
  EXPECT_EQ(b.data(), "next-a");
  // ...but where there is not enough, the unparsed bytes move to a new one instead of to the
  // front of this one (which a buffer not lent out does: MovesAPartialFrameToTheFront...).
  const size_t capacity = b.capacity();
  ASSERT_EQ(capacity, 64u);
  Put(b, std::string(capacity - 8, 'x'));
  EXPECT_EQ(lent, "frame-one|");
  EXPECT_EQ(b.data().substr(0, 7), "next-ax");
  EXPECT_EQ(b.size(), 6 + capacity - 8);
  EXPECT_NE(b.data().data(), lent.data() + 10);
}

TEST(ReadBufferTest, ALentBufferIsLeftToItsBorrowersOnceParsed) {
  ReadBuffer b;
  Put(b, "whole-frame");
  std::string_view lent = b.data();
  std::shared_ptr<const void> owner = b.Share();
  b.Consume(b.size());
  EXPECT_EQ(b.capacity(), 0u);  // not reused: the next read goes elsewhere
  Put(b, "second");
  EXPECT_EQ(lent, "whole-frame");
  EXPECT_EQ(b.data(), "second");
  // Not lent: reused as before.
  const char* at = b.data().data();
  b.Consume(b.size());
  Put(b, "third");
  EXPECT_EQ(b.data().data(), at);
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
