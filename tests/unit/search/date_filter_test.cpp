#include "search/date_filter.h"

#include <gtest/gtest.h>

namespace sa {
namespace {

TEST(DateFilter, AcceptsRealDatePrefixes) {
  for (const char* d : {"", "2023", "2023-01", "2023-12", "2023-01-31", "2023-04-30", "2024-02-29",
                        "2000-02-29", "2023-02-28", "1999-12-31"}) {
    EXPECT_TRUE(check_date_prefix(d, "date_from").ok()) << d;
  }
}

TEST(DateFilter, RejectsImpossibleDatesAndBadShapes) {
  for (const char* d : {"2023-13-45", "2023-13", "2023-00", "2023-00-10", "2023-01-00", "2023-01-32",
                        "2023-04-31", "2023-02-29", "1900-02-29", "2100-02-29", "2023-02-30",
                        "yesterday", "23-01-01", "2023/01/01", "2023-1-1", "2023-01-1", "20230101",
                        "2023-", "2023-01-", "+023-01-01", "2023-0a-01", "2023-01-01T00"}) {
    Status s = check_date_prefix(d, "date_to");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << d;
    EXPECT_NE(s.message().find("date_to"), std::string::npos) << s.message();
  }
}

TEST(DateFilter, RangeMustNotBeEmpty) {
  EXPECT_TRUE(check_date_range("", "").ok());
  EXPECT_TRUE(check_date_range("2023-01-01", "").ok());
  EXPECT_TRUE(check_date_range("", "2023-01-01").ok());
  EXPECT_TRUE(check_date_range("2023-01-01", "2023-01-01").ok());
  EXPECT_TRUE(check_date_range("2023-01-01", "2023-01-02").ok());
  EXPECT_TRUE(check_date_range("2023-05", "2023").ok());      // May .. end of 2023
  EXPECT_TRUE(check_date_range("2023", "2023-01-01").ok());   // 1 Jan 2023
  EXPECT_TRUE(check_date_range("2023-06-15", "2023-06").ok());
  EXPECT_TRUE(check_date_range("2022-12-31", "2023").ok());
  for (auto [from, to] : {std::pair{"2023-01-02", "2023-01-01"}, {"2024", "2023-12-31"},
                          {"2023-07", "2023-06-30"}, {"2023-06-15", "2023-05"}, {"2024", "2023"}}) {
    Status s = check_date_range(from, to);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << from << " .. " << to;
    EXPECT_NE(s.message().find("after"), std::string::npos) << s.message();
  }
  // Each side is checked on its own first.
  EXPECT_NE(check_date_range("2023-02-30", "2024").message().find("date_from"), std::string::npos);
  EXPECT_NE(check_date_range("2023", "2023-13").message().find("date_to"), std::string::npos);
}

}  // namespace
}  // namespace sa
