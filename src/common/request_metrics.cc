#include "common/request_metrics.h"

#include <algorithm>

namespace quire {

RequestMetrics::RequestMetrics(std::vector<std::string> operations)
    : operations_(std::move(operations)) {
  operations_.emplace_back("unknown");
  slots_ = std::make_unique<std::atomic<Histogram*>[]>(operations_.size() * kStatuses);  // nulls
}

RequestMetrics::~RequestMetrics() {
  for (size_t i = 0; i < operations_.size() * kStatuses; ++i) delete slots_[i].load();
}

void RequestMetrics::Record(size_t operation, StatusCode status, uint64_t latency_ns) {
  operation = std::min(operation, operations_.size() - 1);  // past the named ones: "unknown"
  std::atomic<Histogram*>& slot = Slot(operation, static_cast<size_t>(status));
  Histogram* h = slot.load(std::memory_order_acquire);
  if (h == nullptr) {
    // The first of this pair: two threads may race to create it; the loser's copy is dropped.
    auto fresh = std::make_unique<Histogram>();
    if (slot.compare_exchange_strong(h, fresh.get(), std::memory_order_acq_rel)) {
      h = fresh.release();
    }
  }
  h->Record(latency_ns);
}

void RequestMetrics::Write(MetricsWriter* w, std::string_view counter_name,
                           std::string_view counter_help, std::string_view latency_name,
                           std::string_view latency_help) const {
  const size_t named = operations_.size() - 1;
  for (size_t op = 0; op < operations_.size(); ++op) {
    for (size_t status = 0; status < kStatuses; ++status) {
      const Histogram* h = Slot(op, status).load(std::memory_order_acquire);
      bool always = op < named && status == static_cast<size_t>(StatusCode::kOk);
      if (h == nullptr && !always) continue;
      Histogram::Snapshot snap = h ? h->Take() : Histogram::Snapshot{};
      MetricsWriter::Labels labels{
          {"operation", operations_[op]},
          {"status", std::string(StatusCodeName(static_cast<StatusCode>(status)))}};
      w->Counter(counter_name, counter_help, static_cast<double>(snap.count), labels);
      w->Histogram(latency_name, latency_help, snap, 1e-9, labels);
    }
  }
}

}  // namespace quire
