// libFuzzer target: what a bookie does with the bytes a client sends (docs/protocol.md).
//
// The input is a connection's byte stream. It is cut into frames as the server's read loop does
// (src/bookie/server.cc): a 4-byte length checked by DecodeFrameLength() against the default
// maxFrameSizeBytes, then that many bytes. A bad length ends the stream (the server answers and
// closes the connection); a truncated last frame ends it too (the server would wait for more).
// Each frame goes through ParseRequest(), and its answer is built and framed as the server would.
//
// Besides "no crash, no leak, no UB" (ASan + UBSan), it checks the decoder's promises: a request
// that passes validation has a supported version, a known operation with its body, ids in range
// and entry bodies that match their ids; a rejected one is BAD_REQUEST or BAD_VERSION with a
// message; every answer frames and parses back with the request's id; the bytes it accepts as a
// Request are those protobuf accepts, and a BATCH_ADD's adds (decoded by hand) are protobuf's.
//
// Run: tools/run-fuzz.sh [seconds]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "protocol/protocol.h"

namespace quire::protocol {
namespace {

// A broken promise of the decoder: a crash that libFuzzer records with its input.
void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "request_fuzzer: invariant broken: %s\n", what);
  std::abort();
}

void CheckAdd(const AddView& add) {
  Check(add.ledger_id >= 0 && add.entry_id >= 0, "valid add with a negative id");
  Result<EntryBodyHeader> h = ParseEntryBodyHeader(add.body);
  Check(h.ok(), "valid add whose body header does not parse");
  Check(h->ledger_id == add.ledger_id && h->entry_id == add.entry_id,
        "valid add whose body names another entry");
  Check(h->lac >= -1 && h->lac < h->entry_id, "valid add whose body carries an invalid LAC");
  char encoded[kEntryBodyHeaderSize];
  EncodeEntryBodyHeader(*h, encoded);
  Check(std::memcmp(encoded, add.body.data(), kEntryBodyHeaderSize) == 0,
        "entry body header does not re-encode to the same bytes");
}

// The promises ParseRequest() makes about a request it accepted.
void CheckValid(const ParsedRequest& parsed) {
  const proto::Request& r = parsed.request;
  const proto::RequestHeader& h = r.header();
  Check(h.protocol_version() >= 1 && h.protocol_version() <= kProtocolVersion,
        "valid request with an unsupported version");
  Check(OperationName(h.operation()) != "unknown", "valid request with an unknown operation");
  switch (h.operation()) {
    case proto::ADD_ENTRY:
      Check(r.has_add(), "valid ADD_ENTRY without its body");
      CheckAdd({r.add().ledger_id(), r.add().entry_id(), r.add().master_key(), r.add().body(),
                r.add().recovery()});
      break;
    case proto::BATCH_ADD:
      Check(r.has_batch_add(), "valid BATCH_ADD without its body");
      Check(!parsed.batch_adds.empty() &&
                parsed.batch_adds.size() <= static_cast<size_t>(kMaxBatchAdds),
            "valid batch of a wrong size");
      for (const AddView& add : parsed.batch_adds) CheckAdd(add);
      break;
    case proto::READ_ENTRY:
      Check(r.has_read() && r.read().ledger_id() >= 0, "valid READ_ENTRY without a ledger");
      // A long poll answers with entry previous_lac + 1: it must not overflow.
      Check(r.read().long_poll()
                ? r.read().previous_lac() >= -1 && r.read().previous_lac() < INT64_MAX
                : r.read().entry_id() >= 0,
            "valid READ_ENTRY with an invalid entry or previous LAC");
      break;
    case proto::READ_LAC:
      Check(r.has_read_lac() && r.read_lac().ledger_id() >= 0, "valid READ_LAC without a ledger");
      break;
    case proto::WRITE_LAC:
      Check(r.has_write_lac() && r.write_lac().ledger_id() >= 0 && r.write_lac().lac() >= -1,
            "valid WRITE_LAC with an invalid ledger or LAC");
      break;
    case proto::FORCE_LEDGER:
      Check(r.has_force_ledger() && r.force_ledger().ledger_id() >= 0,
            "valid FORCE_LEDGER without a ledger");
      break;
    case proto::LIST_ENTRIES:
      Check(r.has_list_entries() && r.list_entries().ledger_id() >= 0,
            "valid LIST_ENTRIES without a ledger");
      break;
    default:
      break;
  }
}

// The answer is framed as the server frames it, and a client can read it back.
void CheckAnswer(const proto::RequestHeader& request, const proto::Response& response) {
  std::string frame = EncodeFrame(response);
  Check(frame.size() > kFrameHeaderSize, "an answer frame without a body");
  Result<uint32_t> length = DecodeFrameLength(frame.data(), UINT32_MAX);
  Check(length.ok() && *length == frame.size() - kFrameHeaderSize, "answer frame length is wrong");
  proto::Response back;
  Check(back.ParseFromArray(frame.data() + kFrameHeaderSize, static_cast<int>(*length)),
        "answer does not parse back");
  Check(back.header().request_id() == request.request_id(), "answer lost the request id");
  Check(back.header().operation() == request.operation(), "answer lost the operation");
  Check(back.header().protocol_version() == kProtocolVersion, "answer has the wrong version");
  Check(back.status() == response.status(), "answer lost its status");
}

