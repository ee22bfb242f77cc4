// Transformer building blocks. Matrix products go through gemm_xwt
// (few_row_gemm.cpp: OpenBLAS, or the engine's few-row kernels); the
// element-wise work is written so that one
// thread keeps up with the two-core GEMMs (a b8 ViT-B/16 forward evaluates
// ~100M exponentials, which std::exp would make ~15% of the run).
#include "model/ops.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "model/elementwise.h"
#include "model/f32_gemm.h"
#include "model/few_row_gemm.h"
#include "model/int8_gemm.h"
#include "model/simd.h"

namespace sa {

using namespace elementwise;
#ifdef SA_OPS_AVX2
using simd::hmax;
using simd::hsum;
#endif

void linear(const Linear& l, const float* x, int m, float* y, Act act) {
  if (m <= 0) return;
  if (!l.p32.empty()) {
    gemm_f32_packed(x, m, l.p32.data(), l.n_out, l.n_in, 0, l.n_out, 0.0f, y, l.n_out,
                    l.b.empty() ? nullptr : l.b.data(), act);
    return;
  }
  if (!l.q8.empty()) {
    gemm_q8(x, m, l.q8, 0, l.n_out, 0.0f, y, l.n_out, l.b.empty() ? nullptr : l.b.data(), act);
    return;
  }
  gemm_xwt(x, m, l.w.data(), half_weights(l), l.n_out, l.n_in, 0.0f, y,
           l.b.empty() ? nullptr : l.b.data(), act);
}

void linear_slice(const Linear& l, int r0, int r1, const float* x, int m, float* y) {
  if (m <= 0 || r1 <= r0) return;
  const int n = r1 - r0;
  if (!l.q8.empty() || !l.p32.empty()) {
    const float* bias = l.b.empty() ? nullptr : l.b.data();
    const bool packed = !l.p32.empty();
    auto run = [&](int c0, int cols, float* out) {
      if (packed) {
        gemm_f32_packed(x, m, l.p32.data(), l.n_out, l.n_in, c0, cols, 0.0f, out, cols,
                        bias ? bias + c0 : nullptr, Act::kNone);
      } else {
        gemm_q8(x, m, l.q8, c0, cols, 0.0f, out, cols, bias ? bias + c0 : nullptr, Act::kNone);
      }
    };
    const int lead = r0 % (packed ? kF32PanelCols : kQ8PanelCols);  // kernels start on a panel
    if (lead == 0) {
      run(r0, n, y);
      return;
    }
    std::vector<float> wide(static_cast<size_t>(m) * (n + lead));
    run(r0 - lead, n + lead, wide.data());
    for (int r = 0; r < m; ++r) {
      std::memcpy(y + static_cast<size_t>(r) * n, wide.data() + static_cast<size_t>(r) * (n + lead) + lead,
                  sizeof(float) * n);
    }
    return;
  }
  const size_t off = static_cast<size_t>(r0) * l.n_in;
  // The panels serve a slice that starts on a panel boundary.
  const uint16_t* w16 = half_weights(l);
  const bool aligned = w16 && r0 % kFp16PanelCols == 0;
  gemm_xwt(x, m, l.w.data() + off, aligned ? w16 + off : nullptr, n, l.n_in, 0.0f, y,
           l.b.empty() ? nullptr : l.b.data() + r0);
}

void linear_accumulate(const Linear& l, const float* x, int m, float* y, bool add_bias) {
  if (m <= 0) return;
  if (!l.p32.empty()) {
    gemm_f32_packed(x, m, l.p32.data(), l.n_out, l.n_in, 0, l.n_out, 1.0f, y, l.n_out,
                    add_bias && !l.b.empty() ? l.b.data() : nullptr, Act::kNone);
    return;
  }
  if (!l.q8.empty()) {
    gemm_q8(x, m, l.q8, 0, l.n_out, 1.0f, y, l.n_out,
            add_bias && !l.b.empty() ? l.b.data() : nullptr, Act::kNone);
    return;
  }
  if (add_bias && !l.b.empty()) apply_rows<IdentityOp>(y, l.b.data(), m, l.n_out);
  gemm_xwt(x, m, l.w.data(), half_weights(l), l.n_out, l.n_in, 1.0f, y);
}

namespace {

// One row of LayerNorm; xr == yr allowed.
void layer_norm_row(const float* xr, const float* g, const float* b, int d, float eps, float* yr) {
  // Two passes: mean, then centred sums. The second pass also sums the centred
  // values themselves, which corrects the rounding error of the first mean
  // (rows with a large mean would otherwise lose digits to cancellation).
  int i = 0;
  float sum = 0.0f;
#ifdef SA_OPS_AVX2
  __m256 acc = _mm256_setzero_ps();
  for (; i + 8 <= d; i += 8) acc = _mm256_add_ps(acc, _mm256_loadu_ps(xr + i));
  sum = hsum(acc);
#endif
  for (; i < d; ++i) sum += xr[i];
  const float mean0 = sum / static_cast<float>(d);
  i = 0;
  float sc = 0.0f;
  float sq = 0.0f;
#ifdef SA_OPS_AVX2
  const __m256 vmean0 = _mm256_set1_ps(mean0);
  __m256 acc1 = _mm256_setzero_ps();
  __m256 acc2 = _mm256_setzero_ps();
  for (; i + 8 <= d; i += 8) {
    const __m256 c = _mm256_sub_ps(_mm256_loadu_ps(xr + i), vmean0);
    acc1 = _mm256_add_ps(acc1, c);
    acc2 = _mm256_fmadd_ps(c, c, acc2);
  }
  sc = hsum(acc1);
  sq = hsum(acc2);
#endif
  for (; i < d; ++i) {
    sc += xr[i] - mean0;
    sq += (xr[i] - mean0) * (xr[i] - mean0);
  }
  const float inv_d = 1.0f / static_cast<float>(d);
  const float mean = mean0 + sc * inv_d;
  const float var = std::max(0.0f, (sq - sc * sc * inv_d) * inv_d);
  const float rstd = 1.0f / std::sqrt(var + eps);
  i = 0;
#ifdef SA_OPS_AVX2
  const __m256 vmean = _mm256_set1_ps(mean);
  const __m256 vrstd = _mm256_set1_ps(rstd);
  for (; i + 8 <= d; i += 8) {
    const __m256 c = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vmean), vrstd);
    _mm256_storeu_ps(yr + i, _mm256_fmadd_ps(c, _mm256_loadu_ps(g + i), _mm256_loadu_ps(b + i)));
  }
#endif
  for (; i < d; ++i) yr[i] = (xr[i] - mean) * rstd * g[i] + b[i];
}

}  // namespace

