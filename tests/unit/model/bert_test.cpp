// BERT forward pass against a naive double-precision reference; batching;
// XLM-R position offset; id validation; the ChineseClip facade on random weights.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/bert.h"
#include "model/chinese_clip.h"
#include "model/random_weights.h"
#include "model_test_util.h"

namespace sa {
namespace {

std::vector<double> ref_linear(const Linear& l, const std::vector<double>& x, int m) {
  std::vector<double> y(static_cast<size_t>(m) * l.n_out);
  for (int r = 0; r < m; ++r) {
    for (int o = 0; o < l.n_out; ++o) {
      double s = l.b.empty() ? 0.0 : l.b[o];
      for (int i = 0; i < l.n_in; ++i) s += x[r * l.n_in + i] * l.w[o * l.n_in + i];
      y[r * l.n_out + o] = s;
    }
  }
  return y;
}

void ref_layer_norm(const LayerNormW& ln, std::vector<double>& x, int m, int d, double eps) {
  for (int r = 0; r < m; ++r) {
    double mean = 0, var = 0;
    for (int j = 0; j < d; ++j) mean += x[r * d + j];
    mean /= d;
    for (int j = 0; j < d; ++j) var += (x[r * d + j] - mean) * (x[r * d + j] - mean);
    var /= d;
    for (int j = 0; j < d; ++j) {
      x[r * d + j] = (x[r * d + j] - mean) / std::sqrt(var + eps) * ln.g[j] + ln.b[j];
    }
  }
}

// HF BertModel last_hidden_state for one sequence, no padding.
std::vector<double> ref_bert(const BertWeights& w, const std::vector<int32_t>& ids) {
  const BertConfig& c = w.cfg;
  const int n = static_cast<int>(ids.size()), d = c.hidden, hd = d / c.heads;
  std::vector<double> x(static_cast<size_t>(n) * d);
  for (int t = 0; t < n; ++t) {
    for (int j = 0; j < d; ++j) {
      x[t * d + j] = w.word_embeddings[ids[t] * d + j] +
                     w.position_embeddings[(t + c.position_offset) * d + j] +
                     w.token_type_embeddings[j];
    }
  }
  ref_layer_norm(w.emb_ln, x, n, d, c.ln_eps);
  for (const BertLayer& l : w.layers) {
    auto qkv = ref_linear(l.qkv, x, n);
    std::vector<double> ctx(x.size());
    for (int h = 0; h < c.heads; ++h) {
      for (int i = 0; i < n; ++i) {
        std::vector<double> s(n);
        double mx = -1e300, sum = 0;
        for (int j = 0; j < n; ++j) {
          double dot = 0;
          for (int k = 0; k < hd; ++k) dot += qkv[i * 3 * d + h * hd + k] * qkv[j * 3 * d + d + h * hd + k];
          s[j] = dot / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, s[j]);
        }
        for (double& v : s) sum += (v = std::exp(v - mx));
        for (int k = 0; k < hd; ++k) {
          double o = 0;
          for (int j = 0; j < n; ++j) o += s[j] / sum * qkv[j * 3 * d + 2 * d + h * hd + k];
          ctx[i * d + h * hd + k] = o;
        }
      }
    }
    auto a = ref_linear(l.attn_out, ctx, n);
    for (size_t i = 0; i < a.size(); ++i) a[i] += x[i];
    ref_layer_norm(l.attn_ln, a, n, d, c.ln_eps);
    auto f = ref_linear(l.inter, a, n);
    for (double& v : f) v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    x = ref_linear(l.out, f, n);
    for (size_t i = 0; i < x.size(); ++i) x[i] += a[i];
    ref_layer_norm(l.out_ln, x, n, d, c.ln_eps);
  }
  return x;
}

double max_rel_err(const std::vector<float>& a, const std::vector<double>& b) {
  double m = 0, s = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    m = std::max(m, std::fabs(a[i] - b[i]));
    s = std::max(s, std::fabs(b[i]));
  }
  return m / s;
}

