#include "storage/compactor.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/check.h"

namespace quire::storage {

Compactor::Compactor(LedgerDirectory* dir, Mutex* index_writer,
                     std::function<bool(uint64_t)> pace, uint64_t chunk_bytes, size_t io_bytes)
    : dir_(dir),
      index_writer_(index_writer),
      pace_(std::move(pace)),
      chunk_bytes_(chunk_bytes),
      io_bytes_(io_bytes) {}

Compactor::~Compactor() {
  if (out_ && !published_) out_->Abandon().IgnoreError();
}

Status Compactor::Compact(const std::vector<uint64_t>& logs, uint64_t margin,
                          CompactionStats* stats) {
  for (size_t first = 0; first < logs.size(); first += kLogsPerGroup) {
    std::vector<uint64_t> group(logs.begin() + static_cast<std::ptrdiff_t>(first),
                                logs.begin() + static_cast<std::ptrdiff_t>(
                                                   std::min(logs.size(), first + kLogsPerGroup)));
    QUIRE_ASSIGN_OR_RETURN(std::optional<LiveRanges> live, FindLiveRanges(group));
    for (uint64_t log : group) {
      uint64_t live_bytes = 0;
      for (const auto& [ledger, bytes] : dir_->usage()->LedgersIn(log)) live_bytes += bytes;
      auto space = dir_->fs()->Space(dir_->directory());
      if (space.ok() && space->available_bytes < live_bytes + margin) {
        spdlog::info("compaction of {}: skipped, {} bytes free for {} live bytes",
                     dir_->entry_logger()->LogPath(log), space->available_bytes, live_bytes);
        continue;
      }
      bool stopped = false;
      const std::vector<ByteRange>* ranges = nullptr;
      if (live) ranges = &(*live)[log];
      Status result = CompactOne(log, ranges, stats, &stopped);
      if (!result.ok()) {
        // After a failed write or sync the new log is not written again: what was switched into
        // it stays, the rest is dropped (with its file, if nothing was switched yet).
        WaitSwitches().IgnoreError();
        MergeSwitched(stats);
        pending_.clear();
        pending_bytes_ = 0;
        if (out_ && !published_) out_->Abandon().IgnoreError();
        out_.reset();
        return result;
      }
      if (stopped) break;
    }
  }
  Status finished = FinishOutput(stats);
  MergeSwitched(stats);
  return finished;
}

void Compactor::MergeSwitched(CompactionStats* stats) {
  MutexLock lock(switch_mu_);
  stats->entries_moved += switched_.entries_moved;
  stats->bytes_moved += switched_.bytes_moved;
  stats->logs_compacted += switched_.logs_compacted;
  stats->bytes_deleted += switched_.bytes_deleted;
  switched_ = {};
}

Result<std::optional<Compactor::LiveRanges>> Compactor::FindLiveRanges(
    const std::vector<uint64_t>& logs) {
  std::unordered_set<uint64_t> wanted(logs.begin(), logs.end());
  std::set<uint64_t> ledgers;
  for (uint64_t log : logs) {
    for (const auto& [ledger, bytes] : dir_->usage()->LedgersIn(log)) ledgers.insert(ledger);
  }
  LiveRanges live;
  size_t runs = 0;
  looked_up_ = dir_->flush_generation();  // before the walk: a flush during it counts
  for (uint64_t ledger : ledgers) {
    // A ledger's entries come in entry order, which within one log is the order they were
    // written in: consecutive ones are adjacent and make one run.
    QUIRE_RETURN_IF_ERROR(dir_->index()->ForEachEntry(
        ledger, [&](uint64_t, const EntryLocation& loc) {
          if (wanted.count(loc.log_id) == 0) return true;
          std::vector<ByteRange>& v = live[loc.log_id];
          if (!v.empty() && v.back().end == loc.offset) {
            v.back().end += loc.size;
          } else {
            v.push_back({loc.offset, loc.offset + loc.size});
            ++runs;
          }
          return runs < kMaxRuns;
        }));
    if (runs >= kMaxRuns) return std::optional<LiveRanges>();  // too scattered: scan instead
  }
  for (auto& [log, v] : live) {
    std::sort(v.begin(), v.end(), [](const ByteRange& a, const ByteRange& b) {
      return a.begin < b.begin;
    });
    std::vector<ByteRange> merged;
    for (const ByteRange& r : v) {
      if (!merged.empty() && merged.back().end == r.begin) {
        merged.back().end = r.end;
      } else {
        merged.push_back(r);
      }
    }
    v = std::move(merged);
  }
  return std::optional<LiveRanges>(std::move(live));
}

Status Compactor::CompactOne(uint64_t log, const std::vector<ByteRange>* ranges,
                             CompactionStats* stats, bool* stopped) {
  EntryLogger* logger = dir_->entry_logger();
  QUIRE_CHECK(!logger->Unsettled(log));
  std::string path = logger->LogPath(log);
  Status scanned;
  if (ranges != nullptr) {
    // The records the index pointed at, and only they, are read and copied.
    scanned = ScanEntryLogRanges(dir_->fs(), path, *ranges,
                                 [&](const EntryLogRecord& r, uint64_t offset) {
                                   stats->bytes_scanned += r.size;
                                   return Copy(log, r.ledger_id, r.entry_id, offset, r.size,
                                               r.payload, stats, stopped);
                                 },
                                 io_bytes_);
  } else {
    // The whole log is read. Records of ledgers its usage no longer counts (deleted ones) are
    // skipped at once; the others are staged, and copied if the index points at them (one
    // batched lookup per stage: a record written again later, a duplicate, is not copied).
    std::unordered_set<uint64_t> held;
    for (const auto& [ledger, bytes] : dir_->usage()->LedgersIn(log)) held.insert(ledger);
    scanned = ScanEntryLog(dir_->fs(), path, [&](const EntryLogRecord& r,
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
  }
  if (*stopped) return Switch();  // what is copied is kept; the old log stays
  if (!scanned.ok()) {
    return scanned.WithContext(fmt::format("compacting {}", path));
  }
  QUIRE_RETURN_IF_ERROR(Switch());
  return DropOld(log);
}

Status Compactor::CopyStaged(uint64_t log, CompactionStats* stats, bool* stopped) {
  if (staged_.empty()) return Status::Ok();
  std::vector<std::pair<uint64_t, uint64_t>> keys;
  keys.reserve(staged_.size());
  for (const Staged& r : staged_) keys.emplace_back(r.ledger, r.entry);
  looked_up_ = dir_->flush_generation();
  QUIRE_ASSIGN_OR_RETURN(auto locations, dir_->index()->FindMany(keys));
  for (size_t i = 0; i < staged_.size(); ++i) {
    const Staged& r = staged_[i];
    const std::optional<EntryLocation>& loc = locations[i];
    if (!loc || loc->log_id != log || loc->offset != r.offset) continue;  // dead
    std::string_view payload(staged_bytes_.data() + r.payload_at, r.size - kEntryLogRecordHeader);
    QUIRE_RETURN_IF_ERROR(Copy(log, r.ledger, r.entry, r.offset, r.size, payload, stats, stopped));
  }
  staged_.clear();
  staged_bytes_.clear();
  return Status::Ok();
}

Status Compactor::Copy(uint64_t log, uint64_t ledger, uint64_t entry, uint64_t offset,
                       uint32_t size, std::string_view payload, CompactionStats* stats,
                       bool* stopped) {
  if (!pace_(size)) {
    *stopped = true;
    return Status(StatusCode::kAborted, "compaction stopped (shutdown or suspension)");
  }
  EntryLogger* logger = dir_->entry_logger();
  const uint64_t limit = logger->options().size_limit;
  if (out_ && out_->size() + size > limit && out_->size() > kEntryLogHeaderSize) {
    QUIRE_RETURN_IF_ERROR(FinishOutput(stats));
  }
  if (!out_) {
    QUIRE_ASSIGN_OR_RETURN(out_, logger->CreateCompactionLog(io_bytes_));
    published_ = false;
  }
  uint64_t to = 0;
  QUIRE_RETURN_IF_ERROR(out_->Add(ledger, entry, payload, &to));
  pending_.push_back({ledger, entry, {log, offset, size}, {out_->log_id(), to, size}, looked_up_});
  pending_bytes_ += size;
  if (pending_bytes_ >= chunk_bytes_) QUIRE_RETURN_IF_ERROR(Switch());
  return Status::Ok();
}

Status Compactor::Switch() {
  if (pending_.empty()) return Status::Ok();
  // One switch at a time: the next chunk is copied while this one is switched.
  QUIRE_RETURN_IF_ERROR(WaitSwitches());
  QUIRE_RETURN_IF_ERROR(out_->Commit());
  if (!published_) {
    QUIRE_RETURN_IF_ERROR(dir_->entry_logger()->Publish(out_.get()));
    published_ = true;
  }
  // What ApplySwitch needs is handed over whole; the copies it points at are durable.
  Background([this, moves = std::move(pending_), out_log = out_->log_id(),
              total = out_->committed_end() - kEntryLogHeaderSize] {
    return ApplySwitch(moves, out_log, total);
  });
  pending_.clear();
  pending_bytes_ = 0;
  return Status::Ok();
}

Status Compactor::ApplySwitch(const std::vector<Move>& moves, uint64_t out_log, uint64_t total) {
  LedgerIndex* index = dir_->index();
  EntryLogUsage* usage = dir_->usage();
  // Only a copy of the record the index still points at replaces it: an entry written again
  // since it was looked up keeps its newer location. Only flushes write locations besides
  // compaction (which runs alone), and each bumps the flush generation: locations looked up at
  // the generation that is current under the index-writer lock still hold. They are looked up
  // again outside the lock first (flushes wait for it otherwise), and under it only if a flush
  // came in between.
  auto current = [&](const std::vector<Move>& ms, uint64_t generation) {
    return std::all_of(ms.begin(), ms.end(),
                       [&](const Move& m) { return m.generation == generation; });
  };
  std::vector<std::optional<EntryLocation>> locations;
  auto lookup = [&]() -> Status {
    std::vector<std::pair<uint64_t, uint64_t>> keys;
    keys.reserve(moves.size());
    for (const Move& m : moves) keys.emplace_back(m.ledger, m.entry);
    QUIRE_ASSIGN_OR_RETURN(locations, index->FindMany(keys));
    return Status::Ok();
  };
  uint64_t looked_up = dir_->flush_generation();
  bool unchanged = current(moves, looked_up);
  if (!unchanged) QUIRE_RETURN_IF_ERROR(lookup());
  MutexLock lock(*index_writer_);
  if (dir_->flush_generation() != looked_up) {
    unchanged = false;
    QUIRE_RETURN_IF_ERROR(lookup());
  }
  LedgerIndex::Batch batch = index->NewBatch();
  std::map<uint64_t, uint64_t> into;                            // ledger -> bytes, new log
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> out_of;     // (old log, ledger) -> bytes
  uint64_t moved = 0;
  for (size_t i = 0; i < moves.size(); ++i) {
    const Move& m = moves[i];
    if (!unchanged) {
      const std::optional<EntryLocation>& now = locations[i];
      if (!now || now->log_id != m.from.log_id || now->offset != m.from.offset) continue;
    }
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
  MutexLock stats_lock(switch_mu_);
  switched_.entries_moved += moved;
  for (const auto& [ledger, bytes] : into) switched_.bytes_moved += bytes;
  return Status::Ok();
}

void Compactor::Background(std::function<Status()> step) {
  {
    MutexLock lock(switch_mu_);
    ++in_flight_;
  }
  if (!switcher_) switcher_ = std::make_unique<Executor>("q-gc-switch", 1);
  switcher_->Submit([this, step = std::move(step)] {
    Status s;
    {
      MutexLock lock(switch_mu_);
      s = switch_error_;
    }
    if (s.ok()) s = step();  // after a failure the later steps are skipped
    MutexLock lock(switch_mu_);
    if (switch_error_.ok()) switch_error_ = s;
    --in_flight_;
    switch_cv_.NotifyAll();
  });
}

Status Compactor::WaitSwitches() {
  MutexLock lock(switch_mu_);
  switch_cv_.Wait(switch_mu_, [this]() QUIRE_REQUIRES(switch_mu_) { return in_flight_ == 0; });
  return switch_error_;
}

Status Compactor::FinishOutput(CompactionStats* stats) {
  if (!out_) return WaitSwitches();
  Status s = Switch();
  Status waited = WaitSwitches();
  if (s.ok()) s = waited;
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

Status Compactor::DropOld(uint64_t log) {
  // After the switches of its records (the switcher runs in order).
  Background([this, log] { return ApplyDrop(log); });
  return Status::Ok();
}

Status Compactor::ApplyDrop(uint64_t log) {
  LedgerIndex* index = dir_->index();
  EntryLogUsage* usage = dir_->usage();
  // What the usage still counts in the old log are records the index no longer pointed at when
  // they were looked up (written again elsewhere since): nothing live is left in it.
  std::vector<std::pair<uint64_t, uint64_t>> rest = usage->LedgersIn(log);
  if (!rest.empty()) {
    MutexLock lock(*index_writer_);
    LedgerIndex::Batch batch = index->NewBatch();
    for (const auto& [ledger, bytes] : rest) batch.DeleteLogLedger(log, ledger);
    QUIRE_RETURN_IF_ERROR(index->Write(batch));
    for (const auto& [ledger, bytes] : rest) usage->Subtract(log, ledger, bytes);
  }
  uint64_t size = usage->Total(log) + kEntryLogHeaderSize;
  QUIRE_RETURN_IF_ERROR(dir_->DeleteLog(log, index_writer_));
  MutexLock lock(switch_mu_);
  switched_.logs_compacted += 1;
  switched_.bytes_deleted += size;
  return Status::Ok();
}

}  // namespace quire::storage