void layer_norm(const LayerNormW& ln, const float* x, int m, int d, float eps, float* y) {
  add_bias_layer_norm(const_cast<float*>(x), nullptr, ln, m, d, eps, y);  // x is only read
}

namespace {

struct LnJob {
  float* x;
  const float* bias;
  const LayerNormW* ln;
  int m, d;
  float eps;
  float* y;
};
constexpr int kLnRowsPerItem = 32;

void ln_rows(const LnJob& j, int r0, int r1) {
  for (int r = r0; r < r1; ++r) {
    float* xr = j.x + static_cast<size_t>(r) * j.d;
    if (j.bias) apply<IdentityOp>(xr, j.bias, j.d);  // row is cache-hot for the LayerNorm
    layer_norm_row(xr, j.ln->g.data(), j.ln->b.data(), j.d, j.eps, j.y + static_cast<size_t>(r) * j.d);
  }
}

}  // namespace

void add_bias_layer_norm(float* x, const float* bias, const LayerNormW& ln, int m, int d,
                         float eps, float* y) {
  const LnJob job{x, bias, &ln, m, d, eps, y};
  if (m < 2 * kLnRowsPerItem) {
    ln_rows(job, 0, m);
    return;
  }
  // Image batches (hundreds of rows): rows on both threads.
  parallel_for((m + kLnRowsPerItem - 1) / kLnRowsPerItem, [](const void* ctx, int i) {
    const LnJob& j = *static_cast<const LnJob*>(ctx);
    ln_rows(j, i * kLnRowsPerItem, std::min(j.m, (i + 1) * kLnRowsPerItem));
  }, &job);
}

