// Transformer building blocks. GEMMs go to OpenBLAS; the element-wise work is
// written so that one thread keeps up with the two-core GEMMs (a b8 ViT-B/16
// forward evaluates ~100M exponentials, which std::exp would make ~15% of the run).
#include "model/ops.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <atomic>
#include <cstring>
#include <system_error>
#include <thread>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define SA_OPS_AVX2 1
#if defined(__F16C__)
#define SA_OPS_F16C 1
#endif
#endif

namespace sa {
namespace {

// exp(x) by range reduction x = n ln2 + r, |r| <= ln2/2, then the Cephes expf
// polynomial for e^r and 2^n built in the exponent bits. The clamp keeps 2^n a
// normal float: [-87.33, 88] maps n into [-126, 127].
constexpr float kExpLo = -87.3365478515625f;
constexpr float kExpHi = 88.0f;
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f;
constexpr float kP1 = 1.3981999507e-3f;
constexpr float kP2 = 8.3334519073e-3f;
constexpr float kP3 = 4.1665795894e-2f;
constexpr float kP4 = 1.6666665459e-1f;
constexpr float kP5 = 5.0000001201e-1f;

// erf: Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7 (absolute), odd symmetry.
constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f;
constexpr float kErfA2 = -0.284496736f;
constexpr float kErfA3 = 1.421413741f;
constexpr float kErfA4 = -1.453152027f;
constexpr float kErfA5 = 1.061405429f;

inline float exp_scalar(float x) {
  x = std::min(std::max(x, kExpLo), kExpHi);
  const float fx = std::nearbyint(x * kLog2e);
  float r = x - fx * kLn2Hi;
  r = r - fx * kLn2Lo;
  float p = kP0;
  p = p * r + kP1;
  p = p * r + kP2;
  p = p * r + kP3;
  p = p * r + kP4;
  p = p * r + kP5;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(fx) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

inline float erf_scalar(float x) {
  const float a = std::fabs(x);
  const float t = 1.0f / (1.0f + kErfP * a);
  float p = kErfA5;
  p = p * t + kErfA4;
  p = p * t + kErfA3;
  p = p * t + kErfA2;
  p = p * t + kErfA1;
  const float y = 1.0f - p * t * exp_scalar(-a * a);
  return std::copysign(y, x);
}

#ifdef SA_OPS_AVX2
inline __m256 exp_avx2(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kExpLo)), _mm256_set1_ps(kExpHi));
  const __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(fx, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  const __m256 y =
      _mm256_add_ps(_mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r), _mm256_set1_ps(1.0f));
  const __m256i n = _mm256_slli_epi32(
      _mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}

inline __m256 erf_avx2(__m256 x) {
  const __m256 sign_mask = _mm256_set1_ps(-0.0f);
  const __m256 sign = _mm256_and_ps(x, sign_mask);
  const __m256 a = _mm256_andnot_ps(sign_mask, x);
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                                 _mm256_fmadd_ps(_mm256_set1_ps(kErfP), a, _mm256_set1_ps(1.0f)));
  __m256 p = _mm256_set1_ps(kErfA5);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kErfA4));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kErfA3));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kErfA2));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kErfA1));
  const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(a, a)));
  const __m256 y = _mm256_fnmadd_ps(_mm256_mul_ps(p, t), e, _mm256_set1_ps(1.0f));
  return _mm256_or_ps(y, sign);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

// Per-element kernels applied by `apply` (vector body + scalar tail).
struct QuickGeluOp {
  static float scalar(float x) { return x / (1.0f + exp_scalar(-1.702f * x)); }
#ifdef SA_OPS_AVX2
  static __m256 vec(__m256 x) {
    const __m256 e = exp_avx2(_mm256_mul_ps(x, _mm256_set1_ps(-1.702f)));
    return _mm256_div_ps(x, _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
  }
#endif
};

struct GeluErfOp {
  static constexpr float kInvSqrt2 = 0.70710678118654752f;
  static float scalar(float x) { return 0.5f * x * (1.0f + erf_scalar(x * kInvSqrt2)); }
#ifdef SA_OPS_AVX2
  static __m256 vec(__m256 x) {
    const __m256 e = erf_avx2(_mm256_mul_ps(x, _mm256_set1_ps(kInvSqrt2)));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x),
                         _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
  }
#endif
};

