// Chinese-CLIP end to end against the goldens of the official Python code
// (tests/data/clip/tiny-b16/golden.json), for every checkpoint layout.
// Tolerances are those of tests/data/README.md.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "model/chinese_clip.h"

namespace sa {
namespace {

const std::string kDir = std::string(SA_TEST_DATA) + "/clip/tiny-b16";

struct Golden {
  double logit_scale = 0;
  std::vector<std::string> image_names;
  std::vector<float> pixels;  // [n_images, 3, R, R]
  std::vector<std::vector<float>> image_emb;
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<float>> text_emb;
  std::vector<std::vector<double>> probs;  // [image][text]
  int res = 0;
};

const Golden& golden() {
  static const Golden g = [] {
    Golden g;
    std::ifstream f(kDir + "/golden.json");
    const nlohmann::json j = nlohmann::json::parse(f);
    g.logit_scale = j.at("logit_scale").get<double>();
    g.res = j.at("image_resolution").get<int>();
    const size_t per = 3 * static_cast<size_t>(g.res) * g.res;
    for (const auto& im : j.at("images")) {
      g.image_names.push_back(im.at("name").get<std::string>());
      g.image_emb.push_back(im.at("embedding").get<std::vector<float>>());
      std::ifstream pf(kDir + "/" + im.at("pixels").get<std::string>(), std::ios::binary);
      std::vector<float> px(per);
      pf.read(reinterpret_cast<char*>(px.data()), static_cast<std::streamsize>(per * sizeof(float)));
      EXPECT_EQ(static_cast<size_t>(pf.gcount()), per * sizeof(float)) << "pixels of " << g.image_names.back();
      g.pixels.insert(g.pixels.end(), px.begin(), px.end());
    }
    for (const auto& t : j.at("texts")) {
      g.texts.push_back(t.at("text").get<std::string>());
      g.ids.push_back(t.at("ids").get<std::vector<int32_t>>());
      g.text_emb.push_back(t.at("embedding").get<std::vector<float>>());
    }
    g.probs = j.at("probs_image_to_text").get<std::vector<std::vector<double>>>();
    return g;
  }();
  return g;
}

// cosine >= 0.99999 and max|diff| <= 1e-3 * max|golden|
void expect_close(const float* got, const std::vector<float>& want, const std::string& what) {
  double dot = 0, na = 0, nb = 0, max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    dot += static_cast<double>(got[i]) * want[i];
    na += static_cast<double>(got[i]) * got[i];
    nb += static_cast<double>(want[i]) * want[i];
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(got[i]) - want[i]));
    max_ref = std::max(max_ref, std::fabs(static_cast<double>(want[i])));
  }
  const double cosine = dot / std::sqrt(na * nb);
  EXPECT_GE(cosine, 0.99999) << what;
  EXPECT_LE(max_diff, 1e-3 * max_ref) << what;
}

class ClipGolden : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() { golden(); }
  void SetUp() override {
    auto r = ChineseClip::load(kDir + "/" + GetParam());
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    clip_ = std::move(r).value();
  }
  std::unique_ptr<ChineseClip> clip_;
};

TEST_P(ClipGolden, ModelShape) {
  EXPECT_EQ(clip_->image_resolution(), golden().res);
  EXPECT_EQ(clip_->embed_dim(), static_cast<int>(golden().image_emb[0].size()));
  // The fp16 layouts hold fp16(2.6592) = 2.66015625, which the goldens used; the
  // fp32 safetensors file stores the unrounded 2.65926003 (checked with a
  // safetensors header dump). The engine must report what the file holds.
  const double want = GetParam() == "hf-safetensors" ? 2.6592600345611572 : golden().logit_scale;
  EXPECT_NEAR(clip_->logit_scale(), want, 1e-6);
}

