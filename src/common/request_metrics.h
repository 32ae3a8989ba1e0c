// Counts and latencies of requests by operation and outcome: what the bookie exports as
// quire_bookie_requests_total / quire_bookie_request_latency_seconds and the client library as
// quire_client_operations_total / quire_client_operation_latency_seconds, each with the labels
// {operation, status}.
//
//   RequestMetrics m({"add", "read"});
//   m.Record(0, StatusCode::kOk, latency_ns);       // on any thread
//   m.Write(&writer, "x_requests_total", "...", "x_request_latency_seconds", "...");
//
// The counter is the latency histogram's count, so the two never disagree. The status label is
// StatusCodeName ("ok", "no-such-entry", ...). A Histogram takes ~15 KiB and most (operation,
// status) pairs never occur, so a pair's histogram is created when its first request completes.
//
// Thread safety: Record() and Write() may be called from any thread, concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/histogram.h"
#include "common/metrics.h"
#include "quire/status.h"

namespace quire {

class RequestMetrics {
 public:
  // `operations`: the operation label of each operation index. An index past them is recorded
  // as "unknown" (a request whose operation could not be read).
  explicit RequestMetrics(std::vector<std::string> operations);
  ~RequestMetrics();
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;

  // One request of `operation` completed with `status` after `latency_ns`.
  void Record(size_t operation, StatusCode status, uint64_t latency_ns);

  // The counter `counter_name`{operation,status} and the histogram `latency_name`{operation,
  // status} in seconds. The status="ok" series of every named operation is always written (0
  // until one succeeds), so that rates and dashboards have a series before the first request;
  // any other pair appears once it has occurred.
  void Write(MetricsWriter* w, std::string_view counter_name, std::string_view counter_help,
             std::string_view latency_name, std::string_view latency_help) const;

 private:
  // Every value of StatusCode's underlying type, so that no code can index past a row.
  static constexpr size_t kStatuses = 256;
  std::atomic<Histogram*>& Slot(size_t operation, size_t status) const {
    return slots_[operation * kStatuses + status];
  }

  std::vector<std::string> operations_;  // the named ones, then "unknown"
  // [operation][status], null until that pair first occurs; owned.
  std::unique_ptr<std::atomic<Histogram*>[]> slots_;
};

}  // namespace quire