struct ExpOp {
  static float scalar(float x) { return exp_scalar(x); }
#ifdef SA_OPS_AVX2
  static __m256 vec(__m256 x) { return exp_avx2(x); }
#endif
};

struct ErfOp {
  static float scalar(float x) { return erf_scalar(x); }
#ifdef SA_OPS_AVX2
  static __m256 vec(__m256 x) { return erf_avx2(x); }
#endif
};

struct IdentityOp {
  static float scalar(float x) { return x; }
#ifdef SA_OPS_AVX2
  static __m256 vec(__m256 x) { return x; }
#endif
};

// x[i] = Op(x[i] + bias[i]) for i < n; bias may be null.
template <typename Op>
void apply(float* x, const float* bias, size_t n) {
  size_t i = 0;
#ifdef SA_OPS_AVX2
  if (bias) {
    for (; i + 8 <= n; i += 8) {
      const __m256 v = _mm256_add_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(bias + i));
      _mm256_storeu_ps(x + i, Op::vec(v));
    }
  } else {
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, Op::vec(_mm256_loadu_ps(x + i)));
  }
#endif
  for (; i < n; ++i) x[i] = Op::scalar(bias ? x[i] + bias[i] : x[i]);
}

template <typename Op>
void apply_rows(float* y, const float* bias, int m, int n) {
  for (int r = 0; r < m; ++r) apply<Op>(y + static_cast<size_t>(r) * n, bias, n);
}

void bias_act(float* y, const float* bias, int m, int n, Act act) {
  switch (act) {
    case Act::kNone:
      if (bias) apply_rows<IdentityOp>(y, bias, m, n);
      break;
    case Act::kQuickGelu:
      apply_rows<QuickGeluOp>(y, bias, m, n);
      break;
    case Act::kGeluErf:
      apply_rows<GeluErfOp>(y, bias, m, n);
      break;
  }
}

#ifdef SA_OPS_AVX2
// Sums of four accumulators: [sum(a0), sum(a1), sum(a2), sum(a3)].
inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

inline void store4(float* y, __m128 v, float beta) {
  if (beta != 0.0f) v = _mm_add_ps(v, _mm_mul_ps(_mm_set1_ps(beta), _mm_loadu_ps(y)));
  _mm_storeu_ps(y, v);
}

// y[m, n] = x[m, k] @ w[n, k]^T + beta * y for a handful of rows (a text query).
// With so few rows the product is bound by streaming w from memory, and
// OpenBLAS's sgemm spends several times that packing w for its kernels (a
// 12-token RoBERTa-base pass: 110-160 ms with sgemm, ~60 ms with this kernel, on
// the 2-core development VM). Here each block of four
// weight rows is read from memory once and reused from L1 for every row of x,
// and the next block is prefetched while the first pair of rows runs (~15%).
//
// W is float or, with F16C, uint16_t (fp16 bit patterns): the fp16 form widens
// each weight exactly to the same fp32 value, so both forms run the same FMAs
// in the same order and give bit-identical results; fp16 only halves the bytes.
// (Widening each 4-row block once into an fp32 scratch instead of once per pair
// of x rows measured no faster at 6..16 rows and slower at 2: the converts
// overlap with the FMAs.)
inline __m256 load8(const float* w) { return _mm256_loadu_ps(w); }
inline float load1(const float* w) { return *w; }
#ifdef SA_OPS_F16C
inline __m256 load8(const uint16_t* w) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
}
inline float load1(const uint16_t* w) { return _cvtsh_ss(*w); }
#endif

