#include "search/relevance.h"
#include "search/searcher.h"

#include <gtest/gtest.h>

#include <map>

#include "golden_util.h"

namespace sa {
namespace {

// Photos whose stored vectors ARE the golden image embeddings: the ranking of a
// golden text query then depends only on our text tower and the search code.
class SearcherTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = ChineseClip::load(golden::tiny_clip_dir());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    clip_ = m->release();
    golden_ = new golden::Golden(golden::load());
  }
  static void TearDownTestSuite() {
    delete clip_;
    delete golden_;
  }

  void SetUp() override {
    ASSERT_EQ(golden_->images.size(), 7u);
    auto s = Store::open(":memory:");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    index_ = std::make_unique<VectorIndex>(clip_->embed_dim());
    index_->set_exact_batch_lookup(VectorIndex::store_lookup(*store_, "clip", "tiny"));  // as VectorSet does
    int n = 0;
    for (auto& im : golden_->images) {
      PhotoInfo p;
      p.hash = std::string(63, 'a') + std::to_string(n);
      p.filename = im.file;
      p.mime = "image/png";
      // Two dated photos for the date filters.
      // Every photo has a date since migration 4 (the upload time when it has no
      // EXIF date): the others are from 2010, outside the ranges tested below.
      p.taken_at = "2010-05-05T12:00:00";
      if (im.name == "pokemon") p.taken_at = "2023-01-22T10:00:00";
      if (im.name == "coffee") p.taken_at = "2021-06-01T08:00:00";
      auto r = store_->insert_photo(p);
      ASSERT_TRUE(r.ok());
      ASSERT_TRUE(store_->put_vector(r->id, "clip", "tiny", im.emb).ok());
      int64_t id = r->id;
      ASSERT_TRUE(index_->add(std::span<const int64_t>(&id, 1), im.emb).ok());
      id_of_[im.name] = r->id;
      name_of_[r->id] = im.name;
      ++n;
    }
    SearcherDeps d;
    d.store = store_.get();
    d.clip = clip_;
    d.clip_index = index_.get();
    d.clip_model = "tiny";
    searcher_ = std::make_unique<Searcher>(d);
  }

  std::vector<std::string> names(const std::vector<SearchHit>& hits) {
    std::vector<std::string> out;
    for (auto& h : hits) out.push_back(name_of_[h.photo.id]);
    return out;
  }

  static inline ChineseClip* clip_ = nullptr;
  static inline golden::Golden* golden_ = nullptr;
  std::unique_ptr<Store> store_;
  std::unique_ptr<VectorIndex> index_;
  std::unique_ptr<Searcher> searcher_;
  std::map<std::string, int64_t> id_of_;
  std::map<int64_t, std::string> name_of_;
};

TEST_F(SearcherTest, TextQueriesRankAsTheGoldenEmbeddingsImply) {
  SearchOptions opt;
  opt.limit = 7;
  int checked_pairs = 0;
  for (auto& t : golden_->texts) {
    if (t.name.find_first_not_of(" \t\n") == std::string::npos) continue;  // blank query
    auto hits = searcher_->search(t.name, opt);
    ASSERT_TRUE(hits.ok()) << t.name << ": " << hits.status().to_string();
    ASSERT_EQ(hits->size(), 7u);
    std::map<std::string, size_t> rank;
    for (size_t i = 0; i < hits->size(); ++i) {
      const auto& h = (*hits)[i];
      rank[name_of_[h.photo.id]] = i;
      // clip_score is the cosine with the golden text embedding (text tower within
      // tolerance); score is its calibrated relevance in [0,1].
      for (auto& im : golden_->images) {
        if (im.name == name_of_[h.photo.id]) {
          EXPECT_NEAR(h.clip_score, golden::dot(t.emb, im.emb), 2e-3) << t.name;
        }
      }
      EXPECT_FLOAT_EQ(h.score, clip_relevance(h.clip_score, opt.calibration));
      EXPECT_GE(h.score, 0.0f);
      EXPECT_LE(h.score, 1.0f);
      if (i > 0) {
        EXPECT_GE((*hits)[i - 1].score, h.score);
      }
    }
    for (auto& [better, worse] : golden::separated_pairs(*golden_, t.emb, 0.005f)) {
      EXPECT_LT(rank[better], rank[worse]) << t.name << ": " << better << " vs " << worse;
      ++checked_pairs;
    }
  }
  EXPECT_GT(checked_pairs, 100);
}