TEST_P(ClipGolden, ImageEmbeddingsSingleAndBatched) {
  const Golden& g = golden();
  const int n = static_cast<int>(g.image_names.size());
  const int e = clip_->embed_dim();
  const size_t per = 3 * static_cast<size_t>(g.res) * g.res;
  std::vector<float> batch(static_cast<size_t>(n) * e);
  ASSERT_TRUE(clip_->encode_images(g.pixels.data(), n, batch.data()).ok());
  for (int i = 0; i < n; ++i) {
    expect_close(batch.data() + i * e, g.image_emb[i], "batched image " + g.image_names[i]);
    std::vector<float> one(e);
    ASSERT_TRUE(clip_->encode_images(g.pixels.data() + i * per, 1, one.data()).ok());
    expect_close(one.data(), g.image_emb[i], "single image " + g.image_names[i]);
    for (int j = 0; j < e; ++j) {
      EXPECT_NEAR(one[j], batch[i * e + j], 1e-5 * (1 + std::fabs(one[j])))
          << "batch != single for " << g.image_names[i];
    }
  }
}

TEST_P(ClipGolden, TextEmbeddingsSingleAndBatched) {
  const Golden& g = golden();
  const int e = clip_->embed_dim();
  std::vector<float> batch(g.ids.size() * e);
  ASSERT_TRUE(clip_->encode_texts(g.ids, batch.data()).ok());
  for (size_t i = 0; i < g.ids.size(); ++i) {
    expect_close(batch.data() + i * e, g.text_emb[i], "batched text '" + g.texts[i] + "'");
    std::vector<float> one(e);
    ASSERT_TRUE(clip_->encode_texts({g.ids[i]}, one.data()).ok());
    expect_close(one.data(), g.text_emb[i], "single text '" + g.texts[i] + "'");
    for (int j = 0; j < e; ++j) {
      EXPECT_NEAR(one[j], batch[i * e + j], 1e-5 * (1 + std::fabs(one[j])))
          << "batch != single for '" << g.texts[i] << "'";
    }
  }
}

TEST_P(ClipGolden, TokenizeMatchesGoldenIds) {
  const Golden& g = golden();
  for (size_t i = 0; i < g.texts.size(); ++i) EXPECT_EQ(clip_->tokenize(g.texts[i]), g.ids[i]) << g.texts[i];
}

TEST_P(ClipGolden, ProbsImageToText) {
  const Golden& g = golden();
  const int e = clip_->embed_dim();
  const int n_img = static_cast<int>(g.image_names.size());
  const int n_txt = static_cast<int>(g.ids.size());
  std::vector<float> img(static_cast<size_t>(n_img) * e), txt(static_cast<size_t>(n_txt) * e);
  ASSERT_TRUE(clip_->encode_images(g.pixels.data(), n_img, img.data()).ok());
  ASSERT_TRUE(clip_->encode_texts(g.ids, txt.data()).ok());
  l2_normalize_rows(img.data(), n_img, e);
  l2_normalize_rows(txt.data(), n_txt, e);
  // The README defines the probabilities with golden.json's logit_scale (see
  // ModelShape for why the fp32 safetensors file differs in the 4th digit).
  const double scale = std::exp(g.logit_scale);
  ASSERT_EQ(g.probs.size(), static_cast<size_t>(n_img));
  for (int i = 0; i < n_img; ++i) {
    std::vector<double> logits(n_txt);
    double mx = -1e300, sum = 0;
    for (int t = 0; t < n_txt; ++t) {
      double c = 0;
      for (int j = 0; j < e; ++j) c += static_cast<double>(img[i * e + j]) * txt[t * e + j];
      logits[t] = scale * c;
      mx = std::max(mx, logits[t]);
    }
    for (double& l : logits) sum += (l = std::exp(l - mx));
    for (int t = 0; t < n_txt; ++t) {
      EXPECT_NEAR(logits[t] / sum, g.probs[i][t], 1e-4) << g.image_names[i] << " / " << g.texts[t];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, ClipGolden,
                         ::testing::Values("clip_cn_tiny-b16.pt", "hf-safetensors", "hf-bin"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string s = p.param;
                           for (char& c : s) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return s;
                         });

TEST(ClipLoad, MissingCheckpointIsNotFound) {
  auto r = ChineseClip::load(kDir + "/no-such-model.pt");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().to_string();
}

}  // namespace
}  // namespace sa
