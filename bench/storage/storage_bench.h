// Pieces of storage_bench shared by its engine cases (storage_bench.cc) and its garbage
// collection cases (gc_bench.cc): settings, the physical floors, and the closed-loop writers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/file_system.h"
#include "common/histogram.h"
#include "storage/storage_engine.h"

namespace quire::bench {

using Clock = std::chrono::steady_clock;

inline double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

struct Settings {
  std::string dir;
  std::string ledger_dir;  // empty: the same as dir
  double seconds = 5;
  double warmup = 1;
  bool steady_journal = false;  // warm up until the journal writes a reused file
  std::vector<size_t> sizes{100, 1024, 16384};
  std::vector<size_t> writers{1, 16, 256};
  size_t stream_mb = 1024;
  bool json = false;
  std::string io_backend = "syscalls";
  std::vector<std::string> settings;  // --set key=value, storage keys of conf/bookie.conf
  // --gc (gc_bench.h)
  bool gc = false;
  size_t gc_mb = 1024;      // data written before the ledgers are deleted
  double gc_live = 0.5;     // the fraction of it that stays live
  size_t gc_entry_bytes = 4096;
  std::string gc_timeline;  // --gc: every add's completion and latency, and the windows, as JSON
};

struct Floors {
  uint64_t sync4k_p50_ns = 0, sync4k_p99_ns = 0;
  double stream_mb_s = 0;
  double overwrite_mb_s = 0;  // the same streaming write again, over the file's written blocks
  bool direct = false;
};

// One writer: 4 KiB writes at increasing offsets of a preallocated file, each made durable, the
// way the journal writes a small group (same file system, same open flags, same call).
class SyncFloor {
 public:
  static Result<std::unique_ptr<SyncFloor>> Open(FileSystem* fs, const std::string& path) {
    std::unique_ptr<SyncFloor> f(new SyncFloor());
    f->fs_ = fs;
    f->path_ = path;
    QUIRE_ASSIGN_OR_RETURN(f->file_, fs->Open(path, {.create = true, .truncate = true, .direct = true}));
    QUIRE_RETURN_IF_ERROR(f->file_->Allocate(0, kSize));
    f->buf_.AppendZeros(4096);
    return f;
  }
  ~SyncFloor() {
    file_.reset();
    fs_->Unlink(path_).IgnoreError();
  }
  // Writes for `seconds`, recording each write + fdatasync into `h`.
  Status Run(double seconds, Histogram* h) {
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      if (off_ + 4096 > kSize) off_ = 0;
      buf_.data()[0] = static_cast<char>(off_ >> 12);
      uint64_t t = MonotonicNanos();
      QUIRE_RETURN_IF_ERROR(file_->WriteAndSync(off_, buf_.view()));
      h->Record(MonotonicNanos() - t);
      off_ += 4096;
    }
    return Status::Ok();
  }
  bool direct() const { return file_->direct(); }

 private:
  static constexpr uint64_t kSize = 256ull << 20;
  SyncFloor() = default;
  FileSystem* fs_ = nullptr;
  std::string path_;
  std::unique_ptr<File> file_;
  AlignedBuffer buf_;
  uint64_t off_ = 0;
};