TEST(Bert, MatchesNaiveReference) {
  const BertWeights w = random_bert_weights(testutil::tiny_bert(), 7);
  ASSERT_TRUE(validate_bert(w).ok()) << validate_bert(w).to_string();
  const std::vector<int32_t> ids = {1, 50, 3, 96, 12, 12, 2};
  auto ref = ref_bert(w, ids);
  std::vector<float> out(ids.size() * w.cfg.hidden);
  bert_forward(w, ids.data(), static_cast<int>(ids.size()), out.data());
  EXPECT_LT(max_rel_err(out, ref), 1e-5);
}

TEST(Bert, PositionOffsetAndEpsFromConfig) {
  BertConfig c = testutil::tiny_bert();
  c.position_offset = 2;  // XLM-R
  c.ln_eps = 1e-5f;
  c.type_vocab_size = 1;
  const BertWeights w = random_bert_weights(c, 8);
  const std::vector<int32_t> ids = {0, 5, 6, 7, 2};
  auto ref = ref_bert(w, ids);
  std::vector<float> out(ids.size() * c.hidden);
  bert_forward(w, ids.data(), static_cast<int>(ids.size()), out.data());
  EXPECT_LT(max_rel_err(out, ref), 1e-5);
}

TEST(Bert, BatchEqualsSingle) {
  const BertWeights w = random_bert_weights(testutil::tiny_bert(), 9);
  const std::vector<std::vector<int32_t>> seqs = {{1, 2}, {5}, {1, 9, 9, 9, 9, 9, 9, 9, 9, 2}, {3, 4, 5}};
  size_t total = 0;
  for (const auto& s : seqs) total += s.size();
  std::vector<float> batch(total * w.cfg.hidden);
  bert_forward_batch(w, seqs, batch.data());
  size_t row = 0;
  for (const auto& s : seqs) {
    std::vector<float> one(s.size() * w.cfg.hidden);
    bert_forward(w, s.data(), static_cast<int>(s.size()), one.data());
    for (size_t i = 0; i < one.size(); ++i) {
      ASSERT_NEAR(batch[row * w.cfg.hidden + i], one[i], 1e-5f);
    }
    row += s.size();
  }
}

// [CLS]-only last layer == the first rows of the full pass, against the naive
// reference too, for 0, 1 and 2 layers and with an empty sequence in the batch.
TEST(Bert, ClsOnlyEqualsFirstRows) {
  for (int layers : {0, 1, 2}) {
    SCOPED_TRACE("layers=" + std::to_string(layers));
    BertConfig c = testutil::tiny_bert();
    c.layers = layers;
    const BertWeights w = random_bert_weights(c, 11 + layers);
    const std::vector<std::vector<int32_t>> seqs = {{1, 2}, {}, {5}, {1, 9, 8, 7, 6, 5, 4, 2}};
    const size_t d = c.hidden;
    size_t total = 0;
    for (const auto& s : seqs) total += s.size();
    std::vector<float> full(total * d), cls(seqs.size() * d, -1.0f);
    bert_forward_batch(w, seqs, full.data());
    bert_forward_cls(w, seqs, cls.data());
    size_t row = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (seqs[i].empty()) {
        for (size_t j = 0; j < d; ++j) EXPECT_EQ(cls[i * d + j], 0.0f);
        continue;
      }
      for (size_t j = 0; j < d; ++j) {
        ASSERT_NEAR(cls[i * d + j], full[row * d + j], 1e-5f) << i << "," << j;
      }
      const auto ref = ref_bert(w, seqs[i]);
      const std::vector<float> got(cls.begin() + i * d, cls.begin() + (i + 1) * d);
      const std::vector<double> ref0(ref.begin(), ref.begin() + d);
      EXPECT_LT(max_rel_err(got, ref0), 1e-5);
      row += seqs[i].size();
    }
  }
}

