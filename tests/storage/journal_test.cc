#include "storage/journal.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "storage/journal_test_util.h"
#include "util/fault_injection_fs.h"
#include "util/forwarding_fs.h"
#include "util/temp_dir.h"

namespace quire::storage {
namespace {

using quire::testing::FaultInjectionFileSystem;
using quire::testing::FaultKind;
using quire::testing::FaultRule;
using quire::testing::ForwardingFileSystem;
using testing::Latch;
using testing::TestJournalOptions;

// Wraps a file system and learns, from the bytes written to journal files, which ADD records are
// durable: a record becomes durable when a Sync of its file returns OK after it was written.
class DurabilityTracker : public ForwardingFileSystem {
 public:
  explicit DurabilityTracker(FileSystem* base) : ForwardingFileSystem(base) {}

  bool IsDurable(uint64_t ledger, uint64_t entry) {
    std::lock_guard<std::mutex> lock(mu_);
    return durable_.count({ledger, entry}) > 0;
  }

  std::string Describe() const override { return "tracker"; }

 private:
  using Key = std::pair<uint64_t, uint64_t>;

  class TrackedFile : public ForwardingFile {
   public:
    TrackedFile(DurabilityTracker* t, std::unique_ptr<File> f)
        : ForwardingFile(std::move(f)), t_(t) {}
    Status Write(uint64_t off, std::string_view data) override {
      QUIRE_RETURN_IF_ERROR(f_->Write(off, data));
      if (off >= kJournalHeaderSize) t_->Written(data);
      return Status::Ok();
    }
    Status Sync() override {
      QUIRE_RETURN_IF_ERROR(f_->Sync());
      t_->Synced();
      return Status::Ok();
    }

   private:
    DurabilityTracker* t_;
  };

  std::unique_ptr<File> Wrap(std::unique_ptr<File> f) override {
    return std::make_unique<TrackedFile>(this, std::move(f));
  }

  void Written(std::string_view group) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t pos = 0;
    while (pos < group.size()) {
      DecodeResult d = DecodeJournalRecord(group.substr(pos));
      if (d.outcome != DecodeOutcome::kRecord) break;
      if (d.record.type == JournalRecordType::kAdd) {
        pending_.insert({d.record.ledger_id, d.record.entry_id});
      }
      pos += d.consumed;
    }
  }
  void Synced() {
    std::lock_guard<std::mutex> lock(mu_);
    durable_.insert(pending_.begin(), pending_.end());
    pending_.clear();
  }

  std::mutex mu_;
  std::set<Key> pending_, durable_;
};

class JournalTest : public ::testing::Test {
 protected:
  // Replays the journal in dir_ as start-up would, counting the records it hands over.
  Result<JournalReplaySummary> ReplayCounting(uint64_t* records) {
    *records = 0;
    return ReplayJournal(real_.get(), dir_.path(), false, [records](const JournalRecord&, uint64_t) {
      ++*records;
      return Status::Ok();
    });
  }

  quire::testing::TempDir dir_;
  std::unique_ptr<FileSystem> real_ = NewPosixFileSystem();
  FaultInjectionFileSystem faults_{real_.get()};
  Executor executor_{"test-cb", 1};
};

TEST_F(JournalTest, GroupCommitManyThreadsFewSyncsNoEarlyCallback) {
  DurabilityTracker tracker(&faults_);
  auto journal = Journal::Open(TestJournalOptions(dir_.path(), &tracker, &executor_), 1);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();
  faults_.ResetCounts(".jnl");

  constexpr int kThreads = 64;
  constexpr int kPerThread = 157;  // 10,048 adds in all
  std::atomic<int> early{0}, failed{0}, done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto ledger = static_cast<uint64_t>(t);
        auto entry = static_cast<uint64_t>(i);
        std::mutex mu;
        std::condition_variable cv;
        bool finished = false;
        (*journal)->Append(JournalWrite(
            JournalRecordType::kAdd, ledger, entry, std::string(100, 'x'), [&](Status s) {
              if (!s.ok()) failed++;
              if (!tracker.IsDurable(ledger, entry)) early++;
              done++;
              std::lock_guard<std::mutex> lock(mu);
              finished = true;
              cv.notify_one();
            }));
        std::unique_lock<std::mutex> lock(mu);
        if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return finished; })) {
          failed++;
          return;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  JournalStats stats = (*journal)->stats();
  uint64_t syncs = faults_.counts().syncs;
  EXPECT_EQ(done.load(), kThreads * kPerThread);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(early.load(), 0) << "a callback ran before the fdatasync covering its record";
  EXPECT_EQ(stats.syncs, syncs);
  EXPECT_LT(syncs * 4, static_cast<uint64_t>(kThreads * kPerThread))
      << "group commit should need far fewer fdatasyncs than adds; got " << syncs;
  EXPECT_EQ(stats.records, static_cast<uint64_t>(kThreads * kPerThread));
}

