// quire index rebuild: a new RocksDB index from a ledger directory's entry logs.
//
// Entries: every valid record of every entry log, in log order (log id, then offset), so that a
// later copy of an entry replaces an earlier one, as later flushes do in the engine. Records of a
// flush that a crash interrupted at the tail of a log are indexed too: they were journaled, and
// indexing an entry the bookie holds is never wrong, while leaving out one it acknowledged would
// let it answer "no such entry" for it.
//
// Ledger info (master key, fence, explicit LAC) is not in the entry logs. What survives is taken
// from the old index (if it can still be read) and from the journals; every ledger is marked
// fenced; a ledger whose master key survives nowhere gets an empty one, which no add, fencing
// read or LAC write can carry, so the bookie refuses them all. docs/operations-offline.md explains
// why.
#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <stdio.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/offline_tools.h"
#include "cli/progress.h"
#include "storage/cookie.h"
#include "storage/entry_log.h"
#include "storage/journal_reader.h"
#include "storage/ledger_index.h"

namespace quire::cli {
namespace {

using Json = nlohmann::ordered_json;
using storage::JournalRecordType;
using storage::LedgerInfo;

constexpr size_t kBatchPuts = 10000;
constexpr size_t kListedLedgers = 20;  // ledger ids named in the output, at most

// Ledger info that outlived the index elsewhere.
struct SurvivingInfo {
  std::map<uint64_t, LedgerInfo> old_index;  // from the old index, if it can still be read
  std::map<uint64_t, std::string> journal_keys;
  std::map<uint64_t, std::string> journal_lacs;  // the last explicit LAC journaled
  std::set<uint64_t> journal_ledgers;            // ledgers with any journal record
  uint64_t journal_files = 0;
};

struct EntryLogReport {
  std::string file;
  EntryLogScanSummary scan;
};

struct Report {
  std::vector<EntryLogReport> logs;
  std::map<uint64_t, uint64_t> entries_per_ledger;  // from the entry logs
  uint64_t entries = 0;
  uint64_t ledgers = 0;
  uint64_t keys_from_index = 0, keys_from_journal = 0;
  std::vector<uint64_t> keys_missing;
  uint64_t lacs_from_index = 0, lacs_from_journal = 0;
  std::vector<std::string> notes;
};

// This directory's place among the bookie's ledger directories (a ledger lives in directory
// ledger % count), from the cookie; nullopt if it cannot be told.
struct Share {
  size_t position = 0;
  size_t count = 1;
};

std::string Canonical(const std::string& path) {
  std::error_code ec;
  auto p = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

std::optional<storage::Cookie> ReadCookie(FileSystem* fs, const std::string& current,
                                          Report* report) {
  std::string path = JoinPath(current, "cookie");
  auto text = fs->ReadFile(path);
  if (!text.ok()) {
    report->notes.push_back(
        fmt::format("no cookie readable at {}: {}", path, text.status().ToString()));
    return std::nullopt;
  }
  auto cookie = storage::Cookie::Decode(*text, path);
  if (!cookie.ok()) {
    report->notes.push_back(cookie.status().ToString());
    return std::nullopt;
  }
  return *cookie;
}

std::optional<Share> ShareOf(const std::optional<storage::Cookie>& cookie, const std::string& dir) {
  if (!cookie) return std::nullopt;
  std::string me = Canonical(dir);
  for (size_t i = 0; i < cookie->ledger_dirs.size(); ++i) {
    if (Canonical(cookie->ledger_dirs[i]) == me) return Share{i, cookie->ledger_dirs.size()};
  }
  return std::nullopt;
}

void ReadOldIndex(FileSystem* fs, const std::string& path, SurvivingInfo* info, Report* report) {
  auto exists = fs->Exists(path);
  if (!exists.ok() || !*exists) return;
  auto index = storage::LedgerIndex::OpenReadOnly(path);
  Status s = index.ok() ? (*index)->ForEachLedger([&](uint64_t ledger, const LedgerInfo& i) {
    info->old_index.emplace(ledger, i);
    return true;
  })
                        : index.status();
  if (!s.ok()) {
    report->notes.push_back(
        fmt::format("the old index cannot be read ({}); ledger infos read "
                    "before the error: {}",
                    s.ToString(), info->old_index.size()));
  }
}

// Master keys and explicit LACs from every journal file still present.
void ReadJournals(FileSystem* fs, const std::vector<std::string>& dirs, SurvivingInfo* info,
                  Report* report) {
  for (const std::string& dir : dirs) {
    std::string current = JoinPath(dir, "current");
    auto names = fs->List(current);
    if (!names.ok()) {
      report->notes.push_back(
          fmt::format("journal directory {}: {}", dir, names.status().ToString()));
      continue;
    }
    std::vector<uint64_t> ids;
    for (const std::string& n : *names) {
      uint64_t id;
      if (storage::ParseJournalFileName(n, &id)) ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    for (size_t i = 0; i < ids.size(); ++i) {
      storage::JournalScanOptions options;
      options.newest_file = i + 1 == ids.size();
      std::string path = JoinPath(current, storage::JournalFileName(ids[i]));
      auto scan = storage::ScanJournalFile(
          fs, path, options, [&](const storage::JournalRecord& r, uint64_t) {
            info->journal_ledgers.insert(r.ledger_id);
            if (r.type == JournalRecordType::kMasterKey && !r.data.empty()) {
              info->journal_keys.emplace(r.ledger_id, std::string(r.data));
            } else if (r.type == JournalRecordType::kExplicitLac) {
              info->journal_lacs[r.ledger_id] = std::string(r.data);
            }
            return Status::Ok();
          });
      ++info->journal_files;
      if (!scan.ok()) {
        report->notes.push_back(fmt::format("journal file {} read only up to its damage: {}", path,
                                            scan.status().ToString()));
      }
    }
  }
}

std::string Stamp() {
  auto now = std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  return fmt::format("{:%Y%m%dT%H%M%S}Z", now);
}

Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return IOError(fmt::format("removing {}: {}", path, ec.message()));
  return Status::Ok();
}

// Puts `fresh` in place of current/index, keeping the old one (if any) as `old`. The exchange is
// one rename(2) so that no crash can leave the directory without an index: a bookie started then
// would make an empty one and answer "no such entry" for everything it holds.
Status SwapIn(FileSystem* fs, const std::string& current, const std::string& fresh,
              const std::string& old, bool* kept_old) {
  std::string index = JoinPath(current, "index");
  QUIRE_ASSIGN_OR_RETURN(bool exists, fs->Exists(index));
  *kept_old = exists;
  if (!exists) {
    QUIRE_RETURN_IF_ERROR(fs->Rename(fresh, index));
  } else if (renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, index.c_str(), RENAME_EXCHANGE) == 0) {
    QUIRE_RETURN_IF_ERROR(fs->Rename(fresh, old));  // `fresh` names the old index now
  } else if (errno == EINVAL || errno == ENOSYS) {
    // A file system without the exchange: two renames, with a moment without an index.
    QUIRE_RETURN_IF_ERROR(fs->Rename(index, old));
    QUIRE_RETURN_IF_ERROR(fs->Rename(fresh, index));
  } else {
    return ErrnoStatus(fmt::format("exchanging {} and {}", fresh, index), errno);
  }
  return fs->SyncDir(current);
}

// The ledger infos to write: every ledger of the directory, fenced, with what survived.
std::map<uint64_t, LedgerInfo> RebuiltInfos(const SurvivingInfo& s,
                                            const std::optional<Share>& share, Report* report) {
  std::set<uint64_t> ledgers;
  for (const auto& [l, n] : report->entries_per_ledger) ledgers.insert(l);
  for (const auto& [l, i] : s.old_index) ledgers.insert(l);
  // A ledger that the journal knows but no entry log holds (a fence or LAC reached the bookie
  // before any add, or no flush came since): it belongs here only if ledger % count says so.
  uint64_t journal_only = 0;
  for (uint64_t l : s.journal_ledgers) {
    if (ledgers.count(l)) continue;
    if (share && l % share->count == share->position) {
      ledgers.insert(l);
    } else if (!share) {
      ++journal_only;
    }
  }
  if (journal_only > 0) {
    report->notes.push_back(fmt::format(
        "{} ledgers appear only in the journals, and this directory's place among the bookie's "
        "ledger directories is unknown (no matching cookie): they are left out",
        journal_only));
  }
  std::map<uint64_t, LedgerInfo> infos;
  for (uint64_t l : ledgers) {
    LedgerInfo info;
    info.fenced = true;
    auto old = s.old_index.find(l);
    auto key = s.journal_keys.find(l);
    if (old != s.old_index.end() && !old->second.master_key.empty()) {
      info.master_key = old->second.master_key;
      ++report->keys_from_index;
    } else if (key != s.journal_keys.end()) {
      info.master_key = key->second;
      ++report->keys_from_journal;
    } else {
      report->keys_missing.push_back(l);
    }
    // Journal files are deleted oldest first, so the last LAC journaled is the newest there was.
    auto lac = s.journal_lacs.find(l);
    if (lac != s.journal_lacs.end()) {
      info.explicit_lac = lac->second;
      ++report->lacs_from_journal;
    } else if (old != s.old_index.end() && !old->second.explicit_lac.empty()) {
      info.explicit_lac = old->second.explicit_lac;
      ++report->lacs_from_index;
    }
    infos.emplace(l, std::move(info));
  }
  report->ledgers = infos.size();
  return infos;
}

// Writes location puts in bounded, synced batches.
class BatchWriter {
 public:
  explicit BatchWriter(storage::LedgerIndex* index) : index_(index) {
    if (index_) batch_ = index_->NewBatch();
  }
  Status PutLocation(uint64_t ledger, uint64_t entry, const storage::EntryLocation& loc) {
    if (!index_) return Status::Ok();
    batch_.PutLocation(ledger, entry, loc);
    return MaybeWrite();
  }
  Status PutLedgerInfo(uint64_t ledger, const LedgerInfo& info) {
    if (!index_) return Status::Ok();
    batch_.PutLedgerInfo(ledger, info);
    return MaybeWrite();
  }
  Status Finish() {
    if (!index_) return Status::Ok();
    return index_->Write(batch_);
  }

