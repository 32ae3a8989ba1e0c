// The writer's decisions alone (client/writer_core.h): no bookies, no metadata store, no clock.
#include "client/writer_core.h"

#include <gtest/gtest.h>

namespace quire::client {
namespace {

using Clock = std::chrono::steady_clock;
const Clock::time_point kT0{};

LedgerMetadata Ledger(int e, int qw, int qa) {
  LedgerMetadata md;
  md.ensemble_size = e;
  md.write_quorum_size = qw;
  md.ack_quorum_size = qa;
  Ensemble first;
  for (int i = 0; i < e; ++i) first.bookies.push_back("b" + std::to_string(i));
  md.ensembles.push_back(first);
  return md;
}

struct Harness {
  explicit Harness(LedgerMetadata md, size_t max_outstanding = 100)
      : core(7, std::move(md),
             BookieChoice(std::chrono::milliseconds(10), std::chrono::milliseconds(100), 1),
             BusyRetry{std::chrono::milliseconds(5), std::chrono::milliseconds(20), 2},
             max_outstanding) {}

  // Appends one entry; returns the sends it caused.
  std::vector<WriterCore::Send> Append() {
    Result<WriterCore::Reservation> r = core.Reserve(
        10, [this](Result<EntryId> result) { results.push_back(result); }, kT0);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return Take(core.Fill(r->id, "body-" + std::to_string(r->id)));
  }
  std::vector<WriterCore::Send> Answer(EntryId e, int pos, Status s = Status::Ok()) {
    return Take(core.OnAddResult(e, pos, core.metadata().LastEnsemble().bookies[size_t(pos)], s,
                                 kT0));
  }
  std::vector<WriterCore::Send> Take(WriterCore::Effects effects) {
    for (auto& c : effects.completions) c.callback(std::move(c.result));
    change_started = change_started || effects.start_change;
    for (auto& r : effects.retries) retries.push_back(r);
    return effects.sends;
  }

