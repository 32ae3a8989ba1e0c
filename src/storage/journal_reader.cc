#include "storage/journal_reader.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/coding.h"
#include "storage/file_window.h"

namespace quire::storage {
namespace {

// The GROUP record at `offset`, if there is a valid one with this file's salt.
Result<std::optional<JournalRecord>> GroupAt(FileWindow* w, uint64_t offset, uint64_t salt) {
  QUIRE_ASSIGN_OR_RETURN(std::string_view v, w->At(offset, kGroupRecordSize));
  DecodeResult d = DecodeJournalRecord(v);
  if (d.outcome != DecodeOutcome::kRecord || d.record.type != JournalRecordType::kGroup ||
      d.record.group_salt != salt || d.record.group_length < kGroupRecordSize ||
      d.record.group_length % kJournalAlignment != 0) {
    return std::optional<JournalRecord>();
  }
  return std::optional<JournalRecord>(d.record);
}

struct Probe {
  uint64_t proof_offset = 0;  // a valid group saying the damaged region had been synced; 0: none
  uint64_t proof_seq = 0;
  uint64_t last_nonzero_end = 0;
};

// After damage in the group starting at `group_start` (first bad byte at `damage`), looks at every
// later block boundary for a valid GROUP record whose durable_before lies past `group_start`: proof
// that the damaged group had been synced. Also measures how far non-zero bytes reach.
Result<Probe> ProbeAfterDamage(FileWindow* w, uint64_t salt, uint64_t group_start, uint64_t damage,
                               bool look_for_proof) {
  Probe p;
  p.last_nonzero_end = damage;
  for (uint64_t off = AlignDown(damage, kJournalAlignment); off < w->size();
       off += kJournalAlignment) {
    if (look_for_proof && off > damage && p.proof_offset == 0) {
      QUIRE_ASSIGN_OR_RETURN(auto g, GroupAt(w, off, salt));
      if (g && g->group_durable_before > group_start) {
        p.proof_offset = off;
        p.proof_seq = g->group_seq;
      }
    }
    QUIRE_ASSIGN_OR_RETURN(std::string_view block, w->At(off, kJournalAlignment));
    size_t nz = block.substr(0, kJournalAlignment).find_last_not_of('\0');
    if (nz != std::string_view::npos) p.last_nonzero_end = std::max(p.last_nonzero_end, off + nz + 1);
  }
  return p;
}

// Validates a whole group held in `group` (starting at `offset`). Returns the offset of the first
// bad record, or nullopt if every record is valid. Unknown mandatory types are an error.
Result<std::optional<uint64_t>> ValidateGroup(std::string_view group, uint64_t offset,
                                              const std::string& path) {
  size_t pos = kGroupRecordSize;
  while (pos < group.size()) {
    DecodeResult d = DecodeJournalRecord(group.substr(pos));
    if (d.outcome == DecodeOutcome::kUnknownType) {
      return Status(StatusCode::kUnimplemented,
                    fmt::format("journal {} offset {}: {}; it was written by a newer Quire", path,
                                offset + pos, d.detail));
    }
    if (d.outcome != DecodeOutcome::kRecord || d.record.type == JournalRecordType::kGroup) {
      return std::optional<uint64_t>(offset + pos);
    }
    pos += d.consumed;
  }
  return std::optional<uint64_t>();
}

Status ApplyGroup(std::string_view group, uint64_t offset, const JournalRecordFn& fn,
                  uint64_t* records) {
  size_t pos = kGroupRecordSize;
  while (pos < group.size()) {
    DecodeResult d = DecodeJournalRecord(group.substr(pos));
    if (d.record.type != JournalRecordType::kPadding) {
      QUIRE_RETURN_IF_ERROR(fn(d.record, offset + pos));
      ++*records;
    }
    pos += d.consumed;
  }
  return Status::Ok();
}

}  // namespace

Result<JournalScanResult> ScanJournalFile(FileSystem* fs, const std::string& path,
                                          const JournalScanOptions& options,
                                          const JournalRecordFn& fn) {
  QUIRE_ASSIGN_OR_RETURN(auto file, fs->Open(path, {.read_only = true}));
  QUIRE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  FileWindow w(file.get(), size);
  JournalScanResult result;

  QUIRE_ASSIGN_OR_RETURN(std::string_view header_bytes, w.At(0, kJournalHeaderSize));
  Result<JournalFileHeader> header = DecodeJournalHeader(header_bytes, path);
  if (!header.ok()) {
    // The header is synced before any record is written, so a newest file with a bad header holds
    // nothing that was ever acknowledged: it is a torn creation.
    if (options.newest_file && header.status().code() == StatusCode::kCorruption) {
      QUIRE_ASSIGN_OR_RETURN(Probe p, ProbeAfterDamage(&w, 0, 0, 0, /*look_for_proof=*/false));
      result.torn_tail = true;
      result.torn_bytes = p.last_nonzero_end;
      return result;
    }
    return header.status();
  }
  result.header = *header;
  if (options.start_offset % kJournalAlignment != 0) {
    return InvalidArgument(fmt::format("journal {}: start offset {} is not aligned", path,
                                       options.start_offset));
  }

  uint64_t off = std::max<uint64_t>(options.start_offset, kJournalHeaderSize);
  std::optional<uint64_t> expected_seq;  // unknown until the first group is read
  while (true) {
    if (off >= size) {
      result.end_offset = off;
      return result;
    }
    QUIRE_ASSIGN_OR_RETURN(auto group, GroupAt(&w, off, header->salt));
    uint64_t damage = off;
    if (group && (!expected_seq || group->group_seq == *expected_seq)) {
      QUIRE_ASSIGN_OR_RETURN(std::string_view bytes, w.At(off, group->group_length));
      if (bytes.size() == group->group_length) {
        QUIRE_ASSIGN_OR_RETURN(auto bad, ValidateGroup(bytes, off, path));
        if (!bad) {
          QUIRE_RETURN_IF_ERROR(ApplyGroup(bytes, off, fn, &result.records));
          expected_seq = group->group_seq + 1;
          off += group->group_length;
          continue;
        }
        damage = *bad;
      } else {
        damage = off + bytes.size();
      }
    }

    // The group at `off` is missing or damaged. Is it the unsynced tail, or corruption?
    QUIRE_ASSIGN_OR_RETURN(std::string_view head, w.At(off, kJournalRecordPrefixSize));
    bool clean_end = DecodeJournalRecord(head).outcome == DecodeOutcome::kEndOfData;
    QUIRE_ASSIGN_OR_RETURN(Probe p, ProbeAfterDamage(&w, header->salt, off, damage, true));
    if (p.proof_offset != 0) {
      std::string what = fmt::format(
          "journal {}: damaged data at offset {}, although the group at offset {} records that "
          "it had been synced: the journal is corrupt before its tail",
          path, damage, p.proof_offset);
      if (!options.skip_corruption) {
        return Corruption(what + "; refusing to replay it (the operator override "
                                 "journalSkipCorruption=true skips the damage, losing what it held)");
      }
      spdlog::error("{}; skipping {} bytes because journalSkipCorruption is set", what,
                    p.proof_offset - off);
      result.skipped_bytes += p.proof_offset - off;
      off = p.proof_offset;
      expected_seq = p.proof_seq;
      continue;
    }
    result.end_offset = off;
    if (clean_end && p.last_nonzero_end <= off) return result;  // zeros: nothing written here
    if (!options.newest_file && !options.skip_corruption) {
      return Corruption(fmt::format(
          "journal {}: damaged data at offset {} in a file that was complete when the next one "
          "was started; refusing to replay it (journalSkipCorruption=true skips it)",
          path, damage));
    }
    result.torn_tail = true;
    result.torn_bytes = p.last_nonzero_end > off ? p.last_nonzero_end - off : 0;
    return result;
  }
}

}  // namespace quire::storage
