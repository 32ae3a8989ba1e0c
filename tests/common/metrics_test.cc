#include "common/metrics.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace quire {
namespace {

// The cumulative bucket counts of a rendered histogram, by their le label text.
std::map<std::string, uint64_t> BucketCounts(const std::string& text, const std::string& name) {
  std::map<std::string, uint64_t> out;
  std::istringstream in(text);
  const std::string prefix = name + "_bucket{le=\"";
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(prefix)) continue;
    size_t end = line.find("\"} ", prefix.size());
    out[line.substr(prefix.size(), end - prefix.size())] = std::stoull(line.substr(end + 3));
  }
  return out;
}

// The value of the sample line that starts with `series` followed by a space.
std::string SampleValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series + " ")) return line.substr(series.size() + 1);
  }
  return "<missing>";
}

TEST(MetricsWriterTest, CountersAndGaugesWithoutLabels) {
  MetricsWriter w;
  w.Counter("quire_adds_total", "Entries added.", 42);
  w.Gauge("quire_writable", "1 when the bookie accepts writes.", 0);
  w.Gauge("quire:ratio", "A fraction.", 0.25);
  EXPECT_EQ(w.Text(),
            "# HELP quire_adds_total Entries added.\n"
            "# TYPE quire_adds_total counter\n"
            "quire_adds_total 42\n"
            "# HELP quire_writable 1 when the bookie accepts writes.\n"
            "# TYPE quire_writable gauge\n"
            "quire_writable 0\n"
            "# HELP quire:ratio A fraction.\n"
            "# TYPE quire:ratio gauge\n"
            "quire:ratio 0.25\n");
}

TEST(MetricsWriterTest, SpecialValuesUseGoFloatSyntax) {
  MetricsWriter w;
  w.Gauge("g", "h", std::numeric_limits<double>::infinity(), {{"k", "a"}});
  w.Gauge("g", "h", -std::numeric_limits<double>::infinity(), {{"k", "b"}});
  w.Gauge("g", "h", std::numeric_limits<double>::quiet_NaN(), {{"k", "c"}});
  w.Gauge("g", "h", 1e21, {{"k", "d"}});
  w.Gauge("g", "h", 12345678, {{"k", "e"}});
  EXPECT_EQ(w.Text(),
            "# HELP g h\n# TYPE g gauge\n"
            "g{k=\"a\"} +Inf\n"
            "g{k=\"b\"} -Inf\n"
            "g{k=\"c\"} NaN\n"
            "g{k=\"d\"} 1e+21\n"
            "g{k=\"e\"} 12345678\n");
}

TEST(MetricsWriterTest, HelpAndTypeOncePerNameAndFamiliesStayGrouped) {
  MetricsWriter w;
  w.Counter("quire_reads_total", "Reads.", 1, {{"dir", "/d0"}});
  w.Gauge("quire_open_ledgers", "Open ledgers.", 3);
  w.Counter("quire_reads_total", "Reads.", 2, {{"dir", "/d1"}});
  EXPECT_EQ(w.Text(),
            "# HELP quire_reads_total Reads.\n"
            "# TYPE quire_reads_total counter\n"
            "quire_reads_total{dir=\"/d0\"} 1\n"
            "quire_reads_total{dir=\"/d1\"} 2\n"
            "# HELP quire_open_ledgers Open ledgers.\n"
            "# TYPE quire_open_ledgers gauge\n"
            "quire_open_ledgers 3\n");
}

TEST(MetricsWriterTest, LabelValuesAndHelpAreEscaped) {
  MetricsWriter w;
  w.Counter("c_total", "A \\ help\nwith \"quotes\".", 7,
            {{"path", "C:\\dir"}, {"msg", "say \"hi\"\nbye"}});
  EXPECT_EQ(w.Text(),
            "# HELP c_total A \\\\ help\\nwith \"quotes\".\n"
            "# TYPE c_total counter\n"
            "c_total{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\"} 7\n");
}

TEST(MetricsWriterTest, HistogramWithExactBounds) {
  // Scale 1 and bounds below 32, where every snapshot bucket holds one value: exact counts.
  // 100 is in the bucket [100, 101], which is not within le=100: it only reaches +Inf.
  Histogram h;
  for (uint64_t v : {0, 0, 31, 32, 100}) h.Record(v);
  const double bounds[] = {0, 31, 100};
  MetricsWriter w;
  w.Histogram("entry_bytes", "Entry sizes.", h.Take(), 1.0, {{"ledger", "7"}}, bounds);
  EXPECT_EQ(w.Text(),
            "# HELP entry_bytes Entry sizes.\n"
            "# TYPE entry_bytes histogram\n"
            "entry_bytes_bucket{ledger=\"7\",le=\"0\"} 2\n"
            "entry_bytes_bucket{ledger=\"7\",le=\"31\"} 3\n"
            "entry_bytes_bucket{ledger=\"7\",le=\"100\"} 4\n"
            "entry_bytes_bucket{ledger=\"7\",le=\"+Inf\"} 5\n"
            "entry_bytes_sum{ledger=\"7\"} 163\n"
            "entry_bytes_count{ledger=\"7\"} 5\n");
}

