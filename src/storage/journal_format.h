// The journal's on-disk format (docs/formats.md, "Journal"). Constants, encoders and a decoder; no
// I/O here.
//
// A journal file is a 4096-byte header followed by groups. A group is what one write + one
// fdatasync put on disk: a GROUP record, the records of the group, and a padding record up to the
// next multiple of 4096 bytes, so groups can be written with O_DIRECT and a reader finds them at
// block boundaries. The rest of a (preallocated) file is zeros: a record length of 0 means "no
// more records".
//
//   record := length:u32 | crc:u32 | body[length]
//   body   := type:u8 | fields...        (little-endian integers)
//   crc    := CRC32C(length bytes ++ body)
//
//   ADD          (1): ledger:u64 entry:u64 payload[...]
//   MASTER_KEY   (2): ledger:u64 key[...]
//   FENCE        (3): ledger:u64
//   EXPLICIT_LAC (4): ledger:u64 lac[...]
//   PADDING      (5): zeros
//   GROUP        (6): salt:u64 seq:u64 group_length:u32 durable_before:u64
// A GROUP record carries the file's random salt (from the header), a sequence number that starts
// at 0 in each file and grows by one per group, and `durable_before`: the file offset before which
// every byte had been made durable (fdatasync returned) when this group was written. Groups are
// written while the previous ones are being synced, so after a crash the last few groups may be
// missing or torn in any order. A damaged region at offset X is therefore
//   - corruption if some valid group after it says durable_before > X (X was synced, then lost);
//   - otherwise the unsynced tail of the journal: the crash point.
// The salt keeps bytes inside entry payloads from ever passing for a group header.
//
// Types 64..255 are optional: a reader that does not know one skips it. An unknown type below 64
// means the file was written by a newer Quire and cannot be replayed safely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "quire/status.h"

namespace quire::storage {

inline constexpr char kJournalMagic[8] = {'Q', 'U', 'I', 'R', 'E', 'J', 'N', 'L'};
inline constexpr uint32_t kJournalFormatVersion = 1;
inline constexpr uint32_t kJournalHeaderSize = 4096;
inline constexpr uint32_t kJournalAlignment = 4096;  // groups start and end on this boundary
inline constexpr uint32_t kJournalRecordPrefixSize = 8;   // length + crc
inline constexpr uint32_t kJournalMaxRecordBody = 64u << 20;  // a sanity bound for readers
inline constexpr uint8_t kFirstOptionalRecordType = 64;

enum class JournalRecordType : uint8_t {
  kAdd = 1,
  kMasterKey = 2,
  kFence = 3,
  kExplicitLac = 4,
  kPadding = 5,
  kGroup = 6,
};

// Fixed part of each body: type + ledger id (+ entry id for adds).
inline constexpr uint32_t kAddBodyFixed = 1 + 8 + 8;
inline constexpr uint32_t kLedgerBodyFixed = 1 + 8;
inline constexpr uint32_t kGroupBody = 1 + 8 + 8 + 4 + 8;
inline constexpr uint32_t kGroupRecordSize = kJournalRecordPrefixSize + kGroupBody;
// The smallest padding record: prefix + type byte.
inline constexpr uint32_t kMinPaddingRecord = kJournalRecordPrefixSize + 1;

struct JournalFileHeader {
  uint32_t version = kJournalFormatVersion;
  uint64_t file_id = 0;
  uint64_t created_unix_ms = 0;
  uint64_t salt = 0;  // random, per file; repeated in every GROUP record
};
// magic(8) version(4) header_size(4) file_id(8) created(8) alignment(4) salt(8) crc(4).
inline constexpr uint32_t kJournalHeaderUsedBytes = 48;

// Fills `out` (kJournalHeaderSize bytes, aligned) with the header.
void EncodeJournalHeader(const JournalFileHeader& header, AlignedBuffer* out);
// Parses a header; kCorruption (with `what` in the message) if it is not a valid one, and
// kUnimplemented if it is of a newer format version.
Result<JournalFileHeader> DecodeJournalHeader(std::string_view bytes, std::string_view what);

// A decoded record. `data` points into the buffer it was decoded from.
struct JournalRecord {
  JournalRecordType type = JournalRecordType::kPadding;
  uint64_t ledger_id = 0;
  uint64_t entry_id = 0;   // kAdd only
  std::string_view data;   // payload (kAdd), key (kMasterKey), LAC bytes (kExplicitLac)
  // kGroup only:
  uint64_t group_salt = 0;
  uint64_t group_seq = 0;
  uint32_t group_length = 0;  // bytes of the whole group, this record and padding included
  uint64_t group_durable_before = 0;  // everything before this offset was durable when written
};

// Total on-disk size of a record with the given body size.
inline uint32_t JournalRecordSize(uint32_t body_size) { return kJournalRecordPrefixSize + body_size; }

// The largest record header: prefix + type + ledger + entry.
inline constexpr uint32_t kMaxJournalRecordHeader = kJournalRecordPrefixSize + kAddBodyFixed;

// Writes the header of a record (prefix and fixed fields) into `header`, with the CRC covering
// `data`, which follows the header on disk. Returns the header's size. Callers encode on their own
// thread, so the journal thread only copies bytes. `entry` is ignored except for kAdd.
uint32_t EncodeJournalRecordHeader(char* header, JournalRecordType type, uint64_t ledger,
                                   uint64_t entry, std::string_view data);
// The whole record as one string (tests, tools).
std::string EncodeJournalRecord(JournalRecordType type, uint64_t ledger, uint64_t entry,
                                std::string_view data);
// Builds groups in an aligned buffer: Begin() reserves the GROUP record, Append*() add records,
// Finish() pads to the alignment and fills in the GROUP record.
class JournalGroupBuilder {
 public:
  explicit JournalGroupBuilder(AlignedBuffer* buf) : buf_(buf) {}
  void Begin();
  // Appends a record whose header was made by EncodeJournalRecordHeader.
  void Append(std::string_view header, std::string_view data) {
    buf_->Append(header.data(), header.size());
    buf_->Append(data.data(), data.size());
  }
  // Returns the group's total length.
  uint32_t Finish(uint64_t salt, uint64_t seq, uint64_t durable_before);
  size_t size() const { return buf_->size(); }

 private:
  AlignedBuffer* buf_;
};

enum class DecodeOutcome {
  kRecord,      // a valid record; `consumed` bytes
  kEndOfData,   // a zero length: nothing was ever written here
  kTruncated,   // the record runs past the end of the bytes given
  kBadRecord,   // length out of bounds, CRC mismatch, or malformed body
  kUnknownType, // valid CRC, a mandatory type this version does not know
};

struct DecodeResult {
  DecodeOutcome outcome;
  JournalRecord record;
  uint32_t consumed = 0;  // bytes of the record, when outcome is kRecord or kUnknownType
  std::string detail;     // why, for kBadRecord / kUnknownType
};

// Decodes the record at the start of `bytes`. Optional unknown types come back as kPadding
// records (to be skipped).
DecodeResult DecodeJournalRecord(std::string_view bytes);

// "0000000000000003.jnl"
std::string JournalFileName(uint64_t file_id);
// Parses a journal file name; false if it is not one.
bool ParseJournalFileName(std::string_view name, uint64_t* file_id);

}  // namespace quire::storage
