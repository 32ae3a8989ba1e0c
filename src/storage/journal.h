// The journal: where an add becomes durable. One per journal directory (one disk), with one
// thread that group-commits.
//
// Contract:
//  - Append() queues a record. Its callback runs on the callback executor, never on the journal
//    thread, and never before the fdatasync that covers the record has returned success; or,
//    for a group a JournalLeadScope's thread wrote itself (below), on that thread.
//  - Records are written in the order they were appended (FIFO across all callers), so a record's
//    durability implies the durability of every record appended before it.
//  - Group commit: the journal thread takes what is queued (up to journalBufferedWritesThresholdKB,
//    at least one record) and writes it as one group with one write. If nothing else is queued and
//    no sync is pending, it fdatasyncs the group in the same call (io_uring links the two): the
//    shortest path for a lone writer. Under load it leaves the fdatasync to the sync thread and
//    goes on writing the next groups, as BookKeeper's force-write thread does; one fdatasync then
//    covers every group written before it, and at most one runs at a time. With
//    journalMaxGroupWaitUs > 0 the journal thread also waits up to that long for a group to fill,
//    but only when the group it wrote last held more than one record (load), never for a lone
//    writer.
//    Callbacks go to the executor right after the fdatasync that covers them.
//  - Zero ahead: when nothing is queued the journal thread writes zeros (journalZeroAheadKB, one
//    chunk of at most kZeroChunk at a time) past the end of the data, so that the groups written
//    next land on blocks the file system has already written. A group written into fallocate'd
//    space converts an unwritten extent, and its fdatasync must then commit the file system's
//    own journal as well as flush the disk: measured on ext4, 1.5x the latency and twice the CPU
//    of an fdatasync over written blocks (docs/performance.md, "Zero ahead"). Only while groups
//    are small (a moving average under kZeroChunk / 4, so that a few small groups amid large ones
//    do not count): a large group's fdatasync covers many records, and with bursts of adds (a
//    client's batches) the queue is empty between groups, where zeros written would be written
//    over by the next group at once, a second write of the same blocks (a fifth of the journal
//    threads' CPU at the maximum: docs/performance.md, "No zeros between large groups").
//  - Writing on the caller's thread (journalWriteInline): appends made inside a JournalLeadScope
//    wake nobody; when the scope ends, a journal that is idle (nothing being written, nothing
//    unsynced, a few records queued, the last fdatasync quick) is written and synced by the
//    scope's thread itself, which then runs the callbacks; a busy one gets its journal thread
//    woken. A bookie's I/O thread opens one around the requests of each read from a socket, so
//    an add to an idle bookie costs no hand-off between threads: measured, the journal thread's
//    and the callback thread's wake-ups were most of an evenly spaced add's CPU
//    (docs/performance.md, "Writing the journal on the I/O thread"). Whoever writes (the journal
//    thread, or one scope's thread) holds the writer's role (writing_), so groups stay in order.
//    The price: while it syncs, that thread reads no other requests; a slow disk (last fdatasync
//    over lead_max_sync_ns, 5 ms) turns it off until the disk is quick again.
//  - If a write or fdatasync fails, the journal stops for good: that group's records, everything
//    queued and everything appended later fail with the error, and health() returns it. A failed
//    fdatasync is never retried (the kernel may already have dropped the dirty pages).
//
// Files: <dir>/current/<16 hex digits>.jnl (format in journal_format.h), preallocated in steps of
// journalPreAllocSizeMB and rotated at journalMaxSizeMB. A checkpoint (lastMark) records the
// position before which everything is in ledger storage; older files are then kept for reuse (up
// to journalReusableFiles) or deleted.
//
// Reuse: a new file is preferably an old, checkpointed one written again, because overwriting
// blocks a file already holds costs the file system no allocation and no unwritten-extent
// conversion at each fdatasync. It is made safe by the format and two rules:
//  - its new header (new id, new salt) is durable *before* the rename gives it the new name, so
//    a file named as the newest never carries its previous life's header, and stale groups after
//    the new data carry the old salt: replay sees them as the unsynced tail, never as records;
//  - a file that stops being the newest (rotation, clean close) is first truncated to the end of
//    its data and synced, so a complete file never holds stale bytes after its end.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/executor.h"
#include "common/file_system.h"
#include "common/histogram.h"
#include "common/mutex.h"
#include "storage/journal_format.h"
#include "storage/journal_reader.h"
#include "storage/payload.h"

