#include "util/fault_injection_fs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <set>
#include <thread>

#include "util/temp_dir.h"

namespace quire {
namespace {

using testing::CrashMode;
using testing::FaultInjectionFileSystem;
using testing::FaultKind;
using testing::IoCounts;

::testing::AssertionResult IsOk(const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s.ToString();
}
template <typename T>
::testing::AssertionResult IsOk(const Result<T>& r) {
  return IsOk(r.status());
}

class FaultInjectionFsTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.Sub(name); }

  // Creates `name` and makes the name durable (the contents are up to the test).
  std::unique_ptr<File> Create(const std::string& name, bool direct = false) {
    auto f = fs_.Open(Path(name), {.create = true, .direct = direct});
    EXPECT_TRUE(IsOk(f));
    if (!f.ok()) return nullptr;
    EXPECT_TRUE(IsOk(fs_.SyncDir(dir_.path())));
    return std::move(f).value();
  }

  // Reads through the base file system, which works while fs_ is frozen.
  std::string Contents(const std::string& name) {
    auto r = base_->ReadFile(Path(name));
    return r.ok() ? *r : "<" + r.status().ToString() + ">";
  }
  bool OnDisk(const std::string& name) { return *base_->Exists(Path(name)); }

  void CrashAndRestart(CrashMode mode = CrashMode::kDropUnsynced, uint64_t seed = 1) {
    ASSERT_TRUE(IsOk(fs_.Crash(mode, seed)));
    fs_.Restart();
  }

  testing::TempDir dir_{"quire-fault-fs"};
  std::unique_ptr<FileSystem> base_ = NewPosixFileSystem(IoBackend::kSyscalls);
  FaultInjectionFileSystem fs_{base_.get()};
};

TEST_F(FaultInjectionFsTest, DescribeNamesTheBase) {
  EXPECT_EQ(fs_.Describe(), "fault-injection(syscalls)");
}

TEST_F(FaultInjectionFsTest, CountsWritesSyncsAndBytesOptionallyPerPath) {
  auto j = Create("0001.jnl");
  auto o = Create("other.log");
  ASSERT_TRUE(j && o);
  ASSERT_TRUE(IsOk(j->Write(0, "abc")));
  ASSERT_TRUE(IsOk(j->WriteAndSync(3, "de")));
  ASSERT_TRUE(IsOk(j->Sync()));
  ASSERT_TRUE(IsOk(o->Write(0, "wxyz")));
  IoCounts c = fs_.counts();
  EXPECT_EQ(c.writes, 3u);
  EXPECT_EQ(c.syncs, 2u);
  EXPECT_EQ(c.bytes_written, 9u);

  fs_.ResetCounts(".jnl");
  EXPECT_EQ(fs_.counts().writes, 0u);
  ASSERT_TRUE(IsOk(j->Write(5, "f")));
  ASSERT_TRUE(IsOk(o->WriteAndSync(4, "q")));
  ASSERT_TRUE(IsOk(j->Sync()));
  c = fs_.counts();
  EXPECT_EQ(c.writes, 1u);
  EXPECT_EQ(c.syncs, 1u);
  EXPECT_EQ(c.bytes_written, 1u);
}

TEST_F(FaultInjectionFsTest, DropUnsyncedKeepsOnlySyncedBytes) {
  auto f = Create("f");
  ASSERT_TRUE(f);
  ASSERT_TRUE(IsOk(f->Write(0, "synced")));
  ASSERT_TRUE(IsOk(f->Sync()));
  ASSERT_TRUE(IsOk(f->Write(6, "-lost")));
  EXPECT_EQ(Contents("f"), "synced-lost");
  CrashAndRestart();
  EXPECT_EQ(Contents("f"), "synced");
  EXPECT_EQ(*fs_.ReadFile(Path("f")), "synced");
}

