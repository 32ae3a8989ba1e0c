// A FileSystem for tests that counts I/O, injects write and sync errors, tears writes, and
// simulates a power cut by putting the files back to what the durability contract of
// common/file_system.h promises and nothing more (after leveldb's db/fault_injection_test.cc and
// RocksDB's utilities/fault_injection_fs.h).
//
// It wraps a base FileSystem, normally the real one on a testing::TempDir, and keeps, per file, an
// undo log of every change not yet made durable by a successful File::Sync, and, per file system,
// a log of names created or renamed since the last SyncDir of their directory.
//
// Contract:
//  - Direct I/O: base files are always opened *without* O_DIRECT (so that old contents can be read
//    back for the undo log), but File::direct() reports what the caller asked for, so the callers'
//    aligned code paths run. Those files check alignment as the kernel would: a misaligned offset,
//    length or buffer fails with EINVAL.
//  - Counting: every Write and WriteAndSync call counts as one write (with its bytes, whether or
//    not it succeeded); every Sync, and the sync half of a WriteAndSync, as one sync. Only files
//    whose path contains the filter given to ResetCounts() are counted.
//  - Faults (AddFault): a rule fires on the nth matching operation counted from when it was added
//    (1 = the next one), on files whose path (as opened) contains `path_contains`:
//      kFailWrite   nothing is written; returns kIOError with sys_errno `error`.
//      kFailSync    nothing is made durable; returns kIOError with sys_errno `error`. The
//                   unsynced data stays unsynced: a later Crash() drops it. (A real kernel may even
//                   drop the dirty pages at once, so callers must not trust the file afterwards.)
//      kShortWrite  only the first `keep_bytes` bytes reach the file (unsynced), then the call
//                   returns kIOError with `error` (typically ENOSPC), as a real short write
//                   followed by a failing retry would.
//      kTornWrite   the whole write is visible and the call returns OK, but only the bytes up to
//                   the last 512-byte sector boundary within the first `keep_bytes` can ever become
//                   durable: a later Crash() reverts the rest *even if it was synced* (a disk that
//                   lied). The reverted bytes read as their old contents, zeros past the old end.
//    With `sticky`, the rule also fires on every later matching operation. When two rules are
//    due on the same operation, the one added first fires and the other on the next one. A
//    WriteAndSync is matched by write rules, then (if the write succeeded) by sync rules.
//  - HaltAt(nth, path_contains) arms a power cut at an exact point: the nth mutating operation
//    (Write, WriteAndSync, Sync, Truncate, Allocate, an Open that creates, Rename, Unlink,
//    SyncDir) on a path containing `path_contains`, counted from the call, does not happen; it
//    and every operation after it fail with kIOError "simulated crash", as if the power went out
//    just before it. Call Crash() next to put the files in the state the power cut left them in.
//  - Crash(mode, seed) leaves the files as a power cut would, then freezes the file system:
//      data       every file reverts to its state at its last successful Sync, except that in
//                 kTornUnsynced each unsynced write independently survives whole, is lost, or
//                 survives as a random subset of its 512-byte sectors (seeded: the same history
//                 and seed give the same files). Unsynced Truncate and Allocate are always undone.
//                 Files that existed before this object first opened them count as synced.
//      names      a file created since the last SyncDir of its directory disappears. A rename
//                 not followed by SyncDir of the target's directory is kept or undone at random
//                 (seeded, in both modes); undone means the source name is back and the old
//                 target, if there was one, is back too (a hidden copy of a replaced target is kept
//                 in its directory until then; List() does not show it). Unlink is treated as
//                 durable at once; so are CreateDirs, anything done to directories and the lock
//                 files Lock() creates (Lock passes through).
//      frozen     every later call, including on File objects opened before the crash, fails with
//                 kIOError "simulated crash" and touches nothing on disk. Restart() unfreezes the
//                 file system: new opens work, files opened before the crash stay dead. Crash()
//                 also removes all fault rules; the counts are kept.
//
// Limitations: renames of directories are passed through but not tracked (files inside a renamed
// directory lose their undo logs). A torn write's lost suffix stays lost at a crash even if it was
// overwritten later: tear the last write before the crash. A file replaced by a rename keeps its
// undo log in the hidden copy, but writes through a File still open on the replaced file are not
// tracked. Rules match on the path a File was opened with, not its current name.
//
// Thread safety: everything may be called from any thread. Every operation holds a shared lock
// for its duration and Crash() takes it exclusively, so a crash falls between operations, never
// inside one; operations that start after Crash() began fail. This object must outlive the files
// and locks opened through it.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/file_system.h"

