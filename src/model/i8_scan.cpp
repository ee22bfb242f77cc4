#include "model/i8_scan.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "model/few_row_gemm.h"

namespace sa {

namespace {

constexpr int kCols = kScanPanelCols;

// Panels per parallel_for item: 64 panels of 512-d vectors are 512 KiB, small
// enough to balance two threads, large enough that handing items out is free.
constexpr int64_t kPanelsPerItem = 64;
// How far ahead of the scan the SIMD kernels ask for the vectors' bytes:
// the hardware prefetcher alone kept the int8 scan at ~12 GB/s (the fp16 one,
// twice the bytes per step, reached ~20); with it 1M 512-d vectors take
// 25-28 ms instead of 41 (bench_index, quiet machine). 1-4 KiB ahead all
// measured alike.
constexpr int kPrefetchBytes = 2048;
// Below this many vectors the helper thread is not woken.
constexpr int64_t kParallelVectors = 4096;

void panels_scalar(const float* q, const int8_t* w, const float* scales, int64_t n, int k, int64_t c0,
                   int64_t c1, float* y) {
  for (int64_t c = c0; c < c1; ++c) {
    const int8_t* pw = w + c * kCols * k;
    float acc[kCols] = {};
    for (int p = 0; p < k; ++p)
      for (int j = 0; j < kCols; ++j) acc[j] += q[p] * static_cast<float>(pw[p * kCols + j]);
    const int64_t cols = std::min<int64_t>(kCols, n - c * kCols);
    for (int64_t j = 0; j < cols; ++j) y[c * kCols + j] = acc[j] * scales[c * kCols + j];
  }
}

__attribute__((target("avx512f"))) void panels_avx512(const float* q, const int8_t* w, const float* scales,
                                                      int64_t n, int k, int64_t c0, int64_t c1, float* y) {
  for (int64_t c = c0; c < c1; ++c) {
    const int8_t* pw = w + c * kCols * k;
    // Four independent sums over p (mod 4): the FMA latency is hidden, the
    // loop is bound by the widening of the bytes.
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    // (The maskz forms: GCC 12 warns about the plain ones' undefined source.)
    auto col = [pw](int p) {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pw + p * kCols));
      return _mm512_maskz_cvtepi32_ps(0xffff, _mm512_maskz_cvtepi8_epi32(0xffff, b));
    };
    int p = 0;
    for (; p + 4 <= k; p += 4) {
      // One cache line per step: fetch the one kPrefetchBytes ahead (past the
      // panel's end it is the next panel's, which follows in memory).
      _mm_prefetch(reinterpret_cast<const char*>(pw + p * kCols) + kPrefetchBytes, _MM_HINT_T0);
      a0 = _mm512_fmadd_ps(col(p), _mm512_set1_ps(q[p]), a0);
      a1 = _mm512_fmadd_ps(col(p + 1), _mm512_set1_ps(q[p + 1]), a1);
      a2 = _mm512_fmadd_ps(col(p + 2), _mm512_set1_ps(q[p + 2]), a2);
      a3 = _mm512_fmadd_ps(col(p + 3), _mm512_set1_ps(q[p + 3]), a3);
    }
    for (; p < k; ++p) a0 = _mm512_fmadd_ps(col(p), _mm512_set1_ps(q[p]), a0);
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
    const int64_t cols = std::min<int64_t>(kCols, n - c * kCols);
    const __mmask16 mask = static_cast<__mmask16>((1u << cols) - 1);
    const __m512 s = _mm512_maskz_loadu_ps(mask, scales + c * kCols);
    _mm512_mask_storeu_ps(y + c * kCols, mask, _mm512_mul_ps(sum, s));
  }
}

