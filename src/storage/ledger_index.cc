#include "storage/ledger_index.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include <fmt/format.h>

#include "common/coding.h"

namespace quire::storage {
namespace {

constexpr uint8_t kLedgerInfoVersion = 1;
constexpr uint8_t kLogRowVersion = 1;  // `logs` and `log_ledgers` values
constexpr size_t kLogRowSize = 1 + 8;

std::string EntryKey(uint64_t ledger, uint64_t entry) {
  std::string k;
  PutBigEndian64(&k, ledger);
  PutBigEndian64(&k, entry);
  return k;
}

std::string LedgerKey(uint64_t ledger) {
  std::string k;
  PutBigEndian64(&k, ledger);
  return k;
}

// Sorts after every 16-byte key that starts with BE64(prefix): the end of a range deletion that
// takes them all (without computing prefix + 1, which overflows for 2^64 - 1).
std::string PastPrefix(uint64_t prefix) { return LedgerKey(prefix) + std::string(9, '\xff'); }

std::string U64Value(uint64_t v) {
  std::string out;
  out.push_back(static_cast<char>(kLogRowVersion));
  PutFixed64(&out, v);
  return out;
}

Result<uint64_t> DecodeU64Value(std::string_view b, std::string_view what) {
  if (b.size() != kLogRowSize || static_cast<uint8_t>(b[0]) != kLogRowVersion) {
    return Corruption(fmt::format("{}: bad entry-log usage record ({} bytes)", what, b.size()));
  }
  return DecodeFixed64(b.data() + 1);
}

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Corruption(fmt::format("{}: {}", what, s.ToString()));
  // A full disk is a state the bookie recovers from (storage_engine.h), so callers must be able
  // to tell it from other I/O errors.
  if (s.IsNoSpace()) return IOError(fmt::format("{}: {}", what, s.ToString()), ENOSPC);
  return IOError(fmt::format("{}: {}", what, s.ToString()));
}

using EntryVisitor = std::function<bool(uint64_t, uint64_t, const EntryLocation&)>;

// The ledger of the entries row at `it`.
Result<uint64_t> LedgerAt(const rocksdb::Iterator& it, const std::string& path) {
  if (it.key().size() != 16) return Corruption(fmt::format("index {}: bad entry key", path));
  return DecodeBigEndian64(it.key().data());
}

// The run in the entries row at `it`, of `ledger` (LedgerAt).
Result<EntryRun> RunAt(const rocksdb::Iterator& it, const std::string& path, uint64_t ledger) {
  uint64_t first = DecodeBigEndian64(it.key().data() + 8);
  return DecodeEntryRun(first, it.value().ToStringView(),
                        fmt::format("index {} ledger {} entry {}", path, ledger, first));
}

// Visits the entries from key `start` on, while `fn` returns true; with `only_ledger`, stops at
// the first entry of another ledger.
Status VisitEntries(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const std::string& path,
                    const std::string& start, std::optional<uint64_t> only_ledger,
                    const EntryVisitor& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->Seek(start); it->Valid(); it->Next()) {
    QUIRE_ASSIGN_OR_RETURN(uint64_t ledger, LedgerAt(*it, path));
    if (only_ledger && ledger != *only_ledger) break;
    QUIRE_ASSIGN_OR_RETURN(EntryRun run, RunAt(*it, path, ledger));
    uint64_t offset = run.offset;
    for (size_t i = 0; i < run.sizes.size(); ++i) {
      if (!fn(ledger, run.first_entry + i, EntryLocation{run.log_id, offset, run.sizes[i]})) {
        return Status::Ok();
      }
      offset += run.sizes[i];
    }
  }
  return FromRocks(it->status(), "index " + path);
}

}  // namespace

std::string EncodeLedgerInfo(const LedgerInfo& info) {
  std::string out;
  out.push_back(static_cast<char>(kLedgerInfoVersion));
  out.push_back(static_cast<char>(info.fenced ? 1 : 0));
  PutFixed32(&out, static_cast<uint32_t>(info.master_key.size()));
  out.append(info.master_key);
  PutFixed32(&out, static_cast<uint32_t>(info.explicit_lac.size()));
  out.append(info.explicit_lac);
  return out;
}

