// The entry log's on-disk format (docs/formats.md, "Entry log"). Constants and codecs; no I/O.
//
// An entry log is a 4096-byte header followed by records, each self-describing so that a log can
// be scanned without the index (index rebuild, dump, compaction):
//
//   record := length:u32 | crc:u32 | ledger:u64 | entry:u64 | payload[length - 16]
//   crc    := CRC32C(length bytes ++ ledger ++ entry ++ payload)        (little-endian integers)
//
// A flush appends its entries sorted by (ledger, entry) and pads to the next 4096-byte boundary
// with a padding record (ledger = 2^64-1), so that it can write with O_DIRECT. Zeros after the
// last record mean "no more records".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "quire/status.h"

namespace quire::storage {

inline constexpr char kEntryLogMagic[8] = {'Q', 'U', 'I', 'R', 'E', 'L', 'O', 'G'};
inline constexpr uint32_t kEntryLogFormatVersion = 1;
inline constexpr uint32_t kEntryLogHeaderSize = 4096;
inline constexpr uint32_t kEntryLogHeaderUsedBytes = 36;  // magic version size id created crc
inline constexpr uint32_t kEntryLogAlignment = 4096;
inline constexpr uint32_t kEntryLogRecordHeader = 4 + 4 + 8 + 8;
inline constexpr uint64_t kPaddingLedgerId = UINT64_MAX;
inline constexpr uint32_t kEntryLogMaxPayload = 64u << 20;  // a sanity bound for readers

struct EntryLogHeader {
  uint32_t version = kEntryLogFormatVersion;
  uint64_t log_id = 0;
  uint64_t created_unix_ms = 0;
};

void EncodeEntryLogHeader(const EntryLogHeader& header, AlignedBuffer* out);
Result<EntryLogHeader> DecodeEntryLogHeader(std::string_view bytes, std::string_view what);

// Appends one record to `out`.
void AppendEntryLogRecord(AlignedBuffer* out, uint64_t ledger, uint64_t entry,
                          std::string_view payload);
// Pads `out` to a multiple of kEntryLogAlignment with a padding record.
void PadEntryLog(AlignedBuffer* out);

struct EntryLogRecord {
  uint64_t ledger_id = 0;
  uint64_t entry_id = 0;
  std::string_view payload;
  uint32_t size = 0;  // bytes on disk, header included
  bool padding() const { return ledger_id == kPaddingLedgerId; }
};

enum class EntryLogDecode { kRecord, kEndOfData, kTruncated, kBad };

// Decodes the record at the start of `bytes`; `detail` says why when it is kBad.
EntryLogDecode DecodeEntryLogRecord(std::string_view bytes, EntryLogRecord* record,
                                    std::string* detail);

// "0000000000000001.log"
std::string EntryLogFileName(uint64_t log_id);
bool ParseEntryLogFileName(std::string_view name, uint64_t* log_id);

// Parses 16 lower-case hex digits followed by `suffix`.
bool ParseHexFileName(std::string_view name, std::string_view suffix, uint64_t* id);

}  // namespace quire::storage
