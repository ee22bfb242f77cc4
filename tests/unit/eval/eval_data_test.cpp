#include "eval/eval_data.h"

#include <gtest/gtest.h>

namespace sa::eval {
namespace {

TEST(Captions, StringOrListSortedByName) {
  auto c = parse_captions(R"({"b.jpg": ["狗", "草地上的狗"], "a.jpg": "一只猫"})");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->images, (std::vector<std::string>{"a.jpg", "b.jpg"}));
  EXPECT_EQ(c->texts, (std::vector<std::string>{"一只猫", "狗", "草地上的狗"}));
  EXPECT_EQ(c->text_image, (std::vector<int>{0, 1, 1}));
}

TEST(Captions, BadInputNamesTheProblem) {
  EXPECT_FALSE(parse_captions("not json").ok());
  EXPECT_FALSE(parse_captions("[]").ok());
  EXPECT_FALSE(parse_captions("{}").ok());
  auto r = parse_captions(R"({"a.jpg": 3})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("a.jpg"), std::string::npos);
  EXPECT_FALSE(parse_captions(R"({"a.jpg": []})").ok());
  EXPECT_FALSE(parse_captions(R"({"a.jpg": ["ok", "  "]})").ok());
}

TEST(Lines, StrippedTrailingBlankAllowedInnerBlankRefused) {
  auto l = parse_lines("  猫 \r\n狗\n\n\n", "labels");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, (std::vector<std::string>{"猫", "狗"}));
  auto bad = parse_lines("猫\n\n狗\n", "labels");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(parse_lines("\n \n", "labels").ok());
}

TEST(Templates, NeedAPlaceholder) {
  auto t = parse_templates("{}的照片。\n一张{}的图片。\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->size(), 2u);
  auto bad = parse_templates("{}的照片。\n照片\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos);
  EXPECT_EQ(fill_template("{}的照片。", "金鱼"), "金鱼的照片。");
  EXPECT_EQ(fill_template("{}和{}", "猫"), "猫和猫");
  EXPECT_EQ(fill_template("无", "猫"), "无");
}

TEST(Truth, IndicesInRange) {
  auto t = parse_truth(R"({"z.jpg": 2, "a.jpg": 0})", 3);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->images, (std::vector<std::string>{"a.jpg", "z.jpg"}));
  EXPECT_EQ(t->classes, (std::vector<int>{0, 2}));
  EXPECT_FALSE(parse_truth(R"({"a.jpg": 3})", 3).ok());
  EXPECT_FALSE(parse_truth(R"({"a.jpg": -1})", 3).ok());
  EXPECT_FALSE(parse_truth(R"({"a.jpg": 1.5})", 3).ok());
  EXPECT_FALSE(parse_truth(R"({"a.jpg": "1"})", 3).ok());
}

TEST(EvalText, CurlyDoubleQuotesBecomeStraight) {
  EXPECT_EQ(eval_text("他说“你好”"), "他说\"你好\"");
  EXPECT_EQ(eval_text("‘单引号’不变"), "‘单引号’不变");
  EXPECT_EQ(eval_text("ABC"), "ABC");
}

}  // namespace
}  // namespace sa::eval
