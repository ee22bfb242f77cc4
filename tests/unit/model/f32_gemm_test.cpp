// The packed fp32 GEMM (f32_gemm.h) against a double-precision reference on
// shapes with a tail in every dimension (every row count of a 12-row register
// block, rows past the 96- and 48-row work items, columns past a panel, k past
// a 16-step chunk and both item sizes, k <= 1024 and above), slices, beta,
// bias and activation; and linear() on a Linear whose weights were packed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "model/f32_gemm.h"
#include "model/ops.h"
#include "model_test_util.h"

namespace sa {
namespace {

using testutil::act_ref;
using testutil::values;

TEST(F32Packed, MatchesReferenceOnOddShapes) {
  if (!f32_packed_available()) GTEST_SKIP() << "no AVX-512 here";
  struct Shape {
    int m, n, k;
  };
  std::vector<Shape> shapes = {Shape{1, 1, 1},     Shape{7, 31, 17},    Shape{8, 32, 64},
                                Shape{9, 33, 5},     Shape{65, 100, 130}, Shape{197, 70, 768},
                                Shape{97, 64, 16},   Shape{109, 65, 15},  Shape{50, 40, 1031},
                                Shape{200, 130, 33}};
  for (int m = 1; m <= 13; ++m) shapes.push_back(Shape{m, 35, 19 + m});  // every block height
  for (const Shape s : shapes) {
    const auto x = values(static_cast<size_t>(s.m) * s.k, 1.0f, 1 + s.m);
    const auto w = values(static_cast<size_t>(s.n) * s.k, 0.1f, 2 + s.n);
    const auto bias = values(s.n, 0.5f, 3);
    std::vector<float> packed(f32_packed_floats(s.n, s.k));
    f32_pack(w.data(), s.n, s.k, packed.data());
    for (int col0 : {0, 32}) {
      if (col0 >= s.n) continue;
      const int cols = s.n - col0;
      for (int variant = 0; variant < 3; ++variant) {
        const float beta = variant == 1 ? 1.0f : 0.0f;
        const float* b = variant == 0 ? nullptr : bias.data() + col0;
        const Act act = variant == 2 ? Act::kGeluErf : Act::kNone;
        const int ldy = cols + 3;
        std::vector<float> y = values(static_cast<size_t>(s.m) * ldy, 1.0f, 9);
        const std::vector<float> y0 = y;
        gemm_f32_packed(x.data(), s.m, packed.data(), s.n, s.k, col0, cols, beta, y.data(), ldy, b,
                        act);
        for (int r = 0; r < s.m; ++r) {
          for (int j = 0; j < ldy; ++j) {
            const size_t i = static_cast<size_t>(r) * ldy + j;
            if (j >= cols) {
              ASSERT_EQ(y[i], y0[i]) << "wrote past the slice";
              continue;
            }
            double acc = 0;
            for (int p = 0; p < s.k; ++p) {
              acc += static_cast<double>(x[static_cast<size_t>(r) * s.k + p]) *
                     w[static_cast<size_t>(col0 + j) * s.k + p];
            }
            acc += beta * y0[i];
            if (b) acc += b[j];
            const double want = act_ref(acc, act);
            ASSERT_NEAR(y[i], want, 2e-5 * (1 + std::fabs(want)))
                << "m" << s.m << " n" << s.n << " k" << s.k << " col0 " << col0 << " v" << variant
                << " at " << r << "," << j;
          }
        }
      }
    }
  }
}

TEST(F32Packed, LinearEntryPointsOnPackedWeights) {
  if (!f32_packed_available()) GTEST_SKIP() << "no AVX-512 here";
  const int m = 70, n = 96, k = 80;
  Linear l;
  l.n_out = n;
  l.n_in = k;
  l.w = values(static_cast<size_t>(n) * k, 0.2f, 5);
  l.b = values(n, 0.3f, 6);
  const auto x = values(static_cast<size_t>(m) * k, 1.0f, 7);
  std::vector<float> want(static_cast<size_t>(m) * n), got(want.size());
  linear(l, x.data(), m, want.data(), Act::kQuickGelu);
  std::vector<float> want_slice(static_cast<size_t>(m) * 40);
  linear_slice(l, 40, 80, x.data(), m, want_slice.data());
  std::vector<float> want_acc(want.size(), 1.0f);
  linear_accumulate(l, x.data(), m, want_acc.data(), false);
  ASSERT_TRUE(attach_packed_f32(l));
  EXPECT_TRUE(l.w.empty());
  linear(l, x.data(), m, got.data(), Act::kQuickGelu);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f) << i;
  std::vector<float> slice(want_slice.size());
  linear_slice(l, 40, 80, x.data(), m, slice.data());  // starts mid-panel
  for (size_t i = 0; i < slice.size(); ++i) ASSERT_NEAR(slice[i], want_slice[i], 1e-5f) << i;
  std::vector<float> acc(want.size(), 1.0f);
  linear_accumulate(l, x.data(), m, acc.data(), false);
  for (size_t i = 0; i < acc.size(); ++i) ASSERT_NEAR(acc[i], want_acc[i], 1e-5f) << i;
}

}  // namespace
}  // namespace sa
