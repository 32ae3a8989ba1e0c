// The bookie wire protocol: framing, request validation and status codes (docs/protocol.md).
//
// Everything that arrives from the network passes through ParseRequest() before the bookie acts
// on it: bad bytes give a BAD_REQUEST (or BAD_VERSION) answer naming what is wrong, never an
// assertion. The fuzz target tests/fuzz/request_fuzzer.cc drives these functions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bookie.pb.h"
#include "quire/status.h"

namespace quire::protocol {

inline constexpr uint32_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderSize = 4;
inline constexpr uint32_t kDefaultMaxFrameSize = 5u << 20;
inline constexpr int kMaxBatchAdds = 10000;

// The header of an entry body, as clients build it (docs/protocol.md, "Entry body"):
//   ledger:i64 | entry:i64 | lac:i64 | length:u64 | digest | payload     (big-endian integers)
// `length` is the ledger's length in bytes up to and including this entry. The digest (CRC32C
// or HMAC-SHA256, over the header and the payload) is checked by readers, never by the bookie.
inline constexpr size_t kEntryBodyHeaderSize = 32;
struct EntryBodyHeader {
  int64_t ledger_id = 0;
  int64_t entry_id = 0;
  int64_t lac = -1;
  uint64_t length = 0;
};
// kBadRequest if the body is too short.
Result<EntryBodyHeader> ParseEntryBodyHeader(std::string_view body);
void EncodeEntryBodyHeader(const EntryBodyHeader& header, char out[kEntryBodyHeaderSize]);

// The 4-byte big-endian frame length. kBadRequest (with the length in the message) when it is 0 or
// larger than `max_frame`.
Result<uint32_t> DecodeFrameLength(const char* bytes, uint32_t max_frame);
void EncodeFrameLength(uint32_t length, char* bytes);
// Length prefix + serialized message.
std::string EncodeFrame(const google::protobuf::MessageLite& message);

// One add of a BATCH_ADD, as views into bytes kept by ParsedRequest::adds_owner.
struct AddView {
  int64_t ledger_id = 0;
  int64_t entry_id = 0;
  std::string_view master_key;
  std::string_view body;
  bool recovery = false;
  int64_t lac = 0;  // the LAC the body carries: set by ParseRequest, which validates it
};

// A request that passed validation, or what to answer if it did not.
struct ParsedRequest {
  proto::Request request;
  // A BATCH_ADD's adds (request.batch_add() is left empty). They view bytes that `adds_owner`
  // keeps alive: the frame (as read, or one copy of it), shared by whatever keeps a body (the
  // bookie's journal and write cache) instead of a string allocated and copied per body; or, for
  // an encoding that only protobuf's parser decodes (docs/protocol.md), the parsed message.
  std::vector<AddView> batch_adds;
  std::shared_ptr<const void> adds_owner;
  proto::Status error = proto::STATUS_UNSPECIFIED;  // UNSPECIFIED: valid
  std::string error_message;
  bool ok() const { return error == proto::STATUS_UNSPECIFIED; }
};

// Parses and checks one frame's bytes: a known protocol version, a known operation with its
// body, ids in range, entry bodies that match their ids. When the bytes are not a Request at all,
// request.header is left empty (request id 0). The same bytes are accepted and refused as
// protobuf's parser would; a BATCH_ADD's adds are decoded by hand into batch_adds. They view a
// copy of the frame, or, when `frame_owner` is given (it keeps the frame's bytes alive and
// unchanged), the frame itself.
ParsedRequest ParseRequest(std::string_view frame,
                           std::shared_ptr<const void> frame_owner = nullptr);

// A response to `header` with the given status (and message, for errors).
proto::Response MakeResponse(const proto::RequestHeader& header, proto::Status status,
                             std::string_view message = {});

proto::Status ToProtoStatus(StatusCode code);
StatusCode FromProtoStatus(proto::Status status);
// A Status-carrying response: OK, or the error's code and message.
proto::Response MakeResponse(const proto::RequestHeader& header, const Status& status);

std::string_view OperationName(proto::Operation op);

// How a request ended, for metrics: the response's status, except that a BATCH_ADD answered OK
// with a failed add ended as its first failed add (the batch is OK on the wire either way).
proto::Status Outcome(const proto::Response& response);

}  // namespace quire::protocol