TEST(Bert, ValidateIds) {
  const BertConfig c = testutil::tiny_bert();
  const std::vector<int32_t> ok = {1, 96};
  EXPECT_TRUE(validate_bert_ids(c, ok.data(), 2).ok());
  EXPECT_EQ(validate_bert_ids(c, ok.data(), 0).code(), StatusCode::kInvalidArgument);
  const std::vector<int32_t> big = {1, 97};
  Status s = validate_bert_ids(c, big.data(), 2);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("97"), std::string::npos);
  const std::vector<int32_t> neg = {-1};
  EXPECT_EQ(validate_bert_ids(c, neg.data(), 1).code(), StatusCode::kInvalidArgument);
  const std::vector<int32_t> long_seq(c.max_position + 1, 1);
  EXPECT_EQ(validate_bert_ids(c, long_seq.data(), static_cast<int>(long_seq.size())).code(),
            StatusCode::kInvalidArgument);
}

TEST(Bert, ValidateNamesBadTensor) {
  BertWeights w = random_bert_weights(testutil::tiny_bert(), 10);
  w.layers[1].inter.w.resize(5);
  Status s = validate_bert(w);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("encoder.layer.1.intermediate.dense.weight"), std::string::npos)
      << s.message();
}

// ---- facade on random weights --------------------------------------------------

TEST(ChineseClipFacade, TextIsClsTimesProjectionAndBatchesAgree) {
  auto r = ChineseClip::from_weights(random_clip_weights(testutil::tiny_clip_vit(), testutil::tiny_bert(), 16, 11));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const ChineseClip& clip = **r;
  const BertWeights& tw = clip.weights().text;
  const std::vector<std::vector<int32_t>> ids = {{1, 4, 2}, {1, 2}, {1, 8, 8, 8, 8, 2}};
  std::vector<float> batch(ids.size() * 16);
  ASSERT_TRUE(clip.encode_texts(ids, batch.data()).ok());
  for (size_t s = 0; s < ids.size(); ++s) {
    auto hidden = ref_bert(tw, ids[s]);
    std::vector<double> cls(hidden.begin(), hidden.begin() + tw.cfg.hidden);
    auto ref = ref_linear(clip.weights().text_proj, cls, 1);
    std::vector<float> got(batch.begin() + s * 16, batch.begin() + (s + 1) * 16);
    EXPECT_LT(max_rel_err(got, ref), 1e-5) << "text " << s;
    std::vector<float> one(16);
    ASSERT_TRUE(clip.encode_texts({ids[s]}, one.data()).ok());
    for (int j = 0; j < 16; ++j) EXPECT_NEAR(one[j], got[j], 1e-5f);
  }
}

TEST(ChineseClipFacade, BadInputIsAnError) {
  auto r = ChineseClip::from_weights(random_clip_weights(testutil::tiny_clip_vit(), testutil::tiny_bert(), 16, 12));
  ASSERT_TRUE(r.ok());
  std::vector<float> out(16);
  EXPECT_EQ((*r)->encode_texts(std::vector<std::vector<int32_t>>(1), out.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*r)->encode_texts({{1, 5000}}, out.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*r)->encode_images(nullptr, 1, out.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*r)->encode_images(nullptr, -1, out.data()).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE((*r)->encode_images(nullptr, 0, out.data()).ok());

  ClipWeights bad = random_clip_weights(testutil::tiny_clip_vit(), testutil::tiny_bert(), 16, 13);
  bad.text_proj.w.pop_back();
  EXPECT_EQ(ChineseClip::from_weights(std::move(bad)).status().code(),
            StatusCode::kInvalidArgument);
  ClipWeights bad2 = random_clip_weights(testutil::tiny_clip_vit(), testutil::tiny_bert(), 16, 13);
  bad2.embed_dim = 17;
  EXPECT_EQ(ChineseClip::from_weights(std::move(bad2)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ChineseClipFacade, L2NormalizeRows) {
  std::vector<float> x = {3, 4, 0, 0, 0, 0, -1, 0, 0};
  l2_normalize_rows(x.data(), 3, 3);
  EXPECT_FLOAT_EQ(x[0], 0.6f);
  EXPECT_FLOAT_EQ(x[1], 0.8f);
  EXPECT_EQ(x[3], 0.0f);  // zero row stays zero, no NaN
  EXPECT_FLOAT_EQ(x[6], -1.0f);
}

}  // namespace
}  // namespace sa
