// Ops and the ViT forward pass against naive double-precision references.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "model/few_row_gemm.h"
#include "model/ops.h"
#include "model/random_weights.h"
#include "model/vit.h"

namespace sa {
namespace {

std::vector<float> randn(size_t n, float std, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, std);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Max |a - b| relative to max |b|.
double rel_err(const float* a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m / std::max(max_abs(b), 1e-30);
}

// ---- naive references -----------------------------------------------------

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

std::vector<double> ref_layer_norm(const LayerNormW& ln, const std::vector<double>& x, int m,
                                   int d, double eps) {
  std::vector<double> y(x.size());
  for (int r = 0; r < m; ++r) {
    double mean = 0, var = 0;
    for (int j = 0; j < d; ++j) mean += x[r * d + j];
    mean /= d;
    for (int j = 0; j < d; ++j) var += (x[r * d + j] - mean) * (x[r * d + j] - mean);
    var /= d;
    for (int j = 0; j < d; ++j) {
      y[r * d + j] = (x[r * d + j] - mean) / std::sqrt(var + eps) * ln.g[j] + ln.b[j];
    }
  }
  return y;
}

// qkv [n, 3d] -> [n, d]
std::vector<double> ref_attention(const std::vector<double>& qkv, int n, int d, int heads) {
  const int hd = d / heads;
  std::vector<double> out(static_cast<size_t>(n) * d);
  for (int h = 0; h < heads; ++h) {
    for (int i = 0; i < n; ++i) {
      std::vector<double> s(n);
      double mx = -1e300;
      for (int j = 0; j < n; ++j) {
        double dot = 0;
        for (int c = 0; c < hd; ++c) dot += qkv[i * 3 * d + h * hd + c] * qkv[j * 3 * d + d + h * hd + c];
        s[j] = dot / std::sqrt(static_cast<double>(hd));
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (double& v : s) sum += (v = std::exp(v - mx));
      for (int c = 0; c < hd; ++c) {
        double o = 0;
        for (int j = 0; j < n; ++j) o += s[j] / sum * qkv[j * 3 * d + 2 * d + h * hd + c];
        out[i * d + h * hd + c] = o;
      }
    }
  }
  return out;
}

std::vector<double> ref_vit(const VitWeights& w, const float* pixels) {
  const VitConfig& c = w.cfg;
  const int p = c.patch_size, grid = c.image_size / p, d = c.width, n_tok = c.n_tokens();
  std::vector<double> x(static_cast<size_t>(n_tok) * d);
  for (int j = 0; j < d; ++j) x[j] = w.class_embedding[j];
  for (int gy = 0; gy < grid; ++gy) {
    for (int gx = 0; gx < grid; ++gx) {
      for (int o = 0; o < d; ++o) {  // conv1, stride p, no bias
        double s = 0;
        for (int ch = 0; ch < 3; ++ch)
          for (int dy = 0; dy < p; ++dy)
            for (int dx = 0; dx < p; ++dx)
              s += w.patch_embed.w[o * 3 * p * p + (ch * p + dy) * p + dx] *
                   pixels[(ch * c.image_size + gy * p + dy) * c.image_size + gx * p + dx];
        x[(1 + gy * grid + gx) * d + o] = s;
      }
    }
  }
  for (size_t i = 0; i < x.size(); ++i) x[i] += w.positional_embedding[i];
  x = ref_layer_norm(w.ln_pre, x, n_tok, d, c.ln_eps);
  for (const VitBlock& b : w.blocks) {
    auto a = ref_attention(ref_linear(b.qkv, ref_layer_norm(b.ln_1, x, n_tok, d, c.ln_eps), n_tok),
                           n_tok, d, c.heads);
    auto o = ref_linear(b.attn_out, a, n_tok);
    for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    auto f = ref_linear(b.fc, ref_layer_norm(b.ln_2, x, n_tok, d, c.ln_eps), n_tok);
    for (double& v : f) v = v / (1.0 + std::exp(-1.702 * v));
    auto m = ref_linear(b.proj, f, n_tok);
    for (size_t i = 0; i < x.size(); ++i) x[i] += m[i];
  }
  std::vector<double> cls(x.begin(), x.begin() + d);
  return ref_linear(w.proj, ref_layer_norm(w.ln_post, cls, 1, d, c.ln_eps), 1);
}

VitConfig tiny_vit() {
  VitConfig c;
  c.image_size = 32;
  c.patch_size = 8;
  c.width = 36;  // not a multiple of 8: exercises the scalar tails
  c.layers = 2;
  c.heads = 3;
  c.mlp = 4 * c.width;
  return c;
}

// ---- ops ---------------------------------------------------------------------

TEST(Ops, ExpMatchesStdExp) {
  std::vector<float> x;
  for (float v = -87.0f; v <= 88.0f; v += 0.0137f) x.push_back(v);
  std::vector<float> y = x;
  exp_inplace(y.data(), y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double ref = std::exp(static_cast<double>(x[i]));
    ASSERT_NEAR(y[i] / ref, 1.0, 5e-7) << "x = " << x[i];
  }
  std::vector<float> extreme = {-1000.0f, -100.0f, 100.0f, 0.0f};
  exp_inplace(extreme.data(), extreme.size());
  EXPECT_LT(extreme[0], 1e-37f);
  EXPECT_GE(extreme[0], 0.0f);
  EXPECT_TRUE(std::isfinite(extreme[2]));
  EXPECT_GT(extreme[2], 1e38f);
  EXPECT_EQ(extreme[3], 1.0f);
}

TEST(Ops, ErfMatchesStdErf) {
  std::vector<float> x;
  for (float v = -6.0f; v <= 6.0f; v += 0.001f) x.push_back(v);
  std::vector<float> y = x;
  erf_inplace(y.data(), y.size());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(y[i], std::erf(x[i]), 5e-7) << x[i];
}

TEST(Ops, Activations) {
  auto x = randn(1003, 3.0f, 1);
  auto q = x, g = x;
  quick_gelu(q.data(), q.size());
  gelu_erf(g.data(), g.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    const double rq = v / (1.0 + std::exp(-1.702 * v));
    const double rg = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    ASSERT_NEAR(q[i], rq, 1e-6 * (1 + std::fabs(rq))) << v;
    ASSERT_NEAR(g[i], rg, 1e-6 * (1 + std::fabs(rg))) << v;
  }
}

TEST(Ops, SoftmaxRows) {
  // 37 and 197 values: whole 8- and 16-lane steps and a tail of each.
  for (const auto& [n, ld] : {std::pair{37, 40}, std::pair{197, 208}}) {
  SCOPED_TRACE("n=" + std::to_string(n));
  const int m = 5;
  auto x = randn(static_cast<size_t>(m) * ld, 4.0f, 2);
  x[3] = 80.0f;  // a large logit must not overflow
  auto y = x;
  softmax_rows(y.data(), m, n, ld);
  for (int r = 0; r < m; ++r) {
    double mx = -1e300, sum = 0;
    for (int j = 0; j < n; ++j) mx = std::max(mx, static_cast<double>(x[r * ld + j]));
    for (int j = 0; j < n; ++j) sum += std::exp(x[r * ld + j] - mx);
    for (int j = 0; j < n; ++j) {
      ASSERT_NEAR(y[r * ld + j], std::exp(x[r * ld + j] - mx) / sum, 1e-6);
    }
    for (int j = n; j < ld; ++j) EXPECT_EQ(y[r * ld + j], x[r * ld + j]) << "padding touched";
  }
  }
}

TEST(Ops, LayerNormWithLargeMean) {
  const int m = 4, d = 45;
  auto x = randn(static_cast<size_t>(m) * d, 1.0f, 3);
  for (float& v : x) v += 1000.0f;
  LayerNormW ln{randn(d, 1.0f, 4), randn(d, 1.0f, 5)};
  std::vector<double> xd(x.begin(), x.end());
  auto ref = ref_layer_norm(ln, xd, m, d, 1e-5);
  std::vector<float> y(x.size());
  layer_norm(ln, x.data(), m, d, 1e-5f, y.data());
  EXPECT_LT(rel_err(y.data(), ref), 1e-5);
  layer_norm(ln, x.data(), m, d, 1e-5f, x.data());  // in place
  EXPECT_EQ(x, y);
}

TEST(Ops, LinearAndActivation) {
  Linear l;
  l.n_out = 29;
  l.n_in = 35;
  l.w = randn(29 * 35, 0.3f, 6);
  l.b = randn(29, 0.3f, 7);
  for (int m : {1, 2, 5, 16, 17, 33}) {  // few-row kernel (1, even, odd rows), sgemm
    auto x = randn(static_cast<size_t>(m) * 35, 1.0f, 8 + m);
    std::vector<double> xd(x.begin(), x.end());
    auto ref = ref_linear(l, xd, m);
    std::vector<float> y(static_cast<size_t>(m) * 29);
    linear(l, x.data(), m, y.data());
    EXPECT_LT(rel_err(y.data(), ref), 1e-6) << "m = " << m;
    // accumulate: y += x W^T + b
    std::vector<float> acc(y.size(), 1.5f);
    linear_accumulate(l, x.data(), m, acc.data());
    for (double& v : ref) v += 1.5;
    EXPECT_LT(rel_err(acc.data(), ref), 1e-6) << "m = " << m;
  }
}

// matmul_xwt: the vector index's scan (one query, many rows of w) and a few
// rows through the same kernels, against a double reference; big enough for
// the two-thread split, with n not a multiple of the chunk or block sizes.
TEST(Ops, MatmulXwt) {
  const int n = 1003, k = 512;
  const auto w = randn(static_cast<size_t>(n) * k, 0.05f, 31);
  for (int m : {1, 3, 40}) {
    SCOPED_TRACE("m=" + std::to_string(m));
    const auto x = randn(static_cast<size_t>(m) * k, 1.0f, 32 + m);
    std::vector<float> y(static_cast<size_t>(m) * n, -7.0f);
    matmul_xwt(x.data(), m, w.data(), n, k, y.data());
    double worst = 0;
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < n; ++j) {
        double ref = 0;
        for (int p = 0; p < k; ++p) {
          ref += static_cast<double>(x[static_cast<size_t>(i) * k + p]) * w[static_cast<size_t>(j) * k + p];
        }
        worst = std::max(worst, std::fabs(y[static_cast<size_t>(i) * n + j] - ref));
      }
    }
    EXPECT_LT(worst, 1e-4);
  }
  std::vector<float> untouched(4, 3.0f);
  matmul_xwt(w.data(), 0, w.data(), n, k, untouched.data());  // no rows: nothing written
  EXPECT_EQ(untouched, std::vector<float>(4, 3.0f));
}

// Every index once, from both threads, for counts around the helper's split;
// also while another thread runs its own (one of the two then runs alone).
TEST(Ops, ParallelForRunsEveryIndexOnce) {
  struct Counts {
    std::atomic<int>* hits;
  };
  auto count = [](const void* ctx, int i) { static_cast<const Counts*>(ctx)->hits[i].fetch_add(1); };
  for (int n : {0, 1, 2, 12, 1000}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    const Counts c{hits.data()};
    parallel_for(n, count, &c);
    for (int i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << n << " " << i;
  }
  std::vector<std::atomic<int>> a(500), b(500);
  const Counts ca{a.data()}, cb{b.data()};
  std::thread other([&] { parallel_for(500, count, &cb); });
  parallel_for(500, count, &ca);
  other.join();
  for (size_t i = 0; i < 500; ++i) {
    ASSERT_EQ(a[i].load(), 1) << i;
    ASSERT_EQ(b[i].load(), 1) << i;
  }
}

TEST(Ops, Attention) {
  // 1 and 23 tokens take the direct path for short sequences, 70 and 101 the
  // engine's blocked kernel (4-query x 32-key score blocks, 64-dimension output
  // blocks: head widths 12, 64 and 80 cover its tails).
  for (int n : {1, 23, 70, 101})
  for (const auto& [d, heads] : {std::pair{36, 3}, std::pair{128, 2}, std::pair{240, 3}}) {
    SCOPED_TRACE("n=" + std::to_string(n) + " d=" + std::to_string(d));
    auto qkv = randn(static_cast<size_t>(n) * 3 * d, 1.0f, 9);
    std::vector<double> qd(qkv.begin(), qkv.end());
    auto ref = ref_attention(qd, n, d, heads);
    const int ld_out = d + 5;
    std::vector<float> out(static_cast<size_t>(n) * ld_out, -7.0f), scratch(n * n);
    attention(qkv.data(), 3 * d, n, d, heads, out.data(), ld_out, scratch.data());
    double m = 0;
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < d; ++j) m = std::max(m, std::fabs(out[i * ld_out + j] - ref[i * d + j]));
      for (int j = d; j < ld_out; ++j) EXPECT_EQ(out[i * ld_out + j], -7.0f);
    }
    EXPECT_LT(m, 1e-5);
  }
}