TEST_F(SearcherTest, LimitOffsetAndMinScore) {
  SearchOptions opt;
  opt.limit = 7;
  auto all = searcher_->search("小火龙", opt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(names(*all)[0], "pokemon");
  opt.limit = 2;
  opt.offset = 3;
  auto page = searcher_->search("小火龙", opt);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].photo.id, (*all)[3].photo.id);
  EXPECT_EQ((*page)[1].photo.id, (*all)[4].photo.id);
  opt.offset = 10;
  EXPECT_TRUE(searcher_->search("小火龙", opt)->empty());

  // The tiny random model's cosines lie in [-0.4, 0]: anchors there spread its
  // relevance over [0,1] (with the defaults for released models every score is 0).
  SearchOptions ms;
  ms.limit = 7;
  ms.calibration.clip_floor = -0.4f;
  ms.calibration.clip_ceiling = 0.0f;
  auto spread = searcher_->search("小火龙", ms);
  ASSERT_TRUE(spread.ok());
  ASSERT_EQ(spread->size(), 7u);
  EXPECT_GT((*spread)[0].score, (*spread)[6].score);
  ms.min_score = ((*spread)[1].score + (*spread)[2].score) / 2;
  auto top = searcher_->search("小火龙", ms);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->size(), 2u);
  for (auto& h : *top) EXPECT_GE(h.score, *ms.min_score);

  // With the default anchors (released models: cosine 0.15 -> 0, 0.40 -> 1) the
  // random model matches nothing: every relevance is 0 and a cut-off drops all.
  SearchOptions def;
  def.limit = 7;
  def.min_score = 0.3f;
  auto none = searcher_->search("小火龙", def);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(Relevance, MapsCosinesOntoZeroOne) {
  ScoreCalibration c;  // clip 0.15 .. 0.40
  EXPECT_FLOAT_EQ(clip_relevance(0.10f, c), 0.0f);
  EXPECT_FLOAT_EQ(clip_relevance(0.15f, c), 0.0f);
  EXPECT_NEAR(clip_relevance(0.275f, c), 0.5f, 1e-6);
  EXPECT_FLOAT_EQ(clip_relevance(0.55f, c), 1.0f);
  // Hybrid without other evidence equals CLIP mode: the same number means the same.
  EXPECT_FLOAT_EQ(hybrid_relevance(0.275f, std::nullopt, 0.0f, c), clip_relevance(0.275f, c));
  // A full keyword match alone is strong evidence; evidence only adds.
  EXPECT_NEAR(hybrid_relevance(0.0f, std::nullopt, 1.0f, c), 0.9f, 1e-6);
  EXPECT_GT(hybrid_relevance(0.3f, 0.6f, 0.0f, c), hybrid_relevance(0.3f, std::nullopt, 0.0f, c));
  EXPECT_LE(hybrid_relevance(1.0f, 1.0f, 1.0f, c), 1.0f);
  EXPECT_FLOAT_EQ(calibrated(0.5f, 0.5f, 0.5f), 1.0f);  // degenerate anchors: a step
  EXPECT_FLOAT_EQ(calibrated(0.4f, 0.5f, 0.5f), 0.0f);
}

