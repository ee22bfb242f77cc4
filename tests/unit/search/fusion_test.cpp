#include "search/fusion.h"

#include <gtest/gtest.h>

#include <cmath>

#include "search/searcher.h"

namespace sa {
namespace {

TEST(KeywordScore, WholeQueryPhraseScoresOne) {
  EXPECT_FLOAT_EQ(keyword_score("日落", "海边的日落很美"), 1.0f);
  EXPECT_FLOAT_EQ(keyword_score("海边 日落", "海边的日落"), 0.5f);  // both terms, not the phrase
  EXPECT_FLOAT_EQ(keyword_score("海边的 日落", "海边的日落"), 1.0f);  // spaces ignored for the phrase
  EXPECT_FLOAT_EQ(keyword_score("Coffee", "a cup of COFFEE"), 1.0f);
  EXPECT_FLOAT_EQ(keyword_score("猫 狗 鸟", "一只猫和一只鸟"), 0.5f * 2 / 3);
  EXPECT_FLOAT_EQ(keyword_score("大象", "一只猫"), 0.0f);
  EXPECT_FLOAT_EQ(keyword_score("", "一只猫"), 0.0f);
  EXPECT_FLOAT_EQ(keyword_score("猫", ""), 0.0f);
}

TEST(Fusion, CalibratesWithinCandidatesAndSorts) {
  std::vector<FusionCandidate> c = {
      {1, 0.20f, std::nullopt, 0},
      {2, 0.30f, std::nullopt, 0},
      {3, 0.25f, std::nullopt, 0},
  };
  FusionWeights w;
  auto f = fuse_scores(c, w);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].id, 2);
  EXPECT_EQ(f[1].id, 3);
  EXPECT_EQ(f[2].id, 1);
  // No description anywhere: desc term takes the calibrated CLIP score.
  EXPECT_NEAR(f[0].score, 1.0f, 1e-6);
  EXPECT_NEAR(f[1].score, 0.5f, 1e-5);
  EXPECT_NEAR(f[2].score, 0.0f, 1e-6);
  EXPECT_FLOAT_EQ(f[0].clip, 0.30f);
}

TEST(Fusion, FullKeywordMatchAlwaysRanksFirst) {
  // Photo 9 has the weakest CLIP and description scores but its description
  // contains the query; it must still come first.
  std::vector<FusionCandidate> c = {
      {1, 0.90f, 0.95f, 0},
      {2, 0.80f, std::nullopt, 0},
      {9, 0.10f, 0.05f, 1.0f},
      {4, 0.50f, 0.60f, 0.5f},  // the best a partial match can score
      {5, 0.95f, 0.99f, 0.5f},
  };
  auto f = fuse_scores(c);
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0].id, 9);
  EXPECT_EQ(f[1].id, 5);
  EXPECT_FLOAT_EQ(f[0].keyword, 1.0f);
  ASSERT_TRUE(f[0].desc.has_value());
  EXPECT_FLOAT_EQ(*f[0].desc, 0.05f);
}

TEST(Fusion, PhotosWithoutDescriptionsStillRankByClip) {
  std::vector<FusionCandidate> c = {
      {1, 0.10f, std::nullopt, 0}, {2, 0.40f, std::nullopt, 0}, {3, 0.30f, std::nullopt, 0},
      {4, 0.20f, 0.50f, 0},        {5, 0.25f, 0.90f, 0},
  };
  auto f = fuse_scores(c);
  std::vector<int64_t> undescribed;
  for (auto& x : f) {
    if (!x.desc) undescribed.push_back(x.id);
  }
  EXPECT_EQ(undescribed, (std::vector<int64_t>{2, 3, 1}));
  EXPECT_EQ(f[0].id, 2);  // best CLIP and no description: not pushed down for lacking one
}

TEST(Fusion, DegenerateInputs) {
  EXPECT_TRUE(fuse_scores({}).empty());
  auto one = fuse_scores({{7, -0.2f, std::nullopt, 0}});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_TRUE(std::isfinite(one[0].score));
  // Equal scores: stable order by id.
  auto eq = fuse_scores({{3, 0.5f, std::nullopt, 0}, {1, 0.5f, std::nullopt, 0}});
  EXPECT_EQ(eq[0].id, 1);
  // Keyword outside [0,1] is clamped.
  auto cl = fuse_scores({{1, 0.5f, std::nullopt, 5.0f}});
  EXPECT_FLOAT_EQ(cl[0].keyword, 1.0f);
}

TEST(DateFilter, InclusivePrefixes) {
  PhotoInfo p;
  p.taken_at = "2023-01-22T10:00:00";
  SearchOptions o;
  EXPECT_TRUE(passes_date_filter(p, o));
  o.date_from = "2023-01-22";
  o.date_to = "2023-01-22";
  EXPECT_TRUE(passes_date_filter(p, o));
  o.date_from = "2023-01-23";
  EXPECT_FALSE(passes_date_filter(p, o));
  o.date_from = "2022";
  o.date_to = "2023-01";
  EXPECT_TRUE(passes_date_filter(p, o));
  o.date_to = "2022-12-31";
  EXPECT_FALSE(passes_date_filter(p, o));
  PhotoInfo undated;
  o.date_to.clear();
  EXPECT_FALSE(passes_date_filter(undated, o));
}

}  // namespace
}  // namespace sa