void quick_gelu(float* x, size_t n) { apply<QuickGeluOp>(x, nullptr, n); }
void gelu_erf(float* x, size_t n) { apply<GeluErfOp>(x, nullptr, n); }
void exp_inplace(float* x, size_t n) { apply<ExpOp>(x, nullptr, n); }
void erf_inplace(float* x, size_t n) { apply<ErfOp>(x, nullptr, n); }

namespace {

bool has_avx512();

#ifdef SA_OPS_AVX2
// GCC 12 warns inside its own AVX-512 headers here (the unmasked intrinsics
// start from _mm512_undefined_ps); a known false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// exp_avx2's formula on 16 lanes (the same operations per lane).
__attribute__((target("avx512f"))) __m512 exp_avx512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(kExpLo)), _mm512_set1_ps(kExpHi));
  const __m512 fx = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(fx, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kP0);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kP5));
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(fx), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

// One softmax row on 16 lanes (attention's score rows: ~5 % of the INT8 image
// tower's samples with 8 lanes); the tail of n % 16 values with masks.
__attribute__((target("avx512f"))) void softmax_row_avx512(float* xr, int n) {
  const int full = n / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (n - full)) - 1);
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 vmx = ninf;
  for (int i = 0; i < full; i += 16) vmx = _mm512_max_ps(vmx, _mm512_loadu_ps(xr + i));
  vmx = _mm512_max_ps(vmx, _mm512_mask_loadu_ps(ninf, tail, xr + full));
  const __m512 vm = _mm512_set1_ps(_mm512_reduce_max_ps(vmx));
  __m512 acc = _mm512_setzero_ps();
  for (int i = 0; i < full; i += 16) {
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_loadu_ps(xr + i), vm));
    _mm512_storeu_ps(xr + i, e);
    acc = _mm512_add_ps(acc, e);
  }
  if (tail) {
    const __m512 e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, xr + full), vm));
    _mm512_mask_storeu_ps(xr + full, tail, e);
    acc = _mm512_add_ps(acc, _mm512_maskz_mov_ps(tail, e));
  }
  const __m512 vinv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(acc));
  for (int i = 0; i < full; i += 16) _mm512_storeu_ps(xr + i, _mm512_mul_ps(_mm512_loadu_ps(xr + i), vinv));
  if (tail) _mm512_mask_storeu_ps(xr + full, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, xr + full), vinv));
}
#pragma GCC diagnostic pop
#endif

}  // namespace

void softmax_rows(float* x, int m, int n, int ld) {
#ifdef SA_OPS_AVX2
  if (has_avx512() && n > 0) {
    for (int r = 0; r < m; ++r) softmax_row_avx512(x + static_cast<size_t>(r) * ld, n);
    return;
  }
#endif
  for (int r = 0; r < m; ++r) {
    float* xr = x + static_cast<size_t>(r) * ld;
    int i = 0;
    float mx = -INFINITY;
#ifdef SA_OPS_AVX2
    __m256 vmx = _mm256_set1_ps(-INFINITY);
    for (; i + 8 <= n; i += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(xr + i));
    mx = hmax(vmx);
#endif
    for (; i < n; ++i) mx = std::max(mx, xr[i]);
    i = 0;
    float sum = 0.0f;
#ifdef SA_OPS_AVX2
    const __m256 vm = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
      const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(xr + i), vm));
      _mm256_storeu_ps(xr + i, e);
      acc = _mm256_add_ps(acc, e);
    }
    sum = hsum(acc);
#endif
    for (; i < n; ++i) {
      xr[i] = exp_scalar(xr[i] - mx);
      sum += xr[i];
    }
    const float inv = 1.0f / sum;
    i = 0;
#ifdef SA_OPS_AVX2
    const __m256 vinv = _mm256_set1_ps(inv);
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(xr + i, _mm256_mul_ps(_mm256_loadu_ps(xr + i), vinv));
#endif
    for (; i < n; ++i) xr[i] *= inv;
  }
}

