#include "common/file_system.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "util/temp_dir.h"

namespace quire {
namespace {

class PosixFileSystemTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<FileSystem> fs_ = NewPosixFileSystem(GetParam());
};

TEST_P(PosixFileSystemTest, WriteReadSyncAndSize) {
  std::string path = dir_.Sub("a");
  auto f = fs_->Open(path, {.create = true});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE((*f)->Write(0, "hello").ok());
  ASSERT_TRUE((*f)->WriteAndSync(5, " world").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  EXPECT_EQ(*(*f)->Size(), 11u);
  char buf[32];
  auto n = (*f)->Read(0, buf, sizeof(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "hello world");
  ASSERT_TRUE((*f)->Allocate(0, 1 << 20).ok());
  EXPECT_EQ(*(*f)->Size(), 1u << 20);
  ASSERT_TRUE((*f)->Truncate(3).ok());
  EXPECT_EQ(*fs_->ReadFile(path), "hel");
}

TEST_P(PosixFileSystemTest, DirectIoWithAlignedBuffers) {
  auto f = fs_->Open(dir_.Sub("d"), {.create = true, .direct = true});
  ASSERT_TRUE(f.ok());
  AlignedBuffer buf(8192);
  buf.AppendZeros(8192);
  buf.data()[100] = 'x';
  ASSERT_TRUE((*f)->WriteAndSync(4096, buf.view()).ok());
  AlignedBuffer in(8192);
  in.Resize(8192);
  auto n = (*f)->Read(4096, in.data(), 8192);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 8192u);
  EXPECT_EQ(in.data()[100], 'x');
}

TEST_P(PosixFileSystemTest, NamespaceOperations) {
  ASSERT_TRUE(fs_->CreateDirs(dir_.Sub("x/y/z")).ok());
  ASSERT_TRUE(fs_->CreateDirs(dir_.Sub("x/y/z")).ok());
  ASSERT_TRUE(fs_->WriteFileAtomically(dir_.Sub("x/y/z/f"), "v1").ok());
  ASSERT_TRUE(fs_->WriteFileAtomically(dir_.Sub("x/y/z/f"), "v2").ok());
  EXPECT_EQ(*fs_->ReadFile(dir_.Sub("x/y/z/f")), "v2");
  auto names = fs_->List(dir_.Sub("x/y/z"));
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"f"});
  EXPECT_TRUE(*fs_->Exists(dir_.Sub("x/y/z/f")));
  ASSERT_TRUE(fs_->Rename(dir_.Sub("x/y/z/f"), dir_.Sub("x/g")).ok());
  EXPECT_FALSE(*fs_->Exists(dir_.Sub("x/y/z/f")));
  ASSERT_TRUE(fs_->Unlink(dir_.Sub("x/g")).ok());
  EXPECT_EQ(fs_->Unlink(dir_.Sub("x/g")).code(), StatusCode::kNotFound);
  EXPECT_EQ(fs_->Open(dir_.Sub("none"), {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fs_->Open(dir_.Sub("x"), {.create = true, .exclusive = true}).status().code(),
            StatusCode::kAlreadyExists);
  auto space = fs_->Space(dir_.path());
  ASSERT_TRUE(space.ok());
  EXPECT_GT(space->total_bytes, 0u);
  EXPECT_LE(space->available_bytes, space->total_bytes);
}

TEST_P(PosixFileSystemTest, LockIsExclusive) {
  auto l1 = fs_->Lock(dir_.Sub("LOCK"));
  ASSERT_TRUE(l1.ok());
  auto l2 = fs_->Lock(dir_.Sub("LOCK"));
  EXPECT_EQ(l2.status().code(), StatusCode::kFailedPrecondition);
  l1->reset();
  EXPECT_TRUE(fs_->Lock(dir_.Sub("LOCK")).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, PosixFileSystemTest,
                         ::testing::Values(IoBackend::kSyscalls, IoBackend::kAuto),
                         [](const auto& p) {
                           return p.param == IoBackend::kSyscalls ? "syscalls" : "auto";
                         });

// A thread's io_uring ring outlives it and serves the next thread (posix_file_system.cc). Two
// threads that never synchronise with each other, one doing I/O after the other has exited,
// must not look to ThreadSanitizer (the tsan preset runs this test) like they share a ring:
// when rings were unmapped at thread exit, the second thread's new ring came back at the same
// address and TSan, blind to liburing's raw mmap, reported a race. The second thread learns
// that the first has gone only through a relaxed atomic, which orders nothing for TSan.
TEST(PosixFileSystemRingTest, ThreadsThatNeverMetDoIoOneAfterTheOther) {
  testing::TempDir dir;
  std::unique_ptr<FileSystem> fs = NewPosixFileSystem(IoBackend::kAuto);
  auto f = fs->Open(dir.Sub("f"), {.create = true});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  File* file = f->get();
  std::atomic<bool> first_gone{false};
  Status second;
  std::thread later([&] {
    // Bounded: the first thread does two small I/Os and exits.
    for (int i = 0; i < 100'000'000 && !first_gone.load(std::memory_order_relaxed); ++i) {
      std::this_thread::yield();
    }
    second = file->WriteAndSync(1, "b");
  });
  Status first;
  std::thread([&] { first = file->WriteAndSync(0, "a"); }).join();
  first_gone.store(true, std::memory_order_relaxed);
  later.join();
  EXPECT_TRUE(first.ok()) << first.ToString();
  EXPECT_TRUE(second.ok()) << second.ToString();
  EXPECT_EQ(*fs->ReadFile(dir.Sub("f")), "ab");
}

TEST(AlignedBufferTest, GrowsAlignedAndKeepsContents) {
  AlignedBuffer b;
  b.Append("abc", 3);
  b.AppendZeros(10000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kDirectIoAlignment, 0u);
  EXPECT_EQ(b.size(), 10003u);
  EXPECT_EQ(std::string(b.data(), 3), "abc");
  EXPECT_EQ(b.capacity() % kDirectIoAlignment, 0u);
}

}  // namespace
}  // namespace quire
