// The wire protocol's pure functions (src/bookie/protocol.h), without a bookie: framing, every
// validation rule of ParseRequest(), status mapping, entry body headers. protocol_test.cc drives a
// real bookie; tests/fuzz/request_fuzzer.cc throws random bytes at the same functions.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/protocol.h"

namespace quire::protocol {
namespace {

constexpr int64_t kMaxId = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinId = std::numeric_limits<int64_t>::min();

std::string Body(int64_t ledger, int64_t entry, int64_t lac, std::string_view payload = "data") {
  std::string body(kEntryBodyHeaderSize, '\0');
  EncodeEntryBodyHeader({ledger, entry, lac, payload.size()}, body.data());
  body.append("dgst");
  body.append(payload);
  return body;
}

proto::Request Request(proto::Operation op, uint64_t id = 42) {
  proto::Request r;
  r.mutable_header()->set_protocol_version(kProtocolVersion);
  r.mutable_header()->set_operation(op);
  r.mutable_header()->set_request_id(id);
  return r;
}

void FillAdd(proto::AddRequest* add, int64_t ledger, int64_t entry, int64_t lac) {
  add->set_ledger_id(ledger);
  add->set_entry_id(entry);
  add->set_master_key("key");
  add->set_body(Body(ledger, entry, lac));
}

proto::Request Add(int64_t ledger, int64_t entry, int64_t lac) {
  proto::Request r = Request(proto::ADD_ENTRY);
  FillAdd(r.mutable_add(), ledger, entry, lac);
  return r;
}

proto::Request Batch(int n) {
  proto::Request r = Request(proto::BATCH_ADD);
  r.mutable_batch_add();  // present even when empty
  for (int i = 0; i < n; ++i) FillAdd(r.mutable_batch_add()->add_adds(), 1, i, i - 1);
  return r;
}

proto::Request Read(int64_t ledger, int64_t entry) {
  proto::Request r = Request(proto::READ_ENTRY);
  r.mutable_read()->set_ledger_id(ledger);
  r.mutable_read()->set_entry_id(entry);
  return r;
}

proto::Request LongPoll(int64_t ledger, int64_t previous_lac) {
  proto::Request r = Request(proto::READ_ENTRY);
  r.mutable_read()->set_ledger_id(ledger);
  r.mutable_read()->set_long_poll(true);
  r.mutable_read()->set_previous_lac(previous_lac);
  r.mutable_read()->set_timeout_ms(1000);
  return r;
}

proto::Request ReadLac(int64_t ledger) {
  proto::Request r = Request(proto::READ_LAC);
  r.mutable_read_lac()->set_ledger_id(ledger);
  return r;
}

proto::Request WriteLac(int64_t ledger, int64_t lac) {
  proto::Request r = Request(proto::WRITE_LAC);
  r.mutable_write_lac()->set_ledger_id(ledger);
  r.mutable_write_lac()->set_master_key("key");
  r.mutable_write_lac()->set_lac(lac);
  r.mutable_write_lac()->set_body("signed");
  return r;
}

proto::Request Force(int64_t ledger) {
  proto::Request r = Request(proto::FORCE_LEDGER);
  r.mutable_force_ledger()->set_ledger_id(ledger);
  r.mutable_force_ledger()->set_master_key("key");
  return r;
}

proto::Request List(int64_t ledger) {
  proto::Request r = Request(proto::LIST_ENTRIES);
  r.mutable_list_entries()->set_ledger_id(ledger);
  return r;
}

ParsedRequest Parse(const proto::Request& r) { return ParseRequest(r.SerializeAsString()); }

// Parses and expects `status`, with a message when it is an error.
void ExpectParse(const proto::Request& r, proto::Status status, std::string_view what = {}) {
  ParsedRequest p = Parse(r);
  if (status == proto::STATUS_UNSPECIFIED) {
    EXPECT_TRUE(p.ok()) << what << ": " << p.error_message;
    return;
  }
  EXPECT_EQ(p.error, status) << what;
  EXPECT_FALSE(p.error_message.empty()) << what;
  // The request id survives, so the error answer reaches the right caller.
  EXPECT_EQ(p.request.header().request_id(), r.header().request_id()) << what;
}
void ExpectValid(const proto::Request& r, std::string_view what = {}) {
  ExpectParse(r, proto::STATUS_UNSPECIFIED, what);
}
void ExpectBad(const proto::Request& r, std::string_view what = {}) {
  ExpectParse(r, proto::BAD_REQUEST, what);
}

// --- Frames --------------------------------------------------------------------------------------

Result<uint32_t> DecodeLength(uint32_t n, uint32_t max = kDefaultMaxFrameSize) {
  char bytes[kFrameHeaderSize];
  EncodeFrameLength(n, bytes);
  return DecodeFrameLength(bytes, max);
}

TEST(FrameLengthTest, IsFourBytesBigEndian) {
  char bytes[kFrameHeaderSize];
  EncodeFrameLength(0x01020304, bytes);
  EXPECT_EQ(std::string(bytes, 4), std::string("\x01\x02\x03\x04", 4));
  const char raw[] = {'\x00', '\x00', '\x01', '\x00'};
  Result<uint32_t> n = DecodeFrameLength(raw, kDefaultMaxFrameSize);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 256u);
}

TEST(FrameLengthTest, ZeroIsRejected) {
  Result<uint32_t> n = DecodeLength(0);
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kBadRequest);
  EXPECT_NE(n.status().message().find("empty"), std::string::npos) << n.status().message();
}