Result<LedgerInfo> DecodeLedgerInfo(std::string_view b, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Corruption(fmt::format("{}: bad ledger info record: {}", what, why));
  };
  if (b.size() < 2 + 4 + 4) return bad("too short");
  if (static_cast<uint8_t>(b[0]) > kLedgerInfoVersion) {
    return Status(StatusCode::kUnimplemented,
                  fmt::format("{}: ledger info version {} is newer than this Quire's", what,
                              static_cast<int>(static_cast<uint8_t>(b[0]))));
  }
  LedgerInfo info;
  info.fenced = (b[1] & 1) != 0;
  uint32_t key_len = DecodeFixed32(b.data() + 2);
  if (b.size() < 6 + static_cast<size_t>(key_len) + 4) return bad("key length out of bounds");
  info.master_key.assign(b.data() + 6, key_len);
  size_t p = 6 + key_len;
  uint32_t lac_len = DecodeFixed32(b.data() + p);
  if (b.size() != p + 4 + lac_len) return bad("LAC length does not match the record size");
  info.explicit_lac.assign(b.data() + p + 4, lac_len);
  return info;
}

LedgerIndex::~LedgerIndex() {
  if (db_) {
    for (auto* cf : {default_cf_, entries_cf_, ledgers_cf_, logs_cf_, log_ledgers_cf_}) {
      if (cf != nullptr) db_->DestroyColumnFamilyHandle(cf).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
  }
}

Result<std::unique_ptr<LedgerIndex>> LedgerIndex::Open(const std::string& path,
                                                       const LedgerIndexOptions& options) {
  return OpenWith(path, /*read_only=*/false, options);
}

Result<std::unique_ptr<LedgerIndex>> LedgerIndex::OpenReadOnly(const std::string& path) {
  return OpenWith(path, /*read_only=*/true, LedgerIndexOptions{});
}

Result<std::unique_ptr<LedgerIndex>> LedgerIndex::OpenWith(const std::string& path,
                                                           bool read_only,
                                                           const LedgerIndexOptions& o) {
  rocksdb::Options options;
  options.create_if_missing = !read_only;
  options.create_missing_column_families = !read_only;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 4;
  options.max_manifest_file_size = 64 << 20;
  options.max_total_wal_size = o.max_wal_bytes;
  // No preallocation: RocksDB would fallocate each new write-ahead log at 1.1x the largest
  // memtable (17.6 MiB) and each MANIFEST at 4 MiB, ~22 MiB of every ledger directory held from
  // the start and swinging by 17.6 MiB whenever a log rolls over: on a small or nearly full disk
  // enough to turn a bookie read-only right after garbage collection made it writable. The index
  // is written once per flush, so growing its files as they are written costs nothing measurable.
  options.allow_fallocate = false;

  // No bloom filter on the entries: since format 3 they are found by SeekForPrev (a run's key is
  // its first entry), which a whole-key filter cannot answer.
  rocksdb::ColumnFamilyOptions entries_options;
  entries_options.write_buffer_size = o.entries_write_buffer_bytes;
  // The small families (ledger infos, log usage) never come near a memtable's size; at the
  // entries' size rather than RocksDB's default 64 MiB, they do not hold the write-ahead log back.
  rocksdb::ColumnFamilyOptions small_options;
  small_options.write_buffer_size = o.entries_write_buffer_bytes;

  // A version 1 index has no `logs` / `log_ledgers`: opening it for writing creates them (the
  // upgrade); a read-only open takes the column families that exist.
  std::vector<std::string> wanted = {rocksdb::kDefaultColumnFamilyName, "entries", "ledgers",
                                     "logs", "log_ledgers"};
  if (read_only) {
    std::vector<std::string> existing;
    QUIRE_RETURN_IF_ERROR(FromRocks(rocksdb::DB::ListColumnFamilies(options, path, &existing),
                                    "opening index " + path));
    std::erase_if(wanted, [&](const std::string& name) {
      return std::find(existing.begin(), existing.end(), name) == existing.end();
    });
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const std::string& name : wanted) {
    cfs.emplace_back(name, name == "entries" ? entries_options : small_options);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status opened =
      read_only ? rocksdb::DB::OpenForReadOnly(options, path, cfs, &handles, &raw)
                : rocksdb::DB::Open(options, path, cfs, &handles, &raw);
  QUIRE_RETURN_IF_ERROR(FromRocks(opened, "opening index " + path));
  std::unique_ptr<LedgerIndex> index(new LedgerIndex());
  index->path_ = path;
  index->db_.reset(raw);
  for (size_t i = 0; i < wanted.size(); ++i) {
    const std::string& name = wanted[i];
    if (name == rocksdb::kDefaultColumnFamilyName) index->default_cf_ = handles[i];
    if (name == "entries") index->entries_cf_ = handles[i];
    if (name == "ledgers") index->ledgers_cf_ = handles[i];
    if (name == "logs") index->logs_cf_ = handles[i];
    if (name == "log_ledgers") index->log_ledgers_cf_ = handles[i];
  }
  if (index->entries_cf_ == nullptr || index->ledgers_cf_ == nullptr) {
    return Corruption(fmt::format("index {}: the entries or ledgers column family is missing", path));
  }

  std::string version;
  rocksdb::Status s = raw->Get(rocksdb::ReadOptions(), index->default_cf_, "format", &version);
  if (s.IsNotFound() && read_only) {
    return Corruption(fmt::format("index {}: no format version recorded", path));
  }
  if (!s.IsNotFound()) {
    QUIRE_RETURN_IF_ERROR(FromRocks(s, "index " + path));
    bool known = version == std::to_string(kIndexFormatVersion) || version == "1" ||
                 version == "2";
    if (!known) {
      return Status(StatusCode::kUnimplemented,
                    fmt::format("index {}: format version '{}' is not supported (this Quire has {})",
                                path, version, kIndexFormatVersion));
    }
  }
  if (!read_only && version != std::to_string(kIndexFormatVersion)) {
    // New, or an older version upgraded: version 1's missing column families were created
    // above; versions 1 and 2's rows of one entry each read as runs of one.
    rocksdb::WriteOptions w;
    w.sync = true;
    QUIRE_RETURN_IF_ERROR(FromRocks(raw->Put(w, index->default_cf_, "format",
                                             std::to_string(kIndexFormatVersion)),
                                    "index " + path));
  }
  return index;
}

Result<std::optional<EntryRun>> LedgerIndex::RunAtOrBefore(rocksdb::Iterator* it,
                                                           uint64_t ledger,
                                                           uint64_t entry) const {
  it->SeekForPrev(EntryKey(ledger, entry));
  QUIRE_RETURN_IF_ERROR(FromRocks(it->status(), "index " + path_));
  if (!it->Valid()) return std::optional<EntryRun>();
  QUIRE_ASSIGN_OR_RETURN(uint64_t found, LedgerAt(*it, path_));
  if (found != ledger) return std::optional<EntryRun>();
  QUIRE_ASSIGN_OR_RETURN(EntryRun run, RunAt(*it, path_, ledger));
  return std::optional<EntryRun>(std::move(run));
}

Result<std::optional<EntryLocation>> LedgerIndex::Find(uint64_t ledger, uint64_t entry) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), entries_cf_));
  QUIRE_ASSIGN_OR_RETURN(std::optional<EntryRun> run, RunAtOrBefore(it.get(), ledger, entry));
  if (!run || !run->Holds(entry)) return std::optional<EntryLocation>();
  return std::optional<EntryLocation>(run->At(entry));
}