TEST_F(FaultInjectionFsTest, OverwriteOfSyncedRegionIsUndone) {
  auto f = Create("f");
  ASSERT_TRUE(f);
  ASSERT_TRUE(IsOk(f->WriteAndSync(0, "AAAAAAAA")));
  ASSERT_TRUE(IsOk(f->Write(2, "BBBBBBBBBB")));  // overwrites and extends
  ASSERT_TRUE(IsOk(f->Write(0, "C")));
  EXPECT_EQ(Contents("f"), "CABBBBBBBBBB");
  CrashAndRestart();
  EXPECT_EQ(Contents("f"), "AAAAAAAA");
}

TEST_F(FaultInjectionFsTest, UnsyncedTruncateAndAllocateAreUndone) {
  auto f = Create("f");
  ASSERT_TRUE(f);
  ASSERT_TRUE(IsOk(f->WriteAndSync(0, "0123456789")));
  ASSERT_TRUE(IsOk(f->Truncate(3)));
  ASSERT_TRUE(IsOk(f->Write(3, "xy")));
  ASSERT_TRUE(IsOk(f->Allocate(0, 8192)));
  EXPECT_EQ(*f->Size(), 8192u);
  CrashAndRestart();
  EXPECT_EQ(Contents("f"), "0123456789");
}

TEST_F(FaultInjectionFsTest, PreexistingFileCountsAsSyncedAndOpenTruncateIsUndone) {
  ASSERT_TRUE(IsOk(base_->WriteFileAtomically(Path("old"), "durable")));
  auto f = fs_.Open(Path("old"), {.truncate = true});
  ASSERT_TRUE(IsOk(f));
  EXPECT_EQ(*(*f)->Size(), 0u);
  ASSERT_TRUE(IsOk((*f)->Write(0, "new")));
  CrashAndRestart();
  EXPECT_EQ(Contents("old"), "durable");
}

TEST_F(FaultInjectionFsTest, FailedSyncLeavesTheDataUnsynced) {
  auto f = Create("f");
  ASSERT_TRUE(f);
  fs_.AddFault({.kind = FaultKind::kFailSync, .nth = 2});
  ASSERT_TRUE(IsOk(f->Write(0, "one")));
  ASSERT_TRUE(IsOk(f->Sync()));
  ASSERT_TRUE(IsOk(f->Write(3, "two")));
  Status st = f->Sync();
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_EQ(st.sys_errno(), EIO);
  EXPECT_EQ(fs_.faults_fired(), 1u);
  EXPECT_EQ(Contents("f"), "onetwo");  // still readable before the crash
  ASSERT_TRUE(IsOk(f->Write(6, "three")));
  CrashAndRestart();
  EXPECT_EQ(Contents("f"), "one");
}

TEST_F(FaultInjectionFsTest, WriteAndSyncCountsForWriteAndSyncRules) {
  auto f = Create("f");
  ASSERT_TRUE(f);
  fs_.AddFault({.kind = FaultKind::kFailSync, .nth = 1, .error = ENOSPC});
  Status st = f->WriteAndSync(0, "data");
  EXPECT_EQ(st.sys_errno(), ENOSPC);
  EXPECT_EQ(Contents("f"), "data");  // written, not durable
  CrashAndRestart();
  EXPECT_EQ(Contents("f"), "");
}

TEST_F(FaultInjectionFsTest, FailsTheNthWriteOnlyOnMatchingPaths) {
  auto j = Create("a.jnl");
  auto o = Create("b.log");
  ASSERT_TRUE(j && o);
  ASSERT_TRUE(IsOk(j->Write(0, "a")));  // before the rule: not counted by it
  fs_.AddFault({.kind = FaultKind::kFailWrite, .nth = 2, .path_contains = ".jnl", .error = ENOSPC});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(IsOk(o->Write(static_cast<uint64_t>(i), "o")));
  ASSERT_TRUE(IsOk(j->Write(1, "b")));
  Status st = j->Write(2, "c");
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_EQ(st.sys_errno(), ENOSPC);
  EXPECT_TRUE(IsOk(j->Write(3, "d")));  // one-shot
  EXPECT_EQ(Contents("a.jnl"), std::string("ab\0d", 4));
}