// ldy: row stride of y (>= n).
template <typename W>
void gemm_small_m(const float* x, int m, const W* w, int n, int k, float beta, float* y,
                  int ldy) {
  // One prefetch per 64-byte line of each of the next four weight rows.
  constexpr int kPrefetchMask = static_cast<int>(64 / sizeof(W)) - 1;
  const int k8 = k & ~7;
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const W* w0 = w + static_cast<size_t>(j) * k;
    const W* w1 = w0 + k;
    const W* w2 = w1 + k;
    const W* w3 = w2 + k;
    int i = 0;
    for (; i + 2 <= m; i += 2) {
      const float* x0 = x + static_cast<size_t>(i) * k;
      const float* x1 = x0 + k;
      __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
      __m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
      // While the first pair of rows runs, fetch the next weight block.
      const W* next = (i == 0 && j + 8 <= n) ? w3 + k : nullptr;
      for (int p = 0; p < k8; p += 8) {
        if (next && (p & kPrefetchMask) == 0) {
          _mm_prefetch(reinterpret_cast<const char*>(next + p), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(next + k + p), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(next + 2 * k + p), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(next + 3 * k + p), _MM_HINT_T0);
        }
        const __m256 v0 = load8(w0 + p), v1 = load8(w1 + p);
        const __m256 v2 = load8(w2 + p), v3 = load8(w3 + p);
        const __m256 u0 = _mm256_loadu_ps(x0 + p);
        a00 = _mm256_fmadd_ps(u0, v0, a00);
        a01 = _mm256_fmadd_ps(u0, v1, a01);
        a02 = _mm256_fmadd_ps(u0, v2, a02);
        a03 = _mm256_fmadd_ps(u0, v3, a03);
        const __m256 u1 = _mm256_loadu_ps(x1 + p);
        a10 = _mm256_fmadd_ps(u1, v0, a10);
        a11 = _mm256_fmadd_ps(u1, v1, a11);
        a12 = _mm256_fmadd_ps(u1, v2, a12);
        a13 = _mm256_fmadd_ps(u1, v3, a13);
      }
      __m128 s0 = hsum4(a00, a01, a02, a03);
      __m128 s1 = hsum4(a10, a11, a12, a13);
      for (int p = k8; p < k; ++p) {
        const __m128 v = _mm_setr_ps(load1(w0 + p), load1(w1 + p), load1(w2 + p), load1(w3 + p));
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_set1_ps(x0[p]), v));
        s1 = _mm_add_ps(s1, _mm_mul_ps(_mm_set1_ps(x1[p]), v));
      }
      store4(y + static_cast<size_t>(i) * ldy + j, s0, beta);
      store4(y + static_cast<size_t>(i + 1) * ldy + j, s1, beta);
    }
    if (i < m) {
      const float* x0 = x + static_cast<size_t>(i) * k;
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int p = 0; p < k8; p += 8) {
        const __m256 u0 = _mm256_loadu_ps(x0 + p);
        a0 = _mm256_fmadd_ps(u0, load8(w0 + p), a0);
        a1 = _mm256_fmadd_ps(u0, load8(w1 + p), a1);
        a2 = _mm256_fmadd_ps(u0, load8(w2 + p), a2);
        a3 = _mm256_fmadd_ps(u0, load8(w3 + p), a3);
      }
      __m128 s0 = hsum4(a0, a1, a2, a3);
      for (int p = k8; p < k; ++p) {
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_set1_ps(x0[p]),
                                       _mm_setr_ps(load1(w0 + p), load1(w1 + p), load1(w2 + p),
                                                   load1(w3 + p))));
      }
      store4(y + static_cast<size_t>(i) * ldy + j, s0, beta);
    }
  }
  for (; j < n; ++j) {  // last n % 4 weight rows
    const W* wj = w + static_cast<size_t>(j) * k;
    for (int i = 0; i < m; ++i) {
      const float* xi = x + static_cast<size_t>(i) * k;
      __m256 a = _mm256_setzero_ps();
      int p = 0;
      for (; p < k8; p += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(xi + p), load8(wj + p), a);
      float sum = hsum(a);
      for (; p < k; ++p) sum += xi[p] * load1(wj + p);
      float& out = y[static_cast<size_t>(i) * ldy + j];
      out = sum + (beta != 0.0f ? beta * out : 0.0f);
    }
  }
}

#endif

// Below this many rows gemm_small_m beats OpenBLAS's sgemm on this class of
// machine (see bench/bench_engine.cpp). On the 2-core development VM the kernel
// is mostly compute-bound from ~6 rows on (~45 GFLOP/s on one core even with w
// in cache), so fp16 weights save only the streaming part (~30% at 6..16 rows)
// and the rest comes from a second core, below. 32, not 16: a 20-token base-size
// sentence embedding measured 45-54 ms with the kernel vs 70-88 ms with sgemm
// (bench_sentence, back-to-back runs), while 12- and 52-token queries did not move.
constexpr int kSmallM = 32;

