// Renders metrics in the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/), for the bookie's GET /metrics.
//
// A writer is filled once per scrape and then rendered: the caller reads its counters, gauges and
// histogram snapshots and hands them over; nothing here is registered or kept between scrapes.
//
//   MetricsWriter w;
//   w.Counter("quire_journal_syncs_total", "fdatasync calls of the journal", syncs, {{"dir", d}});
//   w.Histogram("quire_add_latency_seconds", "add request latency", hist.Take(), 1e-9);
//   std::string body = w.Text();
//
// Samples of one metric name are kept together under a single # HELP / # TYPE pair, whatever the
// order of the calls, because the format requires each metric family to be one group. Names and
// label names are the caller's constants, so an invalid one is a bug and aborts; label values are
// data and are escaped. Not thread-safe: one writer per scrape.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace quire {

class MetricsWriter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Exported bucket bounds, in seconds, for latencies: 50us .. 10s.
  static constexpr double kLatencySecondsBounds[] = {50e-6,  100e-6, 250e-6, 500e-6, 1e-3,   2.5e-3,
                                                     5e-3,   10e-3,  25e-3,  50e-3,  100e-3, 250e-3,
                                                     500e-3, 1.0,    2.5,    5.0,    10.0};

  // A monotonically increasing value. Prometheus convention: the name ends in "_total".
  void Counter(std::string_view name, std::string_view help, double value,
               const Labels& labels = {});
  // A value that goes up and down.
  void Gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});

  // A histogram: cumulative name_bucket{le="..."} for each of `bounds` and "+Inf", then name_sum
  // and name_count. Snapshot values are multiplied by `scale` to get the exported unit (1e-9 for
  // nanoseconds to seconds); `bounds` are in the exported unit and strictly increasing.
  //
  // Precision: a snapshot bucket counts toward le=b only when its whole range is <= b, so a
  // cumulative count never includes a value above b, but misses the values of the one snapshot
  // bucket that straddles b (values less than ~3%, one sub-bucket, below b); they appear from the
  // next bound on. name_sum and name_count are exact.
  void Histogram(std::string_view name, std::string_view help,
                 const ::quire::Histogram::Snapshot& snap, double scale, const Labels& labels = {},
                 std::span<const double> bounds = kLatencySecondsBounds);

  // A histogram of values the caller holds one by one (e.g. a fraction per file), exact at every
  // bound: a value v counts toward every le=b with v <= b. `bounds` as above.
  void Histogram(std::string_view name, std::string_view help, std::span<const double> values,
                 std::span<const double> bounds, const Labels& labels = {});

  // The exposition text: every family in the order of its first sample, each ending in '\n'.
  std::string Text() const;

 private:
  struct Family {
    std::string help;
    std::string_view type;  // "counter", "gauge" or "histogram"
    std::string samples;    // rendered sample lines
  };
  // Aborts unless `bounds` are finite, >= 0 and strictly increasing.
  static void CheckBounds(std::string_view name, std::span<const double> bounds);
  // The _bucket (cumulative), _sum and _count samples from counts per bound (`per_bound` has one
  // more slot, for values above every bound).
  void AppendHistogram(std::string_view name, std::string_view help, std::span<const double> bounds,
                       const std::vector<uint64_t>& per_bound, double sum, const Labels& labels);
  // The family of `name`, created on first use; a second type for one name is a bug and aborts.
  Family& FamilyFor(std::string_view name, std::string_view help, std::string_view type);

  std::vector<std::pair<std::string, Family>> families_;  // in order of first use
  std::unordered_map<std::string, size_t> index_;         // name -> position in families_
};

}  // namespace quire
