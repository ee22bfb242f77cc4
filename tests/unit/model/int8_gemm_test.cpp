// The INT8 products (int8_gemm.h): every kernel this machine supports against
// a scalar reference written here from the definition (per-channel weight
// scales, per-row activation scales, int32 sums), on shapes that leave a tail
// in every dimension; slices, beta, bias and activations; and the error
// against the fp32 product.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "model/int8_gemm.h"
#include "model/ops.h"
#include "model_test_util.h"

namespace sa {
namespace {

using testutil::values;

// Symmetric per-row quantization, as documented: q = round(v * 127 / max|v|).
void quantize(const float* v, int k, std::vector<int>* q, float* scale) {
  float amax = 0.0f;
  for (int i = 0; i < k; ++i) amax = std::max(amax, std::fabs(v[i]));
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  *scale = amax / 127.0f;
  q->resize(k);
  for (int i = 0; i < k; ++i) (*q)[i] = static_cast<int>(std::nearbyint(v[i] * inv));
}


// y[r][j - col0] = act(sum_p qx[r][p] qw[j][p] * sx[r] * sw[j] + beta y + bias[j - col0]).
std::vector<float> reference(const std::vector<float>& x, int m, const std::vector<float>& w,
                             int k, int col0, int n_cols, float beta, const std::vector<float>& y0,
                             const float* bias, Act act) {
  std::vector<float> y = y0;
  std::vector<int> qx, qw;
  for (int r = 0; r < m; ++r) {
    float sx;
    quantize(x.data() + static_cast<size_t>(r) * k, k, &qx, &sx);
    for (int j = 0; j < n_cols; ++j) {
      float sw;
      quantize(w.data() + static_cast<size_t>(col0 + j) * k, k, &qw, &sw);
      int64_t acc = 0;
      for (int p = 0; p < k; ++p) acc += qx[p] * qw[p];
      float v = static_cast<float>(acc) * (sx * sw);
      float& out = y[static_cast<size_t>(r) * n_cols + j];
      v += beta * out;
      if (bias) v += bias[j];
      out = static_cast<float>(testutil::act_ref(v, act));
    }
  }
  return y;
}

std::vector<Q8Kernel> kernels() {
  std::vector<Q8Kernel> ks;
  for (Q8Kernel k : {Q8Kernel::kReference, Q8Kernel::kAvx2, Q8Kernel::kAvx512Vnni, Q8Kernel::kAmx}) {
    if (q8_kernel_supported(k)) ks.push_back(k);
  }
  return ks;
}

struct Shape {
  int m, n, k;
};

void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::fabs(want[i]))) << what << " at " << i;
  }
}

TEST(Int8Gemm, EveryKernelMatchesTheScalarDefinitionOnOddShapes) {
  const Shape shapes[] = {{1, 1, 1},    {1, 16, 64},  {3, 17, 3},    {7, 33, 65},
                          {13, 48, 130}, {31, 70, 63}, {32, 32, 128}, {33, 31, 200},
                          {70, 100, 257}, {197, 64, 96}};
  for (const Shape& s : shapes) {
    const std::vector<float> x = values(static_cast<size_t>(s.m) * s.k, 2.0f, 11 + s.m);
    const std::vector<float> w = values(static_cast<size_t>(s.n) * s.k, 0.1f, 7 + s.n);
    const std::vector<float> bias = values(s.n, 0.5f, 3);
    const std::vector<float> y0 = values(static_cast<size_t>(s.m) * s.n, 1.0f, 5);
    Q8Weights q;
    q8_quantize_weights(w.data(), s.n, s.k, &q);
    for (Q8Kernel kern : kernels()) {
      for (int variant = 0; variant < 3; ++variant) {
        const float beta = variant == 1 ? 1.0f : 0.0f;
        const float* b = variant == 0 ? nullptr : bias.data();
        const Act act = variant == 2 ? Act::kGeluErf : Act::kNone;
        std::vector<float> y = y0;
        gemm_q8_with(kern, x.data(), s.m, q, 0, s.n, beta, y.data(), s.n, b, act);
        const auto want = reference(x, s.m, w, s.k, 0, s.n, beta, y0, b, act);
        expect_close(y, want,
                     std::string(q8_kernel_name(kern)) + " m" + std::to_string(s.m) + " n" +
                         std::to_string(s.n) + " k" + std::to_string(s.k) + " v" +
                         std::to_string(variant));
      }
    }
  }
}

