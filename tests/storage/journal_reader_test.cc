// The replay rules of journal_reader.h, one named test each.
#include "storage/journal_reader.h"

#include <gtest/gtest.h>

#include "storage/journal_test_util.h"
#include "util/temp_dir.h"

namespace quire::storage {
namespace {

using testing::WriteJournal;

class JournalReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = WriteJournal(dir_.path(), fs_.get(), 5);
    ASSERT_FALSE(path_.empty());
  }

  // Each test group holds one 100-byte add: group k starts at 4096 * (k + 1).
  static uint64_t GroupOffset(int k) { return kJournalHeaderSize + 4096ull * static_cast<uint64_t>(k); }

  void Patch(uint64_t offset, std::string_view bytes) {
    auto f = fs_->Open(path_, {});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Write(offset, bytes).ok());
  }
  void FlipByte(uint64_t offset) {
    std::string b(1, '\0');
    auto f = fs_->Open(path_, {});
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Read(offset, b.data(), 1).ok());
    b[0] = static_cast<char>(b[0] ^ 0x40);
    ASSERT_TRUE((*f)->Write(offset, b).ok());
  }

  Result<JournalScanResult> Scan(bool newest, bool skip = false, std::vector<uint64_t>* entries = nullptr) {
    JournalScanOptions o;
    o.newest_file = newest;
    o.skip_corruption = skip;
    return ScanJournalFile(fs_.get(), path_, o, [&](const JournalRecord& r, uint64_t) {
      if (entries != nullptr) entries->push_back(r.entry_id);
      return Status::Ok();
    });
  }

  quire::testing::TempDir dir_;
  std::unique_ptr<FileSystem> fs_ = NewPosixFileSystem(IoBackend::kSyscalls);
  std::string path_;
};