TEST(FrameLengthTest, OneToTheMaximumAreAccepted) {
  for (uint32_t len : {1u, 4096u, kDefaultMaxFrameSize - 1, kDefaultMaxFrameSize}) {
    Result<uint32_t> n = DecodeLength(len);
    ASSERT_TRUE(n.ok()) << len << ": " << n.status().ToString();
    EXPECT_EQ(*n, len);
  }
  // The maximum is the caller's (maxFrameSizeBytes).
  EXPECT_TRUE(DecodeLength(1024, 1024).ok());
  EXPECT_FALSE(DecodeLength(1025, 1024).ok());
}

TEST(FrameLengthTest, BeyondTheMaximumIsRejectedWithTheLength) {
  for (uint32_t len : {kDefaultMaxFrameSize + 1, 1u << 31, std::numeric_limits<uint32_t>::max()}) {
    Result<uint32_t> n = DecodeLength(len);
    ASSERT_FALSE(n.ok()) << len;
    EXPECT_EQ(n.status().code(), StatusCode::kBadRequest);
    EXPECT_NE(n.status().message().find(std::to_string(len)), std::string::npos)
        << n.status().message();
    EXPECT_NE(n.status().message().find("maxFrameSizeBytes"), std::string::npos);
  }
}

TEST(EncodeFrameTest, RequestRoundTrips) {
  proto::Request r = Add(7, 3, 2);
  std::string frame = EncodeFrame(r);
  ASSERT_GT(frame.size(), kFrameHeaderSize);
  Result<uint32_t> n = DecodeFrameLength(frame.data(), kDefaultMaxFrameSize);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, frame.size() - kFrameHeaderSize);
  ParsedRequest p = ParseRequest(std::string_view(frame).substr(kFrameHeaderSize));
  ASSERT_TRUE(p.ok()) << p.error_message;
  EXPECT_EQ(p.request.SerializeAsString(), r.SerializeAsString());
}

TEST(EncodeFrameTest, ResponseRoundTrips) {
  proto::Response r = MakeResponse(Request(proto::READ_ENTRY, 99).header(), proto::NO_SUCH_ENTRY,
                                   "ledger 7 entry 3");
  r.mutable_read()->set_lac(2);
  std::string frame = EncodeFrame(r);
  Result<uint32_t> n = DecodeFrameLength(frame.data(), kDefaultMaxFrameSize);
  ASSERT_TRUE(n.ok());
  ASSERT_EQ(*n, frame.size() - kFrameHeaderSize);
  proto::Response back;
  ASSERT_TRUE(back.ParseFromArray(frame.data() + kFrameHeaderSize, static_cast<int>(*n)));
  EXPECT_EQ(back.SerializeAsString(), r.SerializeAsString());
}