// The bytes protobuf parses are the bytes ParseRequest parses, with the same adds: it decodes a
// BATCH_ADD's adds by hand (views into the frame instead of a string per body).
void CheckAgreesWithProtobuf(std::string_view frame, const ParsedRequest& parsed) {
  proto::Request reference;
  bool parses = reference.ParseFromArray(frame.data(), static_cast<int>(frame.size()));
  bool parsed_here = parsed.ok() || parsed.error_message.find("that is not a Request") ==
                                        std::string::npos;
  Check(parses == parsed_here, "ParseRequest and protobuf disagree on whether this is a Request");
  if (!parsed.ok() || reference.header().operation() != proto::BATCH_ADD) return;
  const auto& adds = reference.batch_add().adds();
  Check(static_cast<size_t>(adds.size()) == parsed.batch_adds.size(),
        "ParseRequest found another number of adds than protobuf");
  for (int i = 0; i < adds.size(); ++i) {
    const AddView& a = parsed.batch_adds[static_cast<size_t>(i)];
    Check(a.ledger_id == adds[i].ledger_id() && a.entry_id == adds[i].entry_id() &&
              a.master_key == adds[i].master_key() && a.body == adds[i].body() &&
              a.recovery == adds[i].recovery(),
          "ParseRequest decoded an add other than protobuf did");
  }
}

// A frame lent by its reader (the server's large frames) parses as a copied one, its adds in
// place.
void CheckLentFrame(std::string_view frame, const ParsedRequest& copied) {
  auto lent = std::make_shared<const std::string>(frame);
  ParsedRequest parsed = ParseRequest(*lent, lent);
  Check(parsed.error == copied.error && parsed.error_message == copied.error_message,
        "a lent frame was answered otherwise than a copied one");
  Check(parsed.batch_adds.size() == copied.batch_adds.size(),
        "a lent frame has another number of adds than a copied one");
  const char* begin = lent->data();
  const char* end = begin + lent->size();
  for (size_t i = 0; i < parsed.batch_adds.size(); ++i) {
    const AddView& a = parsed.batch_adds[i];
    const AddView& c = copied.batch_adds[i];
    Check(a.ledger_id == c.ledger_id && a.entry_id == c.entry_id && a.body == c.body &&
              a.master_key == c.master_key && a.recovery == c.recovery,
          "a lent frame decoded another add than a copied one");
    bool viewed_in_place = a.body.empty() || (a.body.data() >= begin && a.body.data() < end);
    Check(viewed_in_place || parsed.adds_owner != lent,
          "an add of a lent frame views bytes the lender does not keep");
  }
}

void HandleFrame(std::string_view frame) {
  ParsedRequest parsed = ParseRequest(frame);
  CheckAgreesWithProtobuf(frame, parsed);
  CheckLentFrame(frame, parsed);
  const proto::RequestHeader& header = parsed.request.header();
  if (parsed.ok()) {
    CheckValid(parsed);
    CheckAnswer(header, MakeResponse(header, Status::Ok()));
    return;
  }
  Check(parsed.error == proto::BAD_REQUEST || parsed.error == proto::BAD_VERSION,
        "a rejected request answered with an unexpected status");
  Check(!parsed.error_message.empty(), "a rejected request without a message");
  proto::Response answer = MakeResponse(header, parsed.error, parsed.error_message);
  Check(answer.message() == parsed.error_message, "answer lost the error message");
  CheckAnswer(header, answer);
  // The same answer through the Status path (what the request processor uses).
  proto::Response via_status =
      MakeResponse(header, Status(FromProtoStatus(parsed.error), parsed.error_message));
  Check(via_status.status() == parsed.error, "status does not round-trip through StatusCode");
}

// One connection's bytes, cut into frames as the server's read loop cuts them.
void FuzzStream(std::string_view in) {
  while (in.size() >= kFrameHeaderSize) {
    Result<uint32_t> length = DecodeFrameLength(in.data(), kDefaultMaxFrameSize);
    if (!length.ok()) {
      // The server answers BAD_REQUEST without a request id, then closes the connection.
      CheckAnswer(proto::RequestHeader(), MakeResponse(proto::RequestHeader(), proto::BAD_REQUEST,
                                                       length.status().message()));
      return;
    }
    in.remove_prefix(kFrameHeaderSize);
    if (*length > in.size()) return;  // the rest of the frame has not arrived
    // An exact-size heap copy, so that ASan sees any read past the frame's end (in the server
    // the bytes behind a frame are the next frame's).
    std::unique_ptr<char[]> frame(new char[*length]);
    std::memcpy(frame.get(), in.data(), *length);
    in.remove_prefix(*length);
    HandleFrame(std::string_view(frame.get(), *length));
  }
}

}  // namespace
}  // namespace quire::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  quire::protocol::FuzzStream(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