TEST_F(JournalReaderTest, CleanFileReadsEveryRecord) {
  std::vector<uint64_t> entries;
  auto r = Scan(true, false, &entries);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(entries, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(r->torn_tail);
  EXPECT_EQ(r->end_offset, GroupOffset(5));
}

TEST_F(JournalReaderTest, TornTailInNewestFileIsTheCrashPoint) {
  FlipByte(GroupOffset(4) + 60);  // inside the last group's add record
  std::vector<uint64_t> entries;
  auto r = Scan(true, false, &entries);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(entries, (std::vector<uint64_t>{0, 1, 2, 3}));
  EXPECT_TRUE(r->torn_tail);
  EXPECT_EQ(r->end_offset, GroupOffset(4));
  EXPECT_GT(r->torn_bytes, 0u);
}

TEST_F(JournalReaderTest, LastGroupWithLostGroupHeaderIsATornTail) {
  Patch(GroupOffset(4), std::string(8, '\0'));  // the start of its first sector never made it
  std::vector<uint64_t> entries;
  auto r = Scan(true, false, &entries);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(entries.size(), 4u);
  EXPECT_TRUE(r->torn_tail);
}

TEST_F(JournalReaderTest, DamageBeforeTheTailIsCorruptionWithFileAndOffset) {
  FlipByte(GroupOffset(2) + 60);
  auto r = Scan(true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(path_), std::string::npos);
  EXPECT_NE(r.status().message().find(std::to_string(GroupOffset(2) + kGroupRecordSize)),
            std::string::npos)
      << r.status().message();
}

TEST_F(JournalReaderTest, ZeroedSyncedGroupFollowedByValidDataIsCorruption) {
  Patch(GroupOffset(1), std::string(4096, '\0'));
  auto r = Scan(true);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
}

TEST_F(JournalReaderTest, SkipCorruptionOverrideSkipsTheDamagedGroup) {
  FlipByte(GroupOffset(2) + 60);
  std::vector<uint64_t> entries;
  auto r = Scan(true, true, &entries);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(entries, (std::vector<uint64_t>{0, 1, 3, 4}));
  EXPECT_EQ(r->skipped_bytes, 4096u);
}

TEST_F(JournalReaderTest, DamagedTailOfAnOlderFileIsCorruption) {
  FlipByte(GroupOffset(4) + 60);
  auto r = Scan(/*newest=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
}

TEST_F(JournalReaderTest, TornHeaderOfNewestFileMeansNothingWasWritten) {
  Patch(0, std::string(512, '\0'));
  auto r = Scan(true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->torn_tail);
  EXPECT_EQ(r->end_offset, 0u);
  EXPECT_EQ(r->records, 0u);
  EXPECT_EQ(Scan(false).status().code(), StatusCode::kCorruption);
}

TEST_F(JournalReaderTest, StartsAtACheckpointOffset) {
  JournalScanOptions o;
  o.start_offset = GroupOffset(3);
  o.newest_file = true;
  std::vector<uint64_t> entries;
  auto r = ScanJournalFile(fs_.get(), path_, o, [&](const JournalRecord& rec, uint64_t) {
    entries.push_back(rec.entry_id);
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(entries, (std::vector<uint64_t>{3, 4}));
}

TEST_F(JournalReaderTest, CallbackErrorStopsTheScan) {
  JournalScanOptions o;
  auto r = ScanJournalFile(fs_.get(), path_, o, [&](const JournalRecord&, uint64_t) {
    return IOError("disk full");
  });
  EXPECT_EQ(r.status().code(), StatusCode::kIOError);
}

// Groups written while earlier ones were still being synced: after a crash any of the unsynced
// ones may be missing or torn, in any order. Build such a file by hand.
TEST(JournalReaderPipelineTest, LostGroupInsideTheUnsyncedWindowIsATornTail) {
  quire::testing::TempDir dir;
  auto fs = NewPosixFileSystem(IoBackend::kSyscalls);
  std::string path = dir.Sub("0000000000000001.jnl");
  auto file = fs->Open(path, {.create = true});
  ASSERT_TRUE(file.ok());
  AlignedBuffer buf;
  EncodeJournalHeader({kJournalFormatVersion, 1, 0, 42}, &buf);
  ASSERT_TRUE((*file)->Write(0, buf.view()).ok());
  JournalGroupBuilder g(&buf);
  auto write_group = [&](uint64_t seq, uint64_t durable_before) {
    g.Begin();
    std::string payload(100, 'p');
    char header[kMaxJournalRecordHeader];
    uint32_t hs = EncodeJournalRecordHeader(header, JournalRecordType::kAdd, 1, seq, payload);
    g.Append(std::string_view(header, hs), payload);
    g.Finish(42, seq, durable_before);
    ASSERT_TRUE((*file)->Write(kJournalHeaderSize + seq * 4096, buf.view()).ok());
  };
  // Groups 0 and 1 synced; 2, 3, 4 written while the sync of 1 ran (durable_before = 8192 + 4096).
  write_group(0, 4096);
  write_group(1, 8192);
  for (uint64_t seq = 2; seq <= 4; ++seq) write_group(seq, 4096 * 3);
  // The crash lost group 3 entirely; 2 and 4 made it.
  ASSERT_TRUE((*file)->Write(kJournalHeaderSize + 3 * 4096, std::string(4096, '\0')).ok());

  JournalScanOptions o;
  o.newest_file = true;
  std::vector<uint64_t> entries;
  auto r = ScanJournalFile(fs.get(), path, o, [&](const JournalRecord& rec, uint64_t) {
    entries.push_back(rec.entry_id);
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(entries, (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_TRUE(r->torn_tail);
  EXPECT_EQ(r->end_offset, kJournalHeaderSize + 3 * 4096u);

  // Had group 4 recorded that group 3 was synced, losing group 3 would be corruption.
  write_group(4, kJournalHeaderSize + 4 * 4096);
  EXPECT_EQ(ScanJournalFile(fs.get(), path, o, [](const JournalRecord&, uint64_t) {
              return Status::Ok();
            }).status().code(),
            StatusCode::kCorruption);
}

}  // namespace
}  // namespace quire::storage
