#include "storage/entry_log_usage.h"

namespace quire::storage {

void EntryLogUsage::Add(uint64_t log, uint64_t ledger, uint64_t bytes) {
  MutexLock lock(mu_);
  logs_[log].ledgers[ledger] += bytes;
}

void EntryLogUsage::Subtract(uint64_t log, uint64_t ledger, uint64_t bytes) {
  MutexLock lock(mu_);
  auto it = logs_.find(log);
  if (it == logs_.end()) return;
  auto l = it->second.ledgers.find(ledger);
  if (l == it->second.ledgers.end()) return;
  if (l->second <= bytes) {
    it->second.ledgers.erase(l);
  } else {
    l->second -= bytes;
  }
}

void EntryLogUsage::SetTotal(uint64_t log, uint64_t total_bytes) {
  MutexLock lock(mu_);
  logs_[log].total = total_bytes;
}

void EntryLogUsage::RemoveLedger(uint64_t ledger) {
  MutexLock lock(mu_);
  for (auto& [id, log] : logs_) log.ledgers.erase(ledger);
}

void EntryLogUsage::RemoveLog(uint64_t log) {
  MutexLock lock(mu_);
  logs_.erase(log);
}

uint64_t EntryLogUsage::Bytes(uint64_t log, uint64_t ledger) const {
  MutexLock lock(mu_);
  auto it = logs_.find(log);
  if (it == logs_.end()) return 0;
  auto l = it->second.ledgers.find(ledger);
  return l == it->second.ledgers.end() ? 0 : l->second;
}

uint64_t EntryLogUsage::Total(uint64_t log) const {
  MutexLock lock(mu_);
  auto it = logs_.find(log);
  return it == logs_.end() ? 0 : it->second.total;
}

std::vector<uint64_t> EntryLogUsage::LogsOf(uint64_t ledger) const {
  MutexLock lock(mu_);
  std::vector<uint64_t> out;
  for (const auto& [id, log] : logs_) {
    if (log.ledgers.count(ledger) > 0) out.push_back(id);
  }
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> EntryLogUsage::LedgersIn(uint64_t log) const {
  MutexLock lock(mu_);
  auto it = logs_.find(log);
  if (it == logs_.end()) return {};
  return {it->second.ledgers.begin(), it->second.ledgers.end()};
}

bool EntryLogUsage::Known(uint64_t log) const {
  MutexLock lock(mu_);
  return logs_.count(log) > 0;
}

std::vector<LogUsage> EntryLogUsage::Logs() const {
  MutexLock lock(mu_);
  std::vector<LogUsage> out;
  out.reserve(logs_.size());
  for (const auto& [id, log] : logs_) {
    LogUsage u{id, log.total, 0};
    for (const auto& [ledger, bytes] : log.ledgers) u.live_bytes += bytes;
    out.push_back(u);
  }
  return out;
}

}  // namespace quire::storage