TEST_F(FaultInjectionFsTest, StickyRuleFailsEveryWriteFromTheNthOn) {
  auto f = Create("f");
  ASSERT_TRUE(f);
  fs_.AddFault({.kind = FaultKind::kFailWrite, .nth = 3, .sticky = true});
  EXPECT_TRUE(IsOk(f->Write(0, "1")));
  EXPECT_TRUE(IsOk(f->Write(1, "2")));
  for (int i = 0; i < 4; ++i) {
    Status st = f->Write(2, "x");
    EXPECT_EQ(st.sys_errno(), EIO);
  }
  EXPECT_EQ(fs_.faults_fired(), 4u);
  fs_.ClearFaults();
  EXPECT_TRUE(IsOk(f->Write(2, "3")));
  EXPECT_EQ(Contents("f"), "123");
}

TEST_F(FaultInjectionFsTest, ShortWritePersistsAPrefixThenFails) {
  auto f = Create("f");
  ASSERT_TRUE(f);
  fs_.AddFault({.kind = FaultKind::kShortWrite, .error = ENOSPC, .keep_bytes = 3});
  Status st = f->Write(0, "abcdef");
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_EQ(st.sys_errno(), ENOSPC);
  EXPECT_EQ(Contents("f"), "abc");
  ASSERT_TRUE(IsOk(f->Sync()));
  ASSERT_TRUE(IsOk(f->Write(3, "unsynced")));
  CrashAndRestart();
  EXPECT_EQ(Contents("f"), "abc");
}

TEST_F(FaultInjectionFsTest, TornWriteReturnsOkAndTheCrashShowsTheTear) {
  auto f = Create("f");
  ASSERT_TRUE(f);
  fs_.AddFault({.kind = FaultKind::kTornWrite, .keep_bytes = 1000});  // 1 whole sector
  std::string data(2048, 'x');
  ASSERT_TRUE(IsOk(f->WriteAndSync(0, data)));
  EXPECT_EQ(Contents("f"), data);
  CrashAndRestart();
  // The synced size survives; the sectors after the torn prefix read as zeros.
  EXPECT_EQ(Contents("f"), std::string(512, 'x') + std::string(1536, '\0'));
}

TEST_F(FaultInjectionFsTest, CreatedFileDisappearsUnlessItsDirectoryWasSynced) {
  ASSERT_TRUE(IsOk(fs_.CreateDirs(Path("sub"))));
  auto a = fs_.Open(Path("sub/a"), {.create = true});
  ASSERT_TRUE(IsOk(a));
  ASSERT_TRUE(IsOk((*a)->WriteAndSync(0, "a")));  // synced contents, but not the name
  auto b = fs_.Open(Path("b"), {.create = true});
  ASSERT_TRUE(IsOk(b));
  ASSERT_TRUE(IsOk((*b)->WriteAndSync(0, "b")));
  ASSERT_TRUE(IsOk(fs_.SyncDir(dir_.path() + "/")));
  CrashAndRestart();
  EXPECT_FALSE(OnDisk("sub/a"));
  EXPECT_EQ(Contents("b"), "b");
}

TEST_F(FaultInjectionFsTest, UnlinkIsDurableAtOnce) {
  ASSERT_TRUE(IsOk(fs_.WriteFileAtomically(Path("f"), "x")));
  ASSERT_TRUE(IsOk(fs_.Unlink(Path("f"))));
  CrashAndRestart();
  EXPECT_FALSE(OnDisk("f"));
}

TEST_F(FaultInjectionFsTest, RenameWithoutSyncDirIsKeptOrUndoneBySeed) {
  std::set<std::string> outcomes;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    std::string d = "s" + std::to_string(seed);
    ASSERT_TRUE(IsOk(fs_.CreateDirs(Path(d))));
    ASSERT_TRUE(IsOk(fs_.WriteFileAtomically(Path(d + "/cur"), "old")));
    ASSERT_TRUE(IsOk(fs_.WriteFileAtomically(Path(d + "/tmp"), "new")));
    ASSERT_TRUE(IsOk(fs_.Rename(Path(d + "/tmp"), Path(d + "/cur"))));
    EXPECT_EQ(*fs_.List(Path(d)), std::vector<std::string>{"cur"});  // the backup is hidden
    ASSERT_TRUE(IsOk(fs_.Crash(CrashMode::kDropUnsynced, seed)));
    fs_.Restart();
    std::string cur = Contents(d + "/cur");
    if (cur == "new") {
      EXPECT_FALSE(OnDisk(d + "/tmp"));
    } else {
      EXPECT_EQ(cur, "old");
      EXPECT_EQ(Contents(d + "/tmp"), "new");
    }
    auto names = base_->List(Path(d));
    ASSERT_TRUE(IsOk(names));
    EXPECT_LE(names->size(), 2u);  // no backup left behind
    outcomes.insert(cur);
  }
  EXPECT_EQ(outcomes, (std::set<std::string>{"new", "old"}));
}

