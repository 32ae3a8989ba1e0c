#include "storage/compactor.h"

#include <map>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/check.h"

namespace quire::storage {

Compactor::Compactor(LedgerDirectory* dir, std::mutex* index_writer,
                     std::function<bool(uint64_t)> pace, uint64_t chunk_bytes)
    : dir_(dir), index_writer_(index_writer), pace_(std::move(pace)), chunk_bytes_(chunk_bytes) {}

Compactor::~Compactor() {
  if (out_ && !published_) out_->Abandon().IgnoreError();
}

Status Compactor::Compact(const std::vector<uint64_t>& logs, uint64_t margin,
                          CompactionStats* stats) {

  Status result;
  for (uint64_t log : logs) {
    uint64_t live = 0;
    for (const auto& [ledger, bytes] : dir_->usage()->LedgersIn(log)) live += bytes;
    auto space = dir_->fs()->Space(dir_->directory());
    if (space.ok() && space->available_bytes < live + margin) {
      spdlog::info("compaction of {}: skipped, {} bytes free for {} live bytes",
                 dir_->entry_logger()->LogPath(log), space->available_bytes, live);
      continue;
    }
    bool stopped = false;
    result = CompactOne(log, stats, &stopped);
    if (!result.ok()) {
      // After a failed write or sync the new log is not written again: what was switched into it
      // stays, the rest is dropped (with its file, if nothing was switched yet).
      pending_.clear();
      pending_bytes_ = 0;
      if (out_ && !published_) out_->Abandon().IgnoreError();
      out_.reset();
      return result;
    }
    if (stopped) break;
  }
  return FinishOutput(stats);
}

Status Compactor::CompactOne(uint64_t log, CompactionStats* stats, bool* stopped) {
  EntryLogger* logger = dir_->entry_logger();
  QUIRE_CHECK(log != logger->current_log_id());
  std::string path = logger->LogPath(log);
  // Records of ledgers the log's usage no longer counts (deleted ones) are skipped at once; the
  // others are staged, and copied if the index points at them (one batched lookup per stage: a
  // record written again later, a duplicate, is not copied).
  std::unordered_set<uint64_t> held;
  for (const auto& [ledger, bytes] : dir_->usage()->LedgersIn(log)) held.insert(ledger);
  Status scanned = ScanEntryLog(dir_->fs(), path, [&](const EntryLogRecord& r,
                                                      uint64_t offset) -> Status {
    stats->bytes_scanned += r.size;
    if (held.count(r.ledger_id) == 0) return Status::Ok();
    staged_.push_back({r.ledger_id, r.entry_id, offset, r.size, staged_bytes_.size()});
    staged_bytes_.append(r.payload);
    if (staged_.size() >= kStageRecords || staged_bytes_.size() >= kStageBytes) {
      return CopyStaged(log, stats, stopped);
    }
    return Status::Ok();
  }, /*prefetch=*/true);
  if (scanned.ok()) scanned = CopyStaged(log, stats, stopped);
  staged_.clear();
  staged_bytes_.clear();
  if (*stopped) return Switch(stats);  // what is copied is kept; the old log stays
  if (!scanned.ok()) {
    return scanned.WithContext(fmt::format("compacting {}", path));
  }
  QUIRE_RETURN_IF_ERROR(Switch(stats));
  return DropOld(log, stats);
}

Status Compactor::CopyStaged(uint64_t log, CompactionStats* stats, bool* stopped) {
  if (staged_.empty()) return Status::Ok();
  std::vector<std::pair<uint64_t, uint64_t>> keys;
  keys.reserve(staged_.size());
  for (const Staged& r : staged_) keys.emplace_back(r.ledger, r.entry);
  QUIRE_ASSIGN_OR_RETURN(auto locations, dir_->index()->FindMany(keys));
  EntryLogger* logger = dir_->entry_logger();
  const uint64_t limit = logger->options().size_limit;
  for (size_t i = 0; i < staged_.size(); ++i) {
    const Staged& r = staged_[i];
    const std::optional<EntryLocation>& loc = locations[i];
    if (!loc || loc->log_id != log || loc->offset != r.offset) continue;  // dead
    if (!pace_(r.size)) {
      *stopped = true;
      return Status(StatusCode::kAborted, "garbage collection is stopping");
    }
    if (out_ && out_->size() + r.size > limit && out_->size() > kEntryLogHeaderSize) {
      QUIRE_RETURN_IF_ERROR(FinishOutput(stats));
    }
    if (!out_) {
      QUIRE_ASSIGN_OR_RETURN(out_, logger->CreateCompactionLog());
      published_ = false;
    }
    std::string_view payload(staged_bytes_.data() + r.payload_at, r.size - kEntryLogRecordHeader);
    uint64_t to = 0;
    QUIRE_RETURN_IF_ERROR(out_->Add(r.ledger, r.entry, payload, &to));
    pending_.push_back({r.ledger, r.entry, {log, r.offset, r.size}, {out_->log_id(), to, r.size}});
    pending_bytes_ += r.size;
    if (pending_bytes_ >= chunk_bytes_) QUIRE_RETURN_IF_ERROR(Switch(stats));
  }
  staged_.clear();
  staged_bytes_.clear();
  return Status::Ok();
}

Status Compactor::Switch(CompactionStats* stats) {
  if (pending_.empty()) return Status::Ok();
  QUIRE_RETURN_IF_ERROR(out_->Commit());
  if (!published_) {
    QUIRE_RETURN_IF_ERROR(dir_->entry_logger()->Publish(out_.get()));
    published_ = true;
  }
  LedgerIndex* index = dir_->index();
  EntryLogUsage* usage = dir_->usage();
  const uint64_t out_log = out_->log_id();
  const uint64_t total = out_->committed_end() - kEntryLogHeaderSize;
  std::lock_guard<std::mutex> lock(*index_writer_);
  LedgerIndex::Batch batch = index->NewBatch();
  std::map<uint64_t, uint64_t> into;                            // ledger -> bytes, new log
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> out_of;     // (old log, ledger) -> bytes
  uint64_t moved = 0;
  std::vector<std::pair<uint64_t, uint64_t>> keys;
  keys.reserve(pending_.size());
  for (const Move& m : pending_) keys.emplace_back(m.ledger, m.entry);
  QUIRE_ASSIGN_OR_RETURN(auto locations, index->FindMany(keys));
  for (size_t i = 0; i < pending_.size(); ++i) {
    const Move& m = pending_[i];
    const std::optional<EntryLocation>& now = locations[i];
    // Only a copy of the record the index still points at replaces it: an entry written again
    // since it was staged keeps its newer location.
    if (!now || now->log_id != m.from.log_id || now->offset != m.from.offset) continue;
    batch.PutLocation(m.ledger, m.entry, m.to);
    into[m.ledger] += m.to.size;
    out_of[{m.from.log_id, m.ledger}] += m.from.size;
    ++moved;
  }
  for (const auto& [ledger, bytes] : into) {
    batch.PutLogLedgerBytes(out_log, ledger, usage->Bytes(out_log, ledger) + bytes);
  }
  for (const auto& [key, bytes] : out_of) {
    uint64_t had = usage->Bytes(key.first, key.second);
    if (had > bytes) {
      batch.PutLogLedgerBytes(key.first, key.second, had - bytes);
    } else {
      batch.DeleteLogLedger(key.first, key.second);
    }
  }
  batch.PutLogSummary(out_log, {total});
  QUIRE_RETURN_IF_ERROR(index->Write(batch));
  for (const auto& [ledger, bytes] : into) usage->Add(out_log, ledger, bytes);
  for (const auto& [key, bytes] : out_of) usage->Subtract(key.first, key.second, bytes);
  usage->SetTotal(out_log, total);
  stats->entries_moved += moved;
  for (const auto& [ledger, bytes] : into) stats->bytes_moved += bytes;
  pending_.clear();
  pending_bytes_ = 0;
  return Status::Ok();
}

Status Compactor::FinishOutput(CompactionStats* stats) {
  if (!out_) return Status::Ok();
  Status s = Switch(stats);
  if (!published_) {
    // Nothing was copied into it (or the first switch failed before publishing): it goes.
    Status a = out_->Abandon();
    if (s.ok()) s = a;
  } else {
    stats->bytes_written += out_->committed_end();
  }
  out_.reset();
  published_ = false;
  return s;
}

Status Compactor::DropOld(uint64_t log, CompactionStats* stats) {
  LedgerIndex* index = dir_->index();
  EntryLogUsage* usage = dir_->usage();
  // What the usage still counts in the old log are records the index no longer pointed at when
  // the scan reached them (written again elsewhere since): nothing live is left in it.
  std::vector<std::pair<uint64_t, uint64_t>> rest = usage->LedgersIn(log);
  if (!rest.empty()) {
    std::lock_guard<std::mutex> lock(*index_writer_);
    LedgerIndex::Batch batch = index->NewBatch();
    for (const auto& [ledger, bytes] : rest) batch.DeleteLogLedger(log, ledger);
    QUIRE_RETURN_IF_ERROR(index->Write(batch));
    for (const auto& [ledger, bytes] : rest) usage->Subtract(log, ledger, bytes);
  }
  uint64_t size = usage->Total(log) + kEntryLogHeaderSize;
  QUIRE_RETURN_IF_ERROR(dir_->DeleteLog(log, index_writer_));
  stats->logs_compacted += 1;
  stats->bytes_deleted += size;
  return Status::Ok();
}

}  // namespace quire::storage