namespace quire::storage {

// A place in a journal: the file and the byte offset of the next group.
struct JournalPosition {
  uint64_t file_id = 0;
  uint64_t offset = 0;
  auto operator<=>(const JournalPosition&) const = default;
};

using JournalCallback = std::function<void(Status)>;

class Journal;

// Defers the journal work of the appends made on this thread while it lives, and does it when it
// ends: on this thread if the journal is idle, else by waking the journal thread (contract
// above). Must end on the thread that made it, holding no lock a journal callback takes, and
// never live across a suspension (a coroutine's co_await). Scopes do not nest: an inner one does
// nothing.
class JournalLeadScope {
 public:
  JournalLeadScope();
  ~JournalLeadScope();
  JournalLeadScope(const JournalLeadScope&) = delete;
  JournalLeadScope& operator=(const JournalLeadScope&) = delete;

  // Journal::Append: true if the scope on this thread takes `journal`'s wake-up over.
  static bool Defer(Journal* journal);

 private:
  bool active_ = false;  // false for a nested scope
  std::vector<Journal*> journals_;
};

// One queued record, encoded (header + CRC) by the appending thread. The payload is shared, not
// copied: an add's bytes are also held by the write cache.
struct JournalWrite {
  JournalWrite(JournalRecordType type, uint64_t ledger, uint64_t entry, Payload data,
               JournalCallback done);
  JournalWrite(JournalRecordType type, uint64_t ledger, uint64_t entry, std::string data,
               JournalCallback done);

  char header[kMaxJournalRecordHeader];
  uint32_t header_size;
  Payload data;          // may be null (no payload)
  JournalCallback done;  // may be empty

  std::string_view payload() const { return data.bytes(); }
  size_t bytes() const { return header_size + payload().size(); }
};

struct JournalOptions {
  std::string directory;                    // the journal directory; files go in <dir>/current
  FileSystem* fs = nullptr;
  Executor* callback_executor = nullptr;    // runs the callbacks
  uint64_t prealloc_bytes = 16ull << 20;    // journalPreAllocSizeMB
  uint64_t max_file_bytes = 2048ull << 20;  // journalMaxSizeMB
  uint64_t max_group_wait_us = 0;           // journalMaxGroupWaitUs
  uint64_t group_bytes_threshold = 2048ull << 10;  // journalBufferedWritesThresholdKB
  bool direct_io = true;                    // journalDirectIO: O_DIRECT where the fs allows
  size_t reusable_files = 2;                // journalReusableFiles
  uint64_t zero_ahead_bytes = 1ull << 20;   // journalZeroAheadKB; 0: off
  bool write_inline = true;                 // journalWriteInline: JournalLeadScope may write
  uint64_t lead_max_sync_ns = 5'000'000;    // a scope writes only after a sync this quick
  int index = 0;                            // for thread names and logs
};

struct JournalStats {
  uint64_t writes = 0;              // groups written
  uint64_t syncs = 0;               // fdatasyncs of journal data
  uint64_t records = 0;             // records made durable
  uint64_t bytes = 0;               // written, padding included
  uint64_t queued_records = 0;      // now
  uint64_t files_started = 0;       // journal files started since Open, reused ones included
  uint64_t files_reused = 0;        // of those, old files written again
  uint64_t zeroed_bytes = 0;        // zeros written ahead of the data (journalZeroAheadKB)
  uint64_t inline_writes = 0;       // groups written by a JournalLeadScope's thread
  Histogram::Snapshot sync_latency_ns;           // one fdatasync
  Histogram::Snapshot sync_latency_in_flush_ns;  // the same, while ledger storage was flushing
  Histogram::Snapshot records_per_sync;
};

// What replay found, for logs and the start-up summary.
struct JournalReplaySummary {
  uint64_t next_file_id = 1;  // the file id the journal must write next
  uint64_t files = 0;
  uint64_t records = 0;
  uint64_t torn_bytes = 0;    // dropped from a torn tail
  JournalPosition mark;       // the checkpoint replay started from
};

// The checkpoint file (<dir>/current/lastMark).
Result<JournalPosition> ReadJournalMark(FileSystem* fs, const std::string& directory);
Status WriteJournalMark(FileSystem* fs, const std::string& directory, JournalPosition mark);

// Replays every record at or after the checkpoint, oldest first, calling `fn` for each. Truncates
// a torn tail of the newest file (logging how many bytes were dropped); refuses corruption before
// the tail unless `skip_corruption`. Must run before Journal::Open on the same directory.
Result<JournalReplaySummary> ReplayJournal(FileSystem* fs, const std::string& directory,
                                           bool skip_corruption, const JournalRecordFn& fn);

class Journal {
 public:
  // Starts a new journal file with id `first_file_id` (from ReplayJournal) and the journal thread.
  // Files before `checkpoint` (the mark replay started from) are kept for reuse or deleted.
  static Result<std::unique_ptr<Journal>> Open(const JournalOptions& options,
                                               uint64_t first_file_id,
                                               JournalPosition checkpoint = {});
  // Writes what is queued, then stops the thread; later appends fail with kAborted. Callbacks of
  // records that could not be written run with the journal's error. SyncedPosition() stays valid.
  // Idempotent; the destructor calls it.
  void Close();
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Thread-safe; never blocks on I/O.
  void Append(JournalWrite write);
  void Append(std::vector<JournalWrite> writes);

