#include "client/client_metrics.h"

#include "common/metrics.h"

namespace quire::client {

std::string ClientMetrics::Text() const {
  MetricsWriter w;
  operations.Write(&w, "quire_client_operations_total",
                   "Appends and entry reads completed, by operation and status",
                   "quire_client_operation_latency_seconds",
                   "Appends (from the call to the callback) and entry reads (from the first "
                   "request to the answer), by operation and status");
  w.Counter("quire_client_ensemble_changes_total",
            "Ensemble changes: metadata updates that replaced failed bookies of a writer",
            static_cast<double>(ensemble_changes.load(std::memory_order_relaxed)));
  w.Counter("quire_client_speculative_reads_total",
            "Entry reads also sent to the next replica because the previous one was slow",
            static_cast<double>(speculative_reads.load(std::memory_order_relaxed)));
  w.Counter("quire_client_bad_copies_total",
            "Bad copies reads found: a digest mismatch, another entry than asked for, or the "
            "bookie's own CORRUPTION answer",
            static_cast<double>(bad_copies.load(std::memory_order_relaxed)));
  return w.Text();
}

}  // namespace quire::client
