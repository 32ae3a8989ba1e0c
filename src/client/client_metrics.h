// The client library's metrics, served by the application through Client::MetricsText()
// (docs/client.md, "Metrics"). One per Client, shared by its handles.
//
// Threads: any thread may record and render, concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/request_metrics.h"

namespace quire::client {

struct ClientMetrics {
  // Operation indexes of `operations`.
  static constexpr size_t kAppend = 0;  // AppendAsync to its callback (back-pressure included)
  static constexpr size_t kRead = 1;    // one entry from its replicas (ReadEntryAsync)
  // By operation and status, with their latency.
  RequestMetrics operations{{"append", "read"}};
  std::atomic<uint64_t> ensemble_changes{0};   // writers' metadata updates that replaced bookies
  std::atomic<uint64_t> speculative_reads{0};  // reads also sent to the next replica: one was slow
  std::atomic<uint64_t> bad_copies{0};         // ClientContext::ReportBadCopy calls

  // The Prometheus text exposition of all of them.
  std::string Text() const;
};

}  // namespace quire::client