 private:
  Status MaybeWrite() {
    if (batch_.count() < kBatchPuts) return Status::Ok();
    QUIRE_RETURN_IF_ERROR(index_->Write(batch_));
    batch_ = index_->NewBatch();
    return Status::Ok();
  }
  storage::LedgerIndex* index_;
  storage::LedgerIndex::Batch batch_;
};

// Scans every entry log into `writer`, in log order, with progress by log to `progress_out`.
Status IndexEntryLogs(FileSystem* fs, const std::string& current, bool skip_damaged,
                      std::ostream* progress_out, BatchWriter* writer, Report* report) {
  QUIRE_ASSIGN_OR_RETURN(std::vector<uint64_t> ids, storage::EntryLogger::ListLogs(fs, current));
  std::optional<Progress> progress;
  if (progress_out) {
    progress.emplace(*progress_out, "index rebuild of " + current, "entry logs",
                     static_cast<int64_t>(ids.size()));
  }
  for (uint64_t id : ids) {
    std::string path = JoinPath(current, storage::EntryLogFileName(id));
    auto scan = ScanEntryLogRecords(fs, path, [&](const ScannedEntryRecord& r) -> Status {
      if (!r.crc_ok || r.padding) return Status::Ok();
      ++report->entries_per_ledger[r.ledger_id];
      ++report->entries;
      return writer->PutLocation(r.ledger_id, r.entry_id, {id, r.offset, r.size});
    });
    QUIRE_RETURN_IF_ERROR(scan.status());
    if (!scan->empty && scan->log_id != id) {
      report->notes.push_back(
          fmt::format("{}: its header says log id {}; the name wins", path, scan->log_id));
    }
    if (scan->damaged > 0 && !skip_damaged) {
      return Corruption(EntryLogDamage(path, *scan).message() +
                        "; refusing to rebuild the index (quire entrylog dump lists the damage; "
                        "--skip-damaged indexes around it, and the bookie then answers \"no such "
                        "entry\" for what it held)");
    }
    report->logs.push_back({path, *scan});
    if (progress) {
      progress->Add(1, static_cast<int64_t>(scan->records),
                    static_cast<int64_t>(scan->end_offset + scan->torn_bytes));
    }
  }
  if (progress) progress->Finish();
  return Status::Ok();
}

std::string LedgerList(const std::vector<uint64_t>& ids) {
  std::vector<uint64_t> head(ids.begin(), ids.begin() + std::min(ids.size(), kListedLedgers));
  return fmt::format("{}{}", fmt::join(head, ", "),
                     ids.size() > head.size() ? fmt::format(", ... ({} in all)", ids.size()) : "");
}

void PrintReport(const std::string& dir, const Report& r, std::ostream& out) {
  out << fmt::format("index rebuild of {} (locked: no bookie uses it)\n", dir);
  for (const EntryLogReport& log : r.logs) {
    const EntryLogScanSummary& s = log.scan;
    out << fmt::format("  entry log {}: ", log.file);
    if (s.empty) {
      out << "empty (created at start-up, never written)\n";
      continue;
    }
    out << fmt::format("{} records", s.records);
    if (s.damaged) {
      out << fmt::format(", {} damaged record(s) skipped (first at offset {}: {})", s.damaged,
                         s.first_damage, s.first_detail);
    }
    if (s.torn_tail)
      out << fmt::format(", torn tail of {} bytes at offset {}", s.torn_bytes, s.end_offset);
    out << "\n";
  }
  out << fmt::format(
      "  indexed {} entry records of {} ledgers (a later copy of an entry replaces "
      "an earlier one)\n",
      r.entries, r.entries_per_ledger.size());
  out << fmt::format(
      "  ledger info is not in the entry logs; for the {} ledgers of the new index:\n"
      "    fenced: all of them (whether a ledger had been fenced cannot be known; a normal add "
      "to any of them is refused)\n"
      "    master key: {} from the old index, {} from the journals, {} lost\n",
      r.ledgers, r.keys_from_index, r.keys_from_journal, r.keys_missing.size());
  if (!r.keys_missing.empty()) {
    out << fmt::format(
        "      lost for ledgers {}: the bookie refuses every add, fence and LAC "
        "write of them (UNAUTHORIZED); reads go on\n",
        LedgerList(r.keys_missing));
  }
  out << fmt::format(
      "    explicit LAC: {} from the journals, {} from the old index; other "
      "ledgers have none until a writer sends one\n",
      r.lacs_from_journal, r.lacs_from_index);
  for (const std::string& note : r.notes) out << "  note: " << note << "\n";
}

Json ReportJson(const std::string& dir, const Report& r) {
  Json logs = Json::array();
  for (const EntryLogReport& log : r.logs) {
    logs.push_back({{"file", log.file},
                    {"empty", log.scan.empty},
                    {"records", log.scan.records},
                    {"damaged", log.scan.damaged},
                    {"torn_tail", log.scan.torn_tail},
                    {"torn_bytes", log.scan.torn_bytes}});
  }
  return {{"ledger_dir", dir},
          {"entry_logs", logs},
          {"entries", r.entries},
          {"ledgers", r.ledgers},
          {"fenced", r.ledgers},
          {"master_keys",
           {{"from_old_index", r.keys_from_index},
            {"from_journal", r.keys_from_journal},
            {"lost", r.keys_missing.size()},
            {"lost_ledgers", r.keys_missing}}},
          {"explicit_lacs",
           {{"from_old_index", r.lacs_from_index}, {"from_journal", r.lacs_from_journal}}},
          {"notes", r.notes}};
}

}  // namespace

Status RebuildIndex(FileSystem* fs, const RebuildOptions& o, std::ostream& out) {
  QUIRE_ASSIGN_OR_RETURN(std::string dir, ResolveLedgerDir(fs, o.ledger_dir));
  std::string current = JoinPath(dir, "current");
  // The bookie holds this lock while it runs (storage/cookie.cc); holding it here also keeps a
  // bookie from starting in the middle of the rebuild.
  auto lock = fs->Lock(JoinPath(current, "LOCK"));
  if (!lock.ok()) {
    return FailedPrecondition(fmt::format(
        "{} is in use by a running bookie ({}): stop the bookie before rebuilding its index", dir,
        lock.status().message()));
  }

  Report report;
  SurvivingInfo surviving;
  std::optional<storage::Cookie> cookie = ReadCookie(fs, current, &report);
  std::vector<std::string> journal_dirs = o.journal_dirs;
  if (journal_dirs.empty() && cookie) journal_dirs = cookie->journal_dirs;
  if (journal_dirs.empty()) {
    report.notes.push_back(
        "no journal directory known (pass --journal-dir): no master key or "
        "explicit LAC can come from the journals");
  }
  ReadOldIndex(fs, JoinPath(current, "index"), &surviving, &report);
  ReadJournals(fs, journal_dirs, &surviving, &report);

  std::string stamp = Stamp();
  std::string fresh = JoinPath(current, "index.rebuild-" + stamp);
  std::string old = JoinPath(current, "index.old-" + stamp);
  std::unique_ptr<storage::LedgerIndex> index;
  if (!o.dry_run) {
    QUIRE_RETURN_IF_ERROR(RemoveTree(fresh));
    QUIRE_ASSIGN_OR_RETURN(index, storage::LedgerIndex::Open(fresh));
  }
  auto fail = [&](const Status& s) {
    index.reset();
    if (!o.dry_run) RemoveTree(fresh).IgnoreError();
    return s;
  };
  BatchWriter writer(index.get());
  Status s = IndexEntryLogs(fs, current, o.skip_damaged, o.progress, &writer, &report);
  if (!s.ok()) return fail(s);
  for (const auto& [ledger, info] : RebuiltInfos(surviving, ShareOf(cookie, dir), &report)) {
    s = writer.PutLedgerInfo(ledger, info);
    if (!s.ok()) return fail(s);
  }
  s = writer.Finish();
  if (!s.ok()) return fail(s);
  index.reset();  // closed: RocksDB has synced every batch

  if (!o.json) PrintReport(dir, report, out);
  Json j = o.json ? ReportJson(dir, report) : Json();
  if (o.dry_run) {
    if (o.json) {
      j["dry_run"] = true;
      out << j.dump() << '\n';
    } else {
      out << "  dry run: nothing was written\n";
    }
    return Status::Ok();
  }
  if (o.confirm && !o.confirm()) {
    return fail(Status(StatusCode::kAborted, "not confirmed; the index was left as it was"));
  }
  bool kept_old = false;
  s = SwapIn(fs, current, fresh, old, &kept_old);
  if (!s.ok()) {
    return s.WithContext(fmt::format("swapping in the new index {} (nothing was removed)", fresh));
  }
  std::string index_path = JoinPath(current, "index");
  if (o.json) {
    j["index"] = index_path;
    j["old_index"] = kept_old ? Json(old) : Json(nullptr);
    out << j.dump() << '\n';
  } else if (kept_old) {
    out << fmt::format(
        "  new index in place at {}; the old one is kept at {} (remove it once the "
        "bookie serves reads again)\n",
        index_path, old);
  } else {
    out << fmt::format("  new index in place at {} (there was no old index)\n", index_path);
  }
  return Status::Ok();
}

}  // namespace quire::cli