// An idle journal is written by the thread that ends a JournalLeadScope: the callback has run, on
// that thread, when the scope's end returns; with journalWriteInline off, never there. (Whether
// the journal thread is asleep at the moment is not observable: just started, or just back from
// a group it took, it may take the record itself; so most adds, not all, must be the scope's.)
TEST_F(JournalTest, AnIdleJournalIsWrittenByTheScopesThread) {
  constexpr int kAdds = 20;
  for (bool inline_writes : {true, false}) {
    SCOPED_TRACE(inline_writes ? "journalWriteInline on" : "journalWriteInline off");
    quire::testing::TempDir dir;
    DurabilityTracker tracker(real_.get());
    JournalOptions o = TestJournalOptions(dir.path(), &tracker, &executor_);
    o.zero_ahead_bytes = 0;  // nothing else for the journal thread to do between the adds
    o.write_inline = inline_writes;
    o.lead_max_sync_ns = UINT64_MAX;  // however slow the test machine's disk
    auto journal = Journal::Open(o, 1);
    ASSERT_TRUE(journal.ok());
    const std::thread::id me = std::this_thread::get_id();
    uint64_t led = 0;
    for (uint64_t e = 0; e < kAdds; ++e) {
      Latch latch;
      std::atomic<bool> here{false}, durable{false};
      {
        JournalLeadScope scope;
        (*journal)->Append(JournalWrite(JournalRecordType::kAdd, 1, e, "lead", [&](Status s) {
          here = std::this_thread::get_id() == me;
          durable = tracker.IsDurable(1, e);
          latch.Callback()(s);
        }));
      }
      // Read before waiting: a callback on this thread ran inside the scope's end.
      if (here) ++led;
      ASSERT_TRUE(latch.Wait(1));
      EXPECT_TRUE(latch.first_error().ok());
      EXPECT_TRUE(durable) << "add " << e << " was acknowledged before its fdatasync";
    }
    EXPECT_EQ((*journal)->stats().inline_writes, led);
    if (inline_writes) {
      EXPECT_GE(led, static_cast<uint64_t>(kAdds / 2)) << "the scope's thread wrote too few";
    } else {
      EXPECT_EQ(led, 0u);
    }
  }
}

// A disk whose fdatasyncs take `sync_delay` while `slow` is set: the test's input, not a wait.
class SlowSyncFileSystem : public ForwardingFileSystem {
 public:
  explicit SlowSyncFileSystem(FileSystem* base) : ForwardingFileSystem(base) {}
  std::atomic<bool> slow{false};
  // Far over any real fdatasync of a test machine, so that "slow" and "quick" never mix up.
  static constexpr auto kSyncDelay = std::chrono::milliseconds(500);

 private:
  class SlowFile : public ForwardingFile {
   public:
    SlowFile(SlowSyncFileSystem* fs, std::unique_ptr<File> f)
        : ForwardingFile(std::move(f)), fs_(fs) {}
    Status Sync() override {
      if (fs_->slow) std::this_thread::sleep_for(kSyncDelay);
      return f_->Sync();
    }

   private:
    SlowSyncFileSystem* fs_;
  };

  std::unique_ptr<File> Wrap(std::unique_ptr<File> f) override {
    return std::make_unique<SlowFile>(this, std::move(f));
  }
};