#ifdef SA_OPS_AVX2
// Weights per product from which the columns are split over two threads: the
// helper's start (tens of microseconds) is then a few percent of its half.
constexpr size_t kSplitMinWeights = 512 * 768;

// gemm_small_m with the output columns shared between the calling thread and
// one short-lived helper thread (12 tokens through RoBERTa-base: ~41 -> ~26 ms
// best case on the 2-core VM). The columns go in chunks of kSplitChunk taken
// from a shared counter, so when the other core is busy the caller simply
// takes more chunks instead of waiting on a fixed half. A fresh std::thread per
// product rather than a pool: nothing stays alive to spin or compete with
// OpenBLAS's own pool, and since this runs only for few-row products, where
// sgemm is not called, the two never run nested or at once from one caller.
// Chunks are whole 4-column blocks, and every column is computed by the same
// code either way, so the split does not change results.
constexpr int kSplitChunk = 64;

template <typename W>
void gemm_small_m_split(const float* x, int m, const W* w, int n, int k, float beta, float* y) {
  static const bool multi_core = std::thread::hardware_concurrency() >= 2;
  if (multi_core && n >= 2 * kSplitChunk && static_cast<size_t>(n) * k >= kSplitMinWeights) {
    // Chunk c is columns [c * kSplitChunk, +kSplitChunk); the last one also
    // takes the n % kSplitChunk remainder. Each index is handed out once.
    const int n_chunks = n / kSplitChunk;
    std::atomic<int> next{0};
    auto work = [&next, n_chunks, x, m, w, n, k, beta, y] {
      for (int c = next.fetch_add(1); c < n_chunks; c = next.fetch_add(1)) {
        const int j = c * kSplitChunk;
        const int cols = c == n_chunks - 1 ? n - j : kSplitChunk;
        gemm_small_m(x, m, w + static_cast<size_t>(j) * k, cols, k, beta, y + j, n);
      }
    };
    std::thread helper;
    try {
      helper = std::thread(work);
    } catch (const std::system_error&) {
      // No thread to be had (resource limits): this thread takes every chunk.
    }
    work();
    if (helper.joinable()) helper.join();
    return;
  }
  gemm_small_m(x, m, w, n, k, beta, y, n);
}
#endif

// y[m, n] = x[m, k] @ w[n, k]^T + beta * y. A single row goes to sgemv, whose
// threading splits the weight rows (sgemm would pack the whole matrix first).
// w16: the same weights as fp16 or null; used for 1..kSmallM rows when present.
void gemm_xwt(const float* x, int m, const float* w, const uint16_t* w16, int n, int k, float beta,
              float* y) {
#ifdef SA_OPS_F16C
  if (w16 && m <= kSmallM) {
    gemm_small_m_split(x, m, w16, n, k, beta, y);
    return;
  }
#else
  (void)w16;
#endif
#ifdef SA_OPS_AVX2
  if (m > 1 && m <= kSmallM) {
    gemm_small_m_split(x, m, w, n, k, beta, y);
    return;
  }
#endif
  if (m == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, w, k, x, 1, beta, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, beta, y, n);
  }
}

// The fp16 copy when attached (and matching w's size), else null.
const uint16_t* half_weights(const Linear& l) {
  return !l.w16.empty() && l.w16.size() == l.w.size() ? l.w16.data() : nullptr;
}

// Exact fp32 -> fp16 conversion: the half bit pattern of f, or false when f is
// not an fp16 value (needs rounding, out of range, or NaN).
bool float_to_half_exact(float f, uint16_t* h) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t exp_bits = (u >> 23) & 0xffu;
  const uint32_t mant = u & 0x7fffffu;
  if (exp_bits == 0xffu) {  // inf converts, NaN does not (payloads may change)
    if (mant != 0) return false;
    *h = sign | 0x7c00u;
    return true;
  }
  if (exp_bits == 0) {  // zero converts; fp32 subnormals are far below fp16's range
    if (mant != 0) return false;
    *h = sign;
    return true;
  }
  const int e = static_cast<int>(exp_bits) - 127;
  if (e > 15) return false;
  if (e >= -14) {  // fp16 normal: 10 mantissa bits
    if (mant & 0x1fffu) return false;
    *h = static_cast<uint16_t>(sign | ((e + 15) << 10) | (mant >> 13));
    return true;
  }
  // fp16 subnormal: value = q * 2^-24 with integer q < 1024.
  const int shift = -(e + 1);  // (2^23 + mant) * 2^(e - 23) = q * 2^-24
  if (shift > 24) return false;
  const uint32_t full = 0x800000u | mant;
  if (full & ((1u << shift) - 1)) return false;
  *h = static_cast<uint16_t>(sign | (full >> shift));
  return true;
}

}  // namespace