inline Result<Floors> MeasureFloors(FileSystem* fs, const Settings& s) {
  Floors f;
  {
    QUIRE_ASSIGN_OR_RETURN(auto floor, SyncFloor::Open(fs, s.dir + "/floor-sync"));
    f.direct = floor->direct();
    Histogram h;
    QUIRE_RETURN_IF_ERROR(floor->Run(std::max(1.0, s.seconds / 2), &h));
    auto snap = h.Take();
    f.sync4k_p50_ns = snap.Quantile(0.5);
    f.sync4k_p99_ns = snap.Quantile(0.99);
  }
  std::string path = s.dir + "/floor-stream";
  {
    QUIRE_ASSIGN_OR_RETURN(auto file, fs->Open(path, {.create = true, .truncate = true, .direct = true}));
    AlignedBuffer buf(1 << 20);
    buf.AppendZeros(1 << 20);
    // The floor of issue 2 writes a new file. A journal that reuses its files writes over blocks
    // its file already holds, which costs the file system less, so that is measured too.
    for (double* mb_s : {&f.stream_mb_s, &f.overwrite_mb_s}) {
      uint64_t t = MonotonicNanos();
      for (size_t i = 0; i < s.stream_mb; ++i) {
        buf.data()[0] = static_cast<char>(i);
        QUIRE_RETURN_IF_ERROR(file->Write(static_cast<uint64_t>(i) << 20, buf.view()));
      }
      QUIRE_RETURN_IF_ERROR(file->Sync());
      double secs = Us(MonotonicNanos() - t) / 1e6;
      *mb_s = static_cast<double>(s.stream_mb) * 1.048576 / secs;
    }
  }
  QUIRE_RETURN_IF_ERROR(fs->Unlink(path));
  return f;
}

class Load {
 public:
  Load(storage::StorageEngine* engine, size_t writers, size_t size, uint64_t ledger_base)
      : engine_(engine),
        payload_(storage::MakePayload(std::string(size, 'q'))),
        slots_(writers),
        ledger_base_(ledger_base) {}

  void Start() {
    stopping_ = false;
    for (size_t i = 0; i < slots_.size(); ++i) Issue(i);
  }
  // Stops issuing and waits (bounded) for the adds in flight.
  void Stop() {
    stopping_ = true;
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (in_flight_.load() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  void ResetStats() {
    latency_.Reset();
    completed_ = 0;
    errors_ = 0;
  }
  // Keeps the completion time and latency of up to `capacity` adds from now on (a timeline for
  // finding what the slow ones coincide with).
  void KeepTrace(size_t capacity) {
    trace_.assign(capacity, {});
    traced_ = 0;
  }
  struct TracePoint {
    uint64_t done_ns = 0;
    uint64_t latency_ns = 0;
  };
  std::vector<TracePoint> Trace() const {
    size_t n = std::min(traced_.load(), trace_.size());
    return {trace_.begin(), trace_.begin() + static_cast<std::ptrdiff_t>(n)};
  }
  uint64_t completed() const { return completed_.load(); }
  uint64_t errors() const { return errors_.load(); }
  Histogram::Snapshot latency() const { return latency_.Take(); }

 private:
  struct Slot {
    uint64_t next_entry = 0;
    uint64_t start_ns = 0;
  };

  void Issue(size_t i) {
    if (stopping_) return;
    Slot& slot = slots_[i];
    slot.start_ns = MonotonicNanos();
    in_flight_++;
    engine_->AddEntry(ledger_base_ + i, slot.next_entry++, "bench", payload_, false,
                      [this, i](Status s) {
                        uint64_t now = MonotonicNanos();
                        latency_.Record(now - slots_[i].start_ns);
                        if (!trace_.empty()) {  // no shared counter on the path unless asked
                          if (size_t at = traced_.fetch_add(1); at < trace_.size()) {
                            trace_[at] = {now, now - slots_[i].start_ns};
                          }
                        }
                        if (s.ok()) {
                          completed_++;
                        } else {
                          errors_++;
                          if (errors_ == 1) fmt::print(stderr, "add failed: {}\n", s.ToString());
                          stopping_ = true;
                        }
                        in_flight_--;
                        Issue(i);
                      });
  }

  storage::StorageEngine* engine_;
  // One payload shared by every add: the engine copies it into the journal and the entry log,
  // and the benchmark adds no copy of its own.
  storage::Payload payload_;
  std::vector<Slot> slots_;
  uint64_t ledger_base_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> in_flight_{0};
  std::atomic<uint64_t> completed_{0}, errors_{0};
  Histogram latency_;
  std::vector<TracePoint> trace_;  // sized before Start(); slots claimed through traced_
  std::atomic<size_t> traced_{0};
};


}  // namespace quire::bench
