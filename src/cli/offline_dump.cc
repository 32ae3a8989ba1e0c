// quire journal dump, quire entrylog dump, quire index dump (docs/operations-offline.md).
#include <fmt/format.h>

#include <map>
#include <nlohmann/json.hpp>

#include "cli/offline_tools.h"
#include "storage/entry_log_format.h"
#include "storage/file_window.h"
#include "storage/journal.h"
#include "storage/journal_reader.h"
#include "storage/ledger_index.h"

namespace quire::cli {
namespace {

using Json = nlohmann::ordered_json;
using storage::JournalRecord;
using storage::JournalRecordType;

void JsonLine(std::ostream& out, const Json& j) { out << j.dump() << '\n'; }

// A line of a table, without the padding of empty last columns.
void TableLine(std::ostream& out, std::string line) {
  line.erase(line.find_last_not_of(' ') + 1);
  out << line << '\n';
}

std::string_view TypeName(JournalRecordType type) {
  switch (type) {
    case JournalRecordType::kAdd:
      return "add";
    case JournalRecordType::kMasterKey:
      return "master-key";
    case JournalRecordType::kFence:
      return "fence";
    case JournalRecordType::kExplicitLac:
      return "explicit-lac";
    case JournalRecordType::kPadding:
      return "padding";
    case JournalRecordType::kGroup:
      return "group";
  }
  return "unknown";
}

// Bytes of the record on disk: prefix, type byte, fixed fields, data.
uint64_t JournalRecordBytes(const JournalRecord& r) {
  uint32_t fixed =
      r.type == JournalRecordType::kAdd ? storage::kAddBodyFixed : storage::kLedgerBodyFixed;
  return storage::JournalRecordSize(fixed) + r.data.size();
}

std::string HexOf(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

// Only the newest file of a journal may end in a torn tail (journal_reader.h). A file that is not
// named like a journal file (a copy) is taken as the newest.
Result<bool> IsNewestJournalFile(FileSystem* fs, const std::string& path) {
  uint64_t id;
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (!storage::ParseJournalFileName(name, &id)) return true;
  QUIRE_ASSIGN_OR_RETURN(auto names, fs->List(DirName(path)));
  for (const std::string& n : names) {
    uint64_t other;
    if (storage::ParseJournalFileName(n, &other) && other > id) return false;
  }
  return true;
}

// The checkpoint of the journal holding `path` (<journalDir>/current/<file>), if there is one.
std::optional<storage::JournalPosition> CheckpointOf(FileSystem* fs, const std::string& path) {
  std::string current = DirName(path);
  if (current.size() < 8 || !current.ends_with("current")) return std::nullopt;
  auto mark = storage::ReadJournalMark(fs, DirName(current));
  if (!mark.ok() || mark->file_id == 0) return std::nullopt;
  return *mark;
}

// Prints a journal's records, with the GROUP records between them: the reader hands over the
// records of each valid group, and this walks the groups alongside (groups are contiguous).
class JournalPrinter {
 public:
  JournalPrinter(File* file, uint64_t size, bool json, std::ostream& out)
      : window_(file, size), json_(json), out_(out) {}

  void Header(const std::string& path, const storage::JournalFileHeader& h,
              std::optional<storage::JournalPosition> mark) {
    std::optional<uint64_t> mark_offset;
    std::string mark_text;
    if (mark && mark->file_id == h.file_id) {
      mark_offset = mark->offset;
      mark_text = fmt::format("; checkpoint at offset {} (what precedes it is in ledger storage)",
                              mark->offset);
    } else if (mark && mark->file_id > h.file_id) {
      mark_text = "; wholly before the checkpoint (all of it is in ledger storage)";
    }
    if (json_) {
      JsonLine(out_, {{"kind", "header"},
                      {"file", path},
                      {"version", h.version},
                      {"file_id", h.file_id},
                      {"created_unix_ms", h.created_unix_ms},
                      {"created", FormatUnixMillis(h.created_unix_ms)},
                      {"salt", fmt::format("{:#018x}", h.salt)},
                      {"checkpoint_offset", mark_offset ? Json(*mark_offset) : Json(nullptr)}});
      return;
    }
    out_ << fmt::format(
        "journal {}\n  format version {}, file id {}, created {}, salt {:#018x}, header CRC ok{}\n",
        path, h.version, h.file_id, FormatUnixMillis(h.created_unix_ms), h.salt, mark_text);
    TableLine(out_, fmt::format("{:>12}  {:<12} {:>20} {:>20} {:>9}  {:<3}  {}", "offset", "record",
                                "ledger", "entry", "bytes", "crc", "data"));
  }

  // Prints the groups that start before `limit`.
  Status GroupsBefore(uint64_t limit) {
    while (next_group_ < limit) {
      QUIRE_ASSIGN_OR_RETURN(std::string_view bytes,
                             window_.At(next_group_, storage::kGroupRecordSize));
      storage::DecodeResult d = storage::DecodeJournalRecord(bytes);
      if (d.outcome != storage::DecodeOutcome::kRecord ||
          d.record.type != JournalRecordType::kGroup || d.record.group_length == 0) {
        return Internal(
            fmt::format("no GROUP record at offset {}, where the reader found one", next_group_));
      }
      const JournalRecord& g = d.record;
      if (json_) {
        JsonLine(out_, {{"kind", "group"},
                        {"offset", next_group_},
                        {"seq", g.group_seq},
                        {"length", g.group_length},
                        {"durable_before", g.group_durable_before}});
      } else {
        out_ << fmt::format("{:>12}  {:<12} seq {}, {} bytes, durable before offset {}\n",
                            next_group_, "group", g.group_seq, g.group_length,
                            g.group_durable_before);
      }
      ++groups_;
      next_group_ += g.group_length;
    }
    return Status::Ok();
  }

  Status Record(const JournalRecord& r, uint64_t offset) {
    QUIRE_RETURN_IF_ERROR(GroupsBefore(offset));
    ++records_;
    std::optional<int64_t> lac;
    if (r.type == JournalRecordType::kExplicitLac) lac = StoredExplicitLac(r.data);
    bool has_entry = r.type == JournalRecordType::kAdd;
    if (json_) {
      Json j = {{"kind", "record"},
                {"offset", offset},
                {"type", TypeName(r.type)},
                {"ledger", r.ledger_id},
                {"entry", has_entry ? Json(r.entry_id) : Json(nullptr)},
                {"bytes", JournalRecordBytes(r)},
                {"data_bytes", r.data.size()},
                {"crc", "ok"}};
      if (lac) j["lac"] = *lac;
      JsonLine(out_, j);
      return Status::Ok();
    }
    std::string data;
    switch (r.type) {
      case JournalRecordType::kAdd:
        data = fmt::format("payload {} bytes", r.data.size());
        break;
      case JournalRecordType::kMasterKey:
        data = fmt::format("key {} bytes", r.data.size());
        break;
      case JournalRecordType::kExplicitLac:
        data = lac ? fmt::format("LAC {} ({} bytes)", *lac, r.data.size())
                   : fmt::format("{} bytes", r.data.size());
        break;
      default:
        break;
    }
    TableLine(out_,
              fmt::format("{:>12}  {:<12} {:>20} {:>20} {:>9}  {:<3}  {}", offset, TypeName(r.type),
                          r.ledger_id, has_entry ? std::to_string(r.entry_id) : "-",
                          JournalRecordBytes(r), "ok", data));
    return Status::Ok();
  }

  void End(const storage::JournalScanResult& r) {
    if (json_) {
      JsonLine(out_, {{"kind", "end"},
                      {"records", records_},
                      {"groups", groups_},
                      {"end_offset", r.end_offset},
                      {"torn_tail", r.torn_tail},
                      {"torn_bytes", r.torn_bytes}});
      return;
    }
    out_ << fmt::format("  end: {} records in {} groups; valid data ends at offset {}", records_,
                        groups_, r.end_offset);
    if (r.torn_tail) {
      out_ << fmt::format(
          "; torn tail: {} bytes after it, writes never made durable or a reused file's "
          "older contents (the crash point: replay truncates the file there)",
          r.torn_bytes);
    }
    out_ << "\n";
  }

 private:
  storage::FileWindow window_;
  const bool json_;
  std::ostream& out_;
  uint64_t next_group_ = storage::kJournalHeaderSize;
  uint64_t groups_ = 0;
  uint64_t records_ = 0;
};

}  // namespace

Status DumpJournal(FileSystem* fs, const std::string& path, bool json, std::ostream& out) {
  QUIRE_ASSIGN_OR_RETURN(bool newest, IsNewestJournalFile(fs, path));
  QUIRE_ASSIGN_OR_RETURN(auto file, fs->Open(path, {.read_only = true}));
  QUIRE_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  JournalPrinter printer(file.get(), size, json, out);

  storage::JournalScanOptions options;
  options.newest_file = newest;
  Result<storage::JournalFileHeader> header = [&]() -> Result<storage::JournalFileHeader> {
    std::string head(storage::kJournalHeaderSize, '\0');
    QUIRE_ASSIGN_OR_RETURN(size_t n, file->Read(0, head.data(), head.size()));
    return storage::DecodeJournalHeader(std::string_view(head.data(), n), path);
  }();
  if (header.ok()) printer.Header(path, *header, CheckpointOf(fs, path));

  Result<storage::JournalScanResult> scan = storage::ScanJournalFile(
      fs, path, options,
      [&](const JournalRecord& r, uint64_t offset) { return printer.Record(r, offset); });
  if (!scan.ok()) return scan.status();
  if (!header.ok()) {
    // The reader accepted a damaged header: the newest file, cut short while being created.
    if (json) {
      JsonLine(out, {{"kind", "header"},
                     {"file", path},
                     {"torn_creation", true},
                     {"torn_bytes", scan->torn_bytes},
                     {"detail", header.status().message()}});
    } else {
      out << fmt::format(
          "journal {}\n  header damaged ({}): the newest file, cut short while "
          "being created; it holds nothing that was acknowledged and replay "
          "removes it\n",
          path, header.status().message());
    }
    return Status::Ok();
  }
  QUIRE_RETURN_IF_ERROR(printer.GroupsBefore(scan->end_offset));
  printer.End(*scan);
  return Status::Ok();
}

Status DumpEntryLog(FileSystem* fs, const std::string& path, bool json, PayloadFormat payload,
                    std::ostream& out) {
  bool header_printed = false;
  auto print_header = [&](const EntryLogScanSummary& s) {
    if (json) {
      JsonLine(out, {{"kind", "header"},
                     {"file", path},
                     {"version", s.version},
                     {"log_id", s.log_id},
                     {"created_unix_ms", s.created_unix_ms},
                     {"created", FormatUnixMillis(s.created_unix_ms)}});
    } else {
      out << fmt::format(
          "entry log {}\n  format version {}, log id {}, created {}, header CRC "
          "ok\n{:>12}  {:>20} {:>20} {:>9} {:>9}  crc\n",
          path, s.version, s.log_id, FormatUnixMillis(s.created_unix_ms), "offset", "ledger",
          "entry", "bytes", "payload");
    }
    header_printed = true;
  };
  // The header is printed before the first record: decoded here, checked again by the scan.
  EntryLogScanSummary header_info;
  auto on_record = [&](const ScannedEntryRecord& r) -> Status {
    if (!header_printed) print_header(header_info);
    std::string ledger = r.padding ? "padding" : std::to_string(r.ledger_id);
    std::string hex = payload == PayloadFormat::kHex && r.crc_ok ? HexOf(r.payload) : "";
    if (json) {
      Json j = {{"kind", "record"},
                {"offset", r.offset},
                {"ledger", r.ledger_id},
                {"entry", r.entry_id},
                {"padding", r.padding},
                {"bytes", r.size},
                {"payload_bytes", r.crc_ok ? Json(r.payload.size()) : Json(nullptr)},
                {"crc", r.crc_ok ? "ok" : "bad"}};
      if (!r.crc_ok) j["detail"] = r.detail;
      if (payload == PayloadFormat::kHex && r.crc_ok) j["payload_hex"] = hex;
      JsonLine(out, j);
      return Status::Ok();
    }
    std::string entry = r.padding ? "" : std::to_string(r.entry_id);
    std::string payload_bytes = r.crc_ok ? std::to_string(r.payload.size()) : "?";
    std::string line = fmt::format("{:>12}  {:>20} {:>20} {:>9} {:>9}  {:<3}", r.offset, ledger,
                                   entry, r.size, payload_bytes, r.crc_ok ? "ok" : "BAD");
    if (!r.crc_ok) line += "  " + r.detail + " (ledger and entry as recorded, unverified)";
    if (!hex.empty()) line += "  " + hex;
    TableLine(out, std::move(line));
    return Status::Ok();
  };
  {
    QUIRE_ASSIGN_OR_RETURN(auto file, fs->Open(path, {.read_only = true}));
    std::string head(storage::kEntryLogHeaderSize, '\0');
    QUIRE_ASSIGN_OR_RETURN(size_t n, file->Read(0, head.data(), head.size()));
    auto h = storage::DecodeEntryLogHeader(std::string_view(head.data(), n), path);
    if (h.ok()) {
      header_info.version = h->version;
      header_info.log_id = h->log_id;
      header_info.created_unix_ms = h->created_unix_ms;
    }
  }
  QUIRE_ASSIGN_OR_RETURN(EntryLogScanSummary s, ScanEntryLogRecords(fs, path, on_record));
  if (s.empty) {
    if (json) {
      JsonLine(out, {{"kind", "header"}, {"file", path}, {"empty", true}});
    } else {
      out << fmt::format("entry log {}\n  empty: created at start-up, never written\n", path);
    }
    return Status::Ok();
  }
  if (!header_printed) print_header(s);
  if (json) {
    JsonLine(out, {{"kind", "end"},
                   {"records", s.records},
                   {"damaged", s.damaged},
                   {"end_offset", s.end_offset},
                   {"torn_tail", s.torn_tail},
                   {"torn_bytes", s.torn_bytes}});
  } else {
    out << fmt::format("  end: {} records{}; valid data ends at offset {}", s.records,
                       s.damaged ? fmt::format(", {} damaged", s.damaged) : "", s.end_offset);
    if (s.torn_tail) {
      out << fmt::format(
          "; torn tail: {} bytes of a flush that a crash interrupted (the index "
          "never pointed there)",
          s.torn_bytes);
    }
    out << "\n";
  }
  if (s.damaged > 0) return EntryLogDamage(path, s);
  return Status::Ok();
}

namespace {

class IndexPrinter {
 public:
  IndexPrinter(bool json, std::ostream& out) : json_(json), out_(out) {}