__attribute__((target("avx2,fma"))) void panels_avx2(const float* q, const int8_t* w, const float* scales,
                                                     int64_t n, int k, int64_t c0, int64_t c1, float* y) {
  for (int64_t c = c0; c < c1; ++c) {
    const int8_t* pw = w + c * kCols * k;
    __m256 lo0 = _mm256_setzero_ps(), hi0 = lo0, lo1 = lo0, hi1 = lo0;
    auto half = [pw](int p, int off) {
      return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(pw + p * kCols + off))));
    };
    int p = 0;
    for (; p + 2 <= k; p += 2) {
      _mm_prefetch(reinterpret_cast<const char*>(pw + p * kCols) + kPrefetchBytes, _MM_HINT_T0);
      const __m256 x0 = _mm256_set1_ps(q[p]), x1 = _mm256_set1_ps(q[p + 1]);
      lo0 = _mm256_fmadd_ps(half(p, 0), x0, lo0);
      hi0 = _mm256_fmadd_ps(half(p, 8), x0, hi0);
      lo1 = _mm256_fmadd_ps(half(p + 1, 0), x1, lo1);
      hi1 = _mm256_fmadd_ps(half(p + 1, 8), x1, hi1);
    }
    for (; p < k; ++p) {
      const __m256 x0 = _mm256_set1_ps(q[p]);
      lo0 = _mm256_fmadd_ps(half(p, 0), x0, lo0);
      hi0 = _mm256_fmadd_ps(half(p, 8), x0, hi0);
    }
    alignas(32) float out[kCols];
    _mm256_store_ps(out, _mm256_add_ps(lo0, lo1));
    _mm256_store_ps(out + 8, _mm256_add_ps(hi0, hi1));
    const int64_t cols = std::min<int64_t>(kCols, n - c * kCols);
    for (int64_t j = 0; j < cols; ++j) y[c * kCols + j] = out[j] * scales[c * kCols + j];
  }
}

using PanelFn = void (*)(const float*, const int8_t*, const float*, int64_t, int, int64_t, int64_t, float*);

PanelFn pick() {
  // SA_NO_AVX512 (as for the other kernels): the AVX2 path on an AVX-512 CPU, for tests.
  if (__builtin_cpu_supports("avx512f") && !std::getenv("SA_NO_AVX512")) return panels_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return panels_avx2;
  return panels_scalar;
}

// A run of panels of one segment: what one parallel_for item scores.
struct Piece {
  int seg;
  int64_t c0, c1;  // panels of that segment
};
struct SegJob {
  PanelFn fn;
  const float* q;
  const I8Segment* segs;
  const Piece* pieces;
  int k;
};

void run_piece(const void* ctx, int i) {
  const SegJob& j = *static_cast<const SegJob*>(ctx);
  const Piece& pc = j.pieces[i];
  const I8Segment& sg = j.segs[pc.seg];
  j.fn(j.q, sg.panels, sg.scales, sg.n, j.k, pc.c0, pc.c1, sg.y);
}

}  // namespace

void score_i8_segments(const float* q, const I8Segment* segments, int count, int k) {
  if (count <= 0 || k <= 0) return;
  static const PanelFn fn = pick();
  std::vector<Piece> pieces;
  int64_t total = 0;
  for (int s = 0; s < count; ++s) {
    const int64_t np = (segments[s].n + kCols - 1) / kCols;
    total += segments[s].n;
    for (int64_t c = 0; c < np; c += kPanelsPerItem) pieces.push_back({s, c, std::min(np, c + kPanelsPerItem)});
  }
  const SegJob job{fn, q, segments, pieces.data(), k};
  if (total < kParallelVectors) {
    for (size_t i = 0; i < pieces.size(); ++i) run_piece(&job, static_cast<int>(i));
    return;
  }
  parallel_for(static_cast<int>(pieces.size()), run_piece, &job);
}

void score_i8_panels(const float* q, const int8_t* panels, const float* scales, int64_t n, int k, float* y) {
  const I8Segment one{panels, scales, n, y};
  score_i8_segments(q, &one, 1, k);
}

void score_i8_panels_reference(const float* q, const int8_t* panels, const float* scales, int64_t n, int k,
                               float* y) {
  if (n <= 0 || k <= 0) return;
  panels_scalar(q, panels, scales, n, k, 0, (n + kCols - 1) / kCols, y);
}

}  // namespace sa
