// eval/metrics against the reference transcription of cn_clip/eval (eval_reference.h):
// hand-made cases with ties and several captions per image, random matrices with
// duplicated rows, and the golden embeddings of the test model.
#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "eval_reference.h"

namespace sa::eval {
namespace {

using evaltest::Matrix;

std::vector<float> flat(const Matrix& m) {
  std::vector<float> out;
  for (const auto& r : m) out.insert(out.end(), r.begin(), r.end());
  return out;
}

Matrix random_unit_rows(std::mt19937& rng, int n, int dim) {
  std::normal_distribution<float> g;
  Matrix m;
  for (int i = 0; i < n; ++i) {
    std::vector<float> r(static_cast<size_t>(dim));
    for (float& x : r) x = g(rng);
    m.push_back(evaltest::ref_normalized(r));
  }
  return m;
}

void expect_same(const RetrievalScores& got, const Matrix& images, const Matrix& texts,
                 const std::vector<int>& text_image) {
  const auto [t2i, i2t] = evaltest::ref_retrieval(images, texts, text_image);
  EXPECT_DOUBLE_EQ(got.text_to_image.r1, t2i.r1);
  EXPECT_DOUBLE_EQ(got.text_to_image.r5, t2i.r5);
  EXPECT_DOUBLE_EQ(got.text_to_image.r10, t2i.r10);
  EXPECT_DOUBLE_EQ(got.image_to_text.r1, i2t.r1);
  EXPECT_DOUBLE_EQ(got.image_to_text.r5, i2t.r5);
  EXPECT_DOUBLE_EQ(got.image_to_text.r10, i2t.r10);
  const double mr = (t2i.r1 + t2i.r5 + t2i.r10 + i2t.r1 + i2t.r5 + i2t.r10) / 6.0;
  EXPECT_NEAR(got.mean_recall, mr, 1e-9);
}

TEST(TopK, EqualScoresKeepGalleryOrder) {
  const float s[] = {1, 3, 3, 2, 3, 0};
  EXPECT_EQ(top_k(s, 6, 3), (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(top_k(s, 6, 4), (std::vector<int>{1, 2, 4, 3}));
  EXPECT_EQ(top_k(s, 6, 10).size(), 6u);
  EXPECT_EQ(rank_of(s, 6, 1), 1);
  EXPECT_EQ(rank_of(s, 6, 4), 3);  // two equal scores before it
  EXPECT_EQ(rank_of(s, 6, 3), 4);
  EXPECT_EQ(rank_of(s, 6, 5), 6);
}

TEST(TopK, RankAgreesWithTopK) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> level(0, 5);  // few distinct values: many ties
  std::vector<float> s(40);
  for (int round = 0; round < 50; ++round) {
    for (float& x : s) x = static_cast<float>(level(rng));
    const auto order = top_k(s.data(), 40, 40);
    for (int pos = 0; pos < 40; ++pos) EXPECT_EQ(rank_of(s.data(), 40, order[pos]), pos + 1);
  }
}

// Images 1 and 2 are the same picture; caption 0 belongs to image 2, so it ties
// with image 1 and loses the tie (gallery order): a miss at R@1, a hit at R@5.
TEST(Retrieval, TiesGoToTheEarlierImage) {
  const Matrix images = {{1, 0, 0}, {0, 1, 0}, {0, 1, 0}};
  const Matrix texts = {{0, 1, 0}, {1, 0, 0}};
  const std::vector<int> text_image = {2, 0};
  auto r = retrieval_scores(flat(images).data(), 3, flat(texts).data(), 2, 3, text_image);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_DOUBLE_EQ(r->text_to_image.r1, 50.0);   // caption 1 finds image 0; caption 0 misses
  EXPECT_DOUBLE_EQ(r->text_to_image.r5, 100.0);
  EXPECT_EQ(r->n_image_queries, 2);              // image 1 has no caption: not a query
  expect_same(*r, images, texts, text_image);
}

// Image 0 has three captions; only its last one is the nearest text, which is
// enough for an image-to-text hit at 1 (any of its captions counts).
TEST(Retrieval, AnyCaptionOfAnImageIsAHit) {
  const Matrix images = {{1, 0, 0}, {0, 1, 0}};
  const Matrix texts = {{0, 0.8f, 0.6f}, {0, 0.6f, 0.8f}, {1, 0, 0}, {0, 1, 0}};
  const std::vector<int> text_image = {0, 0, 0, 1};
  auto r = retrieval_scores(flat(images).data(), 2, flat(texts).data(), 4, 3, text_image);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(r->image_to_text.r1, 100.0);
  EXPECT_DOUBLE_EQ(r->text_to_image.r1, 50.0);  // captions 0 and 1 point at image 1
  EXPECT_EQ(r->n_texts, 4);
  expect_same(*r, images, texts, text_image);
}

TEST(Retrieval, RandomMatricesWithDuplicatesMatchTheReference) {
  std::mt19937 rng(42);
  for (int round = 0; round < 20; ++round) {
    const int dim = 16;
    Matrix images = random_unit_rows(rng, 25, dim);
    // Exact duplicates (photos imported twice) create exact ties.
    images[3] = images[11];
    images[20] = images[11];
    Matrix texts = random_unit_rows(rng, 60, dim);
    std::vector<int> text_image;
    std::uniform_int_distribution<int> pick(0, 24);
    for (int t = 0; t < 60; ++t) text_image.push_back(pick(rng));
    // Some captions sit exactly on an image (ties between duplicates), some share text.
    texts[5] = images[11];
    text_image[5] = 20;
    texts[6] = texts[7];
    auto r = retrieval_scores(flat(images).data(), 25, flat(texts).data(), 60, dim, text_image);
    ASSERT_TRUE(r.ok());
    expect_same(*r, images, texts, text_image);
  }
}

struct Golden {
  Matrix images, texts;
};

Golden load_golden() {
  std::ifstream f(std::string(SA_TEST_DATA) + "/clip/tiny-b16/golden.json");
  const auto j = nlohmann::json::parse(f);
  Golden g;
  for (const auto& im : j["images"]) g.images.push_back(evaltest::ref_normalized(im["embedding"].get<std::vector<float>>()));
  for (const auto& t : j["texts"]) g.texts.push_back(evaltest::ref_normalized(t["embedding"].get<std::vector<float>>()));
  return g;
}

// The golden embeddings of the test model (computed by cn_clip): 7 images, 24 texts,
// 3-4 captions per image, a duplicated image for ties.
TEST(Retrieval, GoldenEmbeddingsMatchTheReference) {
  Golden g = load_golden();
  ASSERT_EQ(g.images.size(), 7u);
  ASSERT_EQ(g.texts.size(), 24u);
  g.images.push_back(g.images[2]);
  std::vector<int> text_image;
  for (size_t t = 0; t < g.texts.size(); ++t) text_image.push_back(static_cast<int>((t * 5) % 8));
  const int dim = static_cast<int>(g.images[0].size());
  auto r = retrieval_scores(flat(g.images).data(), 8, flat(g.texts).data(), 24, dim, text_image);
  ASSERT_TRUE(r.ok());
  expect_same(*r, g.images, g.texts, text_image);
}

TEST(Retrieval, RejectsInconsistentInput) {
  const std::vector<float> v(6, 0.5f);
  EXPECT_FALSE(retrieval_scores(v.data(), 2, v.data(), 2, 3, {0}).ok());
  EXPECT_FALSE(retrieval_scores(v.data(), 2, v.data(), 2, 3, {0, 2}).ok());
  EXPECT_FALSE(retrieval_scores(v.data(), 2, v.data(), 0, 3, {}).ok());
  EXPECT_FALSE(retrieval_scores(v.data(), 2, v.data(), 2, 0, {0, 1}).ok());
}

TEST(ClassEmbeddings, NormaliseMeanNormalise) {
  // Template rows of different lengths: each counts by direction only.
  const std::vector<float> rows = {2, 0, 0, 0, 3, 0,   // class 0
                                   0, 0, 5, 0, 0, 5};  // class 1 (duplicate templates)
  auto c = class_embeddings(rows.data(), 2, 2, 3);
  ASSERT_TRUE(c.ok());
  const float h = static_cast<float>(std::sqrt(0.5));
  EXPECT_NEAR((*c)[0], h, 1e-6);
  EXPECT_NEAR((*c)[1], h, 1e-6);
  EXPECT_NEAR((*c)[2], 0, 1e-6);
  EXPECT_NEAR((*c)[5], 1, 1e-6);
  EXPECT_FALSE(class_embeddings(rows.data(), 2, 0, 3).ok());
}

void expect_zero_shot_same(const Matrix& images, const std::vector<Matrix>& class_templates,
                           const std::vector<int>& truth) {
  const int n_classes = static_cast<int>(class_templates.size());
  const int n_templates = static_cast<int>(class_templates[0].size());
  const int dim = static_cast<int>(images[0].size());
  std::vector<float> rows;
  for (const auto& c : class_templates) {
    const auto f = flat(c);
    rows.insert(rows.end(), f.begin(), f.end());
  }
  auto classes = class_embeddings(rows.data(), n_classes, n_templates, dim);
  ASSERT_TRUE(classes.ok());
  auto r = zero_shot_scores(flat(images).data(), static_cast<int>(images.size()), classes->data(), n_classes,
                            dim, truth);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const auto [top1, top5] = evaltest::ref_zero_shot(images, class_templates, truth);
  EXPECT_DOUBLE_EQ(r->top1, top1);
  EXPECT_DOUBLE_EQ(r->top5, top5);
}

TEST(ZeroShot, TiedClassesGoToTheLowerIndex) {
  // Classes 0 and 1 have the same prompts: an image of class 1 loses the tie.
  const std::vector<Matrix> classes = {{{1, 0}}, {{1, 0}}, {{0, 1}}};
  const Matrix images = {{1, 0}, {1, 0}, {0, 1}};
  const std::vector<int> truth = {1, 0, 2};
  std::vector<float> rows = {1, 0, 1, 0, 0, 1};
  auto c = class_embeddings(rows.data(), 3, 1, 2);
  ASSERT_TRUE(c.ok());
  auto r = zero_shot_scores(flat(images).data(), 3, c->data(), 3, 2, truth);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(r->top1, 200.0 / 3, 1e-9);
  EXPECT_DOUBLE_EQ(r->top5, 100.0);
  expect_zero_shot_same(images, classes, truth);
}

TEST(ZeroShot, RandomAndGoldenMatchTheReference) {
  std::mt19937 rng(3);
  for (int round = 0; round < 10; ++round) {
    std::vector<Matrix> classes;
    for (int c = 0; c < 30; ++c) classes.push_back(random_unit_rows(rng, 4, 12));
    classes[7] = classes[2];  // duplicate class: exact ties
    Matrix images = random_unit_rows(rng, 40, 12);
    std::vector<int> truth;
    std::uniform_int_distribution<int> pick(0, 29);
    for (int i = 0; i < 40; ++i) truth.push_back(pick(rng));
    expect_zero_shot_same(images, classes, truth);
  }
  const Golden g = load_golden();
  std::vector<Matrix> classes;  // 8 classes of 3 templates from the 24 golden texts
  for (int c = 0; c < 8; ++c) classes.push_back({g.texts[c * 3], g.texts[c * 3 + 1], g.texts[c * 3 + 2]});
  expect_zero_shot_same(g.images, classes, {0, 1, 2, 3, 4, 5, 6});
}

TEST(ZeroShot, RejectsClassOutOfRange) {
  const std::vector<float> v = {1, 0, 0, 1};
  EXPECT_FALSE(zero_shot_scores(v.data(), 2, v.data(), 2, 2, {0, 2}).ok());
  EXPECT_FALSE(zero_shot_scores(v.data(), 2, v.data(), 2, 2, {0}).ok());
  EXPECT_FALSE(zero_shot_scores(v.data(), 0, v.data(), 2, 2, {}).ok());
}

}  // namespace
}  // namespace sa::eval