  // End of the last durable group: every record whose callback has run with OK lies before it.
  // The flush thread takes it as the checkpoint candidate before it swaps the write caches.
  JournalPosition SyncedPosition() const;

  // Persists `mark` as the checkpoint; files entirely before it are kept for reuse or deleted.
  // Called by the flush thread once everything before `mark` is durable in ledger storage.
  Status Checkpoint(JournalPosition mark);

  // OK, or the error that stopped the journal.
  Status health() const QUIRE_EXCLUDES(mu_);
  JournalStats stats() const;
  const std::string& directory() const { return options_.directory; }

  // Tells the journal that ledger storage is flushing, so sync latency is also recorded apart.
  void SetFlushActive(bool active) { flush_active_.store(active, std::memory_order_relaxed); }

 private:
  friend class JournalLeadScope;
  // A group written but not yet covered by a completed fdatasync.
  struct Unsynced {
    File* file;
    uint64_t file_id;
    uint64_t end;  // offset after the group
    std::vector<JournalCallback> callbacks;
    size_t records;
  };
  // How many written groups may wait for an fdatasync; bounds the unsynced window.
  static constexpr size_t kMaxUnsyncedGroups = 16;
  // A scope's thread writes only a group this small (more is load: the journal thread's
  // pipeline does better), and only while the disk is quick (options_.lead_max_sync_ns).
  static constexpr size_t kMaxLeadRecords = 16;
  // The most zeros written at once: what a record arriving meanwhile may wait for (~0.2 ms at
  // 1.3 GB/s).
  static constexpr uint64_t kZeroChunk = 256 << 10;