// After an fdatasync slower than lead_max_sync_ns a scope's thread leaves the journal to its
// thread (an I/O thread must not sit on a slow disk); once a sync is quick again, it writes again.
TEST_F(JournalTest, AScopeLeavesASlowDiskToTheJournalThread) {
  SlowSyncFileSystem disk(real_.get());
  JournalOptions o = TestJournalOptions(dir_.path(), &disk, &executor_);
  o.zero_ahead_bytes = 0;
  o.lead_max_sync_ns = 250'000'000;  // half the fake delay (the default, 5 ms, is for real disks)
  auto journal = Journal::Open(o, 1);
  ASSERT_TRUE(journal.ok());
  const std::thread::id me = std::this_thread::get_id();
  uint64_t next = 0;
  // Appends the next entry in a scope; true if the scope's thread wrote it.
  auto add = [&]() {
    Latch latch;
    std::atomic<bool> here{false};
    {
      JournalLeadScope scope;
      (*journal)->Append(JournalWrite(JournalRecordType::kAdd, 1, next++, "s", [&](Status s) {
        here = std::this_thread::get_id() == me;
        latch.Callback()(s);
      }));
    }
    bool led = here;
    EXPECT_TRUE(latch.Wait(1));
    EXPECT_TRUE(latch.first_error().ok());
    return led;
  };
  // The journal thread may take an add whichever way (AnIdleJournalIsWrittenByTheScopesThread
  // says when): "the scope's thread writes again" means within a few adds.
  auto led_within = [&](int tries) {
    for (int i = 0; i < tries; ++i) {
      if (add()) return true;
    }
    return false;
  };
  EXPECT_TRUE(led_within(10));
  disk.slow = true;
  add();                 // one slow fdatasync, whoever made it
  EXPECT_FALSE(add());   // after a slow sync: the journal thread's, also slow
  disk.slow = false;
  EXPECT_FALSE(add());   // the last sync was slow: still the journal thread's, now quick
  EXPECT_TRUE(led_within(10));  // the last sync was quick: the scope's thread again
}