namespace quire::testing {

enum class CrashMode {
  kDropUnsynced,  // every write not covered by a successful Sync is lost
  kTornUnsynced,  // each unsynced write survives, is lost, or survives as a subset of its sectors
};

enum class FaultKind { kFailWrite, kFailSync, kShortWrite, kTornWrite };

struct FaultRule {
  FaultKind kind = FaultKind::kFailWrite;
  uint64_t nth = 1;           // fires on the nth matching operation from now (>= 1)
  std::string path_contains;  // only files whose path contains this; empty: all files
  int error = EIO;            // kFailWrite, kFailSync, kShortWrite: the errno (EIO, ENOSPC, ...)
  bool sticky = false;        // also fire on every matching operation after the nth
  uint64_t keep_bytes = 0;    // kShortWrite: bytes written; kTornWrite: bytes that may persist
};

struct IoCounts {
  uint64_t writes = 0;  // Write and WriteAndSync calls
  uint64_t syncs = 0;   // Sync calls plus the syncs inside WriteAndSync
  uint64_t bytes_written = 0;
};

class FaultInjectionFile;

class FaultInjectionFileSystem : public FileSystem {
 public:
  // The sector size that torn writes and kTornUnsynced use.
  static constexpr uint64_t kSectorSize = 512;

  // `base` must outlive this object.
  explicit FaultInjectionFileSystem(FileSystem* base);
  ~FaultInjectionFileSystem() override;

  // Counting.
  IoCounts counts() const;
  // Zeroes the counts; from now on only files whose path contains `path_contains` are counted.
  void ResetCounts(std::string path_contains = "");

  // Fault injection.
  void AddFault(FaultRule rule);
  void ClearFaults();
  // How many times a rule has fired since construction.
  uint64_t faults_fired() const { return faults_fired_.load(); }

  // Calls `hook` once, on the syncing thread, just before the next Sync or WriteAndSync of a file
  // whose path contains `path_contains`, outside any lock of this object: a test stops a writer at
  // an exact point with it (the hook may block until the test lets it go).
  void BeforeNextSync(std::string path_contains, std::function<void()> hook);

  // Arms a halt (see the header comment); `nth` >= 1. halted() says whether it fired.
  void HaltAt(uint64_t nth, std::string path_contains = "");
  bool halted() const { return halted_.load(); }

  // Crash simulation (see the header comment). Returns an error only if the base file system
  // failed while reverting; the file system is frozen either way. A no-op when already frozen.
  Status Crash(CrashMode mode, uint64_t seed);
  void Restart();
  bool frozen() const { return frozen_.load(); }

  // FileSystem.
  Result<std::unique_ptr<File>> Open(const std::string& path, const OpenOptions& options) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Unlink(const std::string& path) override;
  Status CreateDirs(const std::string& path, uint32_t mode = 0755) override;
  Status SyncDir(const std::string& path) override;
  Result<std::vector<std::string>> List(const std::string& dir) override;
  Result<bool> Exists(const std::string& path) override;
  Result<SpaceInfo> Space(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path) override;
  std::string Describe() const override;

 private:
  friend class FaultInjectionFile;
  struct FileState;
  // A name created or renamed since the last SyncDir of its directory.
  struct NameChange {
    std::string from;    // empty for a create
    std::string to;      // the created or renamed-to name
    std::string backup;  // hidden copy of the target a rename replaced, or empty
  };
  struct ActiveRule {
    FaultRule rule;
    uint64_t seen = 0;
    bool done = false;
  };
  enum class Op { kWrite, kSync };

  // Takes the shared lock for one operation, or fails when frozen or when `file_epoch` (a File's
  // creation epoch; kAnyEpoch for file-system calls) predates the last crash.
  static constexpr uint64_t kAnyEpoch = ~uint64_t{0};
  Status Enter(std::shared_lock<std::shared_mutex>& lock, uint64_t file_epoch) const;
  // Counts a mutating operation for HaltAt; kIOError "simulated crash" when it is the halt point.
  Status CountMutation(const std::string& path);
  void RunSyncHook(const std::string& path);
  // Counts an operation on `path`; returns the rule that fires, if any.
  bool NextFault(Op op, const std::string& path, FaultRule* fired);
  void Count(const std::string& path, uint64_t writes, uint64_t syncs, uint64_t bytes);
  Status RevertFile(FileState& state, CrashMode mode, std::mt19937_64& rng);
  Status CopyFile(const std::string& from, const std::string& to);

  FileSystem* const base_;

  // Shared by every operation, exclusive in Crash(), Restart() and ResetCounts().
  mutable std::shared_mutex crash_mu_;
  std::atomic<bool> frozen_{false};
  std::atomic<bool> halted_{false};     // a HaltAt point was reached: every operation fails
  std::atomic<uint64_t> halt_at_{0};    // 0: no halt armed
  std::atomic<uint64_t> halt_seen_{0};
  mutable std::mutex halt_mu_;          // a leaf lock: CountMutation runs under mu_ too
  std::string halt_path_;               // guarded by halt_mu_
  std::mutex hook_mu_;
  std::string sync_hook_path_;          // guarded by hook_mu_
  std::function<void()> sync_hook_;     // guarded by hook_mu_; empty: none armed
  uint64_t epoch_ = 0;        // guarded by crash_mu_; bumped by Crash()
  std::string count_filter_;  // guarded by crash_mu_
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> faults_fired_{0};

  // Bookkeeping; taken after crash_mu_ and before any FileState::mu.
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<FileState>> files_;  // by current path; guarded by mu_
  std::vector<NameChange> name_changes_;                     // oldest first; guarded by mu_
  std::vector<ActiveRule> rules_;                            // guarded by mu_
  uint64_t next_backup_id_ = 0;                              // guarded by mu_
};

}  // namespace quire::testing
