// metadata::UpdateRecord, the one read-modify-write loop, against a scripted record: lost
// compare-and-sets, lost replies of writes that applied, reads that time out, and its bound.
#include "metadata/update.h"

#include <gtest/gtest.h>

#include <deque>

namespace quire::metadata {
namespace {

// One record and a script of what the next writes do.
struct Script {
  enum class Step { kApply, kApplyLoseReply, kLoseRace, kFail };
  Versioned<int> record{0, 0};
  std::deque<Step> writes;  // empty: kApply
  int timed_out_reads = 0;  // the first n reads time out
  int reads = 0;
  int write_calls = 0;

  Result<Versioned<int>> Read() {
    ++reads;
    if (timed_out_reads > 0) {
      --timed_out_reads;
      return Status(StatusCode::kTimeout, "read timed out");
    }
    return record;
  }
  Result<Version> Write(int value, Version expected) {
    ++write_calls;
    Step w = writes.empty() ? Step::kApply : writes.front();
    if (!writes.empty()) writes.pop_front();
    if (w == Step::kFail) return Status(StatusCode::kIOError, "disk failed");
    if (w == Step::kLoseRace) {  // someone else's update lands first
      record = {record.value + 100, record.version + 1};
      return Status(StatusCode::kBadVersion, "lost");
    }
    if (expected != record.version) return Status(StatusCode::kBadVersion, "stale");
    record = {value, record.version + 1};
    if (w == Step::kApplyLoseReply) return Status(StatusCode::kTimeout, "reply lost");
    return record.version;
  }
  Result<Versioned<int>> Update(const Mutation<int>& mutate,
                                std::optional<Versioned<int>> known = std::nullopt) {
    return UpdateRecord<int>([this] { return Read(); },
                             [this](const int& v, Version e) { return Write(v, e); }, mutate,
                             "record", std::move(known));
  }
};

// "Set the record to `target`": already there means done.
Mutation<int> SetTo(int target, int* calls = nullptr) {
  return [=](const Versioned<int>& now) -> Decision<int> {
    if (calls) ++*calls;
    if (now.value == target) return kUnchanged;
    return target;
  };
}

TEST(UpdateRecordTest, WritesWhatTheMutationAsksFor) {
  Script s;
  Result<Versioned<int>> r = s.Update(SetTo(7));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->value, 7);
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(s.record.value, 7);
}

TEST(UpdateRecordTest, AKnownRecordSavesTheFirstRead) {
  Script s;
  ASSERT_TRUE(s.Update(SetTo(7), Versioned<int>{0, 0}).ok());
  EXPECT_EQ(s.reads, 0);
}

TEST(UpdateRecordTest, ALostCompareAndSetShowsTheMutationTheNewRecord) {
  Script s;
  s.writes = {Script::Step::kLoseRace};
  std::vector<int> seen;
  Mutation<int> add_one = [&](const Versioned<int>& now) -> Decision<int> {
    seen.push_back(now.value);
    return now.value + 1;
  };
  Result<Versioned<int>> r = s.Update(add_one);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(seen, (std::vector<int>{0, 100}));
  EXPECT_EQ(r->value, 101);
  EXPECT_EQ(s.record.value, 101);
}

TEST(UpdateRecordTest, AWriteWhoseReplyWasLostIsRecognisedAndNotWrittenTwice) {
  Script s;
  s.writes = {Script::Step::kApplyLoseReply};
  int calls = 0;
  Result<Versioned<int>> r = s.Update(SetTo(7, &calls));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->value, 7);
  EXPECT_EQ(r->version, 1);  // the re-read found it; nothing written again
  EXPECT_EQ(s.write_calls, 1);
  EXPECT_EQ(calls, 2);
}

TEST(UpdateRecordTest, TheMutationsErrorStopsTheLoop) {
  Script s;
  Mutation<int> refuse = [](const Versioned<int>&) -> Decision<int> {
    return Status(StatusCode::kFenced, "no");
  };
  Result<Versioned<int>> r = s.Update(refuse);
  EXPECT_TRUE(r.status().Is(StatusCode::kFenced));
  EXPECT_EQ(s.write_calls, 0);
}

TEST(UpdateRecordTest, ADefiniteWriteErrorIsReturned) {
  Script s;
  s.writes = {Script::Step::kFail};
  Result<Versioned<int>> r = s.Update(SetTo(7));
  EXPECT_TRUE(r.status().Is(StatusCode::kIOError)) << r.status().ToString();
  EXPECT_EQ(s.write_calls, 1);
}

TEST(UpdateRecordTest, ReadsThatTimeOutAreRetriedWithinTheBound) {
  Script s;
  s.timed_out_reads = 2;
  Result<Versioned<int>> r = s.Update(SetTo(7));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(s.reads, 3);
}

TEST(UpdateRecordTest, GivesUpAfterTheBoundSayingWhy) {
  Script s;
  s.writes.assign(kUpdateAttempts + 5, Script::Step::kLoseRace);
  Result<Versioned<int>> r = s.Update(SetTo(-1));
  EXPECT_TRUE(r.status().Is(StatusCode::kBadVersion)) << r.status().ToString();
  EXPECT_NE(r.status().message().find("gave up"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(s.write_calls, kUpdateAttempts);
}

}  // namespace
}  // namespace quire::metadata