// Leaders (threads ending scopes) and the journal thread take turns at writing: whichever way a
// record goes, its callback runs after its fdatasync, and the file holds every record in the
// order each thread appended it.
TEST_F(JournalTest, LeadersAndTheJournalThreadTakeTurns) {
  DurabilityTracker tracker(&faults_);
  JournalOptions o = TestJournalOptions(dir_.path(), &tracker, &executor_);
  o.zero_ahead_bytes = 64 << 10;  // the journal thread also writes zeros between groups
  auto journal = Journal::Open(o, 1);
  ASSERT_TRUE(journal.ok()) << journal.status().ToString();

  constexpr int kThreads = 6;
  constexpr int kPerThread = 300;
  std::atomic<int> early{0}, failed{0};
  Latch all;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto ledger = static_cast<uint64_t>(t);
      for (int i = 0; i < kPerThread;) {
        // Runs of 1-3 appends in a scope, every fourth run without one (the journal thread).
        std::optional<JournalLeadScope> scope;
        if ((i + t) % 4 != 0) scope.emplace();
        for (int n = 0; n < 1 + (i + t) % 3 && i < kPerThread; ++n, ++i) {
          auto entry = static_cast<uint64_t>(i);
          (*journal)->Append(JournalWrite(JournalRecordType::kAdd, ledger, entry,
                                          std::string(100, 'l'), [&, ledger, entry](Status s) {
                                            if (!s.ok()) failed++;
                                            if (!tracker.IsDurable(ledger, entry)) early++;
                                            all.Callback()(s);
                                          }));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(all.Wait(kThreads * kPerThread));
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(early.load(), 0) << "a callback ran before the fdatasync covering its record";
  // Which path each group took depends on timing (under TSan the journal may never be idle):
  // recorded, not asserted. AnIdleJournalIsWrittenByTheScopesThread pins the scope's path.
  RecordProperty("inline_writes", std::to_string((*journal)->stats().inline_writes));
  journal->reset();

  std::vector<uint64_t> next(kThreads, 0);
  int out_of_order = 0;
  auto summary = ReplayJournal(real_.get(), dir_.path(), false,
                               [&](const JournalRecord& r, uint64_t) {
                                 if (r.type != JournalRecordType::kAdd) return Status::Ok();
                                 if (r.entry_id != next[r.ledger_id]) ++out_of_order;
                                 next[r.ledger_id] = r.entry_id + 1;
                                 return Status::Ok();
                               });
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(out_of_order, 0);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next[t], static_cast<uint64_t>(kPerThread));
}

// Whether the journal thread or a scope's thread (journalWriteInline) met the failure.
TEST_F(JournalTest, FailedSyncStopsTheJournalForGood) {
  for (bool scoped : {false, true}) {
    SCOPED_TRACE(scoped ? "written by a scope's thread" : "written by the journal thread");
    quire::testing::TempDir dir;
    auto journal = Journal::Open(TestJournalOptions(dir.path(), &faults_, &executor_), 1);
    ASSERT_TRUE(journal.ok());
    auto append = [&](uint64_t e, const char* data, JournalCallback cb) {
      std::optional<JournalLeadScope> scope;
      if (scoped) scope.emplace();
      (*journal)->Append(JournalWrite(JournalRecordType::kAdd, 1, e, data, std::move(cb)));
    };
    Latch ok_latch;
    for (uint64_t e = 0; e < 3; ++e) {
      append(e, "good", ok_latch.Callback());
      ASSERT_TRUE(ok_latch.Wait(e + 1));
    }
    ASSERT_TRUE(ok_latch.first_error().ok());

    faults_.AddFault(FaultRule{.kind = FaultKind::kFailSync, .nth = 1, .path_contains = ".jnl"});
    Latch bad;
    append(3, "lost", bad.Callback());
    ASSERT_TRUE(bad.Wait(1));
    EXPECT_EQ(bad.first_error().code(), StatusCode::kIOError);
    EXPECT_EQ((*journal)->health().code(), StatusCode::kIOError);

    // No retry: later appends fail at once, though the disk would work again.
    uint64_t syncs_before = faults_.counts().syncs;
    Latch later;
    append(4, "refused", later.Callback());
    ASSERT_TRUE(later.Wait(1));
    EXPECT_EQ(later.first_error().code(), StatusCode::kIOError);
    EXPECT_EQ(faults_.counts().syncs, syncs_before);
    EXPECT_EQ((*journal)->stats().inline_writes > 0, scoped);
    journal->reset();

    std::vector<uint64_t> replayed;
    auto summary = ReplayJournal(&faults_, dir.path(), false,
                                 [&](const JournalRecord& r, uint64_t) {
                                   replayed.push_back(r.entry_id);
                                   return Status::Ok();
                                 });
    ASSERT_TRUE(summary.ok()) << summary.status().ToString();
    ASSERT_GE(replayed.size(), 3u);
    EXPECT_EQ(std::vector<uint64_t>(replayed.begin(), replayed.begin() + 3),
              (std::vector<uint64_t>{0, 1, 2}));
  }
}

TEST_F(JournalTest, RotatesAndCheckpointDeletesOlderFiles) {
  JournalOptions o = TestJournalOptions(dir_.path(), &faults_, &executor_);
  o.max_file_bytes = 64 << 10;
  o.prealloc_bytes = 16 << 10;
  o.reusable_files = 0;
  auto journal = Journal::Open(o, 1);
  ASSERT_TRUE(journal.ok());
  Latch latch;
  for (uint64_t e = 0; e < 40; ++e) {
    (*journal)->Append(JournalWrite(JournalRecordType::kAdd, 1, e, std::string(3000, 'r'),
                                    latch.Callback()));
    ASSERT_TRUE(latch.Wait(e + 1));
  }
  auto names = real_->List(dir_.Sub("current"));
  ASSERT_TRUE(names.ok());
  int files = 0;
  for (const auto& n : *names) files += n.ends_with(".jnl") ? 1 : 0;
  EXPECT_GE(files, 3);

  JournalPosition mark = (*journal)->SyncedPosition();
  EXPECT_GT(mark.file_id, 1u);
  ASSERT_TRUE((*journal)->Checkpoint(mark).ok());
  names = real_->List(dir_.Sub("current"));
  files = 0;
  for (const auto& n : *names) files += n.ends_with(".jnl") ? 1 : 0;
  EXPECT_EQ(files, 1);
  auto read = ReadJournalMark(real_.get(), dir_.path());
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, mark);
  journal->reset();

  // Replay starts at the mark: nothing before it comes back.
  uint64_t records = 0;
  auto summary = ReplayCounting(&records);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(records, 0u);
  EXPECT_EQ(summary->next_file_id, mark.file_id + 1);
}

