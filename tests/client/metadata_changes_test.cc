// The client's metadata changes alone (client/metadata_changes.h): what each decides on each
// record it may find, including the record its own lost write left behind.
#include "client/metadata_changes.h"

#include <gtest/gtest.h>

#include "client/digest.h"
#include "quire/client.h"

namespace quire::client {
namespace {

using Current = metadata::Versioned<LedgerMetadata>;
constexpr LedgerId kId = 7;

Current Ledger(LedgerState state = LedgerState::kOpen) {
  LedgerMetadata md;
  md.state = state;
  md.ensemble_size = md.write_quorum_size = 3;
  md.ack_quorum_size = 2;
  md.password_hash = StoredPasswordHash("pw");
  md.ensembles = {{0, {"a", "b", "c"}}};
  if (state == LedgerState::kClosed) md.last_entry_id = 9;
  return {md, 4};
}

// What a mutation answered: the new record, "unchanged", or an error code.
struct Answer {
  std::optional<LedgerMetadata> next;
  bool unchanged = false;
  StatusCode error = StatusCode::kOk;
};
Answer Ask(const LedgerMutation& m, const Current& now) {
  metadata::Decision<LedgerMetadata> d = m(now);
  if (!d.error.ok()) return {.error = d.error.code()};
  if (!d.next) return {.unchanged = true};
  return {.next = *d.next};
}

TEST(MetadataChangesTest, ClaimWriterRecognisesItsOwnClaimAndRefusesAnothers) {
  Answer a = Ask(ClaimWriter(kId, "pw", "host:1#aa"), Ledger());
  ASSERT_TRUE(a.next);
  EXPECT_EQ(a.next->custom_metadata.at(kWriterMetadataKey), "host:1#aa");

  Current claimed = Ledger();
  claimed.value.custom_metadata[kWriterMetadataKey] = "host:1#aa";
  // A retry after a lost reply finds its own claim: done, not kAlreadyExists.
  EXPECT_TRUE(Ask(ClaimWriter(kId, "pw", "host:1#aa"), claimed).unchanged);
  // Another call of the same process is another writer.
  EXPECT_EQ(Ask(ClaimWriter(kId, "pw", "host:1#bb"), claimed).error, StatusCode::kAlreadyExists);
  EXPECT_EQ(Ask(ClaimWriter(kId, "pw", "x"), Ledger(LedgerState::kInRecovery)).error,
            StatusCode::kLedgerClosed);
  EXPECT_EQ(Ask(ClaimWriter(kId, "wrong", "x"), Ledger()).error, StatusCode::kUnauthorized);
}

TEST(MetadataChangesTest, AClaimWhoseReplyWasLostSucceedsThroughTheLoop) {
  Current record = Ledger();
  int writes = 0;
  Result<Current> r = metadata::UpdateRecord<LedgerMetadata>(
      [&]() -> Result<Current> { return record; },
      [&](const LedgerMetadata& md, metadata::Version expected) -> Result<metadata::Version> {
        ++writes;
        if (expected != record.version) return Status(StatusCode::kBadVersion, "stale");
        record = {md, record.version + 1};
        return Status(StatusCode::kUnavailable, "connection lost; outcome unknown");
      },
      ClaimWriter(kId, "pw", "host:1#aa"), "ledger 7");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(writes, 1);
  EXPECT_EQ(r->version, 5);
  EXPECT_EQ(r->value.custom_metadata.at(kWriterMetadataKey), "host:1#aa");
}

TEST(MetadataChangesTest, MarkInRecoveryLeavesALedgerThatIsNoLongerOpen) {
  auto ok = [](const LedgerMetadata&) { return Status::Ok(); };
  Answer a = Ask(MarkInRecovery(ok), Ledger());
  ASSERT_TRUE(a.next);
  EXPECT_EQ(a.next->state, LedgerState::kInRecovery);
  EXPECT_TRUE(Ask(MarkInRecovery(ok), Ledger(LedgerState::kInRecovery)).unchanged);
  EXPECT_TRUE(Ask(MarkInRecovery(ok), Ledger(LedgerState::kClosed)).unchanged);
  auto refuse = [](const LedgerMetadata&) { return Status(StatusCode::kUnauthorized, "pw"); };
  EXPECT_EQ(Ask(MarkInRecovery(refuse), Ledger(LedgerState::kClosed)).error,
            StatusCode::kUnauthorized);
}

TEST(MetadataChangesTest, CloseRecoveredKeepsAnotherRecoverysClose) {
  Answer a = Ask(CloseRecovered(41, 4100), Ledger(LedgerState::kInRecovery));
  ASSERT_TRUE(a.next);
  EXPECT_EQ(a.next->state, LedgerState::kClosed);
  EXPECT_EQ(a.next->last_entry_id, 41);
  EXPECT_EQ(a.next->length, 4100u);
  EXPECT_TRUE(Ask(CloseRecovered(41, 4100), Ledger(LedgerState::kClosed)).unchanged);
}

TEST(MetadataChangesTest, CloseByWriterSucceedsOnlyAtItsOwnLac) {
  Answer a = Ask(CloseByWriter(kId, 9, 90), Ledger());
  ASSERT_TRUE(a.next);
  EXPECT_EQ(a.next->last_entry_id, 9);
  EXPECT_TRUE(Ask(CloseByWriter(kId, 9, 90), Ledger(LedgerState::kClosed)).unchanged);
  EXPECT_EQ(Ask(CloseByWriter(kId, 10, 100), Ledger(LedgerState::kClosed)).error,
            StatusCode::kFenced);
  EXPECT_EQ(Ask(CloseByWriter(kId, 9, 90), Ledger(LedgerState::kInRecovery)).error,
            StatusCode::kFenced);
}

TEST(MetadataChangesTest, ReplaceEnsemblesDetectsItsOwnChangeAndAnothers) {
  const std::vector<Ensemble> was = Ledger().value.ensembles;
  const std::vector<Ensemble> next = {{0, {"a", "b", "c"}}, {5, {"a", "d", "c"}}};
  LedgerMutation writer = ReplaceEnsembles(kId, was, next, StatusCode::kFenced, true);
  Current now = Ledger();
  now.value.custom_metadata["k"] = "v";  // an unrelated change since the writer read it
  Answer a = Ask(writer, now);
  ASSERT_TRUE(a.next);
  EXPECT_EQ(a.next->ensembles, next);
  EXPECT_EQ(a.next->custom_metadata.at("k"), "v");  // kept

  now.value.ensembles = next;
  EXPECT_TRUE(Ask(writer, now).unchanged);
  now.value.ensembles = {{0, {"a", "b", "c"}}, {3, {"e", "b", "c"}}};
  EXPECT_EQ(Ask(writer, now).error, StatusCode::kFenced);
  EXPECT_EQ(Ask(writer, Ledger(LedgerState::kInRecovery)).error, StatusCode::kFenced);

  LedgerMutation copy = ReplaceEnsembles(kId, was, next, StatusCode::kBadVersion, false);
  EXPECT_TRUE(Ask(copy, Ledger(LedgerState::kClosed)).next.has_value());
  EXPECT_EQ(Ask(copy, now).error, StatusCode::kBadVersion);
}

}  // namespace
}  // namespace quire::client