// --- Valid requests ------------------------------------------------------------------------------

TEST(ParseRequestTest, EveryOperationIsAccepted) {
  ExpectValid(Add(7, 0, -1), "first entry");
  ExpectValid(Add(7, 5, 4), "entry with LAC just below it");
  ExpectValid(Add(7, 5, -1), "entry without a LAC yet");
  ExpectValid(Batch(3), "batch");
  ExpectValid(Read(7, 0), "read");
  {
    proto::Request r = Read(7, 3);
    r.mutable_read()->set_fence(true);
    r.mutable_read()->set_master_key("key");
    ExpectValid(r, "fencing read");
  }
  ExpectValid(LongPoll(7, -1), "long poll from the start");
  ExpectValid(LongPoll(7, 10), "long poll");
  ExpectValid(ReadLac(7), "read LAC");
  ExpectValid(WriteLac(7, 4), "write LAC");
  ExpectValid(WriteLac(7, -1), "write LAC of none");
  ExpectValid(Force(7), "force");
  ExpectValid(Request(proto::BOOKIE_INFO), "bookie info without a body");
  ExpectValid(List(7), "list entries");
}

TEST(ParseRequestTest, ValidRequestKeepsEveryField) {
  proto::Request r = Add(7, 5, 4);
  r.mutable_add()->set_recovery(true);
  ParsedRequest p = Parse(r);
  ASSERT_TRUE(p.ok()) << p.error_message;
  EXPECT_EQ(p.error, proto::STATUS_UNSPECIFIED);
  EXPECT_TRUE(p.error_message.empty());
  EXPECT_EQ(p.request.header().request_id(), 42u);
  EXPECT_EQ(p.request.add().master_key(), "key");
  EXPECT_TRUE(p.request.add().recovery());
  EXPECT_EQ(p.request.add().body(), Body(7, 5, 4));
}

TEST(ParseRequestTest, LargestIdsAreValid) {
  ExpectValid(Add(kMaxId, kMaxId, kMaxId - 1), "add");
  ExpectValid(Read(kMaxId, kMaxId), "read");
  ExpectValid(LongPoll(kMaxId, kMaxId - 1), "long poll");
  ExpectValid(ReadLac(kMaxId), "read LAC");
  ExpectValid(WriteLac(kMaxId, kMaxId), "write LAC");
  ExpectValid(Force(kMaxId), "force");
  ExpectValid(List(kMaxId), "list");
}

TEST(ParseRequestTest, LongPollIgnoresTheEntryId) {
  proto::Request r = LongPoll(7, 3);
  r.mutable_read()->set_entry_id(-5);
  ExpectValid(r);
}

TEST(ParseRequestTest, AnEntryBodyOfExactlyItsHeaderIsValid) {
  proto::Request r = Add(7, 1, 0);
  r.mutable_add()->mutable_body()->resize(kEntryBodyHeaderSize);
  ExpectValid(r);
}

// --- Rejected requests ---------------------------------------------------------------------------

TEST(ParseRequestTest, BytesThatAreNotARequest) {
  ParsedRequest p = ParseRequest(std::string("\xff\xff\xff\xff\xff", 5));
  EXPECT_EQ(p.error, proto::BAD_REQUEST);
  EXPECT_NE(p.error_message.find("5 bytes"), std::string::npos) << p.error_message;
  // Nothing usable: the answer goes out with request id 0.
  EXPECT_FALSE(p.request.has_header());
  EXPECT_EQ(p.request.header().request_id(), 0u);
}

TEST(ParseRequestTest, MissingHeader) {
  proto::Request r = Add(7, 0, -1);
  r.clear_header();
  ParsedRequest p = Parse(r);
  EXPECT_EQ(p.error, proto::BAD_REQUEST);
  EXPECT_NE(p.error_message.find("header"), std::string::npos) << p.error_message;
  // An empty frame is a request without a header too.
  EXPECT_EQ(ParseRequest("").error, proto::BAD_REQUEST);
}