// Journal ids in <dir>/current, ascending.
std::vector<uint64_t> JournalIds(FileSystem* fs, const std::string& current) {
  std::vector<uint64_t> ids;
  auto names = fs->List(current);
  if (!names.ok()) return ids;
  for (const std::string& n : *names) {
    uint64_t id;
    if (ParseJournalFileName(n, &id)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Reuse (journal.h): checkpointed files are written again under a new id. The most adversarial
// case for replay: a reused file holds old groups at exactly the offsets new groups use, and a
// power cut leaves them after the new data. Replay must return exactly the acknowledged records
// after the checkpoint, none of the old ones; every file but the newest must end where its data
// ends; and a restarted journal finds the kept files again.
TEST_F(JournalTest, ReusedFilesNeverReplayTheirOldRecords) {
  JournalOptions o = TestJournalOptions(dir_.path(), &faults_, &executor_);
  o.max_file_bytes = 64 << 10;
  o.prealloc_bytes = 16 << 10;
  o.reusable_files = 2;
  const std::string current = dir_.Sub("current");
  auto journal = Journal::Open(o, 1);
  ASSERT_TRUE(journal.ok());
  uint64_t next_entry = 0;
  auto append = [&]() {
    Latch latch;
    uint64_t e = next_entry++;
    (*journal)->Append(JournalWrite(JournalRecordType::kAdd, 1, e, std::string(3000, 'a' + e % 26),
                                    latch.Callback()));
    return latch.Wait(1) && latch.first_error().ok();
  };
  // Rounds of writes, each followed by a checkpoint of everything so far.
  JournalPosition mark;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(append());
    mark = (*journal)->SyncedPosition();
    ASSERT_TRUE((*journal)->Checkpoint(mark).ok());
  }
  EXPECT_GT((*journal)->stats().files_reused, 0u);
  std::vector<uint64_t> ids = JournalIds(real_.get(), current);
  EXPECT_LE(std::count_if(ids.begin(), ids.end(), [&](uint64_t id) { return id < mark.file_id; }),
            2)
      << "more checkpointed files kept than journalReusableFiles";
  // Go on until the journal has moved into a reused file, then a few records into it.
  uint64_t reused_before = (*journal)->stats().files_reused;
  const uint64_t first_after_mark = next_entry;
  for (int i = 0; i < 100 && (*journal)->stats().files_reused == reused_before; ++i) {
    ASSERT_TRUE(append());
  }
  ASSERT_GT((*journal)->stats().files_reused, reused_before);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(append());
  const uint64_t end_entry = next_entry;

  // Every file but the newest is complete: it scans without damage to exactly its size.
  ids = JournalIds(real_.get(), current);
  for (size_t i = 0; i + 1 < ids.size(); ++i) {
    std::string path = current + "/" + JournalFileName(ids[i]);
    auto scan = ScanJournalFile(real_.get(), path, {},
                                [](const JournalRecord&, uint64_t) { return Status::Ok(); });
    ASSERT_TRUE(scan.ok()) << path << ": " << scan.status().ToString();
    EXPECT_EQ(scan->end_offset, *(*real_->Open(path, {.read_only = true}))->Size()) << path;
  }

  // Power cut: the newest (reused) file keeps its old groups after the new data.
  ASSERT_TRUE(faults_.Crash(quire::testing::CrashMode::kDropUnsynced, 7).ok());
  journal->reset();
  faults_.Restart();
  std::vector<uint64_t> replayed;
  auto summary = ReplayJournal(&faults_, dir_.path(), false, [&](const JournalRecord& r, uint64_t) {
    EXPECT_EQ(r.data, std::string(3000, 'a' + r.entry_id % 26));
    replayed.push_back(r.entry_id);
    return Status::Ok();
  });
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  std::vector<uint64_t> expected;
  for (uint64_t e = first_after_mark; e < end_entry; ++e) expected.push_back(e);
  EXPECT_EQ(replayed, expected);
  EXPECT_GT(summary->torn_bytes, 0u) << "the old contents after the new data were not cut off";

  // A restarted journal finds the kept files and reuses one for its first file.
  auto reopened = Journal::Open(o, summary->next_file_id, summary->mark);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_EQ((*reopened)->stats().files_reused, 1u);
  auto header = ScanJournalFile(&faults_, current + "/" + JournalFileName(summary->next_file_id),
                                {.newest_file = true},
                                [](const JournalRecord&, uint64_t) { return Status::Ok(); });
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->header.file_id, summary->next_file_id);
  EXPECT_EQ(header->records, 0u) << "a reused file replayed its previous life";
}

// A clean close cuts the newest file at the end of its data, so the next start neither sees
// preallocated space nor, in a reused file, old groups as a torn tail.
TEST_F(JournalTest, CleanCloseLeavesNoTornTail) {
  JournalOptions o = TestJournalOptions(dir_.path(), &faults_, &executor_);
  auto journal = Journal::Open(o, 1);
  ASSERT_TRUE(journal.ok());
  Latch latch;
  for (uint64_t e = 0; e < 5; ++e) {
    (*journal)->Append(JournalWrite(JournalRecordType::kAdd, 1, e, "x", latch.Callback()));
  }
  ASSERT_TRUE(latch.Wait(5));
  journal->reset();
  uint64_t records = 0;
  auto summary = ReplayCounting(&records);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(records, 5u);
  EXPECT_EQ(summary->torn_bytes, 0u);
}

TEST_F(JournalTest, ReplayTruncatesATornTailAndRemovesATornNewFile) {
  std::string path = testing::WriteJournal(dir_.path(), real_.get(), 4);
  ASSERT_FALSE(path.empty());
  {
    auto f = real_->Open(path, {});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Write(kJournalHeaderSize + 3 * 4096 + 100, "garbage").ok());
  }
  uint64_t records = 0;
  auto count = [&](const JournalRecord&, uint64_t) {
    ++records;
    return Status::Ok();
  };
  auto summary = ReplayJournal(real_.get(), dir_.path(), false, count);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(records, 3u);
  EXPECT_GT(summary->torn_bytes, 0u);
  EXPECT_EQ(*(*real_->Open(path, {.read_only = true}))->Size(), kJournalHeaderSize + 3 * 4096u);

  // Now a second file whose creation was cut short (its header never reached the disk).
  std::string torn_new = dir_.Sub("current/" + JournalFileName(2));
  {
    auto f = real_->Open(torn_new, {.create = true});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Allocate(0, 1 << 20).ok());
  }
  records = 0;
  summary = ReplayJournal(real_.get(), dir_.path(), false, count);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(records, 3u);
  EXPECT_FALSE(*real_->Exists(torn_new));
  EXPECT_EQ(summary->next_file_id, 3u);
}

