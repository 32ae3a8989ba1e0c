// What the offline tools share: finding a ledger directory, scanning an entry log record by
// record (damaged ones included), formatting.
#include "cli/offline_tools.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "common/coding.h"
#include "storage/entry_log_format.h"
#include "storage/file_window.h"

namespace quire::cli {
namespace {

using storage::EntryLogDecode;
using storage::EntryLogRecord;
using storage::FileWindow;
using storage::kEntryLogAlignment;
using storage::kEntryLogHeaderSize;
using storage::kEntryLogMaxPayload;
using storage::kEntryLogRecordHeader;

// Decodes the record at `offset`; `record->payload` is valid until the window moves.
Result<EntryLogDecode> DecodeRecordAt(FileWindow* w, uint64_t offset, EntryLogRecord* record,
                                      std::string* detail) {
  QUIRE_ASSIGN_OR_RETURN(std::string_view prefix, w->At(offset, 8));
  uint32_t length = prefix.size() >= 8 ? DecodeFixed32(prefix.data()) : 0;
  QUIRE_ASSIGN_OR_RETURN(std::string_view bytes,
                         w->At(offset, 8 + std::min<size_t>(length, kEntryLogMaxPayload + 16)));
  return storage::DecodeEntryLogRecord(bytes, record, detail);
}

// The first 4096-byte boundary after `offset` where a valid record starts (the start of a later
// flush), if any.
Result<std::optional<uint64_t>> NextValidFlush(FileWindow* w, uint64_t offset) {
  for (uint64_t at = AlignUp(offset + 1, kEntryLogAlignment); at < w->size();
       at += kEntryLogAlignment) {
    EntryLogRecord record;
    std::string ignored;
    QUIRE_ASSIGN_OR_RETURN(EntryLogDecode d, DecodeRecordAt(w, at, &record, &ignored));
    if (d == EntryLogDecode::kRecord) return std::optional<uint64_t>(at);
  }
  return std::optional<uint64_t>();
}

// The end of the last non-zero byte at or after `offset` (`offset` if there is none).
Result<uint64_t> NonZeroEnd(FileWindow* w, uint64_t offset) {
  uint64_t end = offset;
  for (uint64_t at = offset; at < w->size(); at += kEntryLogAlignment) {
    QUIRE_ASSIGN_OR_RETURN(std::string_view block, w->At(at, kEntryLogAlignment));
    size_t last = block.find_last_not_of('\0');
    if (last != std::string_view::npos) end = at + last + 1;
  }
  return end;
}

// What a damaged record at `offset` claims to be (its fields are unverified).
Result<ScannedEntryRecord> DescribeDamage(FileWindow* w, uint64_t offset, EntryLogDecode d,
                                          std::string detail, uint64_t next_valid) {
  ScannedEntryRecord bad;
  bad.offset = offset;
  bad.crc_ok = false;
  QUIRE_ASSIGN_OR_RETURN(std::string_view head, w->At(offset, kEntryLogRecordHeader));
  if (head.size() == kEntryLogRecordHeader) {
    uint32_t length = DecodeFixed32(head.data());
    if (length >= 16 && length <= kEntryLogMaxPayload + 16) bad.size = 8 + length;
    bad.ledger_id = DecodeFixed64(head.data() + 8);
    bad.entry_id = DecodeFixed64(head.data() + 16);
    bad.padding = bad.ledger_id == storage::kPaddingLedgerId;
  }
  if (d == EntryLogDecode::kEndOfData) {
    detail = fmt::format(
        "zeros where a record should start, although valid records follow at "
        "offset {}",
        next_valid);
  } else if (detail.empty()) {
    detail = "record cut short";
  }
  bad.detail = std::move(detail);
  return bad;
}

}  // namespace

Result<std::string> ResolveLedgerDir(FileSystem* fs, const std::string& arg) {
  std::string dir = arg;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  for (std::string_view tail : {std::string_view("/current/index"), std::string_view("/current")}) {
    if (dir.size() > tail.size() && dir.ends_with(tail)) {
      dir.resize(dir.size() - tail.size());
      break;
    }
  }
  QUIRE_ASSIGN_OR_RETURN(bool exists, fs->Exists(JoinPath(dir, "current")));
  if (!exists) {
    return NotFound(
        fmt::format("{} is not a ledger directory: it has no current/ subdirectory", arg));
  }
  return dir;
}

Result<EntryLogScanSummary> ScanEntryLogRecords(
    FileSystem* fs, const std::string& path,
    const std::function<Status(const ScannedEntryRecord&)>& fn) {
  QUIRE_ASSIGN_OR_RETURN(auto file, fs->Open(path, {.read_only = true}));
  QUIRE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  FileWindow w(file.get(), size);
  EntryLogScanSummary s;
  QUIRE_ASSIGN_OR_RETURN(std::string_view head, w.At(0, kEntryLogHeaderSize));
  Result<storage::EntryLogHeader> header = storage::DecodeEntryLogHeader(head, path);
  if (!header.ok()) {
    // The bookie creates a log at start-up and writes its header with the first flush: a log
    // with nothing but zeros was never written.
    QUIRE_ASSIGN_OR_RETURN(uint64_t used, NonZeroEnd(&w, 0));
    if (used > 0) return header.status();
    s.empty = true;
    return s;
  }
  s.log_id = header->log_id;
  s.version = header->version;
  s.created_unix_ms = header->created_unix_ms;

  uint64_t offset = kEntryLogHeaderSize;
  while (offset < size) {
    EntryLogRecord record;
    std::string detail;
    QUIRE_ASSIGN_OR_RETURN(EntryLogDecode d, DecodeRecordAt(&w, offset, &record, &detail));
    if (d == EntryLogDecode::kRecord) {
      ScannedEntryRecord r;
      r.offset = offset;
      r.size = record.size;
      r.ledger_id = record.ledger_id;
      r.entry_id = record.entry_id;
      r.payload = record.payload;
      r.padding = record.padding();
      QUIRE_RETURN_IF_ERROR(fn(r));
      if (!r.padding) ++s.records;
      offset += record.size;
      continue;
    }
    QUIRE_ASSIGN_OR_RETURN(std::optional<uint64_t> next, NextValidFlush(&w, offset));
    if (!next) {
      // Nothing valid follows: the end of the data, or a flush that a crash cut short (the index
      // never pointed into it).
      QUIRE_ASSIGN_OR_RETURN(uint64_t end, NonZeroEnd(&w, offset));
      s.end_offset = offset;
      s.torn_tail = end > offset;
      s.torn_bytes = end - offset;
      return s;
    }
    QUIRE_ASSIGN_OR_RETURN(ScannedEntryRecord bad,
                           DescribeDamage(&w, offset, d, std::move(detail), *next));
    if (s.damaged++ == 0) {
      s.first_damage = offset;
      s.first_detail = bad.detail;
    }
    QUIRE_RETURN_IF_ERROR(fn(bad));
    // Go on right after the damaged record if a valid one follows it, else at the next flush.
    uint64_t resume = *next;
    if (bad.size > 0 && offset + bad.size < *next) {
      EntryLogRecord after;
      QUIRE_ASSIGN_OR_RETURN(EntryLogDecode a,
                             DecodeRecordAt(&w, offset + bad.size, &after, &detail));
      if (a == EntryLogDecode::kRecord) resume = offset + bad.size;
    }
    offset = resume;
  }
  s.end_offset = offset;
  return s;
}

Status EntryLogDamage(const std::string& path, const EntryLogScanSummary& s) {
  return Corruption(fmt::format(
      "entry log {} offset {}: {}{}", path, s.first_damage, s.first_detail,
      s.damaged > 1 ? fmt::format(" (and {} more damaged records)", s.damaged - 1) : ""));
}

std::string FormatUnixMillis(uint64_t ms) {
  auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z",
                     std::chrono::time_point_cast<std::chrono::seconds>(t), ms % 1000);
}

std::optional<int64_t> StoredExplicitLac(std::string_view stored) {
  if (stored.size() < 8) return std::nullopt;
  return static_cast<int64_t>(DecodeBigEndian64(stored.data()));
}

}  // namespace quire::cli