// A repeated query is served from the cache: same vector, same ranking, and
// the text tower runs once per distinct text.
TEST_F(SearcherTest, RepeatedQueriesReuseTheEmbedding) {
  const QueryCache& cache = searcher_->clip_query_cache();
  const int64_t misses0 = cache.misses();
  const int64_t hits0 = cache.hits();
  auto first = searcher_->encode_query("一杯咖啡");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(cache.misses(), misses0 + 1);
  // Computed afresh by the model (not through the cache) it is the same vector.
  std::vector<float> fresh(static_cast<size_t>(clip_->embed_dim()));
  ASSERT_TRUE(clip_->encode_texts({clip_->tokenize("一杯咖啡")}, fresh.data()).ok());
  l2_normalize_rows(fresh.data(), 1, clip_->embed_dim());
  EXPECT_EQ(*first, fresh);

  SearchOptions opt;
  opt.limit = 7;
  auto a = searcher_->search("一杯咖啡", opt);
  auto b = searcher_->search("一杯咖啡", opt);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(cache.misses(), misses0 + 1);
  EXPECT_EQ(cache.hits(), hits0 + 2);
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].photo.id, (*b)[i].photo.id);
    EXPECT_EQ((*a)[i].score, (*b)[i].score);
  }
  ASSERT_TRUE(searcher_->search("小火龙", opt).ok());
  EXPECT_EQ(cache.misses(), misses0 + 2);
}