  explicit Journal(const JournalOptions& options);
  // Starts file `file_id`: a reusable old file if there is one, else a new one.
  Status StartFile(uint64_t file_id);
  Result<std::unique_ptr<File>> ReuseFile(uint64_t old_id, uint64_t file_id,
                                          std::string_view header);
  // Cuts the current file at the end of its data (dropping preallocated or stale bytes) and
  // syncs it: done before it stops being the newest file.
  Status FinishFile();
  // True from when fewer than half of zero_ahead_bytes after the data are written blocks until
  // all of them are.
  bool ZeroAheadDue();
  // Writes one chunk of zeros after the zeroed region; failures are logged, never fatal (the
  // journal then writes into fallocate'd space as it would without zeros).
  void ZeroAhead();
  // Sorts checkpointed files `ids` (ascending) into the reuse pool or deletes them.
  Status Retire(const std::vector<uint64_t>& ids);
  Status EnsureSpace(uint64_t bytes) QUIRE_EXCLUDES(mu_);
  void Run();       // the journal thread
  // JournalLeadScope's end: writes what is queued on this thread if the journal is idle, else
  // wakes the journal thread if it is asleep.
  void Lead() QUIRE_EXCLUDES(mu_);
  // Moves the next group (up to group_bytes_threshold, at least one record) out of the queue.
  void TakeGroup(std::vector<JournalWrite>* group) QUIRE_REQUIRES(mu_);
  // With the writer's role: writes `group` and syncs it, or hands the sync to the sync thread,
  // then gives the role back. A leader always syncs, and runs the callbacks itself.
  void WriteGroup(std::vector<JournalWrite>* group, bool leader) QUIRE_EXCLUDES(mu_);
  // Gives the writer's role back, waking the journal thread if there is work for it.
  void ReleaseRole() QUIRE_REQUIRES(mu_);
  void SyncLoop();  // the sync thread
  void RecordSync(uint64_t latency_ns, size_t records);
  // Records the error (first one wins) and fails `callbacks`, the queue and unsynced groups.
  void Fail(const Status& status, std::vector<JournalCallback> callbacks) QUIRE_EXCLUDES(mu_);
  void Dispatch(std::vector<JournalCallback> callbacks, const Status& status);

  const JournalOptions options_;
  const std::string current_dir_;

  // Owned by the writer's role (writing_): the journal thread, or a leader; file_ is replaced
  // only when no group is unsynced.
  std::unique_ptr<File> file_;
  uint64_t file_id_ = 0;
  uint64_t salt_ = 0;
  uint64_t offset_ = 0;       // where the next group goes
  uint64_t allocated_ = 0;    // file size reserved so far
  uint64_t zeroed_ = 0;       // blocks before it have been written (data, header or zeros)
  bool zero_ahead_failed_ = false;  // logged once; zeroing is then off for good
  bool zero_refilling_ = false;     // ZeroAheadDue's state: between half and full
  uint64_t group_seq_ = 0;
  size_t last_group_records_ = 0;  // in the group written last
  uint64_t group_bytes_average_ = 0;  // of the groups written, each weighing 1/8 on arrival
  AlignedBuffer buffer_;
  AlignedBuffer zeros_;  // kZeroChunk zero bytes, allocated at the first zeroing

  Mutex files_mu_;  // the reuse pool; never held with mu_
  std::deque<uint64_t> reusable_ QUIRE_GUARDED_BY(files_mu_);  // checkpointed, oldest first
  uint64_t retired_before_ QUIRE_GUARDED_BY(files_mu_) = 0;    // files below it are retired

  mutable Mutex mu_;
  CondVar cv_;       // the journal thread waits here
  CondVar sync_cv_;  // the sync thread waits here
  std::deque<JournalWrite> queue_ QUIRE_GUARDED_BY(mu_);
  size_t queued_bytes_ QUIRE_GUARDED_BY(mu_) = 0;
  bool stopping_ QUIRE_GUARDED_BY(mu_) = false;
  bool writer_done_ QUIRE_GUARDED_BY(mu_) = false;  // the journal thread has exited
  Status error_ QUIRE_GUARDED_BY(mu_);  // set once
  std::deque<Unsynced> unsynced_ QUIRE_GUARDED_BY(mu_);
  bool syncing_ QUIRE_GUARDED_BY(mu_) = false;  // an fdatasync is running
  bool writing_ QUIRE_GUARDED_BY(mu_) = false;  // the writer's role is taken
  bool zero_due_ QUIRE_GUARDED_BY(mu_) = false;  // the journal thread has zeros to write
  JournalPosition synced_ QUIRE_GUARDED_BY(mu_);

  std::atomic<bool> flush_active_{false};
  std::atomic<uint64_t> writes_{0}, syncs_{0}, records_{0}, bytes_{0};
  std::atomic<uint64_t> files_started_{0}, files_reused_{0}, zeroed_bytes_{0}, inline_writes_{0};
  std::atomic<uint64_t> last_sync_ns_{0};  // how long the last fdatasync took
  Histogram sync_latency_, sync_latency_in_flush_, records_per_sync_;

  std::thread thread_;
  std::thread sync_thread_;
};

}  // namespace quire::storage