Result<std::vector<std::optional<EntryLocation>>> LedgerIndex::FindMany(
    const std::vector<std::pair<uint64_t, uint64_t>>& keys) const {
  // One iterator for all, and the last run found answers for the entries it holds: keys in order
  // (compaction's, a read's) mostly fall in the run before.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), entries_cf_));
  std::vector<std::optional<EntryLocation>> out(keys.size());
  std::optional<uint64_t> run_ledger;
  std::optional<EntryRun> run;
  for (size_t i = 0; i < keys.size(); ++i) {
    const auto& [ledger, entry] = keys[i];
    if (!(run && run_ledger == ledger && run->Holds(entry))) {
      QUIRE_ASSIGN_OR_RETURN(run, RunAtOrBefore(it.get(), ledger, entry));
      run_ledger = ledger;
    }
    if (run && run->Holds(entry)) out[i] = run->At(entry);
  }
  return out;
}

Result<std::optional<uint64_t>> LedgerIndex::LastEntry(uint64_t ledger) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), entries_cf_));
  QUIRE_ASSIGN_OR_RETURN(std::optional<EntryRun> run, RunAtOrBefore(it.get(), ledger, UINT64_MAX));
  if (!run) return std::optional<uint64_t>();
  return std::optional<uint64_t>(run->last_entry());
}