TEST(Int8Gemm, SlicesStartingOnAnyPanel) {
  const int m = 19, n = 80, k = 70;
  const std::vector<float> x = values(static_cast<size_t>(m) * k, 1.0f, 1);
  const std::vector<float> w = values(static_cast<size_t>(n) * k, 0.2f, 2);
  const std::vector<float> bias = values(n, 0.5f, 3);
  Q8Weights q;
  q8_quantize_weights(w.data(), n, k, &q);
  for (Q8Kernel kern : kernels()) {
    for (int col0 : {16, 48, 64}) {
      for (int cols : {1, 16, n - col0}) {
        const std::vector<float> y0(static_cast<size_t>(m) * cols, 0.0f);
        std::vector<float> y = y0;
        gemm_q8_with(kern, x.data(), m, q, col0, cols, 0.0f, y.data(), cols, bias.data() + col0,
                     Act::kQuickGelu);
        const auto want =
            reference(x, m, w, k, col0, cols, 0.0f, y0, bias.data() + col0, Act::kQuickGelu);
        expect_close(y, want, std::string(q8_kernel_name(kern)) + " col0 " + std::to_string(col0));
      }
    }
  }
}

TEST(Int8Gemm, ZeroRowsAndLargeBatchAcrossThreads) {
  // A zero row (scale 0) and enough work for both threads.
  const int m = 200, n = 300, k = 768;
  std::vector<float> x = values(static_cast<size_t>(m) * k, 3.0f, 9);
  std::fill(x.begin() + k, x.begin() + 2 * k, 0.0f);
  const std::vector<float> w = values(static_cast<size_t>(n) * k, 0.05f, 10);
  Q8Weights q;
  q8_quantize_weights(w.data(), n, k, &q);
  const std::vector<float> y0(static_cast<size_t>(m) * n, 0.0f);
  const auto want = reference(x, m, w, k, 0, n, 0.0f, y0, nullptr, Act::kNone);
  for (Q8Kernel kern : kernels()) {
    std::vector<float> y = y0;
    gemm_q8_with(kern, x.data(), m, q, 0, n, 0.0f, y.data(), n, nullptr, Act::kNone);
    expect_close(y, want, q8_kernel_name(kern));
    for (int j = 0; j < n; ++j) ASSERT_EQ(y[static_cast<size_t>(n) + j], 0.0f);
  }
}

TEST(Int8Gemm, CloseToTheFp32Product) {
  const int m = 40, n = 96, k = 768;
  const std::vector<float> x = values(static_cast<size_t>(m) * k, 1.0f, 21);
  const std::vector<float> w = values(static_cast<size_t>(n) * k, 0.05f, 22);
  Linear l;
  l.n_out = n;
  l.n_in = k;
  l.w = w;
  std::vector<float> want(static_cast<size_t>(m) * n), got(want.size());
  linear(l, x.data(), m, want.data());
  ASSERT_TRUE(attach_int8(l, /*drop_fp32=*/true));
  EXPECT_TRUE(l.w.empty());
  linear(l, x.data(), m, got.data());
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  EXPECT_LT(std::sqrt(num / den), 0.02);  // ~0.5 % expected for uniform values
  EXPECT_GT(std::sqrt(num / den), 0.0);   // and it really is the int8 path
}

TEST(Int8Gemm, LinearEntryPointsUseTheInt8Copy) {
  // linear_slice with a slice that does not start on a panel, and
  // linear_accumulate with and without bias, match gemm_q8 on the whole.
  const int m = 5, n = 3 * 20, k = 20;
  Linear l;
  l.n_out = n;
  l.n_in = k;
  l.w = values(static_cast<size_t>(n) * k, 0.3f, 31);
  l.b = values(n, 0.3f, 32);
  const std::vector<float> x = values(static_cast<size_t>(m) * k, 1.0f, 33);
  ASSERT_TRUE(attach_int8(l, false));
  std::vector<float> full(static_cast<size_t>(m) * n);
  linear(l, x.data(), m, full.data());
  std::vector<float> part(static_cast<size_t>(m) * 20);
  linear_slice(l, 20, 40, x.data(), m, part.data());
  for (int r = 0; r < m; ++r) {
    for (int j = 0; j < 20; ++j) {
      ASSERT_NEAR(part[r * 20 + j], full[r * n + 20 + j], 1e-6f) << r << "," << j;
    }
  }
  std::vector<float> acc(static_cast<size_t>(m) * n, 1.0f);
  linear_accumulate(l, x.data(), m, acc.data(), /*add_bias=*/true);
  for (size_t i = 0; i < acc.size(); ++i) ASSERT_NEAR(acc[i], full[i] + 1.0f, 1e-5f);
  std::fill(acc.begin(), acc.end(), 1.0f);
  linear_accumulate(l, x.data(), m, acc.data(), /*add_bias=*/false);
  for (size_t i = 0; i < acc.size(); ++i) {
    ASSERT_NEAR(acc[i], full[i] + 1.0f - l.b[i % n], 1e-5f);
  }
}

}  // namespace
}  // namespace sa