namespace {

float dot(const float* a, const float* b, int n) {
  int i = 0;
  float s = 0.0f;
#ifdef SA_OPS_AVX2
  __m256 acc = _mm256_setzero_ps();
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  s = hsum(acc);
#endif
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Short sequences (text queries): the two products per head are a few
// thousand multiply-adds, less than what a cblas call costs to set up, and an
// OpenBLAS call here would also wake its pool, whose threads then spin on the
// second core while the few-row kernels want it.
constexpr int kDirectAttentionMaxKv = 64;
constexpr int kDirectAttentionMaxQ = 32;

// One head; the scores live on the stack, so heads can run on two threads.
void attention_direct(const float* q, int ld_q, int n_q, const float* k, const float* v,
                      int ld_kv, int n_kv, int hd, float scale, float* out, int ld_out) {
  float scratch[kDirectAttentionMaxQ * kDirectAttentionMaxKv];
  for (int i = 0; i < n_q; ++i) {
    const float* qi = q + static_cast<size_t>(i) * ld_q;
    float* s = scratch + static_cast<size_t>(i) * n_kv;
    for (int j = 0; j < n_kv; ++j) s[j] = scale * dot(qi, k + static_cast<size_t>(j) * ld_kv, hd);
  }
  softmax_rows(scratch, n_q, n_kv, n_kv);
  for (int i = 0; i < n_q; ++i) {
    const float* s = scratch + static_cast<size_t>(i) * n_kv;
    float* o = out + static_cast<size_t>(i) * ld_out;
    std::fill(o, o + hd, 0.0f);
    for (int j = 0; j < n_kv; ++j) {
      const float* vj = v + static_cast<size_t>(j) * ld_kv;
      const float p = s[j];
      for (int c = 0; c < hd; ++c) o[c] += p * vj[c];
    }
  }
}

#ifdef SA_OPS_AVX2
// The attention kernels' per-thread buffers, kept between calls: kt = scale *
// k^T packed [hd][nk] (nk = n_kv rounded up to 32, zeros past n_kv), filled
// here, and the scores s [n_q][nk].
struct HeadBuffers {
  float* kt;
  float* s;
  int nk;
};

bool has_avx512();

// kt[c][j] = scale * k[j][c] for the keys j < 16 * floor(n_kv / 16), by a
// gather down each dimension's column (a b8 ViT layer's transposes were ~1 %
// of the fp32 tower's samples, ~3 % of the INT8 one's; the scalar loop is 5 %
// slower for the whole attention). Returns the first key not done.
__attribute__((target("avx512f"))) int transpose_keys_avx512(const float* k, int ld_kv, int n_kv,
                                                             int hd, float scale, float* kt, int nk) {
  const __m512i step = _mm512_mullo_epi32(
      _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(ld_kv));
  const __m512 vscale = _mm512_set1_ps(scale);
  int j0 = 0;
  for (; j0 + 16 <= n_kv; j0 += 16) {
    const float* kj = k + static_cast<size_t>(j0) * ld_kv;
    for (int c = 0; c < hd; ++c) {
      const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xffff, step, kj + c, 4);
      _mm512_storeu_ps(kt + static_cast<size_t>(c) * nk + j0, _mm512_mul_ps(vscale, v));
    }
  }
  return j0;
}

HeadBuffers head_buffers(const float* k, int ld_kv, int n_q, int n_kv, int hd, float scale) {
  thread_local std::vector<float> kt_buf, s_buf;
  const int nk = (n_kv + 31) / 32 * 32;
  if (kt_buf.size() < static_cast<size_t>(hd) * nk) kt_buf.resize(static_cast<size_t>(hd) * nk);
  if (s_buf.size() < static_cast<size_t>(n_q) * nk) s_buf.resize(static_cast<size_t>(n_q) * nk);
  float* kt = kt_buf.data();
  // 16 keys at a time on AVX-512 CPUs, the rest here.
  const int j0 = has_avx512() && static_cast<size_t>(n_kv) * ld_kv < (size_t{1} << 31)
                     ? transpose_keys_avx512(k, ld_kv, n_kv, hd, scale, kt, nk)
                     : 0;
  for (int c = 0; c < hd; ++c) {
    float* row = kt + static_cast<size_t>(c) * nk;
    for (int j = j0; j < n_kv; ++j) row[j] = scale * k[static_cast<size_t>(j) * ld_kv + c];
    std::fill(row + n_kv, row + nk, 0.0f);
  }
  return {kt, s_buf.data(), nk};
}

// o[c] = sum_j p[j] v[j][c] for the dimensions c in [c0, hd) that the
// kernels' 64-wide blocks leave.
void pv_tail(const float* p, const float* v, int ld_kv, int n_kv, int c0, int hd, float* o) {
  std::fill(o + c0, o + hd, 0.0f);
  for (int j = 0; j < n_kv; ++j) {
    const float* vj = v + static_cast<size_t>(j) * ld_kv;
    for (int c = c0; c < hd; ++c) o[c] += p[j] * vj[c];
  }
}

// One head of any size with the engine's kernels: kt = scale * k^T packed
// [hd][nk] (nk = n_kv rounded up to 32, zeros past n_kv), scores in blocks of
// 4 queries x 32 keys (16 accumulators, per dimension 4 loads and 4
// broadcasts), softmax, then out in blocks of 2 queries x 64 dimensions.
// Buffers are the calling thread's, kept between calls.
void attention_head(const float* q, int ld_q, int n_q, const float* k, const float* v, int ld_kv,
                    int n_kv, int hd, float scale, float* out, int ld_out) {
  const auto [kt, s, nk] = head_buffers(k, ld_kv, n_q, n_kv, hd, scale);
  for (int i0 = 0; i0 < n_q; i0 += 4) {
    const int rows = std::min(4, n_q - i0);
    const float* qr[4];
    for (int r = 0; r < 4; ++r) qr[r] = q + static_cast<size_t>(i0 + std::min(r, rows - 1)) * ld_q;
    for (int j0 = 0; j0 < nk; j0 += 32) {
      __m256 acc[4][4];
      for (auto& ar : acc)
        for (auto& x : ar) x = _mm256_setzero_ps();
      const float* kc = kt + j0;
      for (int c = 0; c < hd; ++c, kc += nk) {
        const __m256 k0 = _mm256_loadu_ps(kc), k1 = _mm256_loadu_ps(kc + 8);
        const __m256 k2 = _mm256_loadu_ps(kc + 16), k3 = _mm256_loadu_ps(kc + 24);
        for (int r = 0; r < 4; ++r) {
          const __m256 b = _mm256_broadcast_ss(qr[r] + c);
          acc[r][0] = _mm256_fmadd_ps(b, k0, acc[r][0]);
          acc[r][1] = _mm256_fmadd_ps(b, k1, acc[r][1]);
          acc[r][2] = _mm256_fmadd_ps(b, k2, acc[r][2]);
          acc[r][3] = _mm256_fmadd_ps(b, k3, acc[r][3]);
        }
      }
      for (int r = 0; r < rows; ++r) {
        float* sr = s + static_cast<size_t>(i0 + r) * nk + j0;
        for (int t = 0; t < 4; ++t) _mm256_storeu_ps(sr + 8 * t, acc[r][t]);
      }
    }
  }
  softmax_rows(s, n_q, n_kv, nk);
  for (int i0 = 0; i0 < n_q; i0 += 2) {
    const int rows = std::min(2, n_q - i0);
    const float* p0 = s + static_cast<size_t>(i0) * nk;
    const float* p1 = s + static_cast<size_t>(i0 + rows - 1) * nk;
    int c0 = 0;
    for (; c0 + 64 <= hd; c0 += 64) {
      __m256 a[8], b[8];
      for (int t = 0; t < 8; ++t) a[t] = b[t] = _mm256_setzero_ps();
      const float* vj = v + c0;
      for (int j = 0; j < n_kv; ++j, vj += ld_kv) {
        const __m256 w0 = _mm256_broadcast_ss(p0 + j), w1 = _mm256_broadcast_ss(p1 + j);
        for (int t = 0; t < 8; ++t) {
          const __m256 vv = _mm256_loadu_ps(vj + 8 * t);
          a[t] = _mm256_fmadd_ps(w0, vv, a[t]);
          b[t] = _mm256_fmadd_ps(w1, vv, b[t]);
        }
      }
      float* o0 = out + static_cast<size_t>(i0) * ld_out + c0;
      for (int t = 0; t < 8; ++t) _mm256_storeu_ps(o0 + 8 * t, a[t]);
      if (rows > 1) {
        float* o1 = o0 + ld_out;
        for (int t = 0; t < 8; ++t) _mm256_storeu_ps(o1 + 8 * t, b[t]);
      }
    }
    for (int r = 0; r < rows && c0 < hd; ++r) {  // dimensions past the last 64
      pv_tail(r == 0 ? p0 : p1, v, ld_kv, n_kv, c0, hd, out + static_cast<size_t>(i0 + r) * ld_out);
    }
  }
}

// The same with 512-bit registers, for CPUs with AVX-512 (runtime check):
// scores in blocks of kQ queries x 32 keys, out in blocks of kPv queries x 64
// dimensions, 24 zmm accumulators each (12 x 32 and 6 x 64: a b8 ViT layer's
// attention on one thread, best of 40, 16.3-17.7 ms with 8 x 32 and 4 x 64 and
// 16 accumulators, 14.6-14.9 ms with these; 4 alternating runs each). ~1.8x
// the 256-bit kernel's rate.
__attribute__((target("avx512f"))) void attention_head_avx512(
    const float* q, int ld_q, int n_q, const float* k, const float* v, int ld_kv, int n_kv, int hd,
    float scale, float* out, int ld_out) {
  constexpr int kQ = 12, kPv = 6;
  const auto [kt, s, nk] = head_buffers(k, ld_kv, n_q, n_kv, hd, scale);
  for (int i0 = 0; i0 < n_q; i0 += kQ) {
    const int rows = std::min(kQ, n_q - i0);
    const float* qr[kQ];
    for (int r = 0; r < kQ; ++r) qr[r] = q + static_cast<size_t>(i0 + std::min(r, rows - 1)) * ld_q;
    for (int j0 = 0; j0 < nk; j0 += 32) {
      __m512 a[kQ], b[kQ];
      for (int r = 0; r < kQ; ++r) a[r] = b[r] = _mm512_setzero_ps();
      const float* kc = kt + j0;
      for (int c = 0; c < hd; ++c, kc += nk) {
        const __m512 k0 = _mm512_loadu_ps(kc), k1 = _mm512_loadu_ps(kc + 16);
#pragma GCC unroll 12
        for (int r = 0; r < kQ; ++r) {
          const __m512 x = _mm512_set1_ps(qr[r][c]);
          a[r] = _mm512_fmadd_ps(x, k0, a[r]);
          b[r] = _mm512_fmadd_ps(x, k1, b[r]);
        }
      }
      for (int r = 0; r < rows; ++r) {
        float* sr = s + static_cast<size_t>(i0 + r) * nk + j0;
        _mm512_storeu_ps(sr, a[r]);
        _mm512_storeu_ps(sr + 16, b[r]);
      }
    }
  }
  softmax_rows(s, n_q, n_kv, nk);
  for (int i0 = 0; i0 < n_q; i0 += kPv) {
    const int rows = std::min(kPv, n_q - i0);
    const float* p[kPv];
    for (int r = 0; r < kPv; ++r) p[r] = s + static_cast<size_t>(i0 + std::min(r, rows - 1)) * nk;
    int c0 = 0;
    for (; c0 + 64 <= hd; c0 += 64) {
      __m512 acc[kPv][4];
      for (auto& ar : acc)
        for (auto& x : ar) x = _mm512_setzero_ps();
      const float* vj = v + c0;
      for (int j = 0; j < n_kv; ++j, vj += ld_kv) {
        const __m512 v0 = _mm512_loadu_ps(vj), v1 = _mm512_loadu_ps(vj + 16);
        const __m512 v2 = _mm512_loadu_ps(vj + 32), v3 = _mm512_loadu_ps(vj + 48);
#pragma GCC unroll 6
        for (int r = 0; r < kPv; ++r) {
          const __m512 w = _mm512_set1_ps(p[r][j]);
          acc[r][0] = _mm512_fmadd_ps(w, v0, acc[r][0]);
          acc[r][1] = _mm512_fmadd_ps(w, v1, acc[r][1]);
          acc[r][2] = _mm512_fmadd_ps(w, v2, acc[r][2]);
          acc[r][3] = _mm512_fmadd_ps(w, v3, acc[r][3]);
        }
      }
      for (int r = 0; r < rows; ++r) {
        float* o = out + static_cast<size_t>(i0 + r) * ld_out + c0;
        for (int t = 0; t < 4; ++t) _mm512_storeu_ps(o + 16 * t, acc[r][t]);
      }
    }
    for (int r = 0; r < rows && c0 < hd; ++r) {  // dimensions past the last 64
      pv_tail(p[r], v, ld_kv, n_kv, c0, hd, out + static_cast<size_t>(i0 + r) * ld_out);
    }
  }
}

bool has_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f") && !std::getenv("SA_NO_AVX512");
  return yes;
}