// attention_batch: each stacked sequence exactly as attention() computes it
// alone (same kernels, any thread), short sequences (direct path) and long
// (blocked kernel, one hand-off for all heads), leaving the row padding alone.
TEST(Ops, AttentionBatchEqualsEachSequence) {
  for (int n : {5, 70}) {
    const int d = 128, heads = 2, n_seq = 3, ld_qkv = 3 * d + 4, ld_out = d + 3;
    SCOPED_TRACE("n=" + std::to_string(n));
    const auto qkv = randn(static_cast<size_t>(n_seq) * n * ld_qkv, 1.0f, 12);
    std::vector<float> out(static_cast<size_t>(n_seq) * n * ld_out, -7.0f), scratch(n * n);
    attention_batch(qkv.data(), ld_qkv, n_seq, n, d, heads, out.data(), ld_out, scratch.data());
    for (int b = 0; b < n_seq; ++b) {
      std::vector<float> one(static_cast<size_t>(n) * ld_out, -7.0f);
      attention(qkv.data() + static_cast<size_t>(b) * n * ld_qkv, ld_qkv, n, d, heads, one.data(),
                ld_out, scratch.data());
      for (int i = 0; i < n * ld_out; ++i) {
        ASSERT_EQ(out[static_cast<size_t>(b) * n * ld_out + i], one[i]) << b << " " << i;
      }
    }
  }
}