bool fp16_kernel_available() {
#ifdef SA_OPS_F16C
  return true;
#else
  return false;
#endif
}

bool attach_fp16(Linear& l) {
  l.w16.clear();
  if (!fp16_kernel_available() || l.w.empty()) return false;
  std::vector<uint16_t> h(l.w.size());
  for (size_t i = 0; i < l.w.size(); ++i) {
    if (!float_to_half_exact(l.w[i], &h[i])) return false;
  }
  l.w16 = std::move(h);
  return true;
}

void linear(const Linear& l, const float* x, int m, float* y, Act act) {
  if (m <= 0) return;
  gemm_xwt(x, m, l.w.data(), half_weights(l), l.n_out, l.n_in, 0.0f, y);
  bias_act(y, l.b.empty() ? nullptr : l.b.data(), m, l.n_out, act);
}

void linear_slice(const Linear& l, int r0, int r1, const float* x, int m, float* y) {
  if (m <= 0 || r1 <= r0) return;
  const int n = r1 - r0;
  const size_t off = static_cast<size_t>(r0) * l.n_in;
  const uint16_t* w16 = half_weights(l);
  gemm_xwt(x, m, l.w.data() + off, w16 ? w16 + off : nullptr, n, l.n_in, 0.0f, y);
  if (!l.b.empty()) apply_rows<IdentityOp>(y, l.b.data() + r0, m, n);
}

void linear_accumulate(const Linear& l, const float* x, int m, float* y, bool add_bias) {
  if (m <= 0) return;
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
  for (int r = 0; r < m; ++r) {
    layer_norm_row(x + static_cast<size_t>(r) * d, ln.g.data(), ln.b.data(), d, eps,
                   y + static_cast<size_t>(r) * d);
  }
}

void add_bias_layer_norm(float* x, const float* bias, const LayerNormW& ln, int m, int d,
                         float eps, float* y) {
  for (int r = 0; r < m; ++r) {
    float* xr = x + static_cast<size_t>(r) * d;
    if (bias) apply<IdentityOp>(xr, bias, d);  // row is cache-hot for the LayerNorm
    layer_norm_row(xr, ln.g.data(), ln.b.data(), d, eps, y + static_cast<size_t>(r) * d);
  }
}

void quick_gelu(float* x, size_t n) { apply<QuickGeluOp>(x, nullptr, n); }
void gelu_erf(float* x, size_t n) { apply<GeluErfOp>(x, nullptr, n); }
void exp_inplace(float* x, size_t n) { apply<ExpOp>(x, nullptr, n); }
void erf_inplace(float* x, size_t n) { apply<ErfOp>(x, nullptr, n); }

void softmax_rows(float* x, int m, int n, int ld) {
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

void attention(const float* q, int ld_q, int n_q, const float* k, const float* v, int ld_kv,
               int n_kv, int d, int heads, float* out, int ld_out, float* scratch) {
  if (n_q <= 0 || n_kv <= 0) return;
  const int hd = d / heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
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
  SA_RETURN_IF_ERROR(check_size(l.w, static_cast<size_t>(n_out) * n_in, name + ".weight"));
  if (bias || !l.b.empty()) SA_RETURN_IF_ERROR(check_size(l.b, n_out, name + ".bias"));
  return Status::OK();
}

Status check_layer_norm(const LayerNormW& ln, int d, const std::string& name) {
  SA_RETURN_IF_ERROR(check_size(ln.g, d, name + ".weight"));
  return check_size(ln.b, d, name + ".bias");
}

}  // namespace sa