TEST_F(FaultInjectionFsTest, RenameMovesTheUndoLogAndSyncDirMakesItDurable) {
  auto f = Create("a");
  ASSERT_TRUE(f);
  ASSERT_TRUE(IsOk(f->WriteAndSync(0, "abc")));
  ASSERT_TRUE(IsOk(f->Write(3, "def")));
  ASSERT_TRUE(IsOk(fs_.Rename(Path("a"), Path("b"))));
  ASSERT_TRUE(IsOk(fs_.SyncDir(dir_.path())));
  for (uint64_t seed = 0; seed < 4; ++seed) {
    CrashAndRestart(CrashMode::kDropUnsynced, seed);
    EXPECT_FALSE(OnDisk("a"));
    EXPECT_EQ(Contents("b"), "abc");
  }
}

TEST_F(FaultInjectionFsTest, FrozenAfterCrashUntilRestartAndOldFilesStayDead) {
  auto f = Create("f");
  ASSERT_TRUE(f);
  ASSERT_TRUE(IsOk(f->WriteAndSync(0, "abc")));
  ASSERT_TRUE(IsOk(fs_.Crash(CrashMode::kDropUnsynced, 1)));
  EXPECT_TRUE(fs_.frozen());
  Status st = f->Write(3, "zzz");
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_NE(st.message().find("simulated crash"), std::string::npos);
  char buf[8];
  EXPECT_EQ(f->Read(0, buf, sizeof(buf)).status().code(), StatusCode::kIOError);
  EXPECT_EQ(f->Truncate(0).code(), StatusCode::kIOError);
  EXPECT_EQ(fs_.Open(Path("f"), {}).status().code(), StatusCode::kIOError);
  EXPECT_EQ(fs_.Open(Path("g"), {.create = true}).status().code(), StatusCode::kIOError);
  EXPECT_EQ(fs_.Unlink(Path("f")).code(), StatusCode::kIOError);
  EXPECT_EQ(fs_.List(dir_.path()).status().code(), StatusCode::kIOError);
  EXPECT_EQ(fs_.Exists(Path("f")).status().code(), StatusCode::kIOError);
  EXPECT_EQ(Contents("f"), "abc");  // nothing touched the disk
  EXPECT_FALSE(OnDisk("g"));

  fs_.Restart();
  EXPECT_EQ(f->Write(3, "zzz").code(), StatusCode::kIOError);  // opened before the crash
  auto g = fs_.Open(Path("f"), {});
  ASSERT_TRUE(IsOk(g));
  ASSERT_TRUE(IsOk((*g)->Write(3, "def")));
  EXPECT_EQ(Contents("f"), "abcdef");
}

