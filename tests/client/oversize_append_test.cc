// An append larger than the bookies accept (issue 15): refused by the writer before it gets an
// entry id, with an error that names the size and the limit, and the ledger stays writable.
// Before, each bookie closed the connection on the frame, the writer counted all of them as
// failed and died with "not enough bookies".
#include <limits>

#include "bookie/bookie_config.h"
#include "protocol/add_frame.h"
#include "protocol/protocol.h"
#include "bookie/server.h"
#include "client/client_test_util.h"
#include "client/digest.h"
#include "client/write_handle.h"

namespace quire::client::testing {
namespace {

class OversizeAppendTest : public ClusterTest {};

TEST_P(OversizeAppendTest, IsRefusedBeforeItGetsAnIdAndTheLedgerStaysWritable) {
  ASSERT_NO_FATAL_FAILURE(StartCluster(3));  // the bookies' default maxFrameSizeBytes
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  auto writer = client->CreateLedger(
      {.ensemble_size = 3, .write_quorum_size = 3, .ack_quorum_size = 2, .password = "pw"});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_EQ((*writer)->Append(Payload(0)).value(), 0);

  auto refused = (*writer)->Append(std::string(10 << 20, 'x'));  // 10 MiB
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().Is(StatusCode::kInvalidArgument)) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("10485760"), std::string::npos)
      << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("5242880"), std::string::npos)
      << refused.status().ToString();

  // The next append takes the next id; nothing was counted as a bookie failure.
  auto next = (*writer)->Append(Payload(1));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(*next, 1);
  EXPECT_EQ((*writer)->metadata().ensembles.size(), 1u) << (*writer)->metadata().Summary();

  // The largest payload allowed goes through the real bookies; one byte more is refused.
  const size_t largest = MaxAppendPayload(ClientOptions{}.bookie_max_frame_size);
  auto at_limit = (*writer)->Append(std::string(largest, 'y'));
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().ToString();
  EXPECT_EQ(*at_limit, 2);
  EXPECT_TRUE((*writer)->Append(std::string(largest + 1, 'y')).status().Is(
      StatusCode::kInvalidArgument));

  ASSERT_TRUE((*writer)->Close().ok());
  auto reader = client->OpenLedger((*writer)->id(), "pw");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  ASSERT_EQ((*reader)->last_add_confirmed(), 2);
  auto got = (*reader)->Read(0, 2);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)[1].payload, Payload(1));
  EXPECT_EQ((*got)[2].payload, std::string(largest, 'y'));
}

// kAddRequestOverhead covers the largest add request the writer can build: the largest ids, an
// HMAC digest, the largest payload allowed, every header field at its widest.
TEST(AddRequestSizeTest, TheLargestAllowedPayloadFitsTheFrameLimit) {
  const uint32_t limit = ClientOptions{}.bookie_max_frame_size;
  constexpr int64_t kMaxId = std::numeric_limits<int64_t>::max();
  const Digest digest(DigestType::kHmacSha256, "pw");
  std::string body = digest.EncodeEntry(kMaxId, kMaxId, kMaxId - 1,
                                        std::numeric_limits<uint64_t>::max(),
                                        std::string(MaxAppendPayload(limit), 'x'));
  // Framed as the writer frames it (protocol/add_frame.h).
  protocol::WriteBuffer frame;
  protocol::AppendAddFrame(&frame, std::numeric_limits<uint64_t>::max(),
                           {kMaxId, kMaxId, std::make_shared<const std::string>(MasterKey("pw")),
                            std::make_shared<const std::string>(std::move(body))});
  EXPECT_LE(frame.size() - protocol::kFrameHeaderSize, limit);
}

// The client's limit defaults to the bookies' default maxFrameSizeBytes.
TEST(AddRequestSizeTest, TheClientsLimitDefaultsToTheBookiesDefault) {
  const uint32_t client = ClientOptions{}.bookie_max_frame_size;
  EXPECT_EQ(client, bookie::ServerOptions{}.max_frame_size);
  int found = 0;
  for (const ConfigKey& key : bookie::BookieConfigSchema().keys()) {
    if (key.name != "maxFrameSizeBytes") continue;
    EXPECT_EQ(key.default_value, std::to_string(client));
    ++found;
  }
  EXPECT_EQ(found, 1);
}

INSTANTIATE_TEST_SUITE_P(Metadata, OversizeAppendTest,
                         ::testing::Values(ClusterOptions::Metadata::kFile), MetadataName);

}  // namespace
}  // namespace quire::client::testing
