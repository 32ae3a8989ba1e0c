#include "protocol/protocol.h"

#include <algorithm>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "common/coding.h"

namespace quire::protocol {
namespace {

bool ValidId(int64_t id) { return id >= 0; }
bool ValidLac(int64_t lac) { return lac >= -1; }

// Empty when valid; otherwise what is wrong.
std::string CheckAdd(int64_t ledger, int64_t entry, std::string_view master_key,
                     std::string_view body, int64_t* lac = nullptr) {
  if (!ValidId(ledger) || !ValidId(entry)) {
    return fmt::format("invalid ids: ledger {} entry {}", ledger, entry);
  }
  // An empty key would be recorded as the ledger's key and then refuse the writer's real one.
  if (master_key.empty()) {
    return fmt::format("ledger {} entry {}: an add needs the ledger's master key", ledger, entry);
  }
  auto header = ParseEntryBodyHeader(body);
  if (!header.ok()) {
    return fmt::format("ledger {} entry {}: {}", ledger, entry, header.status().message());
  }
  if (header->ledger_id != ledger || header->entry_id != entry) {
    return fmt::format("ledger {} entry {}: the entry body is for ledger {} entry {}", ledger,
                       entry, header->ledger_id, header->entry_id);
  }
  if (!ValidLac(header->lac) || header->lac >= header->entry_id) {
    return fmt::format("ledger {} entry {}: invalid LAC {} in the entry body", ledger, entry,
                       header->lac);
  }
  if (lac != nullptr) *lac = header->lac;
  return {};
}

// A BATCH_ADD's adds are decoded by hand (ParseBatchAsViews below), as views into the frame. The
// decoder takes every encoding protobuf's serializers and protocol/add_frame.cc produce, and
// unknown fields of every wire type but groups (proto3 has none); the odd encodings protobuf also
// accepts (a group, a varint with bits past its type's width) it leaves to protobuf. The fuzz
// target checks that the two agree on every input.

// Reads a varint of at most `max_bytes` bytes whose value fits `bits` bits. The last byte's bits
// past `bits` must be zero (protobuf would drop them: refused here).
bool ReadVarint(std::string_view& in, int max_bytes, int bits, uint64_t* out) {
  uint64_t value = 0;
  for (int i = 0; i < max_bytes && i < static_cast<int>(in.size()); ++i) {
    auto byte = static_cast<uint8_t>(in[static_cast<size_t>(i)]);
    int shift = 7 * i;
    uint64_t payload = byte & 0x7f;
    if (shift + 7 > bits && (payload >> (bits - shift)) != 0) return false;
    value |= payload << shift;
    if (byte < 0x80) {
      in.remove_prefix(static_cast<size_t>(i) + 1);
      *out = value;
      return true;
    }
  }
  return false;
}

// A field's tag (number << 3 | wire type), as protobuf reads it: at most 5 bytes, 32 bits; field
// number 0 is refused.
bool ReadTag(std::string_view& in, uint32_t* tag) {
  uint64_t v = 0;
  if (!ReadVarint(in, 5, 32, &v) || (v >> 3) == 0) return false;
  *tag = static_cast<uint32_t>(v);
  return true;
}

// A length-delimited field's bytes: a length of at most 5 bytes and below 2 GiB (protobuf's
// limits), then that many bytes.
bool ReadLengthDelimited(std::string_view& in, std::string_view* out) {
  uint64_t length = 0;
  if (!ReadVarint(in, 5, 31, &length) || length > in.size()) return false;
  *out = in.substr(0, length);
  in.remove_prefix(length);
  return true;
}

constexpr uint32_t kVarintType = 0, kFixed64Type = 1, kBytesType = 2, kFixed32Type = 5;
constexpr uint32_t Tag(uint32_t number, uint32_t type) { return number << 3 | type; }

// Skips a field this decoder does not use; groups (and invalid wire types) are refused.
bool SkipField(std::string_view& in, uint32_t tag) {
  uint64_t v = 0;
  std::string_view bytes;
  switch (tag & 7) {
    case kVarintType: return ReadVarint(in, 10, 64, &v);
    case kBytesType: return ReadLengthDelimited(in, &bytes);
    case kFixed64Type:
    case kFixed32Type: {
      size_t n = (tag & 7) == kFixed64Type ? 8 : 4;
      if (in.size() < n) return false;
      in.remove_prefix(n);
      return true;
    }
    default: return false;
  }
}

// Visits each field of the message `bytes`: `field(tag, in)` reads a field it knows and returns
// true (false: it did not decode), or returns std::nullopt for a field to skip.
template <typename Field>
bool ForEachField(std::string_view in, Field field) {
  while (!in.empty()) {
    uint32_t tag = 0;
    if (!ReadTag(in, &tag)) return false;
    std::optional<bool> decoded = field(tag, in);
    if (decoded.has_value() ? !*decoded : !SkipField(in, tag)) return false;
  }
  return true;
}

// An AddRequest's fields (proto/bookie.proto); the last occurrence of a field wins, as in protobuf.
bool DecodeAdd(std::string_view bytes, AddView* add) {
  return ForEachField(bytes, [&](uint32_t tag, std::string_view& in) -> std::optional<bool> {
    uint64_t v = 0;
    switch (tag) {
      case Tag(1, kVarintType):
        if (!ReadVarint(in, 10, 64, &v)) return false;
        add->ledger_id = static_cast<int64_t>(v);
        return true;
      case Tag(2, kVarintType):
        if (!ReadVarint(in, 10, 64, &v)) return false;
        add->entry_id = static_cast<int64_t>(v);
        return true;
      case Tag(3, kBytesType): return ReadLengthDelimited(in, &add->master_key);
      case Tag(4, kBytesType): return ReadLengthDelimited(in, &add->body);
      case Tag(5, kVarintType):
        if (!ReadVarint(in, 10, 64, &v)) return false;
        add->recovery = v != 0;
        return true;
      default: return std::nullopt;
    }
  });
}

// Decodes the adds of the BatchAddRequest `bytes` (field 1, repeated) into `adds`.
bool DecodeBatch(std::string_view bytes, std::vector<AddView>* adds) {
  return ForEachField(bytes, [&](uint32_t tag, std::string_view& in) -> std::optional<bool> {
    if (tag != Tag(1, kBytesType)) return std::nullopt;
    std::string_view add;
    if (!ReadLengthDelimited(in, &add)) return false;
    if (adds->empty()) {
      // Room for as many adds as the first one's size suggests (a batch's adds are alike, in
      // practice): growing the list add by add moved it ~9 times per batch of 450.
      size_t field = static_cast<size_t>(add.data() + add.size() - bytes.data());
      adds->reserve(std::min(bytes.size() / field + 1, static_cast<size_t>(kMaxBatchAdds)));
    }
    return DecodeAdd(add, &adds->emplace_back());
  });
}

// Splits a Request's bytes into its batch_add fields (number 3; protobuf merges several into one
// message) and the other fields (each with its tag), as views. Nothing is copied: most frames
// hold no batch and go to protobuf whole.
bool SplitBatchAdds(std::string_view in, std::vector<std::string_view>* batches,
                    std::vector<std::string_view>* others) {
  while (!in.empty()) {
    const char* field_start = in.data();
    uint32_t tag = 0;
    if (!ReadTag(in, &tag)) return false;
    if (tag == Tag(3, kBytesType)) {
      if (!ReadLengthDelimited(in, &batches->emplace_back())) return false;
      continue;
    }
    if (!SkipField(in, tag)) return false;
    others->emplace_back(field_start, static_cast<size_t>(in.data() - field_start));
  }
  return true;
}

// The fast path: a BATCH_ADD's adds as views into the frame (kept by `owner`, or else a copy of
// it), the rest of the request parsed by protobuf. False when the frame holds no batch or an
// encoding this decoder leaves to protobuf.
bool ParseBatchAsViews(std::string_view frame, std::shared_ptr<const void> owner,
                       ParsedRequest* p) {
  std::vector<std::string_view> batches, others;
  if (!SplitBatchAdds(frame, &batches, &others) || batches.empty()) return false;
  std::string rest;  // the header, in practice: a few bytes
  for (std::string_view field : others) rest.append(field);
  if (!p->request.ParseFromString(rest)) return false;
  std::string_view bytes = frame;
  if (owner == nullptr) {
    auto copy = std::make_shared<const std::string>(frame);
    bytes = *copy;
    owner = std::move(copy);
  }
  for (std::string_view batch : batches) {
    auto at = static_cast<size_t>(batch.data() - frame.data());
    if (!DecodeBatch(bytes.substr(at, batch.size()), &p->batch_adds)) return false;
  }
  p->request.mutable_batch_add();  // has_batch_add(): it was sent, as protobuf would say
  p->adds_owner = std::move(owner);
  return true;
}

// Parses `frame` into p->request, a BATCH_ADD's adds into p->batch_adds. False when the bytes are
// not a Request.
bool Parse(std::string_view frame, std::shared_ptr<const void> frame_owner, ParsedRequest* p) {
  if (ParseBatchAsViews(frame, std::move(frame_owner), p)) return true;
  // Any other request, or a batch in an encoding left to protobuf: parsed as protobuf parses it,
  // the batch's adds then viewing the parsed message.
  p->request.Clear();
  p->batch_adds.clear();
  if (!p->request.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) return false;
  if (!p->request.has_batch_add()) return true;
  auto batch = std::make_shared<proto::BatchAddRequest>();
  batch->Swap(p->request.mutable_batch_add());
  for (const proto::AddRequest& a : batch->adds()) {
    p->batch_adds.push_back({a.ledger_id(), a.entry_id(), a.master_key(), a.body(), a.recovery()});
  }
  p->adds_owner = std::move(batch);
  return true;
}

// Empty when the request's body is valid; otherwise what is wrong. A batch's adds get their LAC
// from the body header it checks, so that the bookie need not parse it again.
std::string CheckBody(const proto::Request& r, std::vector<AddView>& batch_adds) {
  using proto::Operation;
  switch (r.header().operation()) {
    case Operation::ADD_ENTRY: {
      if (!r.has_add()) return "ADD_ENTRY without an add body";
      const proto::AddRequest& add = r.add();
      return CheckAdd(add.ledger_id(), add.entry_id(), add.master_key(), add.body());
    }
    case Operation::BATCH_ADD: {
      if (!r.has_batch_add()) return "BATCH_ADD without a batch body";
      size_t n = batch_adds.size();
      if (n == 0 || n > static_cast<size_t>(kMaxBatchAdds)) {
        return fmt::format("a batch must hold 1 to {} adds, not {}", kMaxBatchAdds, n);
      }
      for (AddView& add : batch_adds) {
        std::string e = CheckAdd(add.ledger_id, add.entry_id, add.master_key, add.body, &add.lac);
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

ParsedRequest ParseRequest(std::string_view frame, std::shared_ptr<const void> frame_owner) {
  ParsedRequest p;
  if (!Parse(frame, std::move(frame_owner), &p)) {
    p.request.Clear();
    p.batch_adds.clear();
    p.adds_owner.reset();
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
  if (h.operation() != proto::BATCH_ADD) {  // a stray batch_add field is ignored
    p.batch_adds.clear();
    p.adds_owner.reset();
  }
  std::string e = CheckBody(p.request, p.batch_adds);
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