// SA_ENGINE_ATTENTION=0 keeps OpenBLAS for the long-sequence attention
// (comparisons); by default the engine's kernel runs it.
bool use_engine_attention() {
  static const bool on = [] {
    const char* e = std::getenv("SA_ENGINE_ATTENTION");
    return !(e && std::string(e) == "0");
  }();
  return on;
}
#endif

}  // namespace

void attention(const float* q, int ld_q, int n_q, const float* k, const float* v, int ld_kv,
               int n_kv, int d, int heads, float* out, int ld_out, float* scratch) {
  if (n_q <= 0 || n_kv <= 0) return;
  const int hd = d / heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  if (n_q <= kDirectAttentionMaxQ && n_kv <= kDirectAttentionMaxKv) {
    // Heads split over the caller and the few-row helper thread, which would
    // otherwise wait here for the next product (12-token query: ~1 %).
    struct Args {
      const float *q, *k, *v;
      int ld_q, n_q, ld_kv, n_kv, hd;
      float scale;
      float* out;
      int ld_out;
    } a{q, k, v, ld_q, n_q, ld_kv, n_kv, hd, scale, out, ld_out};
    parallel_for(heads, [](const void* ctx, int h) {
      const Args& a = *static_cast<const Args*>(ctx);
      attention_direct(a.q + h * a.hd, a.ld_q, a.n_q, a.k + h * a.hd, a.v + h * a.hd, a.ld_kv,
                       a.n_kv, a.hd, a.scale, a.out + h * a.hd, a.ld_out);
    }, &a);
    return;
  }
#ifdef SA_OPS_AVX2
  if (use_engine_attention()) {
    // Heads on both threads, each with the engine's own kernel: no OpenBLAS
    // call, whose pool would spin on the second core while the INT8 products
    // and the next heads want it.
    struct Args {
      const float *q, *k, *v;
      int ld_q, n_q, ld_kv, n_kv, hd;
      float scale;
      float* out;
      int ld_out;
    } a{q, k, v, ld_q, n_q, ld_kv, n_kv, hd, scale, out, ld_out};
    parallel_for(heads, [](const void* ctx, int h) {
      const Args& a = *static_cast<const Args*>(ctx);
      (has_avx512() ? attention_head_avx512 : attention_head)(
          a.q + h * a.hd, a.ld_q, a.n_q, a.k + h * a.hd, a.v + h * a.hd, a.ld_kv, a.n_kv, a.hd,
          a.scale, a.out + h * a.hd, a.ld_out);
    }, &a);
    return;
  }
#endif
  for (int h = 0; h < heads; ++h) {
    // scores [n_q, n_kv] = scale * q_h k_h^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_q, n_kv, hd, scale, q + h * hd, ld_q,
                k + h * hd, ld_kv, 0.0f, scratch, n_kv);
    softmax_rows(scratch, n_q, n_kv, n_kv);
    // out_h [n_q, hd] = P v_h
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_q, hd, n_kv, 1.0f, scratch, n_kv,
                v + h * hd, ld_kv, 0.0f, out + h * hd, ld_out);
  }
}

