#include "quire/status.h"

#include <gtest/gtest.h>

#include "common/check.h"

namespace quire {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  QUIRE_ASSIGN_OR_RETURN(int h, Half(x));
  QUIRE_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  QUIRE_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, ErrorCarriesCodeMessageAndContext) {
  Status s = ErrnoStatus("fdatasync /j/1.jnl", EIO);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(s.sys_errno(), EIO);
  Status c = s.WithContext("journal 0");
  EXPECT_EQ(c.code(), StatusCode::kIOError);
  EXPECT_EQ(c.ToString(), "io-error: journal 0: fdatasync /j/1.jnl: Input/output error");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(StatusTest, ResultPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_EQ(CheckEven(3).code(), StatusCode::kInvalidArgument);
}

TEST(StatusTest, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kUnauthenticated); ++c) {
    EXPECT_NE(StatusCodeName(static_cast<StatusCode>(c)), "unknown") << c;
  }
}


// Invariants hold in every build the tests run in (CI's is a release build with NDEBUG): a
// misused Result and a broken QUIRE_CHECK stop the process and say where and with what values.
TEST(StatusDeathTest, ValueOfAnErrorResultAbortsAndNamesTheError) {
  Result<int> r = Quarter(6);
  EXPECT_DEATH((void)r.value(), "value\\(\\) on an error Result: .*odd");
}

TEST(StatusDeathTest, BrokenChecksAbortWithTheirValues) {
  int a = 3, b = 4;
  EXPECT_DEATH(QUIRE_CHECK_EQ(a, b), "invariant broken: a == b \\(3 vs 4\\)");
  EXPECT_DEATH(QUIRE_CHECK_MSG(a > b, "{} items", 7), "invariant broken: a > b \\(7 items\\)");
  QUIRE_CHECK_LT(a, b);  // holds: nothing happens
}

}  // namespace
}  // namespace quire
