// Internal to src/model: the element-wise math shared by ops.cpp and the
// few-row kernels (few_row_gemm.cpp, which applies bias and activation to its
// accumulators before storing them): exp, erf, the GELUs, and `apply`, their
// vector body + scalar tail over an array. Vector and scalar forms evaluate the
// same formulas (to within rounding of the fused multiply-adds).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "model/ops.h"
#include "model/simd.h"

namespace sa::elementwise {

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

// y[r] = act(y[r] + bias) for the m rows of n values (bias may be null).
inline void bias_act(float* y, const float* bias, int m, int n, Act act) {
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

// act(v): the activation on one vector / one value (the fused kernel epilogue).
#ifdef SA_OPS_AVX2
inline __m256 act_vec(__m256 v, Act act) {
  switch (act) {
    case Act::kQuickGelu:
      return QuickGeluOp::vec(v);
    case Act::kGeluErf:
      return GeluErfOp::vec(v);
    case Act::kNone:
      break;
  }
  return v;
}
#endif

inline float act_scalar(float v, Act act) {
  switch (act) {
    case Act::kQuickGelu:
      return QuickGeluOp::scalar(v);
    case Act::kGeluErf:
      return GeluErfOp::scalar(v);
    case Act::kNone:
      break;
  }
  return v;
}

// Where a packed kernel's product goes (f32_gemm.cpp, int8_gemm.cpp): columns
// [col0, col0 + n_cols) of the weights into y (row stride ldy, column col0 at
// y[0]), as y = act((x W^T + beta * y) + bias), bias indexed from col0.
struct ProductOut {
  int col0, n_cols;
  float beta;
  float* y;
  int ldy;
  const float* bias;
  Act act;
};

// The packed kernels' store (f32_gemm.cpp, int8_gemm.cpp), in linear()'s
// order: y = act((v + beta * y) + bias); bias may be null. Eight values / one.
#ifdef SA_OPS_AVX2
inline void store_out(float* y, __m256 v, float beta, const float* bias, Act act) {
  if (beta != 0.0f) v = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(y), v);
  if (bias) v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
  _mm256_storeu_ps(y, act_vec(v, act));
}
#endif

inline void store_out(float* y, float v, float beta, const float* bias, Act act) {
  if (beta != 0.0f) v += beta * *y;
  if (bias) v += *bias;
  *y = act_scalar(v, act);
}

}  // namespace sa::elementwise