void attention(const float* qkv, int ld_qkv, int n_tok, int d, int heads, float* out, int ld_out,
               float* scratch) {
  attention(qkv, ld_qkv, n_tok, qkv + d, qkv + 2 * d, ld_qkv, n_tok, d, heads, out, ld_out,
            scratch);
}

void attention_batch(const float* qkv, int ld_qkv, int n_seq, int n_tok, int d, int heads,
                     float* out, int ld_out, float* scratch) {
  if (n_seq <= 0 || n_tok <= 0) return;
#ifdef SA_OPS_AVX2
  if (n_tok > kDirectAttentionMaxQ && use_engine_attention()) {
    // Every (sequence, head) pair in one hand-off: a b8 ViT layer hands over
    // once instead of eight times, and the 96 heads balance better over two
    // threads than eight runs of 12.
    struct Args {
      const float* qkv;
      int ld_qkv, n_tok, d, hd, heads;
      float scale;
      float* out;
      int ld_out;
    } a{qkv, ld_qkv, n_tok, d, d / heads, heads, 1.0f / std::sqrt(static_cast<float>(d / heads)),
        out, ld_out};
    parallel_for(n_seq * heads, [](const void* ctx, int i) {
      const Args& a = *static_cast<const Args*>(ctx);
      const int b = i / a.heads, h = i % a.heads;
      const float* q = a.qkv + static_cast<size_t>(b) * a.n_tok * a.ld_qkv + h * a.hd;
      (has_avx512() ? attention_head_avx512 : attention_head)(
          q, a.ld_qkv, a.n_tok, q + a.d, q + 2 * a.d, a.ld_qkv, a.n_tok, a.hd, a.scale,
          a.out + static_cast<size_t>(b) * a.n_tok * a.ld_out + h * a.hd, a.ld_out);
    }, &a);
    return;
  }
#endif
  for (int b = 0; b < n_seq; ++b) {
    attention(qkv + static_cast<size_t>(b) * n_tok * ld_qkv, ld_qkv, n_tok, d, heads,
              out + static_cast<size_t>(b) * n_tok * ld_out, ld_out, scratch);
  }
}

