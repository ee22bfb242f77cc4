// Store: FTS5 trigram search and the LIKE fallback for 1-2 character terms.
#include <gtest/gtest.h>

#include "store/keyword_score.h"
#include "store_test_util.h"

namespace sa::testing {
namespace {

class TextSearchTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    sunset_ = add("s1", "IMG_0001.jpg");
    ASSERT_TRUE(store_->set_description(sunset_, "海边的日落，天空是橙红色的", {"日落", "海边", "橙红色天空"}, "m").ok());
    cat_ = add("s2", "cat_sofa.jpg");
    ASSERT_TRUE(store_->set_description(cat_, "一只橘猫趴在沙发上", {"猫", "沙发"}, "m").ok());
    plain_ = add("s3", "Spring_Festival_family.jpg");
  }
  std::vector<int64_t> ids(const std::string& q) {
    auto r = store_->search_text(q);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    std::vector<int64_t> out;
    if (r.ok())
      for (const auto& h : *r) out.push_back(h.photo_id);
    return out;
  }
  float score_of(const std::string& q, int64_t id) {
    auto r = store_->search_text(q);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return -1;
    for (const auto& h : *r) {
      if (h.photo_id == id) return h.score;
    }
    return -1;
  }
  int64_t sunset_ = 0, cat_ = 0, plain_ = 0;
};

TEST_F(TextSearchTest, ChineseTrigramQuery) {
  EXPECT_EQ(ids("橙红色"), std::vector<int64_t>{sunset_});  // 3 chars: FTS5
  EXPECT_EQ(ids("趴在沙发"), std::vector<int64_t>{cat_});
  EXPECT_TRUE(ids("蓝色的海").empty());
}

TEST_F(TextSearchTest, ShortChineseQueriesUseLikeFallback) {
  EXPECT_EQ(ids("日落"), std::vector<int64_t>{sunset_});  // 2 chars: trigram cannot
  EXPECT_EQ(ids("猫"), std::vector<int64_t>{cat_});       // 1 char
  EXPECT_TRUE(ids("狗").empty());
}

// The score is the one keyword scorer's (store/keyword_score.h), the number
// hybrid search reports: 1 for the whole query in one field, else half the
// fraction of terms found.
TEST_F(TextSearchTest, ScoreIsTheKeywordScorer) {
  EXPECT_FLOAT_EQ(score_of("日落", sunset_), 1.0f);        // a keyword
  EXPECT_FLOAT_EQ(score_of("橙红色", sunset_), 1.0f);      // inside a keyword
  EXPECT_FLOAT_EQ(score_of("天空是", sunset_), 1.0f);      // description only
  EXPECT_FLOAT_EQ(score_of("festival", plain_), 1.0f);    // filename, case-insensitive
  EXPECT_FLOAT_EQ(score_of("日落 天空是", sunset_), 0.5f); // both terms, not as one phrase
  EXPECT_FLOAT_EQ(score_of("海边的 日落", sunset_), 1.0f); // the phrase, spaces ignored
  for (const char* q : {"日落", "橙红色", "天空是", "日落 天空是", "日落 海边", "海边的 日落"}) {
    auto p = store_->get_photo(sunset_);
    ASSERT_TRUE(p.ok());
    EXPECT_FLOAT_EQ(score_of(q, sunset_), keyword_score(q, keyword_text(*p))) << q;
  }
}

TEST_F(TextSearchTest, AllTermsMustMatch) {
  EXPECT_EQ(ids("日落 海边"), std::vector<int64_t>{sunset_});
  EXPECT_TRUE(ids("日落 猫").empty());
  EXPECT_EQ(ids("橙红色　天空是"), std::vector<int64_t>{sunset_});  // ideographic space
}

TEST_F(TextSearchTest, FilenameAndFolder) {
  EXPECT_EQ(ids("IMG_0001"), std::vector<int64_t>{sunset_});
  EXPECT_EQ(ids("cat_sofa"), std::vector<int64_t>{cat_});
  EXPECT_EQ(ids("day1").size(), 3u);  // every test photo's folder is trip/day1
}

TEST_F(TextSearchTest, QuerySyntaxIsLiteral) {
  // FTS5 operators and LIKE wildcards must not break or widen the query.
  for (const char* q : {"\"", "\"日落", "a OR b", "NEAR(x y)", "*", "col:val", "%", "%%%", "\\",
                        "(((", "AND", "日落\"猫"}) {
    auto r = store_->search_text(q);
    EXPECT_TRUE(r.ok()) << q << ": " << r.status().to_string();
    EXPECT_TRUE(r->empty()) << q;
  }
  int64_t xay = add("xay", "xay.jpg");
  EXPECT_TRUE(ids("x_y").empty());  // '_' is not a LIKE wildcard here
  EXPECT_TRUE(ids("x%").empty());
  EXPECT_EQ(ids("xa"), std::vector<int64_t>{xay});
  EXPECT_EQ(ids("_").size(), 3u);   // a literal underscore: IMG_0001, cat_sofa, Spring_Festival
  EXPECT_TRUE(ids("").empty());
  EXPECT_TRUE(ids("   ").empty());
}

TEST_F(TextSearchTest, UpdatesAreReflected) {
  ASSERT_TRUE(store_->set_description(cat_, "雪山和湖泊", {"雪山", "户外"}, "m").ok());
  EXPECT_EQ(ids("户外"), std::vector<int64_t>{cat_});  // keyword only, LIKE path
  EXPECT_FLOAT_EQ(score_of("户外", cat_), 1.0f);
  EXPECT_TRUE(ids("沙发").empty());
  EXPECT_EQ(ids("雪山"), std::vector<int64_t>{cat_});
  EXPECT_EQ(ids("雪山和湖泊"), std::vector<int64_t>{cat_});
}

TEST_F(TextSearchTest, LimitAndOrder) {
  for (int i = 0; i < 5; ++i) {
    int64_t id = add("x" + std::to_string(i), "beach" + std::to_string(i) + ".jpg");
    if (i == 2) {
      ASSERT_TRUE(store_->set_description(id, "beach day", {"beach"}, "m").ok());
    }
  }
  auto r = store_->search_text("beach", 3);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  for (const auto& h : *r) EXPECT_FLOAT_EQ(h.score, 1.0f);  // the word is in every name
  // A whole-phrase match ranks above partial ones ("day" is also in every
  // photo's folder trip/day1; only one has "beach day" in its description).
  auto two = store_->search_text("beach day", 10);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 5u);
  EXPECT_FLOAT_EQ((*two)[0].score, 1.0f);
  for (size_t i = 1; i < two->size(); ++i) EXPECT_FLOAT_EQ((*two)[i].score, 0.5f);
  auto part = store_->search_text("beach jpg", 10);
  ASSERT_TRUE(part.ok());
  ASSERT_EQ(part->size(), 5u);
  for (const auto& h : *part) EXPECT_FLOAT_EQ(h.score, 0.5f);  // both terms, never as one phrase
  EXPECT_TRUE(store_->search_text("beach", 0)->empty());
}

}  // namespace
}  // namespace sa::testing
