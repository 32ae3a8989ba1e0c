// Reading a journal file back: replay at start-up and `quire journal dump`.
//
// Replay rules (each has a named test in tests/storage/journal_reader_test.cc):
//  - A record that is cut short or fails its CRC at the end of the newest file, with nothing valid
//    after it, is the crash point (a torn tail): the scan stops there and reports how many bytes
//    follow it, so the caller can truncate.
//  - A bad record followed by a valid one, or a bad record in any file but the newest (those were
//    fully synced before the next file was started), is corruption: kCorruption naming file and
//    offset. With `skip_corruption` (an operator override) the damaged region is skipped instead.
//  - A mandatory record type this version does not know refuses the scan (kUnimplemented).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/file_system.h"
#include "storage/journal_format.h"

namespace quire::storage {

struct JournalScanOptions {
  uint64_t start_offset = kJournalHeaderSize;  // where to start (a checkpoint's offset)
  bool newest_file = false;       // a torn tail is allowed only in the newest file
  bool skip_corruption = false;   // operator override: skip damaged regions instead of failing
};

struct JournalScanResult {
  JournalFileHeader header;
  uint64_t records = 0;           // records passed to the callback (padding excluded)
  uint64_t end_offset = 0;        // where valid data ends (next write would go here)
  bool torn_tail = false;         // a torn tail was found at end_offset
  uint64_t torn_bytes = 0;        // bytes from end_offset to the last non-zero byte of the file
  uint64_t skipped_bytes = 0;     // with skip_corruption: bytes of damaged regions skipped
};

// Called with each record and its offset; returning an error stops the scan with that error.
using JournalRecordFn = std::function<Status(const JournalRecord& record, uint64_t offset)>;

Result<JournalScanResult> ScanJournalFile(FileSystem* fs, const std::string& path,
                                          const JournalScanOptions& options,
                                          const JournalRecordFn& fn);

}  // namespace quire::storage