TEST_F(SearcherTest, DateFiltersApplyToTakenAt) {
  SearchOptions opt;
  opt.limit = 5;
  opt.date_from = "2022-01-01";
  auto r = searcher_->search("一只猫", opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(names(*r), (std::vector<std::string>{"pokemon"}));
  opt.date_from = "2021";
  opt.date_to = "2023-01-22";
  r = searcher_->search("一只猫", opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(names(*r), (std::vector<std::string>{"pokemon", "coffee"}));
  opt.date_to = "2021-12";
  r = searcher_->search("一只猫", opt);
  EXPECT_EQ(names(*r), (std::vector<std::string>{"coffee"}));
}

// The only photo in the date range ranks below 300 others: both modes widen
// their candidates until they reach it (hybrid used to stop at its first pool
// and answer nothing).
TEST_F(SearcherTest, DateFilterFindsAPhotoRankedFarDown) {
  const std::string query = "一只猫";
  std::vector<float> q(static_cast<size_t>(clip_->embed_dim()));
  ASSERT_TRUE(clip_->encode_texts({clip_->tokenize(query)}, q.data()).ok());
  l2_normalize_rows(q.data(), 1, clip_->embed_dim());
  for (int i = 0; i < 300; ++i) {  // undated, and each a perfect match for the query
    PhotoInfo p;
    p.hash = "near" + std::to_string(i);
    p.filename = "near" + std::to_string(i) + ".png";
    auto r = store_->insert_photo(p);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(store_->put_vector(r->id, "clip", "tiny", q).ok());
    const int64_t id = r->id;
    ASSERT_TRUE(index_->add(std::span<const int64_t>(&id, 1), q).ok());
  }
  for (SearchMode mode : {SearchMode::kClip, SearchMode::kHybrid}) {
    SearchOptions opt;
    opt.mode = mode;
    opt.limit = 1;
    opt.date_to = "2021-12";
    auto r = searcher_->search(query, opt);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(names(*r), (std::vector<std::string>{"coffee"})) << mode;
  }
}

TEST_F(SearcherTest, BadArgumentsAreInvalid) {
  SearchOptions opt;
  EXPECT_EQ(searcher_->search("   ", opt).status().code(), StatusCode::kInvalidArgument);
  opt.limit = 0;
  EXPECT_EQ(searcher_->search("猫", opt).status().code(), StatusCode::kInvalidArgument);
  opt.limit = 5;
  opt.offset = -1;
  EXPECT_EQ(searcher_->search("猫", opt).status().code(), StatusCode::kInvalidArgument);
  opt.offset = 0;
  // An unknown mode string is refused where strings come in (parse_search_mode,
  // types_test.cpp; the API's 400 in server_test.cpp).
  opt.date_from = "yesterday";
  EXPECT_EQ(searcher_->search("猫", opt).status().code(), StatusCode::kInvalidArgument);
  opt.date_from = "2023-13-45";  // the right shape, not a date
  EXPECT_EQ(searcher_->search("猫", opt).status().code(), StatusCode::kInvalidArgument);
  opt.date_from = "2024-01-01";
  opt.date_to = "2023-12-31";
  EXPECT_EQ(searcher_->search("猫", opt).status().code(), StatusCode::kInvalidArgument);
  opt.date_from = opt.date_to = "";
  EXPECT_EQ(searcher_->similar(id_of_["pokemon"], 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(searcher_->similar(99999, 5).status().code(), StatusCode::kNotFound);
}

TEST_F(SearcherTest, WithoutModelSearchIsUnavailable) {
  SearcherDeps d;
  d.store = store_.get();
  Searcher none(d);
  auto r = none.search("猫", SearchOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("no CLIP model loaded"), std::string::npos);
  EXPECT_EQ(none.similar(id_of_["pokemon"], 5).status().code(), StatusCode::kUnavailable);
}

TEST_F(SearcherTest, SimilarUsesTheStoredVectorAndExcludesItself) {
  for (auto& self : golden_->images) {
    auto r = searcher_->similar(id_of_[self.name], 6);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->size(), 6u);
    std::map<std::string, size_t> rank;
    for (size_t i = 0; i < r->size(); ++i) {
      EXPECT_NE((*r)[i].photo.id, id_of_[self.name]);
      rank[name_of_[(*r)[i].photo.id]] = i;
    }
    for (auto& [better, worse] : golden::separated_pairs(*golden_, self.emb, 1e-4f, self.name)) {
      EXPECT_LT(rank[better], rank[worse]) << self.name;
    }
  }
  // A photo without a vector yet.
  PhotoInfo p;
  p.hash = std::string(64, 'f');
  p.filename = "new.jpg";
  auto id = store_->insert_photo(p);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(searcher_->similar(id->id, 5).status().code(), StatusCode::kUnavailable);
}

TEST_F(SearcherTest, HybridPutsTheDescribedMatchFirstAndKeepsClipOrderOtherwise) {
  // camera has the weakest CLIP score for every golden text; describe it with the query.
  ASSERT_TRUE(store_->set_description(id_of_["camera"], "黑白照片里一个人拿着相机拍海边的日落", {"相机", "日落"}, "fake-vl").ok());
  ASSERT_TRUE(store_->set_description(id_of_["coffee"], "一杯咖啡", {"咖啡"}, "fake-vl").ok());
  SearchOptions opt;
  opt.limit = 7;
  opt.mode = SearchMode::kHybrid;
  auto r = searcher_->search("海边的日落", opt);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 7u);
  EXPECT_EQ(name_of_[(*r)[0].photo.id], "camera");
  ASSERT_TRUE((*r)[0].keyword_score.has_value());
  EXPECT_FLOAT_EQ(*(*r)[0].keyword_score, 1.0f);
  EXPECT_FALSE((*r)[0].desc_score.has_value());  // no sentence model here
  // The rest have no keyword match: they follow the CLIP order.
  for (size_t i = 2; i < r->size(); ++i) {
    EXPECT_GE((*r)[i - 1].clip_score, (*r)[i].clip_score);
    EXPECT_FLOAT_EQ(*(*r)[i].keyword_score, 0.0f);
  }
  // A keyword found only through FTS (not in the CLIP candidate pool) still counts.
  SearchOptions small = opt;
  small.limit = 1;
  auto k = searcher_->search("咖啡", small);
  ASSERT_TRUE(k.ok());
  ASSERT_EQ(k->size(), 1u);
  EXPECT_EQ(name_of_[(*k)[0].photo.id], "coffee");
}

}  // namespace
}  // namespace sa