TEST(ParseRequestTest, VersionZeroIsABadRequest) {
  proto::Request r = Add(7, 0, -1);
  r.mutable_header()->set_protocol_version(0);
  ExpectBad(r);
}

TEST(ParseRequestTest, NewerVersionIsABadVersionWithTheRequestId) {
  for (uint32_t v : {kProtocolVersion + 1, std::numeric_limits<uint32_t>::max()}) {
    proto::Request r = Add(7, 0, -1);
    r.mutable_header()->set_protocol_version(v);
    r.mutable_header()->set_request_id(77);
    ParsedRequest p = Parse(r);
    EXPECT_EQ(p.error, proto::BAD_VERSION) << v;
    EXPECT_EQ(p.request.header().request_id(), 77u);
    EXPECT_NE(p.error_message.find(std::to_string(v)), std::string::npos) << p.error_message;
    // The answer carries the bookie's version, so the client knows which to retry with.
    proto::Response answer = MakeResponse(p.request.header(), p.error, p.error_message);
    EXPECT_EQ(answer.header().protocol_version(), kProtocolVersion);
    EXPECT_EQ(answer.header().request_id(), 77u);
    EXPECT_EQ(answer.status(), proto::BAD_VERSION);
  }
  // The version is checked before the body: a newer client's unknown operation is BAD_VERSION.
  proto::Request r = Request(static_cast<proto::Operation>(99));
  r.mutable_header()->set_protocol_version(kProtocolVersion + 1);
  EXPECT_EQ(Parse(r).error, proto::BAD_VERSION);
}

TEST(ParseRequestTest, UnknownOperation) {
  ExpectBad(Request(proto::OPERATION_UNSPECIFIED), "unspecified");
  ParsedRequest p = Parse(Request(static_cast<proto::Operation>(99)));
  EXPECT_EQ(p.error, proto::BAD_REQUEST);
  EXPECT_NE(p.error_message.find("unknown operation 99"), std::string::npos) << p.error_message;
}

TEST(ParseRequestTest, OperationWithoutItsBody) {
  for (proto::Operation op :
       {proto::ADD_ENTRY, proto::BATCH_ADD, proto::READ_ENTRY, proto::READ_LAC, proto::WRITE_LAC,
        proto::FORCE_LEDGER, proto::LIST_ENTRIES}) {
    ExpectBad(Request(op), OperationName(op));
  }
  // Another operation's body does not count.
  proto::Request r = Request(proto::ADD_ENTRY);
  *r.mutable_read() = Read(7, 0).read();
  ExpectBad(r, "add with a read body");
}

TEST(ParseRequestTest, NegativeIds) {
  for (int64_t bad : {int64_t{-1}, int64_t{-2}, kMinId}) {
    std::string what = std::to_string(bad);
    ExpectBad(Add(bad, 0, -1), "add ledger " + what);
    ExpectBad(Add(7, bad, -1), "add entry " + what);
    ExpectBad(Read(bad, 0), "read ledger " + what);
    ExpectBad(Read(7, bad), "read entry " + what);
    ExpectBad(LongPoll(bad, -1), "long poll ledger " + what);
    ExpectBad(ReadLac(bad), "read LAC ledger " + what);
    ExpectBad(WriteLac(bad, 0), "write LAC ledger " + what);
    ExpectBad(Force(bad), "force ledger " + what);
    ExpectBad(List(bad), "list ledger " + what);
  }
}

TEST(ParseRequestTest, LacOutOfRange) {
  // In an entry body: -1 .. entry - 1.
  ExpectBad(Add(7, 5, -2), "LAC -2");
  ExpectBad(Add(7, 5, kMinId), "LAC min");
  ExpectBad(Add(7, 5, 5), "LAC equal to the entry");
  ExpectBad(Add(7, 5, 6), "LAC above the entry");
  ExpectBad(Add(7, 0, 0), "first entry with LAC 0");
  ExpectBad(Add(kMaxId, kMaxId, kMaxId), "LAC max");
  // Explicit LAC and long-poll previous LAC: -1 or above.
  ExpectBad(WriteLac(7, -2), "write LAC -2");
  ExpectBad(WriteLac(7, kMinId), "write LAC min");
  ExpectBad(LongPoll(7, -2), "previous LAC -2");
  ExpectBad(LongPoll(7, kMinId), "previous LAC min");
}