TEST_F(FaultInjectionFsTest, HaltStopsAtTheNthMutationOnMatchingPathsAndEverythingAfter) {
  auto f = Create("a.log");
  auto other = Create("other");
  ASSERT_TRUE(f && other);
  fs_.HaltAt(3, ".log");
  ASSERT_TRUE(IsOk(f->Write(0, "one")));          // 1
  ASSERT_TRUE(IsOk(other->WriteAndSync(0, "x")));  // not counted
  ASSERT_TRUE(IsOk(f->Sync()));                    // 2
  EXPECT_FALSE(fs_.halted());
  Status st = fs_.Rename(Path("a.log"), Path("b.log"));  // 3: does not happen
  EXPECT_EQ(st.code(), StatusCode::kIOError);
  EXPECT_NE(st.message().find("simulated crash"), std::string::npos);
  EXPECT_TRUE(fs_.halted());
  EXPECT_TRUE(OnDisk("a.log"));
  EXPECT_FALSE(OnDisk("b.log"));
  // Everything after fails, on any path, reads included.
  EXPECT_EQ(other->Write(1, "y").code(), StatusCode::kIOError);
  EXPECT_EQ(fs_.List(dir_.path()).status().code(), StatusCode::kIOError);
  // The crash then puts the files back as a power cut would.
  EXPECT_EQ(f->Write(0, "two").code(), StatusCode::kIOError);
  ASSERT_TRUE(IsOk(fs_.Crash(CrashMode::kDropUnsynced, 1)));
  fs_.Restart();
  EXPECT_FALSE(fs_.halted());
  EXPECT_EQ(Contents("a.log"), "one");
  EXPECT_EQ(Contents("other"), "x");
  auto g = fs_.Open(Path("b.log"), {.create = true});  // no halt armed any more
  EXPECT_TRUE(IsOk(g));
}

TEST_F(FaultInjectionFsTest, DirectIsReportedAsRequestedAndAlignmentIsChecked) {
  auto f = Create("d", /*direct=*/true);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->direct());
  EXPECT_EQ(f->Write(0, "abc").sys_errno(), EINVAL);
  AlignedBuffer a(kDirectIoAlignment);
  a.AppendZeros(kDirectIoAlignment);
  std::fill_n(a.data(), a.size(), 'a');
  ASSERT_TRUE(IsOk(f->WriteAndSync(0, a.view())));
  std::fill_n(a.data(), a.size(), 'b');
  ASSERT_TRUE(IsOk(f->Write(0, a.view())));  // overwrite of synced data: old bytes are saved
  CrashAndRestart();
  EXPECT_EQ(Contents("d"), std::string(kDirectIoAlignment, 'a'));
}

struct Write {
  uint64_t offset;
  std::string data;
  uint64_t end() const { return offset + data.size(); }
};

constexpr uint64_t kBaseSize = 4096;  // synced, all 'B'

// Unsynced writes after the base: appends of 1100 bytes that each re-write the previous one's
// last 200 bytes (as a journal re-writes its last partial block), then an overwrite of part of
// the base. Every write has its own byte value.
std::vector<Write> TornWrites() {
  std::vector<Write> writes;
  for (uint64_t i = 0; i < 12; ++i) {
    writes.push_back({kBaseSize + i * 900, std::string(1100, static_cast<char>('a' + i))});
  }
  writes.push_back({1000, std::string(2000, 'O')});
  return writes;
}

// Runs the history on a fresh file system and returns the file after Crash(mode, seed).
std::string CrashAfterTornWrites(CrashMode mode, uint64_t seed) {
  testing::TempDir dir("quire-fault-fs-torn");
  auto base = NewPosixFileSystem(IoBackend::kSyscalls);
  FaultInjectionFileSystem fs(base.get());
  auto f = fs.Open(dir.Sub("f"), {.create = true});
  EXPECT_TRUE(IsOk(f));
  if (!f.ok()) return "";
  EXPECT_TRUE(IsOk(fs.SyncDir(dir.path())));
  EXPECT_TRUE(IsOk((*f)->WriteAndSync(0, std::string(kBaseSize, 'B'))));
  for (const Write& w : TornWrites()) EXPECT_TRUE(IsOk((*f)->Write(w.offset, w.data)));
  EXPECT_TRUE(IsOk(fs.Crash(mode, seed)));
  auto out = base->ReadFile(dir.Sub("f"));
  EXPECT_TRUE(IsOk(out));
  return out.ok() ? *out : "";
}