// ---- ViT ---------------------------------------------------------------------

TEST(Vit, MatchesNaiveReference) {
  // The last block takes a class-token-only path; cover 0, 1 and several blocks.
  for (int layers : {0, 1, 3}) {
    VitConfig c = tiny_vit();
    c.layers = layers;
    const VitWeights w = random_vit_weights(c, 24, 42 + layers);
    ASSERT_TRUE(validate_vit(w).ok()) << validate_vit(w).to_string();
    const size_t per = 3 * c.image_size * c.image_size;
    auto pixels = randn(per, 1.0f, 10);
    auto ref = ref_vit(w, pixels.data());
    std::vector<float> out(24);
    vit_forward(w, pixels.data(), 1, out.data());
    EXPECT_LT(rel_err(out.data(), ref), 1e-4) << layers << " layers";
  }
}

TEST(Vit, BatchEqualsSingle) {
  const VitConfig c = tiny_vit();
  const VitWeights w = random_vit_weights(c, 24, 43);
  const size_t per = 3 * c.image_size * c.image_size;
  const int n = 5;
  auto pixels = randn(per * n, 1.0f, 11);
  std::vector<float> batch(n * 24);
  vit_forward(w, pixels.data(), n, batch.data());
  for (int b = 0; b < n; ++b) {
    std::vector<float> one(24);
    vit_forward(w, pixels.data() + b * per, 1, one.data());
    for (int j = 0; j < 24; ++j) EXPECT_NEAR(batch[b * 24 + j], one[j], 1e-5f) << b << "," << j;
  }
}

TEST(Vit, ValidateNamesBadTensor) {
  VitWeights w = random_vit_weights(tiny_vit(), 24, 44);
  EXPECT_TRUE(validate_vit(w).ok());
  w.blocks[1].fc.b.pop_back();
  Status s = validate_vit(w);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("resblocks.1.mlp.c_fc.bias"), std::string::npos) << s.message();

  VitWeights w2 = random_vit_weights(tiny_vit(), 24, 44);
  w2.cfg.layers = 3;
  EXPECT_EQ(validate_vit(w2).code(), StatusCode::kInvalidArgument);

  VitWeights w3 = random_vit_weights(tiny_vit(), 24, 44);
  w3.cfg.patch_size = 7;
  EXPECT_EQ(validate_vit(w3).code(), StatusCode::kInvalidArgument);

  VitWeights w4 = random_vit_weights(tiny_vit(), 24, 44);
  w4.positional_embedding.resize(10);
  s = validate_vit(w4);
  EXPECT_NE(s.message().find("positional_embedding"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace sa
