// The fp16 copy of Linear weights (attach_fp16) and the few-row kernel that
// reads it: exact conversion only, the same products as the fp32 path (up to
// summation order), and fp32 kept for any tensor that does not round-trip.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "model/bert.h"
#include "model/chinese_clip.h"
#include "model/ops.h"
#include "model/random_weights.h"
#include "model_test_util.h"

namespace sa {
namespace {

// Multiples of 2^-14 below 2^-3 in magnitude have at most 11 significant bits
// and an exponent >= -14: all are fp16 values.
float to_fp16_grid(float v) { return std::round(v * 16384.0f) / 16384.0f; }

using testutil::values;

Linear grid_linear(int n_out, int n_in, uint32_t seed) {
  Linear l;
  l.n_out = n_out;
  l.n_in = n_in;
  l.w = values(static_cast<size_t>(n_out) * n_in, 0.1f, seed);
  for (float& x : l.w) x = to_fp16_grid(x);
  l.w[1] = std::ldexp(3.0f, -24);  // an fp16 subnormal
  l.w[2] = -0.0f;
  l.b = values(n_out, 0.1f, seed + 1);  // the bias stays fp32 either way
  return l;
}

uint16_t half_of(float f) {
  Linear l;
  l.n_out = 1;
  l.n_in = 1;
  l.w = {f};
  return attach_fp16(l) ? l.w16[0] : 0xffff;  // 0xffff is a NaN: never produced
}

TEST(Fp16Linear, ConvertsOnlyExactValues) {
  if (!fp16_kernel_available()) GTEST_SKIP() << "built without F16C";
  EXPECT_EQ(half_of(1.0f), 0x3c00);
  EXPECT_EQ(half_of(-2.0f), 0xc000);
  EXPECT_EQ(half_of(65504.0f), 0x7bff);                 // largest fp16
  EXPECT_EQ(half_of(std::ldexp(1.0f, -14)), 0x0400);   // smallest normal
  EXPECT_EQ(half_of(std::ldexp(1.0f, -24)), 0x0001);   // smallest subnormal
  EXPECT_EQ(half_of(std::ldexp(1023.0f, -24)), 0x03ff);
  EXPECT_EQ(half_of(0.0f), 0x0000);
  EXPECT_EQ(half_of(-0.0f), 0x8000);
  EXPECT_EQ(half_of(std::numeric_limits<float>::infinity()), 0x7c00);
  // Not fp16 values: need rounding, overflow, underflow, NaN.
  EXPECT_EQ(half_of(0.1f), 0xffff);
  EXPECT_EQ(half_of(1.0f + std::ldexp(1.0f, -11)), 0xffff);
  EXPECT_EQ(half_of(65520.0f), 0xffff);
  EXPECT_EQ(half_of(std::ldexp(1.0f, -25)), 0xffff);
  EXPECT_EQ(half_of(std::ldexp(3.0f, -25)), 0xffff);
  EXPECT_EQ(half_of(std::numeric_limits<float>::denorm_min()), 0xffff);
  EXPECT_EQ(half_of(std::numeric_limits<float>::quiet_NaN()), 0xffff);
}

// fp16 kernel vs fp32 kernel on the same (fp16-representable) weights, for
// shapes with ragged tails (n_out % 16, n_in % 8), every row count they serve,
// and a slice that starts off a panel boundary (served by the fp32 kernel).
TEST(Fp16Linear, MatchesFp32Path) {
  if (!fp16_kernel_available()) GTEST_SKIP() << "built without F16C";
  // fp32 rounding of ~800-term sums of |x w| < 0.1 in two orders; a wrong
  // weight or a skipped term is off by 1e-3 or more.
  constexpr float kOrderTol = 2e-5f;
  // The last three shapes are big enough for the product to be split over two
  // threads (few_row_gemm.cpp kSplitMinWeights): 300 columns all in tail
  // chunks, 516 and 519 in big chunks then tail chunks, the last tail chunk
  // ragged (n_out % 16 = 4 and 7, 519 % 4 != 0). 7-12 rows run two row blocks
  // per panel that prefetch the chunk's next panel between them (a different
  // path from the one block of 1-6 rows and the three or more of 13+).
  for (const auto& [n_out, n_in] : {std::pair{37, 93}, std::pair{64, 768}, std::pair{300, 900},
                                    std::pair{516, 770}, std::pair{519, 771}}) {
    const Linear l16 = [&] {
      Linear l = grid_linear(n_out, n_in, 7);
      EXPECT_TRUE(attach_fp16(l));
      return l;
    }();
    ASSERT_EQ(l16.w16.size(), fp16_copy_halves(n_out, n_in));
    Linear l32 = l16;
    l32.w16.clear();
    for (int m : {1, 2, 3, 7, 8, 11, 12, 16, 17, 20, 32, 33, 52, 128, 129}) {
      SCOPED_TRACE("m=" + std::to_string(m) + " n_out=" + std::to_string(n_out));
      const std::vector<float> x = values(static_cast<size_t>(m) * n_in, 1.0f, 100 + m);
      std::vector<float> y16(static_cast<size_t>(m) * n_out), y32(y16.size());
      linear(l16, x.data(), m, y16.data(), Act::kGeluErf);
      linear(l32, x.data(), m, y32.data(), Act::kGeluErf);
      for (size_t i = 0; i < y16.size(); ++i) {
        // The same weights summed in another order (the fp16 kernel runs
        // along k per column, the fp32 one in eight interleaved partial sums).
        ASSERT_NEAR(y16[i], y32[i], kOrderTol * (1.0f + std::fabs(y32[i]))) << i;
      }
      // Both against a double-precision reference (catches a column that
      // neither path writes).
      std::vector<float> p16(y16.size());
      linear(l16, x.data(), m, p16.data());
      for (int r = 0; r < m; ++r) {
        for (int o = 0; o < n_out; ++o) {
          double ref = l16.b[o];
          for (int i = 0; i < n_in; ++i) {
            ref += static_cast<double>(x[static_cast<size_t>(r) * n_in + i]) *
                   l16.w[static_cast<size_t>(o) * n_in + i];
          }
          ASSERT_NEAR(p16[static_cast<size_t>(r) * n_out + o], ref, 1e-4) << r << "," << o;
          const double gelu = 0.5 * ref * (1.0 + std::erf(ref / std::sqrt(2.0)));
          ASSERT_NEAR(y16[static_cast<size_t>(r) * n_out + o], gelu, 1e-4) << r << "," << o;
        }
      }
      std::vector<float> a16 = values(y16.size(), 1.0f, 3), a32 = a16;
      linear_accumulate(l16, x.data(), m, a16.data());
      linear_accumulate(l32, x.data(), m, a32.data());
      for (size_t i = 0; i < a16.size(); ++i) {
        ASSERT_NEAR(a16[i], a32[i], kOrderTol * (1.0f + std::fabs(a32[i]))) << i;
      }
      // One slice off the 16-column panel grid (the fp32 kernel), one on it.
      for (const auto& [r0, r1] : {std::pair{5, n_out - 3}, std::pair{16, n_out}}) {
        std::vector<float> s16(static_cast<size_t>(m) * (r1 - r0)), s32(s16.size());
        linear_slice(l16, r0, r1, x.data(), m, s16.data());
        linear_slice(l32, r0, r1, x.data(), m, s32.data());
        for (size_t i = 0; i < s16.size(); ++i) {
          ASSERT_NEAR(s16[i], s32[i], kOrderTol * (1.0f + std::fabs(s32[i]))) << i;
        }
        // On the grid the slice is the same panels' columns, bit for bit
        // (up to 128 rows; beyond, both are sgemm calls blocked differently).
        for (size_t i = 0; r0 % 16 == 0 && m <= 128 && i < s16.size(); ++i) {
          const size_t row = i / (r1 - r0), col = r0 + i % (r1 - r0);
          ASSERT_EQ(s16[i], p16[row * n_out + col]) << r0 << ".." << r1 << " " << i;
        }
      }
    }
  }
}

// Several callers at once: one gets the helper thread, the others do their
// products alone; every column is computed by the same code either way, so
// all results equal the one from a lone caller bit for bit. (Also run under
// ThreadSanitizer by scripts/test.sh.)
TEST(Fp16Linear, ConcurrentCallersAgree) {
  for (const bool half : {true, false}) {
    SCOPED_TRACE(half ? "fp16 panels" : "fp32");
    Linear l = grid_linear(520, 768, 21);
    if (half && !attach_fp16(l)) GTEST_SKIP() << "built without F16C";
    const int m = 12;
    const std::vector<float> x = values(static_cast<size_t>(m) * l.n_in, 1.0f, 5);
    std::vector<float> want(static_cast<size_t>(m) * l.n_out);
    linear(l, x.data(), m, want.data(), Act::kGeluErf);
    constexpr int kThreads = 4, kRounds = 25;
    std::vector<int> mismatches(kThreads, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::vector<float> y(want.size());
        for (int r = 0; r < kRounds; ++r) {
          linear(l, x.data(), m, y.data(), Act::kGeluErf);
          if (std::memcmp(y.data(), want.data(), sizeof(float) * y.size()) != 0) ++mismatches[t];
        }
      });
    }
    for (std::thread& th : threads) th.join();
    for (int t = 0; t < kThreads; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
  }
}

TEST(Fp16Linear, TensorThatDoesNotRoundTripKeepsFp32) {
  Linear l = grid_linear(12, 40, 9);
  l.w[17] = 0.1f;  // one value off the fp16 grid
  l.w16 = {1, 2, 3};  // a stale copy is dropped, not used
  EXPECT_FALSE(attach_fp16(l));
  EXPECT_TRUE(l.w16.empty());
  // The product is the fp32 one: compare against a naive double reference.
  const int m = 5;
  const std::vector<float> x = values(static_cast<size_t>(m) * l.n_in, 1.0f, 11);
  std::vector<float> y(static_cast<size_t>(m) * l.n_out);
  linear(l, x.data(), m, y.data());
  for (int r = 0; r < m; ++r) {
    for (int o = 0; o < l.n_out; ++o) {
      double s = l.b[o];
      for (int i = 0; i < l.n_in; ++i) {
        s += static_cast<double>(x[r * l.n_in + i]) * l.w[o * l.n_in + i];
      }
      EXPECT_NEAR(y[r * l.n_out + o], s, 1e-5);
    }
  }
}

TEST(Fp16Linear, BertAttachesOnlyRepresentableLayers) {
  const BertConfig c = testutil::tiny_bert();
  BertWeights w = random_bert_weights(c, 5);
  EXPECT_EQ(bert_attach_fp16(w), 0);  // random fp32 weights are not fp16 values
  for (const BertLayer& l : w.layers) EXPECT_TRUE(l.qkv.w16.empty());
  if (!fp16_kernel_available()) GTEST_SKIP() << "built without F16C";

  const std::vector<int32_t> ids = {1, 7, 12, 3, 44, 9, 2};
  const int n = static_cast<int>(ids.size());
  round_bert_to_fp16(w);
  w.layers[1].out.w[0] = 0.1f;  // this one tensor stays fp32
  std::vector<float> ref(static_cast<size_t>(n) * c.hidden), got(ref.size());
  bert_forward(w, ids.data(), n, ref.data());
  EXPECT_EQ(bert_attach_fp16(w), 7);
  EXPECT_TRUE(w.layers[1].out.w16.empty());
  EXPECT_EQ(w.layers[1].inter.w16.size(), fp16_copy_halves(c.intermediate, c.hidden));
  bert_forward(w, ids.data(), n, got.data());
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(got[i], ref[i], 1e-5f) << i;
}

TEST(Fp16Linear, ChineseClipAttachesOnLoad) {
  const BertConfig c = testutil::tiny_bert();
  ClipWeights cw = random_clip_weights(testutil::tiny_clip_vit(), c, 16, 3);
  round_bert_to_fp16(cw.text);
  auto clip = ChineseClip::from_weights(cw);
  ASSERT_TRUE(clip.ok()) << clip.status().to_string();
  const BertLayer& l0 = (*clip)->weights().text.layers[0];
  EXPECT_EQ(l0.qkv.w16.empty(), !fp16_kernel_available());
  // The facade's text embedding equals the fp32-only encoder's.
  const std::vector<std::vector<int32_t>> q = {{1, 5, 9, 2}, {1, 30, 2}};
  std::vector<float> a(2 * 16);
  ASSERT_TRUE((*clip)->encode_texts(q, a.data()).ok());
  BertWeights fp32 = cw.text;  // cw itself never had w16 attached
  std::vector<float> h(4 * static_cast<size_t>(c.hidden));
  bert_forward(fp32, q[0].data(), 4, h.data());
  std::vector<float> e(16);
  linear(cw.text_proj, h.data(), 1, e.data());
  for (int j = 0; j < 16; ++j) EXPECT_NEAR(a[j], e[j], 1e-5f) << j;
}

// The golden checkpoints: the official .pt and hf-bin store fp16, so every
// encoder projection gets its copy (and clip_golden_test then checks the fp16
// path against the goldens); the fp32 hf-safetensors file keeps whichever
// tensors do not round-trip in fp32.
TEST(Fp16Linear, GoldenCheckpointsAttach) {
  if (!fp16_kernel_available()) GTEST_SKIP() << "built without F16C";
  const std::string dir = std::string(SA_TEST_DATA) + "/clip/tiny-b16/";
  for (const char* name : {"clip_cn_tiny-b16.pt", "hf-bin", "hf-safetensors"}) {
    SCOPED_TRACE(name);
    auto r = ChineseClip::load(dir + name);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    int attached = 0, total = 0;
    for (const BertLayer& l : (*r)->weights().text.layers) {
      for (const Linear* lin : l.projections()) {
        ++total;
        if (!lin->w16.empty()) {
          ++attached;
          ASSERT_EQ(lin->w16.size(), fp16_copy_halves(lin->n_out, lin->n_in));
        }
      }
    }
    ASSERT_GT(total, 0);
    if (std::string(name) != "hf-safetensors") {
      EXPECT_EQ(attached, total);
    }
    EXPECT_EQ((*r)->text_fp16_projections(), attached);
    EXPECT_EQ((*r)->text_projections(), total);
    std::printf("  %s: %d of %d text projections have an fp16 copy\n", name, attached, total);
  }
}

}  // namespace
}  // namespace sa
