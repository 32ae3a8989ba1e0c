// Encoding of the stored records: round trips, and kCorruption (never a half-parsed value) for
// damaged bytes, invalid fields and format versions newer than this build.
#include "metadata/records.h"

#include <gtest/gtest.h>

#include "metadata.pb.h"
#include "metadata/store_harness.h"

namespace quire::metadata {
namespace {

constexpr std::string_view kWhere = "znode /quire/ledgers/000/0000/0000/0000/L0042";

void ExpectCorruption(const Status& s, std::string_view mentions) {
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(kWhere), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(mentions), std::string::npos) << s.ToString();
}

TEST(RecordsTest, LedgerMetadataRoundTrips) {
  LedgerMetadata md = testing::SampleLedger("host:1");
  md.digest_type = DigestType::kHmacSha256;
  md.state = LedgerState::kClosed;
  md.last_entry_id = 1'000'000'000'000;
  md.length = 1ull << 40;
  md.ensembles.push_back(Ensemble{500, {"bk1:3181", "bk5:3181", "bk3:3181"}});
  md.custom_metadata["binary"] = std::string("\0\1\2", 3);
  md.master_key = std::string(32, '\x7f');
  md.digest_key = std::string("\0key", 4);
  auto back = DecodeLedgerMetadata(EncodeLedgerMetadata(md), kWhere);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, md);
}

TEST(RecordsTest, DamagedLedgerBytesAreCorruption) {
  std::string good = EncodeLedgerMetadata(testing::SampleLedger());
  ExpectCorruption(DecodeLedgerMetadata("", kWhere).status(), "without a format version");
  ExpectCorruption(DecodeLedgerMetadata(good.substr(0, good.size() - 3), kWhere).status(),
                   "ledger metadata");
  ExpectCorruption(DecodeLedgerMetadata("\xff\xff\xff\xff", kWhere).status(), "not a valid");
}

TEST(RecordsTest, FutureFormatIsRefusedBeforeAnythingElse) {
  proto::LedgerMetadataRecord r;
  r.set_format_version(kLedgerMetadataFormatVersion + 1);
  ExpectCorruption(DecodeLedgerMetadata(r.SerializeAsString(), kWhere).status(),
                   "newer than this build");
}

TEST(RecordsTest, InvalidFieldsAreCorruption) {
  auto with = [](auto mutate) {
    proto::LedgerMetadataRecord r;
    ASSERT_TRUE(r.ParseFromString(EncodeLedgerMetadata(testing::SampleLedger())));
    mutate(r);
    ExpectCorruption(DecodeLedgerMetadata(r.SerializeAsString(), kWhere).status(), "invalid");
  };
  with([](proto::LedgerMetadataRecord& r) { r.set_state(proto::LedgerMetadataRecord::State(7)); });
  with([](proto::LedgerMetadataRecord& r) {
    r.set_digest_type(proto::LedgerMetadataRecord::DIGEST_UNSPECIFIED);
  });
  with([](proto::LedgerMetadataRecord& r) { r.set_ack_quorum_size(9); });
  with([](proto::LedgerMetadataRecord& r) { r.clear_ensembles(); });
  with([](proto::LedgerMetadataRecord& r) { r.mutable_ensembles(0)->add_bookies("bk9:1"); });
  with([](proto::LedgerMetadataRecord& r) { r.set_ensemble_size(4'000'000'000u); });
}

TEST(RecordsTest, CookieRoundTripsAndMatches) {
  Cookie c{"bk1:3181", "abc", {"/j"}, {"/l1", "/l2"}, {}, 5};
  auto back = DecodeCookie(EncodeCookie(c), kWhere);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, c);
  EXPECT_TRUE(CheckCookieMatches(*back, c).ok());
  Cookie wiped = c;
  wiped.instance_id = "other";
  EXPECT_EQ(CheckCookieMatches(*back, wiped).code(), StatusCode::kFailedPrecondition);
  Cookie moved = c;
  moved.ledger_dirs = {"/l1"};
  Status s = CheckCookieMatches(*back, moved);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("ledger dirs"), std::string::npos) << s.ToString();

  proto::CookieRecord future;
  future.set_format_version(kCookieFormatVersion + 1);
  ExpectCorruption(DecodeCookie(future.SerializeAsString(), kWhere).status(), "cookie");
}

TEST(RecordsTest, OtherRecordsRoundTripAndCheckVersions) {
  ClusterInfo info;
  info.instance_id = "id";
  info.layout_version = kLayoutVersion;
  info.creation_time_ms = 7;
  auto cluster = DecodeClusterInfo(EncodeClusterInfo(info), kWhere);
  ASSERT_TRUE(cluster.ok());
  EXPECT_EQ(cluster->instance_id, "id");
  info.layout_version = kLayoutVersion + 1;
  ExpectCorruption(DecodeClusterInfo(EncodeClusterInfo(info), kWhere).status(), "layout version");

  UnderReplicatedLedger m;
  m.lost_bookies = {"b", "a"};
  auto marker = DecodeUnderReplicated(EncodeUnderReplicated(m), kWhere);
  ASSERT_TRUE(marker.ok());
  EXPECT_EQ(marker->lost_bookies, (std::vector<BookieId>{"a", "b"}));

  auto reg = DecodeRegistration(
      EncodeRegistration({"bk1:3181", BookieMode::kReadOnly, "s1", "host:1"}), kWhere);
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ(reg->mode, BookieMode::kReadOnly);
  EXPECT_EQ(reg->session_id, "s1");

  auto session = DecodeSession(EncodeSession({"s1", "host:1", 100, 10}), kWhere);
  ASSERT_TRUE(session.ok());
  EXPECT_EQ(session->lease_expiry_ms, 100);

  auto counter = DecodeIdCounter(EncodeIdCounter(12), kWhere);
  ASSERT_TRUE(counter.ok());
  EXPECT_EQ(*counter, 12);
  ExpectCorruption(DecodeIdCounter(EncodeIdCounter(-1), kWhere).status(), "negative");
}

}  // namespace
}  // namespace quire::metadata