// Whether some choice of surviving (write, sector) pairs explains sector [s, s + 512) of `out`:
// each byte as the newest surviving write left it, else the base, else a zero-filled hole; the
// file ending where the last surviving byte does (when it ends past the base).
bool SectorIsPossible(const std::string& out, const std::vector<Write>& writes, uint64_t s) {
  std::vector<const Write*> touching;  // oldest first
  for (const Write& w : writes) {
    if (w.offset < s + 512 && w.end() > s) touching.push_back(&w);
  }
  for (uint64_t mask = 0; mask < (uint64_t{1} << touching.size()); ++mask) {
    bool ok = true;
    uint64_t survivors_end = 0;
    for (uint64_t p = s; p < s + 512 && ok; ++p) {
      char want = p < kBaseSize ? 'B' : '\0';
      for (size_t j = touching.size(); j-- > 0;) {
        if ((mask >> j & 1) != 0 && touching[j]->offset <= p && p < touching[j]->end()) {
          want = touching[j]->data[p - touching[j]->offset];
          survivors_end = p + 1;
          break;
        }
      }
      if (p < out.size()) ok = out[p] == want;
    }
    bool last_sector = out.size() > s && out.size() <= s + 512;
    if (survivors_end > out.size()) ok = false;
    if (last_sector && out.size() > kBaseSize && survivors_end != out.size()) ok = false;
    if (ok) return true;
  }
  return false;
}

TEST(FaultInjectionFsTornTest, DropModeKeepsExactlyTheSyncedImage) {
  EXPECT_EQ(CrashAfterTornWrites(CrashMode::kDropUnsynced, 5), std::string(kBaseSize, 'B'));
}

TEST(FaultInjectionFsTornTest, TornModeIsReproducibleAndSectorGranular) {
  std::vector<Write> writes = TornWrites();
  std::set<std::string> distinct;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    std::string out = CrashAfterTornWrites(CrashMode::kTornUnsynced, seed);
    EXPECT_EQ(CrashAfterTornWrites(CrashMode::kTornUnsynced, seed), out) << "seed " << seed;
    ASSERT_GE(out.size(), kBaseSize);
    for (uint64_t s = 0; s < writes[11].end(); s += 512) {
      ASSERT_TRUE(SectorIsPossible(out, writes, s)) << "seed " << seed << " sector at " << s;
    }
    distinct.insert(out);
  }
  EXPECT_GT(distinct.size(), 1u);  // the seed matters
  auto longest = std::max_element(distinct.begin(), distinct.end(),
                                  [](auto& a, auto& b) { return a.size() < b.size(); });
  EXPECT_GT(longest->size(), kBaseSize);  // some unsynced append survived
}

TEST_F(FaultInjectionFsTest, CrashWaitsForOperationsInFlightOnOtherThreads) {
  constexpr size_t kThreads = 2;
  constexpr uint64_t kRecord = 100;
  std::vector<std::unique_ptr<File>> files;
  for (size_t t = 0; t < kThreads; ++t) {
    files.push_back(Create("t" + std::to_string(t)));
    ASSERT_TRUE(files.back());
  }
  std::array<std::atomic<uint64_t>, kThreads> acked{};  // end of the last acknowledged record
  std::array<Status, kThreads> last;
  std::atomic<size_t> done{0};
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t off = 0;; off += kRecord) {
        Status st = files[t]->WriteAndSync(off, std::string(kRecord, static_cast<char>('a' + t)));
        if (!st.ok()) {
          last[t] = st;
          ++done;
          return;
        }
        acked[t] = off + kRecord;
      }
    });
  }
  // Crash while both threads are writing (or as soon as one has stopped on an error).
  auto busy = [&] {
    return std::all_of(acked.begin(), acked.end(), [](auto& a) { return a >= 50 * kRecord; });
  };
  while (!busy() && done == 0) std::this_thread::yield();
  EXPECT_EQ(done, 0u);
  ASSERT_TRUE(IsOk(fs_.Crash(CrashMode::kDropUnsynced, 1)));
  for (auto& th : threads) th.join();
  for (size_t t = 0; t < kThreads; ++t) {
    std::string name = "t" + std::to_string(t);
    EXPECT_NE(last[t].message().find("simulated crash"), std::string::npos) << last[t].ToString();
    // Everything acknowledged before the crash is there, and nothing written after it.
    EXPECT_EQ(Contents(name), std::string(acked[t], static_cast<char>('a' + t))) << name;
  }
}

}  // namespace
}  // namespace quire