// Regression: a long poll from 2^63-1 was accepted; when it timed out the bookie computed its
// answer's entry id, previous_lac + 1, and overflowed (UBSan aborted the bookie). No LAC can pass
// 2^63-1 (a LAC is below an entry id), so it is rejected up front.
TEST(ParseRequestTest, LongPollFromTheLargestLacIsRejected) {
  ParsedRequest p = Parse(LongPoll(7, kMaxId));
  EXPECT_EQ(p.error, proto::BAD_REQUEST);
  EXPECT_NE(p.error_message.find("previous LAC"), std::string::npos) << p.error_message;
  ExpectValid(LongPoll(7, kMaxId - 1));
}

TEST(ParseRequestTest, EntryBodyShorterThanItsHeader) {
  for (size_t size : {size_t{0}, size_t{1}, kEntryBodyHeaderSize - 1}) {
    proto::Request r = Add(7, 0, -1);
    r.mutable_add()->mutable_body()->resize(size);
    ParsedRequest p = Parse(r);
    EXPECT_EQ(p.error, proto::BAD_REQUEST) << size;
    EXPECT_NE(p.error_message.find("shorter"), std::string::npos) << p.error_message;
  }
}

TEST(ParseRequestTest, EntryBodyForAnotherEntry) {
  proto::Request r = Add(7, 3, 2);
  r.mutable_add()->set_body(Body(8, 3, 2));
  ExpectBad(r, "other ledger");
  r.mutable_add()->set_body(Body(7, 4, 2));
  ParsedRequest p = Parse(r);
  EXPECT_EQ(p.error, proto::BAD_REQUEST);
  EXPECT_NE(p.error_message.find("for ledger 7 entry 4"), std::string::npos) << p.error_message;
}

TEST(ParseRequestTest, MasterKeyIsRequiredWhereItIsRecorded) {
  proto::Request add = Add(1, 0, -1);
  add.mutable_add()->clear_master_key();
  EXPECT_EQ(Parse(add).error, proto::BAD_REQUEST);
  proto::Request fence = Read(1, 0);
  fence.mutable_read()->set_fence(true);
  EXPECT_EQ(Parse(fence).error, proto::BAD_REQUEST) << "a fencing read without a key";
  fence.mutable_read()->set_master_key("key");
  EXPECT_TRUE(Parse(fence).ok());
  proto::Request lac = WriteLac(1, 0);
  lac.mutable_write_lac()->clear_master_key();
  EXPECT_EQ(Parse(lac).error, proto::BAD_REQUEST);
}

TEST(ParseRequestTest, AReadCannotBothFenceAndLongPoll) {
  proto::Request r = LongPoll(1, 0);
  r.mutable_read()->set_fence(true);
  r.mutable_read()->set_master_key("key");
  ParsedRequest p = Parse(r);
  EXPECT_EQ(p.error, proto::BAD_REQUEST);
  EXPECT_NE(p.error_message.find("fence"), std::string::npos) << p.error_message;
}

TEST(ParseRequestTest, BatchSizes) {
  ExpectBad(Batch(0), "empty batch");
  ExpectValid(Batch(1), "one");
  ExpectValid(Batch(kMaxBatchAdds), "the maximum");
  ParsedRequest p = Parse(Batch(kMaxBatchAdds + 1));
  EXPECT_EQ(p.error, proto::BAD_REQUEST);
  EXPECT_NE(p.error_message.find(std::to_string(kMaxBatchAdds + 1)), std::string::npos)
      << p.error_message;
}

TEST(ParseRequestTest, OneBadAddRejectsTheWholeBatch) {
  proto::Request r = Batch(3);
  r.mutable_batch_add()->mutable_adds(2)->set_body(Body(1, 9, 1));
  ExpectBad(r, "body for another entry");
  r = Batch(3);
  r.mutable_batch_add()->mutable_adds(1)->set_ledger_id(-1);
  ExpectBad(r, "negative ledger");
}

