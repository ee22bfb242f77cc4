// The packed fp32 GEMM (f32_gemm.h).
#include "model/f32_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "model/elementwise.h"
#include "model/few_row_gemm.h"
#include "model/simd.h"

namespace sa {
namespace {

constexpr int kP = kF32PanelCols;
constexpr int kRows = 8;           // rows per register block
constexpr int kItemRows = 64;      // rows per work item

struct Job {
  const float* x;
  int m, k;
  const float* panels;
  elementwise::ProductOut out;
  int panels_per_item, n_row_items;
};

#ifdef SA_OPS_AVX2
// acc [rows][32] -> y, with beta, bias and activation (the order of linear():
// (acc + beta * y) + bias, then act).
void store_block(const Job& jb, const float* acc, int r0, int rows, int j0) {
  const int cols = std::min(kP, jb.out.n_cols - j0);
  const float* bias = jb.out.bias ? jb.out.bias + j0 : nullptr;
  for (int r = 0; r < rows; ++r) {
    const float* a = acc + r * kP;
    float* yr = jb.out.y + static_cast<size_t>(r0 + r) * jb.out.ldy + j0;
    int j = 0;
    const float beta = jb.out.beta;
    const Act act = jb.out.act;
    for (; j + 8 <= cols; j += 8) {
      elementwise::store_out(yr + j, _mm256_loadu_ps(a + j), beta, bias ? bias + j : nullptr, act);
    }
    for (; j < cols; ++j) elementwise::store_out(yr + j, a[j], beta, bias ? bias + j : nullptr, act);
  }
}

// Rows [r0, r0 + rows) x panel `panel` (32 columns) -> acc [8][32]. Rows past
// `rows` repeat the last row (read, never stored).
__attribute__((target("avx512f"))) void block8(const float* x, int ldx, int rows, const float* panel,
                                               int k, float* acc) {
  const float* xr[kRows];
  for (int r = 0; r < kRows; ++r) xr[r] = x + static_cast<size_t>(std::min(r, rows - 1)) * ldx;
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
  const float* w = panel;
  for (int p = 0; p < k; ++p, w += kP) {
    const __m512 lo = _mm512_loadu_ps(w), hi = _mm512_loadu_ps(w + 16);
#define SA_F32_ROW(i)                                   \
  {                                                     \
    const __m512 v = _mm512_set1_ps(xr[i][p]);          \
    a##i = _mm512_fmadd_ps(v, lo, a##i);                \
    b##i = _mm512_fmadd_ps(v, hi, b##i);                \
  }
    SA_F32_ROW(0) SA_F32_ROW(1) SA_F32_ROW(2) SA_F32_ROW(3)
    SA_F32_ROW(4) SA_F32_ROW(5) SA_F32_ROW(6) SA_F32_ROW(7)
#undef SA_F32_ROW
  }
  const __m512 out[16] = {a0, b0, a1, b1, a2, b2, a3, b3, a4, b4, a5, b5, a6, b6, a7, b7};
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(acc + 16 * i, out[i]);
}

void run_item(const void* ctx, int item) {
  const Job& jb = *static_cast<const Job*>(ctx);
  const int ci = item / jb.n_row_items;
  const int ri = item % jb.n_row_items;
  const int r_begin = ri * kItemRows;
  const int r_end = std::min(jb.m, r_begin + kItemRows);
  const int c_begin = ci * jb.panels_per_item;  // panels relative to col0
  const int n_panels = (jb.out.n_cols + kP - 1) / kP;
  const int c_end = std::min(n_panels, c_begin + jb.panels_per_item);
  alignas(64) float acc[kRows * kP];
  for (int c = c_begin; c < c_end; ++c) {
    const float* panel = jb.panels + (static_cast<size_t>(jb.out.col0 / kP) + c) * jb.k * kP;
    for (int r0 = r_begin; r0 < r_end; r0 += kRows) {
      const int rows = std::min(kRows, r_end - r0);
      block8(jb.x + static_cast<size_t>(r0) * jb.k, jb.k, rows, panel, jb.k, acc);
      store_block(jb, acc, r0, rows, c * kP);
    }
  }
}
#endif  // SA_OPS_AVX2

}  // namespace

bool f32_packed_available() {
#ifdef SA_OPS_AVX2
  static const bool yes = __builtin_cpu_supports("avx512f") && !std::getenv("SA_NO_AVX512");
  return yes;
#else
  return false;
#endif
}

size_t f32_packed_floats(int n, int k) {
  return static_cast<size_t>((n + kP - 1) / kP) * kP * static_cast<size_t>(k);
}

void f32_pack(const float* w, int n, int k, float* out) {
  std::memset(out, 0, f32_packed_floats(n, k) * sizeof(float));
  for (int j = 0; j < n; ++j) {
    float* dst = out + static_cast<size_t>(j / kP) * k * kP + j % kP;
    const float* src = w + static_cast<size_t>(j) * k;
    for (int p = 0; p < k; ++p) dst[static_cast<size_t>(p) * kP] = src[p];
  }
}

void gemm_f32_packed(const float* x, int m, const float* panels, int n_total, int k, int col0,
                     int n_cols, float beta, float* y, int ldy, const float* bias, Act act) {
  (void)n_total;
#ifdef SA_OPS_AVX2
  if (m <= 0 || n_cols <= 0) return;
  Job jb{x, m, k, panels, {col0, n_cols, beta, y, ldy, bias, act}, 1, 1};
  jb.n_row_items = (m + kItemRows - 1) / kItemRows;
  const int n_panels = (n_cols + kP - 1) / kP;
  const int want_col_items = std::max(1, 32 / jb.n_row_items);
  jb.panels_per_item = std::max(1, (n_panels + want_col_items - 1) / want_col_items);
  const int items = ((n_panels + jb.panels_per_item - 1) / jb.panels_per_item) * jb.n_row_items;
  if (items > 1 && static_cast<double>(m) * n_cols * k >= (1 << 18)) {
    parallel_for(items, run_item, &jb);
  } else {
    for (int i = 0; i < items; ++i) run_item(&jb, i);
  }
#else
  (void)x, (void)m, (void)panels, (void)k, (void)col0, (void)n_cols, (void)beta, (void)y;
  (void)ldy, (void)bias, (void)act;
#endif
}

}  // namespace sa
