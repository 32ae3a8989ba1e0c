// `quire bookie` commands that go through the bookies' admin HTTP endpoint or registration, on
// real quire-bookie processes (test_cluster.h).
#include <gtest/gtest.h>

#include <tuple>

#include <nlohmann/json.hpp>

#include "cli/run_quire.h"
#include "client/test_cluster.h"

namespace quire::cli {
namespace {

using quire::cli::testing::Outcome;

class BookieAdminCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = client::testing::TestCluster::Start({.bookies = 2});
    ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
    cluster_ = std::move(*cluster);
  }

  Outcome Quire(const std::vector<std::string>& args) {
    return quire::cli::testing::RunQuire(cluster_->metadata_uri(), args);
  }

  std::unique_ptr<client::testing::TestCluster> cluster_;
};

TEST_F(BookieAdminCliTest, ReadOnlyOnMovesABookieToTheReadOnlyListUntilOff) {
  const BookieId id = cluster_->bookie_id(1);
  Outcome on = Quire({"bookie", "readonly", "--on", id});
  ASSERT_EQ(on.exit_code(), 0) << on.text();
  EXPECT_NE(on.text().find("read-only"), std::string::npos) << on.text();
  // The bookie answers once its registration has moved: no waiting needed.
  EXPECT_EQ(Quire({"bookie", "list", "--readonly"}).lines, std::vector<std::string>{id});
  EXPECT_EQ(Quire({"bookie", "list"}).lines, std::vector<std::string>{cluster_->bookie_id(0)});
  Outcome json = Quire({"--json", "bookie", "readonly", "--on", id});  // again: no change
  ASSERT_EQ(json.exit_code(), 0) << json.text();
  nlohmann::json state = nlohmann::json::parse(json.text());
  EXPECT_EQ(state["readOnly"], true);
  EXPECT_EQ(state["manual"], true);

  Outcome off = Quire({"bookie", "readonly", "--off", id});
  ASSERT_EQ(off.exit_code(), 0) << off.text();
  EXPECT_NE(off.text().find("writable"), std::string::npos) << off.text();
  EXPECT_TRUE(Quire({"bookie", "list", "--readonly"}).lines.empty());
  EXPECT_EQ(Quire({"bookie", "list"}).lines.size(), 2u);

  EXPECT_EQ(Quire({"bookie", "readonly", id}).exit_code(), 2) << "--on or --off is required";
  EXPECT_EQ(Quire({"bookie", "readonly", "--on", "--off", id}).exit_code(), 2);
  EXPECT_EQ(Quire({"bookie", "readonly", "--on", "127.0.0.1:1"}).exit_code(), 1)
      << "no bookie there";
}

TEST_F(BookieAdminCliTest, ListJsonGivesEachBookiesVersionFromItsRegistration) {
  Outcome version = quire::cli::testing::RunProgram({QUIRE_BOOKIE_BINARY, "--version"});
  ASSERT_EQ(version.exit_code(), 0);
  // "quire-bookie 0.1.0 (commit ...)"
  std::string expected = version.lines.at(0).substr(13, version.lines[0].find(" (") - 13);
  ASSERT_EQ(Quire({"bookie", "readonly", "--on", cluster_->bookie_id(1)}).exit_code(), 0);
  for (const auto& [args, id, mode] :
       std::vector<std::tuple<std::vector<std::string>, BookieId, std::string>>{
           {{"--json", "bookie", "list"}, cluster_->bookie_id(0), "writable"},
           {{"--json", "bookie", "list", "--readonly"}, cluster_->bookie_id(1), "read-only"}}) {
    Outcome list = Quire(args);
    ASSERT_EQ(list.exit_code(), 0) << list.text();
    EXPECT_EQ(nlohmann::json::parse(list.text()),
              (nlohmann::json::array({{{"bookie", id}, {"mode", mode}, {"version", expected}}})))
        << list.text();
  }
}

}  // namespace
}  // namespace quire::cli