bool attach_packed_f32(Linear& l) {
  if (!f32_packed_available() || l.n_out <= 0 || l.n_in <= 0 ||
      l.w.size() != static_cast<size_t>(l.n_out) * l.n_in) {
    return !l.p32.empty();
  }
  l.p32.resize(f32_packed_floats(l.n_out, l.n_in));
  f32_pack(l.w.data(), l.n_out, l.n_in, l.p32.data());
  std::vector<float>().swap(l.w);
  return true;
}

bool attach_int8(Linear& l, bool drop_fp32) {
  if (l.w.size() != static_cast<size_t>(l.n_out) * l.n_in || l.n_out <= 0 || l.n_in <= 0) {
    return !l.q8.empty();
  }
  q8_quantize_weights(l.w.data(), l.n_out, l.n_in, &l.q8);
  decltype(l.w16)().swap(l.w16);  // int8 products never read the fp16 copy
  if (drop_fp32) std::vector<float>().swap(l.w);
  return true;
}

Status check_size(const std::vector<float>& v, size_t n, const std::string& name) {
  if (v.size() != n) {
    return Status::InvalidArgument("tensor '" + name + "' has " + std::to_string(v.size()) +
                                   " values, expected " + std::to_string(n));
  }
  return Status::OK();
}

Status check_linear(const Linear& l, int n_out, int n_in, bool bias, const std::string& name) {
  if (l.n_out != n_out || l.n_in != n_in) {
    return Status::InvalidArgument("tensor '" + name + "' is [" + std::to_string(l.n_out) + ", " +
                                   std::to_string(l.n_in) + "], expected [" +
                                   std::to_string(n_out) + ", " + std::to_string(n_in) + "]");
  }
  // An INT8 load drops the fp32 weights of a quantized Linear as it reads them.
  const bool q8_only = l.w.empty() && !l.q8.empty() && l.q8.n == n_out && l.q8.k == n_in;
  if (!q8_only) {
    SA_RETURN_IF_ERROR(check_size(l.w, static_cast<size_t>(n_out) * n_in, name + ".weight"));
  }
  if (bias || !l.b.empty()) SA_RETURN_IF_ERROR(check_size(l.b, n_out, name + ".bias"));
  return Status::OK();
}

Status check_layer_norm(const LayerNormW& ln, int d, const std::string& name) {
  SA_RETURN_IF_ERROR(check_size(ln.g, d, name + ".weight"));
  return check_size(ln.b, d, name + ".bias");
}

}  // namespace sa
