#include "search/match_explain.h"

#include <gtest/gtest.h>

namespace sa {
namespace {

using V = std::vector<std::string>;

TEST(MatchExplain, PiecesOfAChineseQueryInTheDescription) {
  auto m = explain_match("海边的日落", {"海滩", "日落", "夕阳"}, "夕阳下的海边，日落时分", "");
  EXPECT_EQ(m.keywords, (V{"日落"}));
  EXPECT_EQ(m.description, (V{"海边", "日落"}));
  EXPECT_TRUE(m.text.empty());
}

TEST(MatchExplain, VisibleTextAndKeywordsContainingTheTerm) {
  auto m = explain_match("发票 Coffee", {"咖啡店发票", "COFFEE"}, "", "增值税发票 STARBUCKS COFFEE 拿铁");
  EXPECT_EQ(m.keywords, (V{"咖啡店发票", "COFFEE"}));
  EXPECT_EQ(m.text, (V{"发票", "coffee"}));
  EXPECT_TRUE(m.description.empty());
}

TEST(MatchExplain, NothingMatchesAndSingleCharactersAreNotPieces) {
  auto m = explain_match("雪山", {"海"}, "海边的日落", "");
  EXPECT_TRUE(m.empty());
  // A one-character term matches as a whole.
  m = explain_match("猫", {}, "一只橘猫", "");
  EXPECT_EQ(m.description, (V{"猫"}));
  // A one-character keyword inside a longer term does not count.
  m = explain_match("海边", {"海"}, "", "");
  EXPECT_TRUE(m.keywords.empty());
}

}  // namespace
}  // namespace sa
