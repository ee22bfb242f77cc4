#include "core/text_util.h"

#include <gtest/gtest.h>

namespace sa {
namespace {

TEST(TextUtil, TermsSplitOnAsciiWhitespaceAndTheIdeographicSpace) {
  using V = std::vector<std::string>;
  EXPECT_EQ(split_query_terms("海边 日落"), (V{"海边", "日落"}));
  EXPECT_EQ(split_query_terms("海边\xE3\x80\x80日落\t猫 猫"), (V{"海边", "日落", "猫", "猫"}));
  EXPECT_EQ(split_query_terms("  \xE3\x80\x80 "), V{});
  EXPECT_EQ(split_query_terms("sunset"), V{"sunset"});
  // A U+3000 lookalike prefix (E3 80 81, "、") is part of a term.
  EXPECT_EQ(split_query_terms("猫\xE3\x80\x81狗"), V{"猫\xE3\x80\x81狗"});
}

TEST(TextUtil, AsciiLowerLeavesUtf8Alone) {
  EXPECT_EQ(ascii_lower("IMG_001.JPG 海边"), "img_001.jpg 海边");
  EXPECT_EQ(utf8_length("海边a"), 3u);
  EXPECT_EQ(utf8_length(""), 0u);
}

}  // namespace
}  // namespace sa