// A BATCH_ADD's adds are decoded by hand, as views into one copy of the frame: the same adds as
// protobuf's, still readable once the bytes they were parsed from are gone.
TEST(ParseRequestTest, ABatchsAddsViewACopyOfTheFrame) {
  proto::Request r = Batch(3);
  r.mutable_batch_add()->mutable_adds(1)->set_recovery(true);
  auto bytes = std::make_unique<std::string>(r.SerializeAsString());
  ParsedRequest p = ParseRequest(*bytes);
  ASSERT_TRUE(p.ok()) << p.error_message;
  ASSERT_EQ(p.batch_adds.size(), 3u);
  EXPECT_EQ(p.request.batch_add().adds_size(), 0);  // not parsed twice
  EXPECT_NE(p.adds_owner, nullptr);
  for (const AddView& a : p.batch_adds) {
    bool in_input = a.body.data() >= bytes->data() && a.body.data() < bytes->data() + bytes->size();
    EXPECT_FALSE(in_input);
  }
  bytes.reset();  // (ASan would report a view into it)
  for (int i = 0; i < 3; ++i) {
    const AddView& a = p.batch_adds[static_cast<size_t>(i)];
    EXPECT_EQ(a.ledger_id, 1);
    EXPECT_EQ(a.entry_id, i);
    EXPECT_EQ(a.master_key, "key");
    EXPECT_EQ(a.body, Body(1, i, i - 1));
    EXPECT_EQ(a.lac, i - 1);  // the body's, for the bookie to advance its LAC with
    EXPECT_EQ(a.recovery, i == 1);
  }
}

// As protobuf merges a message field sent twice, the adds of two batch_add fields are one batch;
// unknown fields are skipped; bytes that are not a message are refused.
TEST(ParseRequestTest, ABatchIsDecodedAsProtobufDecodesIt) {
  auto length_delimited = [](uint8_t tag, const std::string& bytes) {
    std::string out(1, static_cast<char>(tag));
    for (size_t n = bytes.size(); true; n >>= 7) {
      out += static_cast<char>(n < 0x80 ? n : (n & 0x7f) | 0x80);
      if (n < 0x80) break;
    }
    return out + bytes;
  };
  const std::string unknown("\xa0\x06\x07", 3);  // field 100, a varint
  proto::AddRequest third;
  FillAdd(&third, 1, 2, 1);
  std::string frame = Batch(2).SerializeAsString() +
                      length_delimited(0x1a,  // Request.batch_add
                                       length_delimited(0x0a,  // BatchAddRequest.adds
                                                        third.SerializeAsString() + unknown)) +
                      unknown;
  ParsedRequest p = ParseRequest(frame);
  ASSERT_TRUE(p.ok()) << p.error_message;
  ASSERT_EQ(p.batch_adds.size(), 3u);
  EXPECT_EQ(p.batch_adds[2].entry_id, 2);
  proto::Request reference;
  ASSERT_TRUE(reference.ParseFromString(frame));
  EXPECT_EQ(reference.batch_add().adds_size(), 3);

  // A group in an add: protobuf accepts it, and this decoder leaves such a batch to protobuf.
  const std::string group("\xa3\x06\x08\x01\xa4\x06", 6);  // field 100: {field 1: 1}
  std::string with_group = Batch(1).SerializeAsString() +
                           length_delimited(0x1a, length_delimited(0x0a, third.SerializeAsString() +
                                                                             group));
  ASSERT_TRUE(reference.ParseFromString(with_group));
  ParsedRequest grouped = ParseRequest(with_group);
  ASSERT_TRUE(grouped.ok()) << grouped.error_message;
  ASSERT_EQ(grouped.batch_adds.size(), 2u);
  EXPECT_EQ(grouped.batch_adds[1].entry_id, 2);
  EXPECT_EQ(grouped.batch_adds[1].body, third.body());

  std::string cut = Batch(2).SerializeAsString();
  cut.pop_back();  // the last body one byte short
  EXPECT_FALSE(reference.ParseFromString(cut));
  ParsedRequest refused = ParseRequest(cut);
  EXPECT_EQ(refused.error, proto::BAD_REQUEST);
  EXPECT_NE(refused.error_message.find("not a Request"), std::string::npos)
      << refused.error_message;
}

