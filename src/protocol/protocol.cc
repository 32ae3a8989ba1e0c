#include "protocol/protocol.h"

#include <limits>

#include <fmt/format.h>

#include "common/coding.h"

namespace quire::protocol {
namespace {

bool ValidId(int64_t id) { return id >= 0; }
bool ValidLac(int64_t lac) { return lac >= -1; }

// Empty when valid; otherwise what is wrong.
std::string CheckAdd(const proto::AddRequest& add) {
  if (!ValidId(add.ledger_id()) || !ValidId(add.entry_id())) {
    return fmt::format("invalid ids: ledger {} entry {}", add.ledger_id(), add.entry_id());
  }
  // An empty key would be recorded as the ledger's key and then refuse the writer's real one.
  if (add.master_key().empty()) {
    return fmt::format("ledger {} entry {}: an add needs the ledger's master key",
                       add.ledger_id(), add.entry_id());
  }
  auto header = ParseEntryBodyHeader(add.body());
  if (!header.ok()) {
    return fmt::format("ledger {} entry {}: {}", add.ledger_id(), add.entry_id(),
                       header.status().message());
  }
  if (header->ledger_id != add.ledger_id() || header->entry_id != add.entry_id()) {
    return fmt::format("ledger {} entry {}: the entry body is for ledger {} entry {}",
                       add.ledger_id(), add.entry_id(), header->ledger_id, header->entry_id);
  }
  if (!ValidLac(header->lac) || header->lac >= header->entry_id) {
    return fmt::format("ledger {} entry {}: invalid LAC {} in the entry body", add.ledger_id(),
                       add.entry_id(), header->lac);
  }
  return {};
}

std::string CheckBody(const proto::Request& r) {
  using proto::Operation;
  switch (r.header().operation()) {
    case Operation::ADD_ENTRY:
      if (!r.has_add()) return "ADD_ENTRY without an add body";
      return CheckAdd(r.add());
    case Operation::BATCH_ADD: {
      if (!r.has_batch_add()) return "BATCH_ADD without a batch body";
      int n = r.batch_add().adds_size();
      if (n == 0 || n > kMaxBatchAdds) {
        return fmt::format("a batch must hold 1 to {} adds, not {}", kMaxBatchAdds, n);
      }
      for (const proto::AddRequest& add : r.batch_add().adds()) {
        std::string e = CheckAdd(add);
        if (!e.empty()) return e;
      }
      return {};
    }
    case Operation::READ_ENTRY: {
      if (!r.has_read()) return "READ_ENTRY without a read body";
      const proto::ReadRequest& read = r.read();
      if (!ValidId(read.ledger_id())) return fmt::format("invalid ledger id {}", read.ledger_id());
      if (read.fence() && read.long_poll()) return "a read cannot both fence and long-poll";
      if (read.fence() && read.master_key().empty()) return "a fencing read needs the master key";
      if (read.long_poll()) {
        // A LAC is below some entry id, so at most 2^63-2: a larger previous LAC could never be
        // passed, and the answer's entry id (previous LAC + 1) must not overflow.
        if (!ValidLac(read.previous_lac()) ||
            read.previous_lac() == std::numeric_limits<int64_t>::max()) {
          return fmt::format("invalid previous LAC {}", read.previous_lac());
        }
      } else if (!ValidId(read.entry_id())) {
        return fmt::format("invalid entry id {}", read.entry_id());
      }
      return {};
    }
    case Operation::READ_LAC:
      if (!r.has_read_lac()) return "READ_LAC without a body";
      if (!ValidId(r.read_lac().ledger_id())) {
        return fmt::format("invalid ledger id {}", r.read_lac().ledger_id());
      }
      return {};
    case Operation::WRITE_LAC:
      if (!r.has_write_lac()) return "WRITE_LAC without a body";
      if (!ValidId(r.write_lac().ledger_id()) || !ValidLac(r.write_lac().lac())) {
        return fmt::format("invalid ledger {} or LAC {}", r.write_lac().ledger_id(),
                           r.write_lac().lac());
      }
      if (r.write_lac().master_key().empty()) return "WRITE_LAC needs the master key";
      return {};
    case Operation::FORCE_LEDGER:
      if (!r.has_force_ledger()) return "FORCE_LEDGER without a body";
      if (!ValidId(r.force_ledger().ledger_id())) {
        return fmt::format("invalid ledger id {}", r.force_ledger().ledger_id());
      }
      return {};
    case Operation::BOOKIE_INFO:
      return {};
    case Operation::LIST_ENTRIES:
      if (!r.has_list_entries()) return "LIST_ENTRIES without a body";
      if (!ValidId(r.list_entries().ledger_id())) {
        return fmt::format("invalid ledger id {}", r.list_entries().ledger_id());
      }
      return {};
    default:
      return fmt::format("unknown operation {}", static_cast<int>(r.header().operation()));
  }
}

}  // namespace

Result<EntryBodyHeader> ParseEntryBodyHeader(std::string_view body) {
  if (body.size() < kEntryBodyHeaderSize) {
    return Status(StatusCode::kBadRequest,
                  fmt::format("entry body of {} bytes is shorter than its {}-byte header",
                              body.size(), kEntryBodyHeaderSize));
  }
  EntryBodyHeader h;
  h.ledger_id = static_cast<int64_t>(DecodeBigEndian64(body.data()));
  h.entry_id = static_cast<int64_t>(DecodeBigEndian64(body.data() + 8));
  h.lac = static_cast<int64_t>(DecodeBigEndian64(body.data() + 16));
  h.length = DecodeBigEndian64(body.data() + 24);
  return h;
}

void EncodeEntryBodyHeader(const EntryBodyHeader& h, char out[kEntryBodyHeaderSize]) {
  EncodeBigEndian64(out, static_cast<uint64_t>(h.ledger_id));
  EncodeBigEndian64(out + 8, static_cast<uint64_t>(h.entry_id));
  EncodeBigEndian64(out + 16, static_cast<uint64_t>(h.lac));
  EncodeBigEndian64(out + 24, h.length);
}

Result<uint32_t> DecodeFrameLength(const char* bytes, uint32_t max_frame) {
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  if (n == 0) return Status(StatusCode::kBadRequest, "empty frame");
  if (n > max_frame) {
    return Status(StatusCode::kBadRequest,
                  fmt::format("frame of {} bytes exceeds maxFrameSizeBytes ({})", n, max_frame));
  }
  return n;
}

void EncodeFrameLength(uint32_t n, char* bytes) {
  for (int i = 3; i >= 0; --i) {
    bytes[i] = static_cast<char>(n & 0xff);
    n >>= 8;
  }
}

std::string EncodeFrame(const google::protobuf::MessageLite& message) {
  std::string out(kFrameHeaderSize, '\0');
  message.AppendToString(&out);
  EncodeFrameLength(static_cast<uint32_t>(out.size() - kFrameHeaderSize), out.data());
  return out;
}

ParsedRequest ParseRequest(std::string_view frame) {
  ParsedRequest p;
  if (!p.request.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
    p.request.Clear();
    p.error = proto::BAD_REQUEST;
    p.error_message = fmt::format("a frame of {} bytes that is not a Request", frame.size());
    return p;
  }
  const proto::RequestHeader& h = p.request.header();
  if (!p.request.has_header() || h.protocol_version() == 0) {
    p.error = proto::BAD_REQUEST;
    p.error_message = "request without a header or protocol version";
    return p;
  }
  if (h.protocol_version() > kProtocolVersion) {
    p.error = proto::BAD_VERSION;
    p.error_message = fmt::format("protocol version {} is newer than this bookie's {}",
                                  h.protocol_version(), kProtocolVersion);
    return p;
  }
  std::string e = CheckBody(p.request);
  if (!e.empty()) {
    p.error = proto::BAD_REQUEST;
    p.error_message = std::move(e);
  }
  return p;
}

proto::Response MakeResponse(const proto::RequestHeader& header, proto::Status status,
                             std::string_view message) {
  proto::Response r;
  proto::ResponseHeader* h = r.mutable_header();
  h->set_protocol_version(kProtocolVersion);
  h->set_operation(header.operation());
  h->set_request_id(header.request_id());
  r.set_status(status);
  if (!message.empty()) r.set_message(std::string(message));
  return r;
}

proto::Response MakeResponse(const proto::RequestHeader& header, const Status& status) {
  return MakeResponse(header, ToProtoStatus(status.code()), status.message());
}

proto::Status Outcome(const proto::Response& response) {
  if (response.status() != proto::OK || !response.has_batch_add()) return response.status();
  for (const proto::AddResult& result : response.batch_add().results()) {
    if (result.status() != proto::OK) return result.status();
  }
  return proto::OK;
}

proto::Status ToProtoStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return proto::OK;
    case StatusCode::kNoSuchLedger: return proto::NO_SUCH_LEDGER;
    case StatusCode::kNoSuchEntry: return proto::NO_SUCH_ENTRY;
    case StatusCode::kInvalidArgument:
    case StatusCode::kBadRequest: return proto::BAD_REQUEST;
    case StatusCode::kIOError: return proto::IO_ERROR;
    case StatusCode::kUnauthorized: return proto::UNAUTHORIZED;
    // BAD_VERSION on the wire is about the protocol version (kUnimplemented); a lost
    // compare-and-set (kBadVersion) never comes out of a bookie's storage.
    case StatusCode::kUnimplemented: return proto::BAD_VERSION;
    case StatusCode::kFenced: return proto::FENCED;
    case StatusCode::kReadOnly: return proto::READ_ONLY;
    case StatusCode::kTooManyRequests: return proto::TOO_MANY_REQUESTS;
    case StatusCode::kCorruption: return proto::CORRUPTION;
    case StatusCode::kTimeout: return proto::TIMEOUT;
    case StatusCode::kUnauthenticated: return proto::UNAUTHENTICATED;
    case StatusCode::kAborted:
    case StatusCode::kUnavailable: return proto::READ_ONLY;  // shutting down: go elsewhere
    default: return proto::INTERNAL;
  }
}