Result<std::vector<EntryRun>> LedgerIndex::RunsOverlapping(uint64_t ledger, uint64_t from,
                                                           uint64_t to) const {
  std::vector<EntryRun> runs;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), entries_cf_));
  // The run at or before `from` may reach into [from, to]; the rows after it start inside it or
  // past it.
  QUIRE_ASSIGN_OR_RETURN(std::optional<EntryRun> before, RunAtOrBefore(it.get(), ledger, from));
  if (before && before->last_entry() >= from) runs.push_back(std::move(*before));
  for (it->Seek(EntryKey(ledger, from)); it->Valid(); it->Next()) {
    QUIRE_ASSIGN_OR_RETURN(uint64_t found, LedgerAt(*it, path_));
    uint64_t first = DecodeBigEndian64(it->key().data() + 8);
    if (found != ledger || first > to) break;
    if (first == from) continue;  // the run at or before `from`, taken above
    QUIRE_ASSIGN_OR_RETURN(EntryRun run, RunAt(*it, path_, ledger));
    if (!runs.empty() && run.first_entry <= runs.back().last_entry()) {
      return Corruption(fmt::format("index {} ledger {}: entry runs at {} and {} overlap", path_,
                                    ledger, runs.back().first_entry, run.first_entry));
    }
    runs.push_back(std::move(run));
  }
  QUIRE_RETURN_IF_ERROR(FromRocks(it->status(), "index " + path_));
  return runs;
}

Result<std::optional<LedgerInfo>> LedgerIndex::GetLedgerInfo(uint64_t ledger) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ledgers_cf_, LedgerKey(ledger), &value);
  if (s.IsNotFound()) return std::optional<LedgerInfo>();
  QUIRE_RETURN_IF_ERROR(FromRocks(s, "index " + path_));
  QUIRE_ASSIGN_OR_RETURN(LedgerInfo info,
                         DecodeLedgerInfo(value, fmt::format("index {} ledger {}", path_, ledger)));
  return std::optional<LedgerInfo>(std::move(info));
}

LedgerIndex::Batch::Batch() : batch_(std::make_unique<rocksdb::WriteBatch>()) {}
LedgerIndex::Batch::~Batch() = default;
LedgerIndex::Batch::Batch(Batch&&) noexcept = default;
LedgerIndex::Batch& LedgerIndex::Batch::operator=(Batch&&) noexcept = default;

void LedgerIndex::Batch::PutLocation(uint64_t ledger, uint64_t entry, const EntryLocation& loc) {
  ++count_;
  if (!runs_.empty()) {
    auto& [last_ledger, run] = runs_.back();
    if (last_ledger == ledger && run.last_entry() + 1 == entry && run.log_id == loc.log_id &&
        last_run_end_ == loc.offset && run.sizes.size() < kMaxRunEntries) {
      run.sizes.push_back(loc.size);
      last_run_end_ += loc.size;
      return;
    }
  }
  runs_.emplace_back(ledger, EntryRun{entry, loc.log_id, loc.offset, {loc.size}});
  last_run_end_ = loc.offset + loc.size;
}

