#include "storage/entry_runs.h"

#include <iterator>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "common/check.h"
#include "common/coding.h"

namespace quire::storage {
namespace {

constexpr uint8_t kSingleVersion = 1;  // index formats 1 and 2
constexpr uint8_t kRunVersion = 2;
constexpr size_t kSingleSize = 1 + 8 + 8 + 4;
constexpr size_t kRunHeaderSize = 1 + 8 + 8 + 4;

}  // namespace

EntryLocation EntryRun::At(uint64_t entry) const {
  QUIRE_CHECK(Holds(entry));
  size_t i = entry - first_entry;
  uint64_t before = std::accumulate(sizes.begin(), sizes.begin() + static_cast<ptrdiff_t>(i),
                                    uint64_t{0});
  return EntryLocation{log_id, offset + before, sizes[i]};
}

EntryRun EntryRun::Slice(uint64_t from, uint64_t to) const {
  QUIRE_CHECK(Holds(from) && Holds(to) && from <= to);
  auto begin = sizes.begin() + static_cast<ptrdiff_t>(from - first_entry);
  auto end = sizes.begin() + static_cast<ptrdiff_t>(to - first_entry + 1);
  uint64_t before = std::accumulate(sizes.begin(), begin, uint64_t{0});
  return EntryRun{from, log_id, offset + before, std::vector<uint32_t>(begin, end)};
}

std::string EncodeEntryRun(const EntryRun& run) {
  QUIRE_CHECK(!run.sizes.empty());
  std::string out;
  out.reserve(kRunHeaderSize + 2 * run.sizes.size());
  out.push_back(static_cast<char>(kRunVersion));
  PutFixed64(&out, run.log_id);
  PutFixed64(&out, run.offset);
  PutFixed32(&out, static_cast<uint32_t>(run.sizes.size()));
  for (uint32_t size : run.sizes) PutVarint32(&out, size);
  return out;
}

Result<EntryRun> DecodeEntryRun(uint64_t first_entry, std::string_view b, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Corruption(fmt::format("{}: bad entry location record ({} bytes): {}", what, b.size(),
                                  why));
  };
  if (b.empty()) return bad("empty");
  EntryRun run;
  run.first_entry = first_entry;
  uint8_t version = static_cast<uint8_t>(b[0]);
  if (version == kSingleVersion) {
    if (b.size() != kSingleSize) return bad("wrong size");
    run.log_id = DecodeFixed64(b.data() + 1);
    run.offset = DecodeFixed64(b.data() + 9);
    run.sizes = {DecodeFixed32(b.data() + 17)};
    return run;
  }
  if (version != kRunVersion) return bad(fmt::format("unknown version {}", version));
  if (b.size() < kRunHeaderSize) return bad("too short");
  run.log_id = DecodeFixed64(b.data() + 1);
  run.offset = DecodeFixed64(b.data() + 9);
  uint32_t count = DecodeFixed32(b.data() + 17);
  if (count == 0) return bad("no entries");
  if (first_entry > UINT64_MAX - (count - 1)) return bad("entry ids past 2^64");
  std::string_view rest = b.substr(kRunHeaderSize);
  if (rest.size() < count) return bad("fewer sizes than entries");  // a size takes >= 1 byte
  run.sizes.resize(count);
  for (uint32_t& size : run.sizes) {
    if (!GetVarint32(&rest, &size)) return bad("a record size is cut short");
  }
  if (!rest.empty()) return bad("bytes after the last record size");
  return run;
}

std::vector<EntryRun> OverlayRuns(const std::vector<EntryRun>& existing,
                                  const std::vector<EntryRun>& added) {
  std::map<uint64_t, EntryRun> runs;  // by first entry; disjoint throughout
  for (const EntryRun& r : existing) runs.emplace(r.first_entry, r);
  for (const EntryRun& n : added) {
    // The first run that may overlap n: the one before n's first entry if it reaches it.
    auto it = runs.upper_bound(n.first_entry);
    if (it != runs.begin() && std::prev(it)->second.last_entry() >= n.first_entry) --it;
    std::vector<EntryRun> kept;  // the overlapped runs' entries outside n
    while (it != runs.end() && it->first <= n.last_entry()) {
      const EntryRun& r = it->second;
      if (r.first_entry < n.first_entry) {
        kept.push_back(r.Slice(r.first_entry, n.first_entry - 1));
      }
      if (r.last_entry() > n.last_entry()) {
        kept.push_back(r.Slice(n.last_entry() + 1, r.last_entry()));
      }
      it = runs.erase(it);
    }
    for (EntryRun& k : kept) runs.emplace(k.first_entry, std::move(k));
    bool inserted = runs.emplace(n.first_entry, n).second;
    QUIRE_CHECK(inserted);  // every run holding n.first_entry was removed above
  }
  std::vector<EntryRun> out;
  out.reserve(runs.size());
  for (auto& [first, run] : runs) out.push_back(std::move(run));
  return out;
}

}  // namespace quire::storage
