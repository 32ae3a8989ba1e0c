#include "storage/journal_format.h"

#include <cstring>

#include <fmt/format.h>

#include "common/coding.h"
#include "common/crc32c.h"
#include "storage/entry_log_format.h"

namespace quire::storage {
namespace {

uint32_t RecordCrc(const char* length_bytes, std::string_view body_head, std::string_view data) {
  uint32_t crc = crc32c::Value(length_bytes, 4);
  crc = crc32c::Extend(crc, body_head.data(), body_head.size());
  return crc32c::Extend(crc, data.data(), data.size());
}

uint32_t FixedBodySize(JournalRecordType type) {
  switch (type) {
    case JournalRecordType::kAdd:
      return kAddBodyFixed;
    case JournalRecordType::kMasterKey:
    case JournalRecordType::kFence:
    case JournalRecordType::kExplicitLac:
      return kLedgerBodyFixed;
    case JournalRecordType::kPadding:
      return 1;
    case JournalRecordType::kGroup:
      return kGroupBody;
  }
  return 1;
}

}  // namespace

void EncodeJournalHeader(const JournalFileHeader& header, AlignedBuffer* out) {
  out->Clear();
  out->AppendZeros(kJournalHeaderSize);
  char* p = out->data();
  std::memcpy(p, kJournalMagic, 8);
  EncodeFixed32(p + 8, header.version);
  EncodeFixed32(p + 12, kJournalHeaderSize);
  EncodeFixed64(p + 16, header.file_id);
  EncodeFixed64(p + 24, header.created_unix_ms);
  EncodeFixed32(p + 32, kJournalAlignment);
  EncodeFixed64(p + 36, header.salt);
  EncodeFixed32(p + 44, crc32c::Value(p, 44));
}

Result<JournalFileHeader> DecodeJournalHeader(std::string_view bytes, std::string_view what) {
  if (bytes.size() < kJournalHeaderUsedBytes) {
    return Corruption(fmt::format("{}: journal header truncated ({} bytes)", what, bytes.size()));
  }
  const char* p = bytes.data();
  if (std::memcmp(p, kJournalMagic, 8) != 0) {
    return Corruption(fmt::format("{}: not a Quire journal file (bad magic)", what));
  }
  if (DecodeFixed32(p + 44) != crc32c::Value(p, 44)) {
    return Corruption(fmt::format("{}: journal header CRC mismatch", what));
  }
  JournalFileHeader h;
  h.version = DecodeFixed32(p + 8);
  if (h.version > kJournalFormatVersion) {
    return Status(StatusCode::kUnimplemented,
                  fmt::format("{}: journal format version {} is newer than this Quire's {}", what,
                              h.version, kJournalFormatVersion));
  }
  if (DecodeFixed32(p + 12) != kJournalHeaderSize || DecodeFixed32(p + 32) != kJournalAlignment) {
    return Corruption(fmt::format("{}: journal header has unexpected sizes", what));
  }
  h.file_id = DecodeFixed64(p + 16);
  h.created_unix_ms = DecodeFixed64(p + 24);
  h.salt = DecodeFixed64(p + 36);
  return h;
}

uint32_t EncodeJournalRecordHeader(char* header, JournalRecordType type, uint64_t ledger,
                                   uint64_t entry, std::string_view data) {
  uint32_t fixed = FixedBodySize(type);
  auto length = static_cast<uint32_t>(fixed + data.size());
  EncodeFixed32(header, length);
  char* body = header + kJournalRecordPrefixSize;
  body[0] = static_cast<char>(type);
  if (fixed >= kLedgerBodyFixed) EncodeFixed64(body + 1, ledger);
  if (fixed == kAddBodyFixed) EncodeFixed64(body + 9, entry);
  EncodeFixed32(header + 4, RecordCrc(header, std::string_view(body, fixed), data));
  return kJournalRecordPrefixSize + fixed;
}

std::string EncodeJournalRecord(JournalRecordType type, uint64_t ledger, uint64_t entry,
                                std::string_view data) {
  char header[kMaxJournalRecordHeader];
  uint32_t n = EncodeJournalRecordHeader(header, type, ledger, entry, data);
  std::string out(header, n);
  out.append(data);
  return out;
}

void JournalGroupBuilder::Begin() {
  buf_->Clear();
  buf_->AppendZeros(kGroupRecordSize);  // filled in by Finish()
}

uint32_t JournalGroupBuilder::Finish(uint64_t salt, uint64_t seq, uint64_t durable_before) {
  uint64_t pad = AlignUp(buf_->size(), kJournalAlignment) - buf_->size();
  if (pad > 0 && pad < kMinPaddingRecord) pad += kJournalAlignment;
  if (pad > 0) {
    size_t start = buf_->size();
    buf_->AppendZeros(pad);
    char* p = buf_->data() + start;
    auto length = static_cast<uint32_t>(pad - kJournalRecordPrefixSize);
    EncodeFixed32(p, length);
    p[kJournalRecordPrefixSize] = static_cast<char>(JournalRecordType::kPadding);
    EncodeFixed32(p + 4, RecordCrc(p, std::string_view(p + kJournalRecordPrefixSize, length), {}));
  }
  auto group_length = static_cast<uint32_t>(buf_->size());
  char* g = buf_->data();
  EncodeFixed32(g, kGroupBody);
  char* body = g + kJournalRecordPrefixSize;
  body[0] = static_cast<char>(JournalRecordType::kGroup);
  EncodeFixed64(body + 1, salt);
  EncodeFixed64(body + 9, seq);
  EncodeFixed32(body + 17, group_length);
  EncodeFixed64(body + 21, durable_before);
  EncodeFixed32(g + 4, RecordCrc(g, std::string_view(body, kGroupBody), {}));
  return group_length;
}

DecodeResult DecodeJournalRecord(std::string_view bytes) {
  DecodeResult r{DecodeOutcome::kBadRecord, {}, 0, {}};
  if (bytes.size() < kJournalRecordPrefixSize) {
    // A zero-filled stub shorter than a prefix is still "nothing written".
    r.outcome = bytes.find_first_not_of('\0') == std::string_view::npos ? DecodeOutcome::kEndOfData
                                                                         : DecodeOutcome::kTruncated;
    return r;
  }
  uint32_t length = DecodeFixed32(bytes.data());
  uint32_t crc = DecodeFixed32(bytes.data() + 4);
  if (length == 0) {
    if (crc == 0) {
      r.outcome = DecodeOutcome::kEndOfData;
    } else {
      r.detail = "zero length with a non-zero CRC";
    }
    return r;
  }
  if (length > kJournalMaxRecordBody) {
    r.detail = fmt::format("record length {} exceeds the limit {}", length, kJournalMaxRecordBody);
    return r;
  }
  if (bytes.size() < kJournalRecordPrefixSize + static_cast<size_t>(length)) {
    r.outcome = DecodeOutcome::kTruncated;
    r.detail = fmt::format("record of {} bytes runs past the end", length);
    return r;
  }
  std::string_view body = bytes.substr(kJournalRecordPrefixSize, length);
  if (RecordCrc(bytes.data(), body, {}) != crc) {
    r.detail = "CRC mismatch";
    return r;
  }
  r.consumed = kJournalRecordPrefixSize + length;
  auto type = static_cast<uint8_t>(body[0]);
  if (type >= kFirstOptionalRecordType) {
    r.outcome = DecodeOutcome::kRecord;
    r.record.type = JournalRecordType::kPadding;  // skip it
    return r;
  }
  auto t = static_cast<JournalRecordType>(type);
  switch (t) {
    case JournalRecordType::kAdd:
    case JournalRecordType::kMasterKey:
    case JournalRecordType::kFence:
    case JournalRecordType::kExplicitLac:
    case JournalRecordType::kPadding:
    case JournalRecordType::kGroup:
      break;
    default:
      r.outcome = DecodeOutcome::kUnknownType;
      r.detail = fmt::format("record type {} is not known to this version of Quire", type);
      return r;
  }
  uint32_t fixed = FixedBodySize(t);
  if (length < fixed) {
    r.detail = fmt::format("record of type {} is too short ({} bytes)", type, length);
    return r;
  }
  r.record.type = t;
  if (t != JournalRecordType::kGroup && fixed >= kLedgerBodyFixed) r.record.ledger_id = DecodeFixed64(body.data() + 1);
  if (fixed == kAddBodyFixed) r.record.entry_id = DecodeFixed64(body.data() + 9);
  r.record.data = body.substr(fixed);
  if (t == JournalRecordType::kFence || t == JournalRecordType::kGroup) r.record.data = {};
  if (t == JournalRecordType::kGroup) {
    r.record.group_salt = DecodeFixed64(body.data() + 1);
    r.record.group_seq = DecodeFixed64(body.data() + 9);
    r.record.group_length = DecodeFixed32(body.data() + 17);
    r.record.group_durable_before = DecodeFixed64(body.data() + 21);
  }
  r.outcome = DecodeOutcome::kRecord;
  return r;
}

std::string JournalFileName(uint64_t file_id) { return fmt::format("{:016x}.jnl", file_id); }

bool ParseJournalFileName(std::string_view name, uint64_t* file_id) {
  return ParseHexFileName(name, ".jnl", file_id);
}

}  // namespace quire::storage
