// protocol/add_frame.h writes add requests by hand: its bytes must be proto::Request's, field for
// field, and parse back as the request they stand for.
#include "protocol/add_frame.h"

#include <gtest/gtest.h>

#include <vector>

#include "bookie.pb.h"
#include "protocol/protocol.h"

namespace quire::protocol {
namespace {

std::shared_ptr<const std::string> Shared(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

proto::AddRequest AsProto(const AddToSend& a) {
  proto::AddRequest p;
  p.set_ledger_id(a.ledger_id);
  p.set_entry_id(a.entry_id);
  if (a.master_key) p.set_master_key(*a.master_key);
  if (a.body) p.set_body(*a.body);
  p.set_recovery(a.recovery);
  return p;
}

proto::Request Header(proto::Operation op, uint64_t request_id) {
  proto::Request r;
  r.mutable_header()->set_protocol_version(kProtocolVersion);
  r.mutable_header()->set_operation(op);
  r.mutable_header()->set_request_id(request_id);
  return r;
}

// Fields at their defaults (left out), one-byte and multi-byte varints and lengths, a negative
// id (ten bytes), recovery set.
std::vector<AddToSend> Cases() {
  return {
      {0, 0, Shared("k"), Shared("b"), false},
      {1, 2, Shared("key"), Shared(std::string(127, 'x')), false},
      {300, 70000, Shared(std::string(32, 'k')), Shared(std::string(128, 'y')), true},
      {int64_t{1} << 40, (int64_t{1} << 62) + 5, Shared("key"), Shared(std::string(20000, 'z')),
       false},
      {-1, -7, nullptr, nullptr, false},
      {5, 6, Shared(""), Shared(""), true},
  };
}

// Bodies copied into the frame (0), all referenced (1), the large ones referenced (128): the
// bytes that go out are the same.
constexpr size_t kReferenceFrom[] = {0, 1, 128};

TEST(AddFrameTest, AnAddIsWhatTheProtoSerializerWrites) {
  for (size_t reference_from : kReferenceFrom) {
    for (uint64_t request_id : {uint64_t{0}, uint64_t{1}, uint64_t{200}, ~uint64_t{0}}) {
      for (const AddToSend& add : Cases()) {
        proto::Request expected = Header(proto::ADD_ENTRY, request_id);
        *expected.mutable_add() = AsProto(add);
        WriteBuffer out;
        out.set_reference_from(reference_from);
        out.Append("before");
        AppendAddFrame(&out, request_id, add);
        EXPECT_EQ(out.ToString(), "before" + EncodeFrame(expected))
            << "ledger " << add.ledger_id << " entry " << add.entry_id << " request "
            << request_id << " reference_from " << reference_from;
        EXPECT_EQ(EncodedAddSize(add), AsProto(add).ByteSizeLong());
      }
    }
  }
}

TEST(AddFrameTest, ABatchIsWhatTheProtoSerializerWrites) {
  std::vector<AddToSend> adds = Cases();
  for (size_t reference_from : kReferenceFrom) {
    WriteBuffer out;  // frames one after another in one buffer, as a connection's
    out.set_reference_from(reference_from);
    std::string frames;
    for (size_t n = 1; n <= adds.size(); ++n) {
      proto::Request expected = Header(proto::BATCH_ADD, 42);
      for (size_t i = 0; i < n; ++i) *expected.mutable_batch_add()->add_adds() = AsProto(adds[i]);
      AppendBatchAddFrame(&out, 42, std::span<const AddToSend>(adds.data(), n));
      frames += EncodeFrame(expected);
      EXPECT_EQ(out.ToString(), frames) << n << " adds, reference_from " << reference_from;
    }
  }
}

// A referenced body is not copied: the pieces to send point at the writer's bytes.
TEST(AddFrameTest, AReferencedBodyIsSentFromTheWritersBytes) {
  auto body = Shared(std::string(1024, 'q'));
  WriteBuffer out;
  out.set_reference_from(512);
  AppendBatchAddFrame(&out, 9, std::vector<AddToSend>{{1, 2, Shared("key"), body, false},
                                                      {1, 3, Shared("key"), body, false}});
  iovec pieces[8];
  const size_t count = out.Gather(pieces, 8);
  ASSERT_EQ(count, 4u);  // header, body, the next add's fields, body: nothing after
  EXPECT_EQ(pieces[1].iov_base, body->data());
  EXPECT_EQ(pieces[3].iov_base, body->data());
  EXPECT_EQ(body.use_count(), 3);
}

// Many adds with no key or body, only ids (negative ones take ten-byte varints) and the recovery
// flag: every field of every add arrives, in order.
TEST(AddFrameTest, ABatchOfAddsWithoutKeysOrBodiesIsWhatTheProtoSerializerWrites) {
  std::vector<AddToSend> adds;
  for (int i = 0; i < 100; ++i) adds.push_back({-1 - i, -1000 - i, nullptr, nullptr, i % 3 == 0});
  proto::Request expected = Header(proto::BATCH_ADD, ~uint64_t{0});
  for (const AddToSend& a : adds) *expected.mutable_batch_add()->add_adds() = AsProto(a);
  WriteBuffer out;
  AppendBatchAddFrame(&out, ~uint64_t{0}, adds);
  EXPECT_EQ(out.ToString(), EncodeFrame(expected));
}

// What the bookie does with it: a valid add parses and validates as one.
TEST(AddFrameTest, TheBookieParsesItAsTheRequest) {
  std::string body(kEntryBodyHeaderSize, '\0');
  EncodeEntryBodyHeader({.ledger_id = 9, .entry_id = 3, .lac = 2, .length = 4}, body.data());
  body += "data";
  AddToSend add{9, 3, Shared("key"), Shared(body), false};
  WriteBuffer out;
  AppendBatchAddFrame(&out, 7, std::vector<AddToSend>{add, add});
  ParsedRequest parsed = ParseRequest(out.contiguous().substr(kFrameHeaderSize));
  ASSERT_TRUE(parsed.ok()) << parsed.error_message;
  EXPECT_EQ(parsed.request.header().request_id(), 7u);
  ASSERT_EQ(parsed.batch_adds.size(), 2u);
  EXPECT_EQ(parsed.batch_adds[1].body, body);
  EXPECT_EQ(parsed.batch_adds[1].master_key, "key");
  EXPECT_EQ(parsed.batch_adds[1].entry_id, 3);
}

// The bookie lends a large frame's bytes as read (server.cc, ReadBuffer::Share): the adds view
// them in place, kept by the lender's owner, instead of a copy.
TEST(AddFrameTest, ALentFrameIsViewedWhereItWasRead) {
  std::string body(kEntryBodyHeaderSize, '\0');
  EncodeEntryBodyHeader({.ledger_id = 9, .entry_id = 3, .lac = 2, .length = 4}, body.data());
  body += "data";
  AddToSend add{9, 3, Shared("key"), Shared(body), false};
  auto out = std::make_shared<WriteBuffer>();
  AppendBatchAddFrame(out.get(), 7, std::vector<AddToSend>{add, add});
  std::string_view frame = out->contiguous().substr(kFrameHeaderSize);
  auto inside = [&](std::string_view v) {
    return v.data() >= frame.data() && v.data() + v.size() <= frame.data() + frame.size();
  };

  ParsedRequest lent = ParseRequest(frame, out);
  ASSERT_TRUE(lent.ok()) << lent.error_message;
  ASSERT_EQ(lent.batch_adds.size(), 2u);
  EXPECT_EQ(lent.adds_owner.get(), out.get());
  for (const AddView& a : lent.batch_adds) {
    EXPECT_TRUE(inside(a.body));
    EXPECT_TRUE(inside(a.master_key));
    EXPECT_EQ(a.body, body);
  }

  ParsedRequest copied = ParseRequest(frame);  // nothing lent: the adds view a copy
  ASSERT_TRUE(copied.ok()) << copied.error_message;
  ASSERT_EQ(copied.batch_adds.size(), 2u);
  EXPECT_NE(copied.adds_owner.get(), out.get());
  EXPECT_FALSE(inside(copied.batch_adds[0].body));
  EXPECT_EQ(copied.batch_adds[0].body, body);
}

}  // namespace
}  // namespace quire::protocol
