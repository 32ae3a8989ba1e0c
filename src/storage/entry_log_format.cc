#include "storage/entry_log_format.h"

#include <cstring>

#include <fmt/format.h>

#include "common/coding.h"
#include "common/crc32c.h"

namespace quire::storage {
namespace {

uint32_t RecordCrc(const char* record, std::string_view payload) {
  uint32_t crc = crc32c::Value(record, 4);
  crc = crc32c::Extend(crc, record + 8, 16);
  return crc32c::Extend(crc, payload.data(), payload.size());
}

}  // namespace

void EncodeEntryLogHeader(const EntryLogHeader& header, AlignedBuffer* out) {
  out->Clear();
  out->AppendZeros(kEntryLogHeaderSize);
  char* p = out->data();
  std::memcpy(p, kEntryLogMagic, 8);
  EncodeFixed32(p + 8, header.version);
  EncodeFixed32(p + 12, kEntryLogHeaderSize);
  EncodeFixed64(p + 16, header.log_id);
  EncodeFixed64(p + 24, header.created_unix_ms);
  EncodeFixed32(p + 32, crc32c::Value(p, 32));
}

Result<EntryLogHeader> DecodeEntryLogHeader(std::string_view bytes, std::string_view what) {
  if (bytes.size() < kEntryLogHeaderUsedBytes) {
    return Corruption(fmt::format("{}: entry log header truncated ({} bytes)", what, bytes.size()));
  }
  const char* p = bytes.data();
  if (std::memcmp(p, kEntryLogMagic, 8) != 0) {
    return Corruption(fmt::format("{}: not a Quire entry log (bad magic)", what));
  }
  if (DecodeFixed32(p + 32) != crc32c::Value(p, 32)) {
    return Corruption(fmt::format("{}: entry log header CRC mismatch", what));
  }
  EntryLogHeader h;
  h.version = DecodeFixed32(p + 8);
  if (h.version > kEntryLogFormatVersion) {
    return Status(StatusCode::kUnimplemented,
                  fmt::format("{}: entry log format version {} is newer than this Quire's {}", what,
                              h.version, kEntryLogFormatVersion));
  }
  if (DecodeFixed32(p + 12) != kEntryLogHeaderSize) {
    return Corruption(fmt::format("{}: entry log header has an unexpected size", what));
  }
  h.log_id = DecodeFixed64(p + 16);
  h.created_unix_ms = DecodeFixed64(p + 24);
  return h;
}

void AppendEntryLogRecord(AlignedBuffer* out, uint64_t ledger, uint64_t entry,
                          std::string_view payload) {
  size_t start = out->size();
  out->Resize(start + kEntryLogRecordHeader + payload.size());
  char* p = out->data() + start;
  EncodeFixed32(p, static_cast<uint32_t>(16 + payload.size()));
  EncodeFixed64(p + 8, ledger);
  EncodeFixed64(p + 16, entry);
  std::memcpy(p + kEntryLogRecordHeader, payload.data(), payload.size());
  EncodeFixed32(p + 4, RecordCrc(p, payload));
}

void PadEntryLog(AlignedBuffer* out) {
  uint64_t pad = AlignUp(out->size(), kEntryLogAlignment) - out->size();
  if (pad == 0) return;
  if (pad < kEntryLogRecordHeader) pad += kEntryLogAlignment;
  size_t start = out->size();
  out->AppendZeros(pad);
  char* p = out->data() + start;
  EncodeFixed32(p, static_cast<uint32_t>(pad - 8));
  EncodeFixed64(p + 8, kPaddingLedgerId);
  EncodeFixed32(p + 4, RecordCrc(p, std::string_view(p + kEntryLogRecordHeader,
                                                     pad - kEntryLogRecordHeader)));
}

EntryLogDecode DecodeEntryLogRecord(std::string_view bytes, EntryLogRecord* record,
                                    std::string* detail) {
  if (bytes.size() < 8) {
    return bytes.find_first_not_of('\0') == std::string_view::npos ? EntryLogDecode::kEndOfData
                                                                   : EntryLogDecode::kTruncated;
  }
  uint32_t length = DecodeFixed32(bytes.data());
  uint32_t crc = DecodeFixed32(bytes.data() + 4);
  if (length == 0 && crc == 0) return EntryLogDecode::kEndOfData;
  if (length < 16 || length > kEntryLogMaxPayload + 16) {
    *detail = fmt::format("record length {} is out of bounds", length);
    return EntryLogDecode::kBad;
  }
  if (bytes.size() < 8 + static_cast<size_t>(length)) return EntryLogDecode::kTruncated;
  std::string_view payload = bytes.substr(kEntryLogRecordHeader, length - 16);
  if (RecordCrc(bytes.data(), payload) != crc) {
    *detail = "CRC mismatch";
    return EntryLogDecode::kBad;
  }
  record->ledger_id = DecodeFixed64(bytes.data() + 8);
  record->entry_id = DecodeFixed64(bytes.data() + 16);
  record->payload = payload;
  record->size = 8 + length;
  return EntryLogDecode::kRecord;
}

std::string EntryLogFileName(uint64_t log_id) { return fmt::format("{:016x}.log", log_id); }

bool ParseHexFileName(std::string_view name, std::string_view suffix, uint64_t* id) {
  if (name.size() != 16 + suffix.size() || name.substr(16) != suffix) return false;
  uint64_t v = 0;
  for (char c : name.substr(0, 16)) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *id = v;
  return true;
}

bool ParseEntryLogFileName(std::string_view name, uint64_t* log_id) {
  return ParseHexFileName(name, ".log", log_id);
}

}  // namespace quire::storage