  void Ledger(uint64_t ledger, const storage::LedgerInfo* info) {
    ++ledgers_;
    std::optional<int64_t> lac;
    if (info) lac = StoredExplicitLac(info->explicit_lac);
    if (json_) {
      Json j = {{"kind", "ledger"}, {"ledger", ledger}, {"exists", info != nullptr}};
      if (info) {
        j["fenced"] = info->fenced;
        j["master_key_bytes"] = info->master_key.size();
        j["explicit_lac"] = lac ? Json(*lac) : Json(nullptr);
        j["explicit_lac_bytes"] = info->explicit_lac.size();
      }
      JsonLine(out_, j);
      return;
    }
    if (!info) {
      out_ << fmt::format(
          "ledger {}: no ledger info (entries without it: the index is "
          "inconsistent)\n",
          ledger);
      return;
    }
    std::string lac_text = info->explicit_lac.empty() ? "none"
                           : lac ? fmt::format("{} ({} bytes)", *lac, info->explicit_lac.size())
                                 : fmt::format("{} bytes", info->explicit_lac.size());
    out_ << fmt::format("ledger {}: exists, fenced {}, master key {} bytes, explicit LAC {}\n",
                        ledger, info->fenced ? "yes" : "no", info->master_key.size(), lac_text);
  }

