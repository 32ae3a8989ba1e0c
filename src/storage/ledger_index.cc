#include "storage/ledger_index.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <fmt/format.h>

#include "common/coding.h"

namespace quire::storage {
namespace {

constexpr uint8_t kLocationVersion = 1;
constexpr uint8_t kLedgerInfoVersion = 1;
constexpr size_t kLocationSize = 1 + 8 + 8 + 4;

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

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Corruption(fmt::format("{}: {}", what, s.ToString()));
  return IOError(fmt::format("{}: {}", what, s.ToString()));
}

using EntryVisitor = std::function<bool(uint64_t, uint64_t, const EntryLocation&)>;

// Visits the entries from key `start` on, while `fn` returns true; with `only_ledger`, stops at
// the first entry of another ledger.
Status VisitEntries(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, const std::string& path,
                    const std::string& start, std::optional<uint64_t> only_ledger,
                    const EntryVisitor& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->Seek(start); it->Valid(); it->Next()) {
    if (it->key().size() != 16) return Corruption(fmt::format("index {}: bad entry key", path));
    uint64_t ledger = DecodeBigEndian64(it->key().data());
    if (only_ledger && ledger != *only_ledger) break;
    uint64_t entry = DecodeBigEndian64(it->key().data() + 8);
    QUIRE_ASSIGN_OR_RETURN(
        EntryLocation loc,
        DecodeEntryLocation(it->value().ToStringView(),
                            fmt::format("index {} ledger {} entry {}", path, ledger, entry)));
    if (!fn(ledger, entry, loc)) break;
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

std::string EncodeEntryLocation(const EntryLocation& loc) {
  std::string out;
  out.push_back(static_cast<char>(kLocationVersion));
  PutFixed64(&out, loc.log_id);
  PutFixed64(&out, loc.offset);
  PutFixed32(&out, loc.size);
  return out;
}

Result<EntryLocation> DecodeEntryLocation(std::string_view b, std::string_view what) {
  if (b.size() != kLocationSize || static_cast<uint8_t>(b[0]) != kLocationVersion) {
    return Corruption(fmt::format("{}: bad entry location record ({} bytes)", what, b.size()));
  }
  return EntryLocation{DecodeFixed64(b.data() + 1), DecodeFixed64(b.data() + 9),
                       DecodeFixed32(b.data() + 17)};
}

LedgerIndex::~LedgerIndex() {
  if (db_) {
    for (auto* cf : {default_cf_, entries_cf_, ledgers_cf_}) {
      if (cf != nullptr) db_->DestroyColumnFamilyHandle(cf).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();
  }
}

Result<std::unique_ptr<LedgerIndex>> LedgerIndex::Open(const std::string& path) {
  return OpenWith(path, /*read_only=*/false);
}

Result<std::unique_ptr<LedgerIndex>> LedgerIndex::OpenReadOnly(const std::string& path) {
  return OpenWith(path, /*read_only=*/true);
}

Result<std::unique_ptr<LedgerIndex>> LedgerIndex::OpenWith(const std::string& path,
                                                           bool read_only) {
  rocksdb::Options options;
  options.create_if_missing = !read_only;
  options.create_missing_column_families = !read_only;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 4;
  options.max_manifest_file_size = 64 << 20;

  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions entries_options;
  entries_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  entries_options.write_buffer_size = 64 << 20;

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"entries", entries_options},
      {"ledgers", rocksdb::ColumnFamilyOptions()},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status opened =
      read_only ? rocksdb::DB::OpenForReadOnly(options, path, cfs, &handles, &raw)
                : rocksdb::DB::Open(options, path, cfs, &handles, &raw);
  QUIRE_RETURN_IF_ERROR(FromRocks(opened, "opening index " + path));
  std::unique_ptr<LedgerIndex> index(new LedgerIndex());
  index->path_ = path;
  index->db_.reset(raw);
  index->default_cf_ = handles[0];
  index->entries_cf_ = handles[1];
  index->ledgers_cf_ = handles[2];

  std::string version;
  rocksdb::Status s = raw->Get(rocksdb::ReadOptions(), handles[0], "format", &version);
  if (s.IsNotFound() && read_only) {
    return Corruption(fmt::format("index {}: no format version recorded", path));
  }
  if (s.IsNotFound()) {
    rocksdb::WriteOptions w;
    w.sync = true;
    QUIRE_RETURN_IF_ERROR(FromRocks(
        raw->Put(w, handles[0], "format", std::to_string(kIndexFormatVersion)), "index " + path));
  } else {
    QUIRE_RETURN_IF_ERROR(FromRocks(s, "index " + path));
    if (std::to_string(kIndexFormatVersion) != version) {
      return Status(StatusCode::kUnimplemented,
                    fmt::format("index {}: format version '{}' is not supported (this Quire has {})",
                                path, version, kIndexFormatVersion));
    }
  }
  return index;
}

Result<std::optional<EntryLocation>> LedgerIndex::Find(uint64_t ledger, uint64_t entry) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), entries_cf_, EntryKey(ledger, entry), &value);
  if (s.IsNotFound()) return std::optional<EntryLocation>();
  QUIRE_RETURN_IF_ERROR(FromRocks(s, "index " + path_));
  QUIRE_ASSIGN_OR_RETURN(
      EntryLocation loc,
      DecodeEntryLocation(value, fmt::format("index {} ledger {} entry {}", path_, ledger, entry)));
  return std::optional<EntryLocation>(loc);
}

Result<std::optional<uint64_t>> LedgerIndex::LastEntry(uint64_t ledger) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), entries_cf_));
  it->SeekForPrev(EntryKey(ledger, UINT64_MAX));
  QUIRE_RETURN_IF_ERROR(FromRocks(it->status(), "index " + path_));
  if (!it->Valid() || it->key().size() != 16 ||
      DecodeBigEndian64(it->key().data()) != ledger) {
    return std::optional<uint64_t>();
  }
  return std::optional<uint64_t>(DecodeBigEndian64(it->key().data() + 8));
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
  batch_->Put(index_->entries_cf_, EntryKey(ledger, entry), EncodeEntryLocation(loc))
      .PermitUncheckedError();
  ++count_;
}

void LedgerIndex::Batch::PutLedgerInfo(uint64_t ledger, const LedgerInfo& info) {
  batch_->Put(index_->ledgers_cf_, LedgerKey(ledger), EncodeLedgerInfo(info))
      .PermitUncheckedError();
  ++count_;
}

LedgerIndex::Batch LedgerIndex::NewBatch() const {
  Batch b;
  b.index_ = this;
  return b;
}

Status LedgerIndex::Write(Batch& batch) {
  if (batch.count_ == 0) return Status::Ok();
  rocksdb::WriteOptions w;
  w.sync = true;
  return FromRocks(db_->Write(w, batch.batch_.get()), "writing index " + path_);
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

}  // namespace quire::storage