  WriterCore core;
  std::vector<Result<EntryId>> results;
  std::vector<WriterCore::Retry> retries;
  bool change_started = false;
};

TEST(WriterCoreTest, AnEntryIsAcknowledgedAtQaAndOnlyAfterEveryEntryBeforeIt) {
  Harness h(Ledger(3, 3, 2));
  EXPECT_EQ(h.Append().size(), 3u);
  EXPECT_EQ(h.Append().size(), 3u);
  h.Answer(1, 0);
  h.Answer(1, 1);  // entry 1 has Qa copies, entry 0 none yet
  EXPECT_TRUE(h.results.empty());
  h.Answer(0, 2);
  EXPECT_TRUE(h.results.empty());
  h.Answer(0, 1);
  ASSERT_EQ(h.results.size(), 2u);
  EXPECT_EQ(*h.results[0], 0);
  EXPECT_EQ(*h.results[1], 1);
  EXPECT_EQ(h.core.lac(), 1);
}

TEST(WriterCoreTest, AFailedBookiesEntriesWaitForItsReplacementWhichGetsThemAll) {
  Harness h(Ledger(3, 3, 2));
  h.Append();
  h.Answer(0, 0);
  h.Answer(0, 1);  // acknowledged: LAC 0
  h.Append();
  h.Answer(1, 0);
  h.Answer(1, 2, Status(StatusCode::kUnavailable, "connection refused"));
  EXPECT_TRUE(h.change_started);
  h.Answer(1, 1);  // Qa, but its write set holds the failed position: it waits
  EXPECT_EQ(h.results.size(), 1u);

  metadata::BookieList listed{{"b0", "b1", "b2", "b3"}, {}};
  WriterCore::ChangeStep step = h.core.PlanChange(listed, kT0);
  ASSERT_TRUE(step.write.has_value());
  ASSERT_EQ(step.write->ensembles.size(), 2u);
  EXPECT_EQ(step.write->ensembles[1].first_entry_id, 1);  // LAC + 1
  EXPECT_EQ(step.write->ensembles[1].bookies[2], "b3");
  WriterCore::ChangeStep written = h.core.ChangeWritten(*step.write, listed);
  std::vector<WriterCore::Send> sends = h.Take(std::move(written.effects));
  ASSERT_EQ(sends.size(), 1u);  // entry 1 to the replacement
  EXPECT_EQ(sends[0].bookie, "b3");
  EXPECT_EQ(sends[0].entry, 1);
  EXPECT_FALSE(written.again);
  ASSERT_EQ(h.results.size(), 2u);  // entry 1 had Qa acks of bookies still in the ensemble
  h.Take(h.core.ChangeEnded());
  EXPECT_TRUE(h.core.Quiescent());
}

TEST(WriterCoreTest, FencedStopsTheWriterButItsCloseStillAsksTheMetadata) {
  Harness h(Ledger(3, 3, 2));
  h.Append();
  h.Answer(0, 0);
  h.Answer(0, 1);
  h.Append();
  h.Answer(1, 0, Status(StatusCode::kFenced, "fenced"));
  ASSERT_EQ(h.results.size(), 2u);
  EXPECT_TRUE(h.results[1].status().Is(StatusCode::kFenced));
  EXPECT_FALSE(h.core.Reserve(1, [](Result<EntryId>) {}, kT0).ok());
  ASSERT_TRUE(h.core.BeginClose());
  EXPECT_FALSE(h.core.BeginClose());  // one close at a time
  Result<WriterCore::CloseTarget> target = h.core.Closed();
  ASSERT_TRUE(target.ok());  // CloseByWriter decides: OK if recovery ended at entry 0
  EXPECT_EQ(target->last, 0);
}

TEST(WriterCoreTest, ABusyBookieGetsTheAddAgainThenCountsAsFailed) {
  Harness h(Ledger(3, 3, 3));
  h.Append();
  const Status busy(StatusCode::kTooManyRequests, "write cache full");
  h.Answer(0, 1, busy);
  ASSERT_EQ(h.retries.size(), 1u);
  EXPECT_EQ(h.retries[0].delay, std::chrono::milliseconds(5));
  EXPECT_EQ(h.Take(h.core.RetryDue(0, 1, "b1")).size(), 1u);
  h.Answer(0, 1, busy);
  EXPECT_EQ(h.retries.size(), 2u);
  EXPECT_FALSE(h.change_started);
  h.Answer(0, 1, busy);  // max_retries (2) pauses spent
  EXPECT_TRUE(h.change_started);
}

TEST(WriterCoreTest, AppendsWaitAtTheBoundAndClosingRefusesNewOnes) {
  Harness h(Ledger(2, 2, 2), /*max_outstanding=*/1);
  h.Append();
  EXPECT_TRUE(h.core.Full());
  h.Answer(0, 0);
  h.Answer(0, 1);
  EXPECT_FALSE(h.core.Full());
  ASSERT_TRUE(h.core.BeginClose());
  WriterCore::AddCallback kept = [](Result<EntryId>) {};
  Result<WriterCore::Reservation> r = h.core.Reserve(1, std::move(kept), kT0);
  EXPECT_TRUE(r.status().Is(StatusCode::kLedgerClosed));
  EXPECT_TRUE(kept != nullptr);  // refused: the callback is still the caller's
}

TEST(WriterCoreTest, WithoutASpareAWriteSetBelowQaStopsTheWriter) {
  Harness h(Ledger(3, 3, 3));
  h.Append();
  h.Answer(0, 2, Status(StatusCode::kTimeout, "timed out"));
  WriterCore::ChangeStep step =
      h.core.PlanChange(metadata::BookieList{{"b0", "b1", "b2"}, {}}, kT0);
  h.Take(std::move(step.effects));
  EXPECT_FALSE(step.write.has_value());
  ASSERT_EQ(h.results.size(), 1u);
  EXPECT_TRUE(h.results[0].status().Is(StatusCode::kUnavailable));
  EXPECT_NE(h.results[0].status().message().find("fewer than Qa=3"), std::string::npos);
}

}  // namespace
}  // namespace quire::client
