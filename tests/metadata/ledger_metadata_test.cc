// quire::LedgerMetadata helpers and validation, and the ledger-id layout.
#include "quire/ledger_metadata.h"

#include <map>

#include <gtest/gtest.h>

#include "metadata/layout.h"
#include "metadata/store_harness.h"

namespace quire {
namespace {

using metadata::testing::SampleLedger;

LedgerMetadata FiveBookies() {
  LedgerMetadata md = SampleLedger();
  md.ensemble_size = 5;
  md.write_quorum_size = 3;
  md.ack_quorum_size = 2;
  md.ensembles = {Ensemble{0, {"a", "b", "c", "d", "e"}}, Ensemble{100, {"a", "b", "x", "d", "e"}},
                  Ensemble{250, {"a", "y", "x", "d", "e"}}};
  return md;
}

TEST(LedgerMetadataTest, EnsembleInForce) {
  LedgerMetadata md = FiveBookies();
  ASSERT_TRUE(md.Validate().ok());
  EXPECT_EQ(md.EnsembleFor(0).first_entry_id, 0);
  EXPECT_EQ(md.EnsembleFor(99).first_entry_id, 0);
  EXPECT_EQ(md.EnsembleFor(100).first_entry_id, 100);
  EXPECT_EQ(md.EnsembleFor(249).first_entry_id, 100);
  EXPECT_EQ(md.EnsembleFor(250).first_entry_id, 250);
  EXPECT_EQ(md.EnsembleFor(1'000'000).first_entry_id, 250);
  EXPECT_EQ(&md.LastEnsemble(), &md.ensembles.back());
}

TEST(LedgerMetadataTest, WriteSetIsQwConsecutivePositionsModuloE) {
  LedgerMetadata md = FiveBookies();
  EXPECT_EQ(md.WriteSetPositions(0), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(md.WriteSetPositions(3), (std::vector<int>{3, 4, 0}));
  EXPECT_EQ(md.WriteSetPositions(4), (std::vector<int>{4, 0, 1}));
  EXPECT_EQ(md.WriteSetPositions(7), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(md.WriteSet(3), (std::vector<BookieId>{"d", "e", "a"}));
  EXPECT_EQ(md.WriteSet(102), (std::vector<BookieId>{"x", "d", "e"}));
  EXPECT_EQ(md.WriteSet(251), (std::vector<BookieId>{"y", "x", "d"}));
  // Every bookie of an ensemble is in exactly Qw of any E consecutive write sets.
  std::map<BookieId, int> count;
  for (EntryId e = 0; e < 5; ++e) {
    for (const auto& b : md.WriteSet(e)) ++count[b];
  }
  for (const auto& [b, n] : count) EXPECT_EQ(n, 3) << b;
}

TEST(LedgerMetadataTest, ValidateRejectsEachBrokenInvariant) {
  auto broken = [](auto mutate) {
    LedgerMetadata md = FiveBookies();
    mutate(md);
    Status s = md.Validate();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    return s.message();
  };
  broken([](LedgerMetadata& m) { m.ack_quorum_size = 0; });
  broken([](LedgerMetadata& m) { m.ack_quorum_size = 4; });
  broken([](LedgerMetadata& m) { m.write_quorum_size = 6; });
  broken([](LedgerMetadata& m) { m.ensembles.clear(); });
  broken([](LedgerMetadata& m) { m.ensembles[0].first_entry_id = 1; });
  broken([](LedgerMetadata& m) { m.ensembles[2].first_entry_id = 100; });
  broken([](LedgerMetadata& m) { m.ensembles[1].bookies.pop_back(); });
  broken([](LedgerMetadata& m) { m.ensembles[1].bookies[0] = "b"; });
  broken([](LedgerMetadata& m) { m.ensembles[1].bookies[0] = ""; });
  broken([](LedgerMetadata& m) { m.last_entry_id = 5; });  // set while OPEN
  broken([](LedgerMetadata& m) {
    m.state = LedgerState::kClosed;
    m.last_entry_id = -1;
    m.length = 10;
  });
  broken([](LedgerMetadata& m) { m.custom_metadata[""] = "x"; });
  broken([](LedgerMetadata& m) { m.state = static_cast<LedgerState>(9); });
  EXPECT_NE(broken([](LedgerMetadata& m) { m.ensemble_size = 2; }).find("E >= Qw"),
            std::string::npos);

  LedgerMetadata closed = FiveBookies();
  closed.state = LedgerState::kClosed;
  closed.last_entry_id = 300;
  closed.length = 1 << 20;
  EXPECT_TRUE(closed.Validate().ok());
  closed.last_entry_id = kNoEntry;  // closed empty
  closed.length = 0;
  EXPECT_TRUE(closed.Validate().ok());
}

TEST(LedgerMetadataTest, PasswordHashIsStableAndNotThePassword) {
  std::string h = HashLedgerPassword("secret");
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(h, HashLedgerPassword("secret"));
  EXPECT_NE(h, HashLedgerPassword("secreT"));
  EXPECT_EQ(h.find("secret"), std::string::npos);
  EXPECT_EQ(HashLedgerPassword("").size(), 32u);
}

TEST(LayoutTest, LedgerPathsSplitNineteenDigits) {
  using metadata::LedgerIdPath;
  EXPECT_EQ(LedgerIdPath(0), "000/0000/0000/0000/L0000");
  EXPECT_EQ(LedgerIdPath(1234567), "000/0000/0000/0123/L4567");
  EXPECT_EQ(LedgerIdPath(kMaxLedgerId), "922/3372/0368/5477/L5807");
}

TEST(LayoutTest, WalkSkipsForeignNamesAndStartsAnywhere) {
  std::map<std::string, std::vector<std::string>> tree = {
      {"r", {"000", "junk", "00"}},
      {"r/000", {"0000", "0001"}},
      {"r/000/0000", {"0000"}},
      {"r/000/0000/0000", {"0000", "0002"}},
      {"r/000/0000/0000/0000", {"L0003", "L0001", "L0001.tmp", "X0002"}},
      {"r/000/0000/0000/0002", {"L9999"}},
      {"r/000/0001", {"0000"}},
      {"r/000/0001/0000", {"0000"}},
      {"r/000/0001/0000/0000", {"L0000"}},
  };
  auto list = [&](const std::string& dir) -> Result<std::vector<std::string>> {
    auto it = tree.find(dir);
    if (it == tree.end()) return NotFound(dir);
    return it->second;
  };
  auto all = metadata::ListLedgerHierarchy(list, "r", 0, 100);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<LedgerId>{1, 3, 29999, 1000000000000}));
  auto from = metadata::ListLedgerHierarchy(list, "r", 2, 2);
  ASSERT_TRUE(from.ok());
  EXPECT_EQ(*from, (std::vector<LedgerId>{3, 29999}));
  auto none = metadata::ListLedgerHierarchy(list, "r", 1000000000001, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(metadata::ListLedgerHierarchy(list, "missing", 0, 10).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace quire