// --- Answers and status codes --------------------------------------------------------------------

TEST(MakeResponseTest, EchoesTheRequestAndCarriesTheBookieVersion) {
  proto::RequestHeader h = Request(proto::READ_LAC, 1234).header();
  proto::Response ok = MakeResponse(h, proto::OK);
  EXPECT_EQ(ok.header().protocol_version(), kProtocolVersion);
  EXPECT_EQ(ok.header().operation(), proto::READ_LAC);
  EXPECT_EQ(ok.header().request_id(), 1234u);
  EXPECT_EQ(ok.status(), proto::OK);
  EXPECT_TRUE(ok.message().empty());

  proto::Response err = MakeResponse(h, Status(StatusCode::kFenced, "ledger 7 is fenced"));
  EXPECT_EQ(err.status(), proto::FENCED);
  EXPECT_EQ(err.message(), "ledger 7 is fenced");
  EXPECT_EQ(err.header().request_id(), 1234u);
  EXPECT_EQ(MakeResponse(h, Status::Ok()).status(), proto::OK);
}

TEST(StatusMappingTest, EveryWireStatusRoundTrips) {
  for (int i = proto::Status_MIN; i <= proto::Status_MAX; ++i) {
    auto s = static_cast<proto::Status>(i);
    if (s == proto::STATUS_UNSPECIFIED) continue;
    EXPECT_EQ(ToProtoStatus(FromProtoStatus(s)), s) << proto::Status_Name(s);
  }
  // A status the client does not know (or an unset one) is a bug on the other side.
  EXPECT_EQ(FromProtoStatus(proto::STATUS_UNSPECIFIED), StatusCode::kInternal);
  EXPECT_EQ(FromProtoStatus(static_cast<proto::Status>(99)), StatusCode::kInternal);
}

TEST(StatusMappingTest, EveryStatusCodeHasAWireStatus) {
  struct Case {
    StatusCode code;
    proto::Status wire;
    StatusCode back;  // what a client sees after the round trip
  };
  const std::vector<Case> cases = {
      {StatusCode::kOk, proto::OK, StatusCode::kOk},
      {StatusCode::kInvalidArgument, proto::BAD_REQUEST, StatusCode::kBadRequest},
      {StatusCode::kNotFound, proto::INTERNAL, StatusCode::kInternal},
      {StatusCode::kNoSuchLedger, proto::NO_SUCH_LEDGER, StatusCode::kNoSuchLedger},
      {StatusCode::kNoSuchEntry, proto::NO_SUCH_ENTRY, StatusCode::kNoSuchEntry},
      {StatusCode::kCorruption, proto::CORRUPTION, StatusCode::kCorruption},
      {StatusCode::kIOError, proto::IO_ERROR, StatusCode::kIOError},
      {StatusCode::kUnauthorized, proto::UNAUTHORIZED, StatusCode::kUnauthorized},
      {StatusCode::kFenced, proto::FENCED, StatusCode::kFenced},
      // A lost compare-and-set never leaves a bookie; BAD_VERSION is the protocol version.
      {StatusCode::kBadVersion, proto::INTERNAL, StatusCode::kInternal},
      {StatusCode::kAlreadyExists, proto::INTERNAL, StatusCode::kInternal},
      {StatusCode::kReadOnly, proto::READ_ONLY, StatusCode::kReadOnly},
      {StatusCode::kTooManyRequests, proto::TOO_MANY_REQUESTS, StatusCode::kTooManyRequests},
      {StatusCode::kTimeout, proto::TIMEOUT, StatusCode::kTimeout},
      // Shutting down: the client should go to another bookie.
      {StatusCode::kUnavailable, proto::READ_ONLY, StatusCode::kReadOnly},
      {StatusCode::kAborted, proto::READ_ONLY, StatusCode::kReadOnly},
      {StatusCode::kFailedPrecondition, proto::INTERNAL, StatusCode::kInternal},
      {StatusCode::kUnimplemented, proto::BAD_VERSION, StatusCode::kUnimplemented},
      {StatusCode::kInternal, proto::INTERNAL, StatusCode::kInternal},
      {StatusCode::kBadRequest, proto::BAD_REQUEST, StatusCode::kBadRequest},
      {StatusCode::kLedgerClosed, proto::INTERNAL, StatusCode::kInternal},
      {StatusCode::kUnauthenticated, proto::UNAUTHENTICATED, StatusCode::kUnauthenticated},
  };
  ASSERT_EQ(cases.size(), static_cast<size_t>(StatusCode::kUnauthenticated) + 1)
      << "a new StatusCode needs a row here (and a wire status, or INTERNAL on purpose)";
  for (const Case& c : cases) {
    EXPECT_EQ(ToProtoStatus(c.code), c.wire) << StatusCodeName(c.code);
    EXPECT_EQ(FromProtoStatus(ToProtoStatus(c.code)), c.back) << StatusCodeName(c.code);
  }
}