TEST(MetricsWriterTest, LatencyHistogramInSecondsAgainstHandComputedBuckets) {
  // Bucket upper bounds worked out by hand from the log-linear layout (32 sub-buckets per power
  // of two; a value v >= 32 with top bit m has width 2^(m-5)):
  //   30'000 ns    -> [29'696, 30'207]          fits le=5e-05
  //   50'000 ns    -> [49'152, 50'175]          straddles 50us: first counted at le=0.0001
  //   120'000 ns   -> [118'784, 120'831]        fits le=0.00025
  //   1'000'000 ns -> [999'424, 1'015'807]      straddles 1ms: first counted at le=0.0025
  //   2'000'000 ns -> [1'998'848, 2'031'615]    fits le=0.0025
  //   20 s         -> above every bound: +Inf only
  Histogram h;
  for (uint64_t v :
       {30'000ULL, 50'000ULL, 120'000ULL, 1'000'000ULL, 2'000'000ULL, 20'000'000'000ULL}) {
    h.Record(v);
  }
  MetricsWriter w;
  w.Histogram("lat_seconds", "Latency.", h.Take(), 1e-9);
  std::string text = w.Text();
  std::map<std::string, uint64_t> expected = {
      {"5e-05", 1}, {"0.0001", 2}, {"0.00025", 3}, {"0.0005", 3}, {"0.001", 3}, {"0.0025", 5},
      {"0.005", 5}, {"0.01", 5},   {"0.025", 5},   {"0.05", 5},   {"0.1", 5},   {"0.25", 5},
      {"0.5", 5},   {"1", 5},      {"2.5", 5},     {"5", 5},      {"10", 5},    {"+Inf", 6}};
  EXPECT_EQ(BucketCounts(text, "lat_seconds"), expected);
  EXPECT_EQ(SampleValue(text, "lat_seconds_count"), "6");
  EXPECT_DOUBLE_EQ(std::stod(SampleValue(text, "lat_seconds_sum")), 20.0032);
  EXPECT_EQ(text.find("# TYPE lat_seconds histogram\n"), text.find("# TYPE"));
  // The le order is the bounds' order, +Inf last.
  EXPECT_LT(text.find("le=\"5e-05\""), text.find("le=\"0.0001\""));
  EXPECT_LT(text.find("le=\"10\""), text.find("le=\"+Inf\""));
}

TEST(MetricsWriterTest, HistogramNeverOverCountsAndMissesOnlyTheStraddlingBucket) {
  // For every bound b: (values <= b*31/32) <= cumulative(le=b) <= (values <= b).
  Histogram h;
  std::vector<uint64_t> values;
  for (uint64_t v = 1; v < 20'000'000'000ULL; v = v * 13 / 10 + 7) values.push_back(v);
  for (uint64_t v : values) h.Record(v);
  MetricsWriter w;
  w.Histogram("x", "x", h.Take(), 1e-9);
  std::map<std::string, uint64_t> counts = BucketCounts(w.Text(), "x");
  for (double b : MetricsWriter::kLatencySecondsBounds) {
    uint64_t at_most_b = 0, well_below_b = 0;
    for (uint64_t v : values) {
      double s = static_cast<double>(v) * 1e-9;
      at_most_b += s <= b ? 1 : 0;
      well_below_b += s <= b * 31 / 32 ? 1 : 0;
    }
    uint64_t got = counts.at(fmt::format("{}", b));
    EXPECT_LE(got, at_most_b) << "le=" << b;
    EXPECT_GE(got, well_below_b) << "le=" << b;
  }
  EXPECT_EQ(counts.at("+Inf"), values.size());
}

TEST(MetricsWriterTest, HistogramOfValuesCountsEachValueAtEveryBoundItIsWithin) {
  // Exact at the bounds, unlike a snapshot: 0.1 is within le=0.1 and 1.0 within le=1.
  const double values[] = {0.0, 0.1, 0.15, 0.5, 1.0, 2.5};
  const double bounds[] = {0.1, 0.5, 1.0};
  MetricsWriter w;
  w.Histogram("live_fraction", "Live.", values, bounds, {{"dir", "0"}});
  EXPECT_EQ(w.Text(),
            "# HELP live_fraction Live.\n"
            "# TYPE live_fraction histogram\n"
            "live_fraction_bucket{dir=\"0\",le=\"0.1\"} 2\n"
            "live_fraction_bucket{dir=\"0\",le=\"0.5\"} 4\n"
            "live_fraction_bucket{dir=\"0\",le=\"1\"} 5\n"
            "live_fraction_bucket{dir=\"0\",le=\"+Inf\"} 6\n"
            "live_fraction_sum{dir=\"0\"} 4.25\n"
            "live_fraction_count{dir=\"0\"} 6\n");
}

TEST(MetricsWriterTest, EmptyHistogramHasZeroBuckets) {
  MetricsWriter w;
  w.Histogram("e", "Empty.", Histogram::Snapshot{}, 1e-9, {}, std::span<const double>{});
  EXPECT_EQ(w.Text(),
            "# HELP e Empty.\n# TYPE e histogram\n"
            "e_bucket{le=\"+Inf\"} 0\ne_sum 0\ne_count 0\n");
}

TEST(MetricsWriterDeathTest, InvalidNamesAndTypeConflictsAreBugs) {
  EXPECT_DEATH(MetricsWriter().Counter("1abc", "h", 1), "invalid metric name '1abc'");
  EXPECT_DEATH(MetricsWriter().Counter("a-b", "h", 1), "invalid metric name");
  EXPECT_DEATH(MetricsWriter().Counter("ok", "h", 1, {{"bad:label", "v"}}), "label name");
  EXPECT_DEATH(MetricsWriter().Counter("ok", "h", 1, {{"__reserved", "v"}}), "label name");
  EXPECT_DEATH(MetricsWriter().Histogram("h", "h", Histogram::Snapshot{}, 1, {{"le", "1"}}),
               "label name 'le'");
  EXPECT_DEATH(
      {
        MetricsWriter w;
        w.Counter("m", "h", 1);
        w.Gauge("m", "h", 1);
      },
      "written as both counter and gauge");
}

}  // namespace
}  // namespace quire