void LedgerIndex::Batch::PutLedgerInfo(uint64_t ledger, const LedgerInfo& info) {
  batch_->Put(index_->ledgers_cf_, LedgerKey(ledger), EncodeLedgerInfo(info))
      .PermitUncheckedError();
  ++count_;
}

void LedgerIndex::Batch::DeleteLedger(uint64_t ledger) {
  // The runs put before are dropped, and those put after are laid over nothing (PlaceRuns): the
  // range deletion comes first in the batch, their rows after it.
  std::erase_if(runs_, [&](const auto& r) { return r.first == ledger; });
  deleted_.push_back(ledger);
  batch_->Delete(index_->ledgers_cf_, LedgerKey(ledger)).PermitUncheckedError();
  batch_->DeleteRange(index_->entries_cf_, EntryKey(ledger, 0), PastPrefix(ledger))
      .PermitUncheckedError();
  ++count_;
}

void LedgerIndex::Batch::PutLogSummary(uint64_t log, const LogSummary& summary) {
  batch_->Put(index_->logs_cf_, LedgerKey(log), U64Value(summary.total_bytes))
      .PermitUncheckedError();
  ++count_;
}

void LedgerIndex::Batch::PutLogLedgerBytes(uint64_t log, uint64_t ledger, uint64_t bytes) {
  batch_->Put(index_->log_ledgers_cf_, EntryKey(log, ledger), U64Value(bytes))
      .PermitUncheckedError();
  ++count_;
}

void LedgerIndex::Batch::DeleteLogLedger(uint64_t log, uint64_t ledger) {
  batch_->Delete(index_->log_ledgers_cf_, EntryKey(log, ledger)).PermitUncheckedError();
  ++count_;
}

void LedgerIndex::Batch::DeleteLog(uint64_t log) {
  batch_->Delete(index_->logs_cf_, LedgerKey(log)).PermitUncheckedError();
  batch_->DeleteRange(index_->log_ledgers_cf_, EntryKey(log, 0), PastPrefix(log))
      .PermitUncheckedError();
  ++count_;
}

LedgerIndex::Batch LedgerIndex::NewBatch() const {
  Batch b;
  b.index_ = this;
  return b;
}

Status LedgerIndex::PlaceRuns(Batch& batch) {
  // Per ledger, in the order put; std::map for a deterministic order of rows.
  std::map<uint64_t, std::vector<EntryRun>> added;
  for (auto& [ledger, run] : batch.runs_) added[ledger].push_back(std::move(run));
  batch.runs_.clear();
  for (const auto& [ledger, runs] : added) {
    uint64_t from = UINT64_MAX;
    uint64_t to = 0;
    for (const EntryRun& r : runs) {
      from = std::min(from, r.first_entry);
      to = std::max(to, r.last_entry());
    }
    std::vector<EntryRun> existing;
    bool deleted = std::find(batch.deleted_.begin(), batch.deleted_.end(), ledger) !=
                   batch.deleted_.end();
    if (!deleted) {
      QUIRE_ASSIGN_OR_RETURN(existing, RunsOverlapping(ledger, from, to));
    }
    // Rows left as they were are not written again; rows of runs gone are deleted.
    std::map<uint64_t, const EntryRun*> before;
    for (const EntryRun& r : existing) before.emplace(r.first_entry, &r);
    for (const EntryRun& r : OverlayRuns(existing, runs)) {
      auto same = before.find(r.first_entry);
      bool unchanged = same != before.end() && *same->second == r;
      if (same != before.end()) before.erase(same);
      if (unchanged) continue;
      batch.batch_->Put(entries_cf_, EntryKey(ledger, r.first_entry), EncodeEntryRun(r))
          .PermitUncheckedError();
    }
    for (const auto& [first, r] : before) {
      batch.batch_->Delete(entries_cf_, EntryKey(ledger, first)).PermitUncheckedError();
    }
  }
  return Status::Ok();
}

