// The offline tools behind `quire journal|entrylog|index`: they read (and, for `index rebuild`,
// rewrite) the files of a STOPPED bookie, with no network and no metadata service. Each returns a
// Status and writes its data to an ostream, so that tests can call them directly; the commands in
// offline_commands.cc only parse arguments. The rules they apply, and what `index rebuild` can and
// cannot recover, are in docs/operations-offline.md.
//
// Output: one aligned line per record by default; with `json`, JSON lines (one object per line,
// each with a "kind": "header", "group", "record", "ledger", "entry", "end", ...).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"
#include "quire/status.h"

namespace quire::cli {

// `quire journal dump <file>`: the header, every GROUP record and every record of the file, as
// replay sees them (storage/journal_reader.h). A torn tail is reported and is not an error;
// damage before the tail is kCorruption naming the file and offset, after the records before it.
Status DumpJournal(FileSystem* fs, const std::string& path, bool json, std::ostream& out);

enum class PayloadFormat { kNone, kHex };

// `quire entrylog dump <file>`: the header and every record (padding included) with its CRC
// status. A damaged record is listed (as "bad"), the scan goes on after it, and the result is
// kCorruption naming the file and the offset of the first damage. A torn tail (an interrupted
// flush) is reported and is not an error.
Status DumpEntryLog(FileSystem* fs, const std::string& path, bool json, PayloadFormat payload,
                    std::ostream& out);

// `quire index dump <ledgerDir>`: per ledger its info and its entries' locations (all ledgers, or
// only `ledger`). Opens the index read-only: changes nothing.
Status DumpIndex(FileSystem* fs, const std::string& ledger_dir, std::optional<uint64_t> ledger,
                 bool json, std::ostream& out);

struct RebuildOptions {
  std::string ledger_dir;
  // Where to look for master keys and explicit LACs; empty: the journal directories named in the
  // ledger directory's cookie.
  std::vector<std::string> journal_dirs;
  bool dry_run = false;       // scan and report; write nothing
  bool skip_damaged = false;  // index around damaged entry-log records instead of refusing
  bool json = false;
  // Where progress lines and the scan's totals go (cli/progress.h), e.g. &std::cerr; null: none.
  std::ostream* progress = nullptr;
  // Asked before the new index replaces the old one; false aborts (the new index is removed).
  // Not called for a dry run. Empty: yes.
  std::function<bool()> confirm;
};

// `quire index rebuild <ledgerDir>`: a new index from the entry logs (and ledger infos from the
// old index and the journals where they survive; every ledger fenced), swapped in for the old
// one, which is kept as current/index.old-<time>. Refuses while a bookie holds the directory.
Status RebuildIndex(FileSystem* fs, const RebuildOptions& options, std::ostream& out);

// Shared by the dumps and the rebuild --------------------------------------------------------

// "<dir>" for "<dir>", "<dir>/current" or "<dir>/current/index"; kNotFound if <dir>/current does
// not exist.
Result<std::string> ResolveLedgerDir(FileSystem* fs, const std::string& arg);

// One record of an entry log, as a scan finds it.
struct ScannedEntryRecord {
  uint64_t offset = 0;
  uint32_t size = 0;       // bytes on disk, header included (as recorded, for a bad record)
  uint64_t ledger_id = 0;  // as recorded; unverified when !crc_ok
  uint64_t entry_id = 0;
  std::string_view payload;  // valid records only; valid during the callback
  bool crc_ok = true;
  bool padding = false;
  std::string detail;  // why a bad record is bad
};

struct EntryLogScanSummary {
  bool empty = false;  // a log created but never written (no header yet)
  uint64_t log_id = 0;
  uint32_t version = 0;
  uint64_t created_unix_ms = 0;
  uint64_t records = 0;       // valid records, padding excluded
  uint64_t damaged = 0;       // bad records or regions before the tail
  uint64_t first_damage = 0;  // offset of the first, when damaged > 0
  std::string first_detail;
  uint64_t end_offset = 0;  // where valid data ends
  bool torn_tail = false;   // an interrupted flush at end_offset
  uint64_t torn_bytes = 0;
};

// Scans an entry log, calling `fn` for every record, valid or damaged. Damage is told apart from a
// torn tail as in storage::ScanEntryLog: it is damage if a valid record starts at a later
// 4096-byte boundary (a later flush, so this one had been synced). Unlike that scan, this one goes
// on after damage and also reports zeros in the middle of the log.
Result<EntryLogScanSummary> ScanEntryLogRecords(
    FileSystem* fs, const std::string& path,
    const std::function<Status(const ScannedEntryRecord&)>& fn);

// The kCorruption status for a scan that found damage.
Status EntryLogDamage(const std::string& path, const EntryLogScanSummary& summary);

// "2024-05-01T12:00:00.123Z".
std::string FormatUnixMillis(uint64_t ms);
// The LAC in a stored explicit LAC (8 bytes big-endian, then the writer's body:
// docs/protocol.md, WRITE_LAC), if there are 8 bytes.
std::optional<int64_t> StoredExplicitLac(std::string_view stored);

}  // namespace quire::cli