TEST(OperationNameTest, EveryOperationHasAName) {
  for (int i = proto::Operation_MIN; i <= proto::Operation_MAX; ++i) {
    auto op = static_cast<proto::Operation>(i);
    if (op == proto::OPERATION_UNSPECIFIED) {
      EXPECT_EQ(OperationName(op), "unknown");
    } else {
      EXPECT_NE(OperationName(op), "unknown") << proto::Operation_Name(op);
    }
  }
  EXPECT_EQ(OperationName(proto::ADD_ENTRY), "add");
  EXPECT_EQ(OperationName(static_cast<proto::Operation>(99)), "unknown");
}

// --- Entry body header ---------------------------------------------------------------------------

TEST(EntryBodyHeaderTest, EncodesBigEndianInOrder) {
  char out[kEntryBodyHeaderSize];
  EncodeEntryBodyHeader({0x0102030405060708, 9, -1, 0x1122334455667788}, out);
  const std::string expected = std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8) +
                               std::string(7, '\0') + "\x09" + std::string(8, '\xff') +
                               std::string("\x11\x22\x33\x44\x55\x66\x77\x88", 8);
  EXPECT_EQ(std::string(out, kEntryBodyHeaderSize), expected);
}

TEST(EntryBodyHeaderTest, RoundTrips) {
  const std::vector<EntryBodyHeader> headers = {
      {0, 0, -1, 0},
      {7, 5, 4, 1234},
      {kMaxId, kMaxId, kMaxId - 1, std::numeric_limits<uint64_t>::max()},
      {kMinId, -1, kMinId, 1},  // the encoding itself takes any value; ParseRequest checks them
  };
  for (const EntryBodyHeader& h : headers) {
    std::string body(kEntryBodyHeaderSize, '\0');
    EncodeEntryBodyHeader(h, body.data());
    body.append("digest and payload are not the header's business");
    Result<EntryBodyHeader> back = ParseEntryBodyHeader(body);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(back->ledger_id, h.ledger_id);
    EXPECT_EQ(back->entry_id, h.entry_id);
    EXPECT_EQ(back->lac, h.lac);
    EXPECT_EQ(back->length, h.length);
  }
}

TEST(EntryBodyHeaderTest, ShortBodyIsABadRequest) {
  EXPECT_TRUE(ParseEntryBodyHeader(std::string(kEntryBodyHeaderSize, '\0')).ok());
  for (size_t size : {size_t{0}, size_t{8}, kEntryBodyHeaderSize - 1}) {
    Result<EntryBodyHeader> h = ParseEntryBodyHeader(std::string(size, '\0'));
    ASSERT_FALSE(h.ok()) << size;
    EXPECT_EQ(h.status().code(), StatusCode::kBadRequest);
  }
}

}  // namespace
}  // namespace quire::protocol