TEST_F(JournalTest, GroupWaitBatchesAppendsFromOneThread) {
  constexpr uint64_t kRecords = 60;
  const std::string payload(1000, 'g');
  JournalOptions o = TestJournalOptions(dir_.path(), &faults_, &executor_);
  // The group is released by reaching the size threshold; the (long) wait only bounds it.
  o.max_group_wait_us = 60'000'000;
  o.group_bytes_threshold = kRecords * JournalWrite(JournalRecordType::kAdd, 1, 0, payload, {}).bytes();
  auto journal = Journal::Open(o, 1);
  ASSERT_TRUE(journal.ok());
  // The wait applies under load only: a group of two records first says there is some.
  Latch pair;
  std::vector<JournalWrite> two;
  two.emplace_back(JournalRecordType::kAdd, 2, 0, payload, pair.Callback());
  two.emplace_back(JournalRecordType::kAdd, 2, 1, payload, pair.Callback());
  (*journal)->Append(std::move(two));
  ASSERT_TRUE(pair.Wait(2));
  faults_.ResetCounts(".jnl");
  Latch latch;
  for (uint64_t e = 0; e < kRecords; ++e) {
    (*journal)->Append(JournalWrite(JournalRecordType::kAdd, 1, e, payload, latch.Callback()));
  }
  ASSERT_TRUE(latch.Wait(kRecords));
  EXPECT_TRUE(latch.first_error().ok());
  EXPECT_EQ(faults_.counts().syncs, 1u);
}

// A lone writer (each add waits for the one before) never waits for a group to fill: with a
// wait of an hour, the adds would otherwise not complete within Latch::Wait's 60 s.
TEST_F(JournalTest, GroupWaitNeverDelaysALoneWriter) {
  JournalOptions o = TestJournalOptions(dir_.path(), &faults_, &executor_);
  o.max_group_wait_us = 3'600'000'000;
  auto journal = Journal::Open(o, 1);
  ASSERT_TRUE(journal.ok());
  for (uint64_t e = 0; e < 3; ++e) {
    Latch latch;
    (*journal)->Append(JournalWrite(JournalRecordType::kAdd, 1, e, "lone", latch.Callback()));
    ASSERT_TRUE(latch.Wait(1)) << "add " << e << " waited for a group";
    EXPECT_TRUE(latch.first_error().ok());
  }
}

