#include "protocol/add_frame.h"

#include "bookie.pb.h"
#include "protocol/protocol.h"

namespace quire::protocol {
namespace {

// Protocol buffers' encoding (proto3: fields at their default value are left out, fields in
// number order), for the few field kinds an add request has.
enum WireType : uint32_t { kVarint = 0, kLengthDelimited = 2 };

constexpr uint32_t Tag(uint32_t field, WireType type) { return field << 3 | type; }

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void PutVarint(std::string* out, uint64_t v) {
  char bytes[10];
  size_t n = 0;
  while (v >= 0x80) {
    bytes[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  bytes[n++] = static_cast<char>(v);
  out->append(bytes, n);
}

// int64 fields are varints of their two's complement (a negative id takes 10 bytes).
size_t Int64FieldSize(int64_t v) { return v == 0 ? 0 : 1 + VarintSize(static_cast<uint64_t>(v)); }
void PutInt64Field(std::string* out, uint32_t field, int64_t v) {
  if (v == 0) return;
  PutVarint(out, Tag(field, kVarint));
  PutVarint(out, static_cast<uint64_t>(v));
}

size_t BytesFieldSize(const std::string* s) {
  return s == nullptr || s->empty() ? 0 : 1 + VarintSize(s->size()) + s->size();
}
void PutBytesField(std::string* out, uint32_t field, const std::string* s) {
  if (s == nullptr || s->empty()) return;
  PutVarint(out, Tag(field, kLengthDelimited));
  PutVarint(out, s->size());
  out->append(*s);
}

// A length-delimited field's tag and length, before its contents.
size_t MessageFieldSize(size_t contents) { return 1 + VarintSize(contents) + contents; }
void PutMessageFieldStart(std::string* out, uint32_t field, size_t contents) {
  PutVarint(out, Tag(field, kLengthDelimited));
  PutVarint(out, contents);
}

// proto::RequestHeader: protocol_version = 1, operation = 2, request_id = 3.
size_t HeaderSize(proto::Operation op, uint64_t request_id) {
  size_t n = 1 + VarintSize(kProtocolVersion);
  if (op != 0) n += 1 + VarintSize(static_cast<uint64_t>(op));
  if (request_id != 0) n += 1 + VarintSize(request_id);
  return n;
}
void PutHeader(std::string* out, proto::Operation op, uint64_t request_id) {
  PutMessageFieldStart(out, 1, HeaderSize(op, request_id));  // Request.header = 1
  PutVarint(out, Tag(1, kVarint));
  PutVarint(out, kProtocolVersion);
  if (op != 0) {
    PutVarint(out, Tag(2, kVarint));
    PutVarint(out, static_cast<uint64_t>(op));
  }
  if (request_id != 0) {
    PutVarint(out, Tag(3, kVarint));
    PutVarint(out, request_id);
  }
}

// proto::AddRequest: ledger_id = 1, entry_id = 2, master_key = 3, body = 4, recovery = 5.
void PutAdd(std::string* out, const AddToSend& add) {
  PutInt64Field(out, 1, add.ledger_id);
  PutInt64Field(out, 2, add.entry_id);
  PutBytesField(out, 3, add.master_key.get());
  PutBytesField(out, 4, add.body.get());
  if (add.recovery) {
    PutVarint(out, Tag(5, kVarint));
    PutVarint(out, 1);
  }
}

// Reserves the frame's length prefix; FinishFrame fills it in once the request is written.
size_t StartFrame(std::string* out, size_t expected) {
  size_t at = out->size();
  out->reserve(at + kFrameHeaderSize + expected);
  out->append(kFrameHeaderSize, '\0');
  return at;
}
void FinishFrame(std::string* out, size_t at) {
  EncodeFrameLength(static_cast<uint32_t>(out->size() - at - kFrameHeaderSize), out->data() + at);
}

}  // namespace

size_t EncodedAddSize(const AddToSend& add) {
  return Int64FieldSize(add.ledger_id) + Int64FieldSize(add.entry_id) +
         BytesFieldSize(add.master_key.get()) + BytesFieldSize(add.body.get()) +
         (add.recovery ? 2 : 0);
}

void AppendAddFrame(std::string* out, uint64_t request_id, const AddToSend& add) {
  const size_t add_size = EncodedAddSize(add);
  const size_t at = StartFrame(out, MessageFieldSize(HeaderSize(proto::ADD_ENTRY, request_id)) +
                                        MessageFieldSize(add_size));
  PutHeader(out, proto::ADD_ENTRY, request_id);
  PutMessageFieldStart(out, 2, add_size);  // Request.add = 2
  PutAdd(out, add);
  FinishFrame(out, at);
}

void AppendBatchAddFrame(std::string* out, uint64_t request_id, std::span<const AddToSend> adds) {
  size_t batch_size = 0;
  for (const AddToSend& add : adds) batch_size += MessageFieldSize(EncodedAddSize(add));
  const size_t at = StartFrame(out, MessageFieldSize(HeaderSize(proto::BATCH_ADD, request_id)) +
                                        MessageFieldSize(batch_size));
  PutHeader(out, proto::BATCH_ADD, request_id);
  PutMessageFieldStart(out, 3, batch_size);  // Request.batch_add = 3
  for (const AddToSend& add : adds) {
    PutMessageFieldStart(out, 1, EncodedAddSize(add));  // BatchAddRequest.adds = 1
    PutAdd(out, add);
  }
  FinishFrame(out, at);
}

}  // namespace quire::protocol