  void Entry(uint64_t ledger, uint64_t entry, const storage::EntryLocation& loc) {
    ++entries_;
    if (json_) {
      JsonLine(out_, {{"kind", "entry"},
                      {"ledger", ledger},
                      {"entry", entry},
                      {"log", loc.log_id},
                      {"offset", loc.offset},
                      {"bytes", loc.size}});
      return;
    }
    if (!heading_) {
      out_ << fmt::format("  {:>20} {:>20} {:>12} {:>9}\n", "entry", "log", "offset", "bytes");
    }
    heading_ = true;
    out_ << fmt::format("  {:>20} {:>20} {:>12} {:>9}\n", entry, loc.log_id, loc.offset, loc.size);
  }
  void EndLedger() { heading_ = false; }

  void End(const std::string& path) {
    if (json_) {
      JsonLine(out_,
               {{"kind", "end"}, {"index", path}, {"ledgers", ledgers_}, {"entries", entries_}});
    } else {
      out_ << fmt::format("index {}: {} ledgers, {} entries\n", path, ledgers_, entries_);
    }
  }

 private:
  const bool json_;
  std::ostream& out_;
  bool heading_ = false;
  uint64_t ledgers_ = 0;
  uint64_t entries_ = 0;
};

}  // namespace

Status DumpIndex(FileSystem* fs, const std::string& ledger_dir, std::optional<uint64_t> ledger,
                 bool json, std::ostream& out) {
  QUIRE_ASSIGN_OR_RETURN(std::string dir, ResolveLedgerDir(fs, ledger_dir));
  std::string path = JoinPath(JoinPath(dir, "current"), "index");
  QUIRE_ASSIGN_OR_RETURN(bool exists, fs->Exists(path));
  if (!exists) return NotFound(fmt::format("{}: no index (quire index rebuild makes one)", path));
  QUIRE_ASSIGN_OR_RETURN(auto index, storage::LedgerIndex::OpenReadOnly(path));
  IndexPrinter p(json, out);
  auto print_entry = [&](uint64_t l, uint64_t entry, const storage::EntryLocation& loc) {
    p.Entry(l, entry, loc);
    return true;
  };

  if (ledger) {
    QUIRE_ASSIGN_OR_RETURN(auto info, index->GetLedgerInfo(*ledger));
    QUIRE_ASSIGN_OR_RETURN(auto last, index->LastEntry(*ledger));
    if (!info && !last) return NotFound(fmt::format("index {}: no ledger {}", path, *ledger));
    p.Ledger(*ledger, info ? &*info : nullptr);
    QUIRE_RETURN_IF_ERROR(index->ForEachEntry(
        *ledger, [&](uint64_t e, const auto& loc) { return print_entry(*ledger, e, loc); }));
    p.End(path);
    return Status::Ok();
  }

  // Ledger infos and entries are two column families: merge them in ledger order, so that a
  // ledger with info but no entries, or entries but no info, shows too.
  std::map<uint64_t, storage::LedgerInfo> infos;
  QUIRE_RETURN_IF_ERROR(index->ForEachLedger([&](uint64_t l, const storage::LedgerInfo& info) {
    infos.emplace(l, info);
    return true;
  }));
  auto next_info = infos.begin();
  std::optional<uint64_t> current;
  auto start_ledger = [&](uint64_t l) {
    for (; next_info != infos.end() && next_info->first < l; ++next_info) {
      p.Ledger(next_info->first, &next_info->second);
    }
    const storage::LedgerInfo* info = nullptr;
    if (next_info != infos.end() && next_info->first == l) info = &(next_info++)->second;
    p.EndLedger();
    p.Ledger(l, info);
  };
  QUIRE_RETURN_IF_ERROR(
      index->ForEachLocation([&](uint64_t l, uint64_t e, const storage::EntryLocation& loc) {
        if (current != l) start_ledger(l);
        current = l;
        return print_entry(l, e, loc);
      }));
  for (; next_info != infos.end(); ++next_info) p.Ledger(next_info->first, &next_info->second);
  p.End(path);
  return Status::Ok();
}

}  // namespace quire::cli