// Whether any block of [offset, offset + length) of `path` is an unwritten (fallocate'd, never
// written) extent; nullopt where the file system cannot say (no FIEMAP, as on tmpfs).
std::optional<bool> HasUnwrittenBlocks(const std::string& path, uint64_t offset, uint64_t length) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return std::nullopt;
  constexpr uint32_t kExtents = 64;
  // struct fiemap ends in a flexible array: room for kExtents after it.
  std::vector<uint64_t> storage(
      (sizeof(struct fiemap) + kExtents * sizeof(struct fiemap_extent)) / sizeof(uint64_t) + 1);
  auto* map = reinterpret_cast<struct fiemap*>(storage.data());
  map->fm_start = offset;
  map->fm_length = length;
  map->fm_flags = FIEMAP_FLAG_SYNC;
  map->fm_extent_count = kExtents;
  int rc = ioctl(fd, FS_IOC_FIEMAP, map);
  close(fd);
  if (rc != 0 || map->fm_mapped_extents == 0) return std::nullopt;
  for (uint32_t i = 0; i < map->fm_mapped_extents; ++i) {
    if (map->fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN) return true;
  }
  return false;
}

// While idle the journal writes zeros past its data, so that the next groups overwrite written
// blocks (their fdatasync then has no extent to convert); replay takes the zeros for the end of
// the data, with or without a clean close.
TEST_F(JournalTest, AnIdleJournalWritesZerosAheadThatReplaySkips) {
  constexpr uint64_t kAhead = 128 << 10;
  JournalOptions o = TestJournalOptions(dir_.path(), real_.get(), &executor_);
  o.zero_ahead_bytes = kAhead;
  o.direct_io = false;  // the file's contents are read back below
  auto journal = Journal::Open(o, 1);
  ASSERT_TRUE(journal.ok());
  Latch first;
  (*journal)->Append(JournalWrite(JournalRecordType::kAdd, 1, 0, "first", first.Callback()));
  ASSERT_TRUE(first.Wait(1));
  // The zeros follow the journal's next idle moment: wait for the counter, within a bound.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((*journal)->stats().zeroed_bytes < kAhead && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ((*journal)->stats().zeroed_bytes, kAhead);

  const uint64_t data_end = kJournalHeaderSize + kJournalAlignment;  // one group
  std::string path = dir_.Sub("current/" + JournalFileName(1));
  std::optional<bool> unwritten = HasUnwrittenBlocks(path, data_end, kAhead);
  if (unwritten.has_value()) {
    EXPECT_FALSE(*unwritten) << "the blocks after the data are still fallocate'd only";
  }
  auto file = real_->Open(path, {.read_only = true});
  ASSERT_TRUE(file.ok());
  std::string after(kAhead, 'x');
  ASSERT_EQ(*(*file)->Read(data_end, after.data(), after.size()), kAhead);
  EXPECT_EQ(after, std::string(kAhead, '\0'));

  Latch second;
  (*journal)->Append(JournalWrite(JournalRecordType::kAdd, 1, 1, "second", second.Callback()));
  ASSERT_TRUE(second.Wait(1));
  EXPECT_TRUE(second.first_error().ok());

  // A crash now: the file as it is, zeros after the data, replayed from a copy.
  quire::testing::TempDir crashed;
  std::filesystem::copy(dir_.path(), crashed.path(), std::filesystem::copy_options::recursive);
  uint64_t records = 0;
  auto summary = ReplayJournal(real_.get(), crashed.path(), false,
                               [&](const JournalRecord&, uint64_t) {
                                 ++records;
                                 return Status::Ok();
                               });
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(records, 2u);

  journal->reset();  // a clean close cuts the zeros off
  summary = ReplayCounting(&records);
  ASSERT_TRUE(summary.ok()) << summary.status().ToString();
  EXPECT_EQ(records, 2u);
  EXPECT_EQ(summary->torn_bytes, 0u);
}

TEST_F(JournalTest, MarkFileIsValidated) {
  ASSERT_TRUE(real_->CreateDirs(dir_.Sub("current")).ok());
  EXPECT_EQ(*ReadJournalMark(real_.get(), dir_.path()), JournalPosition{});
  ASSERT_TRUE(WriteJournalMark(real_.get(), dir_.path(), {7, 8192}).ok());
  EXPECT_EQ(*ReadJournalMark(real_.get(), dir_.path()), (JournalPosition{7, 8192}));
  ASSERT_TRUE(real_->WriteFileAtomically(dir_.Sub("current/lastMark"), "QMRKnonsense-nonsense-nons").ok());
  EXPECT_EQ(ReadJournalMark(real_.get(), dir_.path()).status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace quire::storage