StatusCode FromProtoStatus(proto::Status s) {
  switch (s) {
    case proto::OK: return StatusCode::kOk;
    case proto::NO_SUCH_LEDGER: return StatusCode::kNoSuchLedger;
    case proto::NO_SUCH_ENTRY: return StatusCode::kNoSuchEntry;
    case proto::BAD_REQUEST: return StatusCode::kBadRequest;
    case proto::IO_ERROR: return StatusCode::kIOError;
    case proto::UNAUTHORIZED: return StatusCode::kUnauthorized;
    case proto::BAD_VERSION: return StatusCode::kUnimplemented;
    case proto::FENCED: return StatusCode::kFenced;
    case proto::READ_ONLY: return StatusCode::kReadOnly;
    case proto::TOO_MANY_REQUESTS: return StatusCode::kTooManyRequests;
    case proto::CORRUPTION: return StatusCode::kCorruption;
    case proto::TIMEOUT: return StatusCode::kTimeout;
    case proto::UNAUTHENTICATED: return StatusCode::kUnauthenticated;
    default: return StatusCode::kInternal;
  }
}

std::string_view OperationName(proto::Operation op) {
  switch (op) {
    case proto::ADD_ENTRY: return "add";
    case proto::BATCH_ADD: return "batch-add";
    case proto::READ_ENTRY: return "read";
    case proto::READ_LAC: return "read-lac";
    case proto::WRITE_LAC: return "write-lac";
    case proto::FORCE_LEDGER: return "force-ledger";
    case proto::BOOKIE_INFO: return "bookie-info";
    case proto::LIST_ENTRIES: return "list-entries";
    default: return "unknown";
  }
}

}  // namespace quire::protocol
