// A fixture with a real metadata store and one real quire-bookie process.
#pragma once

#include <gtest/gtest.h>

#include "bookie/bookie_process.h"
#include "bookie/raw_client.h"
#include "util/temp_dir.h"

namespace quire::bookie::testing {

class BookieTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metadata_uri_ = "file://" + dir_.Sub("metadata");
    ASSERT_TRUE(InitCluster(metadata_uri_).ok());
    auto b = BookieProcess::Start({dir_.Sub("bookie"), metadata_uri_, settings_});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bookie_ = std::move(*b);
  }

  RawClient Connect() {
    auto c = RawClient::Connect("127.0.0.1", bookie_->port());
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) std::abort();
    return std::move(*c);
  }

  // Sends one request and returns its response (asserting the ids match).
  proto::Response Call(RawClient& c, const proto::Request& r) {
    EXPECT_TRUE(c.Send(r).ok());
    auto resp = c.Receive();
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    if (!resp.ok()) return proto::Response();
    EXPECT_EQ(resp->header().request_id(), r.header().request_id());
    return *resp;
  }

  quire::testing::TempDir dir_{"quire-bookie-test"};
  std::string metadata_uri_;
  std::vector<std::string> settings_;
  std::unique_ptr<BookieProcess> bookie_;
};

}  // namespace quire::bookie::testing