Status LedgerIndex::Write(Batch& batch, bool sync) {
  if (batch.count_ == 0) return Status::Ok();
  MutexLock lock(write_mu_);
  QUIRE_RETURN_IF_ERROR(PlaceRuns(batch));
  if (needs_resume_) {
    // After a failed write on a full disk RocksDB refuses every write until it is resumed; once
    // space is back, Resume() clears the error (it fails again while the disk is still full).
    QUIRE_RETURN_IF_ERROR(FromRocks(db_->Resume(), "resuming index " + path_));
    needs_resume_ = false;
  }
  rocksdb::WriteOptions w;
  w.sync = sync;
  Status s = FromRocks(db_->Write(w, batch.batch_.get()), "writing index " + path_);
  if (!s.ok()) needs_resume_ = true;
  return s;
}

Status LedgerIndex::CompactAll() {
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (auto* cf : {entries_cf_, ledgers_cf_, logs_cf_, log_ledgers_cf_}) {
    if (cf == nullptr) continue;
    QUIRE_RETURN_IF_ERROR(
        FromRocks(db_->CompactRange(o, cf, nullptr, nullptr), "compacting index " + path_));
  }
  return Status::Ok();
}

Status LedgerIndex::ForEachLedger(
    const std::function<bool(uint64_t, const LedgerInfo&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), ledgers_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return Corruption(fmt::format("index {}: bad ledger key", path_));
    uint64_t ledger = DecodeBigEndian64(it->key().data());
    QUIRE_ASSIGN_OR_RETURN(
        LedgerInfo info,
        DecodeLedgerInfo(it->value().ToStringView(), fmt::format("index {} ledger {}", path_, ledger)));
    if (!fn(ledger, info)) break;
  }
  return FromRocks(it->status(), "index " + path_);
}

Result<uint64_t> LedgerIndex::CountLedgers() const {
  rocksdb::ReadOptions options;
  options.fill_cache = false;  // a scrape must not push the lookups' blocks out of the cache
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, ledgers_cf_));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  QUIRE_RETURN_IF_ERROR(FromRocks(it->status(), "index " + path_));
  return n;
}

Status LedgerIndex::ForEachEntry(
    uint64_t ledger, const std::function<bool(uint64_t, const EntryLocation&)>& fn) const {
  return VisitEntries(db_.get(), entries_cf_, path_, EntryKey(ledger, 0), ledger,
                      [&](uint64_t, uint64_t entry, const EntryLocation& loc) {
                        return fn(entry, loc);
                      });
}

Status LedgerIndex::ForEachLocation(
    const std::function<bool(uint64_t, uint64_t, const EntryLocation&)>& fn) const {
  return VisitEntries(db_.get(), entries_cf_, path_, {}, std::nullopt, fn);
}

Status LedgerIndex::ForEachLogSummary(
    const std::function<bool(uint64_t, const LogSummary&)>& fn) const {
  if (logs_cf_ == nullptr) return Status::Ok();  // a read-only version 1 index
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), logs_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return Corruption(fmt::format("index {}: bad log key", path_));
    uint64_t log = DecodeBigEndian64(it->key().data());
    QUIRE_ASSIGN_OR_RETURN(
        uint64_t total,
        DecodeU64Value(it->value().ToStringView(), fmt::format("index {} log {}", path_, log)));
    if (!fn(log, LogSummary{total})) break;
  }
  return FromRocks(it->status(), "index " + path_);
}

Status LedgerIndex::ForEachLogLedger(
    const std::function<bool(uint64_t, uint64_t, uint64_t)>& fn) const {
  if (log_ledgers_cf_ == nullptr) return Status::Ok();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), log_ledgers_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 16) {
      return Corruption(fmt::format("index {}: bad log usage key", path_));
    }
    uint64_t log = DecodeBigEndian64(it->key().data());
    uint64_t ledger = DecodeBigEndian64(it->key().data() + 8);
    QUIRE_ASSIGN_OR_RETURN(
        uint64_t bytes,
        DecodeU64Value(it->value().ToStringView(),
                       fmt::format("index {} log {} ledger {}", path_, log, ledger)));
    if (!fn(log, ledger, bytes)) break;
  }
  return FromRocks(it->status(), "index " + path_);
}

}  // namespace quire::storage
