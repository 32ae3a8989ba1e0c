#include "protocol/add_frame.h"

#include <cstring>

#include "bookie.pb.h"
#include "common/check.h"
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

// int64 fields are varints of their two's complement (a negative id takes 10 bytes).
size_t Int64FieldSize(int64_t v) { return v == 0 ? 0 : 1 + VarintSize(static_cast<uint64_t>(v)); }
size_t BytesFieldSize(const std::string* s) {
  return s == nullptr || s->empty() ? 0 : 1 + VarintSize(s->size()) + s->size();
}
// A length-delimited field: its tag, its length and its contents.
size_t MessageFieldSize(size_t contents) { return 1 + VarintSize(contents) + contents; }

// proto::RequestHeader: protocol_version = 1, operation = 2, request_id = 3.
size_t HeaderSize(proto::Operation op, uint64_t request_id) {
  size_t n = 1 + VarintSize(kProtocolVersion);
  if (op != 0) n += 1 + VarintSize(static_cast<uint64_t>(op));
  if (request_id != 0) n += 1 + VarintSize(request_id);
  return n;
}

// Writes a frame whose size was computed beforehand into bytes made for it: the frame is given
// its bytes once and written through a pointer, not appended to field by field (a capacity check
// and a call per varint: 5 % of quire-bench's CPU at the maximum).
class FrameWriter {
 public:
  // Appends a frame of `size` bytes (length prefix excluded) to `out`, to be written in full;
  // `referenced` of them are bodies `out` references (ReferencedSize).
  FrameWriter(WriteBuffer* out, size_t size, size_t referenced)
      : out_(out), size_(size), referenced_(referenced) {
    start_ = out->Extend(kFrameHeaderSize + size - referenced);
    EncodeFrameLength(static_cast<uint32_t>(size), start_);
    p_ = start_ + kFrameHeaderSize;
  }
  ~FrameWriter() {
    // The sizes and the writes disagree: a bug here, and a frame the bookie would misread.
    QUIRE_CHECK(p_ == start_ + kFrameHeaderSize + size_ - referenced_);
    QUIRE_CHECK(referenced_written_ == referenced_);
  }
  FrameWriter(const FrameWriter&) = delete;
  FrameWriter& operator=(const FrameWriter&) = delete;

  void Varint(uint64_t v) {
    while (v >= 0x80) {
      *p_++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p_++ = static_cast<char>(v);
  }
  void Int64Field(uint32_t field, int64_t v) {
    if (v == 0) return;
    Varint(Tag(field, kVarint));
    Varint(static_cast<uint64_t>(v));
  }
  void BytesField(uint32_t field, const std::string* s) {
    if (s == nullptr || s->empty()) return;
    MessageFieldStart(field, s->size());
    std::memcpy(p_, s->data(), s->size());
    p_ += s->size();
  }
  // A body: referenced where it lies if `out` references bodies of its size, else copied.
  void BodyField(uint32_t field, const std::shared_ptr<const std::string>& s) {
    if (s == nullptr || !out_->References(s->size())) return BytesField(field, s.get());
    MessageFieldStart(field, s->size());
    out_->Reference(p_, s);
    referenced_written_ += s->size();
  }
  // A length-delimited field's tag and length, before its contents.
  void MessageFieldStart(uint32_t field, size_t contents) {
    Varint(Tag(field, kLengthDelimited));
    Varint(contents);
  }

  void Header(proto::Operation op, uint64_t request_id) {
    MessageFieldStart(1, HeaderSize(op, request_id));  // Request.header = 1
    Varint(Tag(1, kVarint));
    Varint(kProtocolVersion);
    if (op != 0) {
      Varint(Tag(2, kVarint));
      Varint(static_cast<uint64_t>(op));
    }
    if (request_id != 0) {
      Varint(Tag(3, kVarint));
      Varint(request_id);
    }
  }

  // proto::AddRequest: ledger_id = 1, entry_id = 2, master_key = 3, body = 4, recovery = 5.
  void Add(const AddToSend& add) {
    Int64Field(1, add.ledger_id);
    Int64Field(2, add.entry_id);
    BytesField(3, add.master_key.get());
    BodyField(4, add.body);
    if (add.recovery) {
      Varint(Tag(5, kVarint));
      Varint(1);
    }
  }

 private:
  WriteBuffer* out_;
  size_t size_;
  size_t referenced_;
  size_t referenced_written_ = 0;
  char* start_;
  char* p_;
};

}  // namespace

size_t EncodedAddSize(const AddToSend& add) {
  return Int64FieldSize(add.ledger_id) + Int64FieldSize(add.entry_id) +
         BytesFieldSize(add.master_key.get()) + BytesFieldSize(add.body.get()) +
         (add.recovery ? 2 : 0);
}

namespace {

// The bytes of `add` that `out` references instead of copying: its body, or none.
size_t ReferencedSize(const WriteBuffer& out, const AddToSend& add) {
  return add.body != nullptr && out.References(add.body->size()) ? add.body->size() : 0;
}

}  // namespace

void AppendAddFrame(WriteBuffer* out, uint64_t request_id, const AddToSend& add) {
  const size_t add_size = EncodedAddSize(add);
  FrameWriter w(out,
                MessageFieldSize(HeaderSize(proto::ADD_ENTRY, request_id)) +
                    MessageFieldSize(add_size),
                ReferencedSize(*out, add));
  w.Header(proto::ADD_ENTRY, request_id);
  w.MessageFieldStart(2, add_size);  // Request.add = 2
  w.Add(add);
}

void AppendBatchAddFrame(WriteBuffer* out, uint64_t request_id, std::span<const AddToSend> adds) {
  size_t batch_size = 0;
  size_t referenced = 0;
  for (const AddToSend& add : adds) {
    batch_size += MessageFieldSize(EncodedAddSize(add));
    referenced += ReferencedSize(*out, add);
  }
  FrameWriter w(out,
                MessageFieldSize(HeaderSize(proto::BATCH_ADD, request_id)) +
                    MessageFieldSize(batch_size),
                referenced);
  w.Header(proto::BATCH_ADD, request_id);
  w.MessageFieldStart(3, batch_size);  // Request.batch_add = 3
  for (const AddToSend& add : adds) {
    w.MessageFieldStart(1, EncodedAddSize(add));  // BatchAddRequest.adds = 1
    w.Add(add);
  }
}

}  // namespace quire::protocol
