// INT8 products (int8_gemm.h): weight packing, per-row activation
// quantization, the four kernels and the shared fp32 epilogue.
//
// Work is cut into blocks of 32 rows x 32 columns. A kernel computes a block's
// int32 sums into a small buffer; the epilogue turns them into fp32 (row scale
// x column scale, bias, beta * y, activation) and stores the valid part. Blocks
// are grouped into items (a run of column blocks for a run of row blocks) that
// the calling thread and the few-row helper thread take from a shared counter
// (parallel_for), so both cores work at batch 1 as at batch 8.
#include "model/int8_gemm.h"

#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "model/elementwise.h"
#include "model/few_row_gemm.h"
#include "model/simd.h"

namespace sa {
namespace {

constexpr int kBlock = 32;       // rows and columns of a block
constexpr int kKStep = 64;       // k per AMX tile step; k_pad is a multiple
constexpr int kPanel = kQ8PanelCols;
constexpr int kGroupBytes = 4 * kPanel;  // one k-group of a panel: 16 columns x 4 k

int round_up(int v, int m) { return (v + m - 1) / m * m; }

// ---- CPU features ---------------------------------------------------------

struct Features {
  bool avx2 = false, avx512 = false, vnni512 = false, amx = false;
};

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

Features detect() {
  Features f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  const bool fma = c & (1u << 12);
  if (!osxsave) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool ymm_os = (xcr0 & 0x6) == 0x6;
  const bool zmm_os = (xcr0 & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = ymm_os && fma && (b & (1u << 5));
  f.avx512 = zmm_os && (b & (1u << 16)) && (b & (1u << 30));  // F + BW
  f.vnni512 = f.avx512 && (c & (1u << 11));
  const bool amx_cpu = (d & (1u << 24)) && (d & (1u << 25));  // AMX-TILE, AMX-INT8
  if (amx_cpu && f.avx512) {
    // Linux hands out the 8 KB tile state only on request (arch_prctl
    // ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA), process-wide.
    constexpr long kArchReqXcompPerm = 0x1023;
    constexpr long kXfeatureXtiledata = 18;
    f.amx = syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }
  return f;
}

const Features& features() {
  static const Features f = detect();
  return f;
}

// ---- the shared epilogue --------------------------------------------------

struct Job {
  const int8_t* xq;  // [m_pad, k_pad], +128 for the VNNI kernel
  const float* xs;   // [m_pad] row scales
  int ldx;           // k_pad
  int m;
  const Q8Weights* w;
  elementwise::ProductOut out;
  int32_t offset;  // 128 when xq holds u8 = s8 + 128, else 0
  Q8Kernel kernel;
  int col_blocks_per_item, row_blocks_per_item, n_col_items, n_row_items;
};

// Block (r0, j0) (row r0 of x, column col0 + j0 of the weights) from its int32
// sums c [32][32].
void epilogue(const Job& jb, const int32_t* c, int r0, int j0) {
  const int rows = std::min(kBlock, jb.m - r0);
  const int cols = std::min(kBlock, jb.out.n_cols - j0);
  const int wc = jb.out.col0 + j0;
  const float* ws = jb.w->scale.data() + wc;
  const int32_t* cs = jb.w->colsum.data() + wc;
  const float* bias = jb.out.bias ? jb.out.bias + j0 : nullptr;
  for (int r = 0; r < rows; ++r) {
    const int32_t* cr = c + r * kBlock;
    float* yr = jb.out.y + static_cast<size_t>(r0 + r) * jb.out.ldy + j0;
    const float xs = jb.xs[r0 + r];
    int j = 0;
#ifdef SA_OPS_AVX2
    const __m256 vxs = _mm256_set1_ps(xs);
    const __m256i voff = _mm256_set1_epi32(jb.offset);
    for (; j + 8 <= cols; j += 8) {
      __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cr + j));
      if (jb.offset) {
        const __m256i sum = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cs + j));
        acc = _mm256_sub_epi32(acc, _mm256_mullo_epi32(voff, sum));
      }
      const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(vxs, _mm256_loadu_ps(ws + j)));
      elementwise::store_out(yr + j, v, jb.out.beta, bias ? bias + j : nullptr, jb.out.act);
    }
#endif
    for (; j < cols; ++j) {
      const int32_t acc = cr[j] - jb.offset * cs[j];
      elementwise::store_out(yr + j, static_cast<float>(acc) * (xs * ws[j]), jb.out.beta,
                             bias ? bias + j : nullptr, jb.out.act);
    }
  }
}

// ---- kernels: int32 sums of one 32 x 32 block -----------------------------

// Panel p's k-group g starts at w + (p * k_pad + 4 g) * 16.
inline const int8_t* panel_ptr(const Job& jb, int wc) {
  return jb.w->w.data() + static_cast<size_t>(wc / kPanel) * jb.w->k_pad * kPanel;
}

void block_reference(const Job& jb, int r0, int j0, int32_t* c) {
  const int rows = std::min(kBlock, jb.m - r0);
  const int k_pad = jb.w->k_pad;
  for (int half = 0; half < 2; ++half) {
    const int8_t* panel = panel_ptr(jb, jb.out.col0 + j0 + half * kPanel);
    for (int r = 0; r < rows; ++r) {
      const int8_t* xr = jb.xq + static_cast<size_t>(r0 + r) * jb.ldx;
      for (int j = 0; j < kPanel; ++j) {
        int32_t s = 0;
        for (int p = 0; p < k_pad; ++p) {
          const int32_t xv = jb.offset ? static_cast<int32_t>(static_cast<uint8_t>(xr[p]))
                                       : static_cast<int32_t>(xr[p]);
          s += xv * panel[(p / 4) * kGroupBytes + 4 * j + p % 4];
        }
        c[r * kBlock + half * kPanel + j] = s;
      }
    }
  }
}

// AVX2: 4 rows x 16 columns per pass. For each k-group the panel's 64 bytes
// are sign-extended in four 16-byte quarters (4 columns x 4 k as int16) and
// the row's 4 x values, sign-extended and repeated, meet them in vpmaddwd:
// lane 2j + h holds column j's products of k 2h and 2h + 1. A final pairwise
// add gives each column's sum.
__attribute__((target("avx2,fma"))) void block_avx2(const Job& jb, int r0, int j0, int32_t* c) {
  const int rows = std::min(kBlock, jb.m - r0);
  const int groups = jb.w->k_pad / 4;
  for (int half = 0; half < 2; ++half) {
    const int8_t* panel = panel_ptr(jb, jb.out.col0 + j0 + half * kPanel);
    for (int rb = 0; rb < rows; rb += 4) {
      __m256i acc[4][4];
      for (auto& row : acc)
        for (auto& a : row) a = _mm256_setzero_si256();
      const int8_t* xr[4];
      for (int i = 0; i < 4; ++i) xr[i] = jb.xq + static_cast<size_t>(r0 + rb + i) * jb.ldx;
      for (int g = 0; g < groups; ++g) {
        const int8_t* wg = panel + static_cast<size_t>(g) * kGroupBytes;
        __m256i wq[4];
        for (int q = 0; q < 4; ++q) {
          wq[q] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(wg + 16 * q)));
        }
        for (int i = 0; i < 4; ++i) {
          int32_t x4;
          std::memcpy(&x4, xr[i] + 4 * g, 4);
          const __m256i xv = _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(x4)));
          for (int q = 0; q < 4; ++q) acc[i][q] = _mm256_add_epi32(acc[i][q], _mm256_madd_epi16(xv, wq[q]));
        }
      }
      for (int i = 0; i < 4 && rb + i < rows; ++i) {
        int32_t* cr = c + (rb + i) * kBlock + half * kPanel;
        for (int q = 0; q < 4; q += 2) {
          // hadd pairs within 128-bit lanes: [a01 a23 b01 b23 | a45 a67 b45 b67]
          const __m256i h = _mm256_hadd_epi32(acc[i][q], acc[i][q + 1]);
          const __m256i o = _mm256_permute4x64_epi64(h, 0xd8);  // a01 a23 a45 a67 b..
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(cr + 4 * q), o);
        }
      }
    }
  }
}

// AVX-512 VNNI: 8 rows x 32 columns in sixteen zmm accumulators; per k-group
// two 64-byte panel loads and eight 4-byte broadcasts of (u8) x feed sixteen
// vpdpbusd.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void block_vnni(const Job& jb, int r0,
                                                                       int j0, int32_t* c) {
  const int rows = std::min(kBlock, jb.m - r0);
  const int groups = jb.w->k_pad / 4;
  const int8_t* p0 = panel_ptr(jb, jb.out.col0 + j0);
  const int8_t* p1 = p0 + static_cast<size_t>(jb.w->k_pad) * kPanel;
  for (int rb = 0; rb < rows; rb += 8) {
    const int8_t* x0 = jb.xq + static_cast<size_t>(r0 + rb) * jb.ldx;
    const size_t ld = jb.ldx;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
            a7 = a0;
    __m512i b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
    for (int g = 0; g < groups; ++g) {
      const __m512i w0 = _mm512_loadu_si512(p0 + static_cast<size_t>(g) * kGroupBytes);
      const __m512i w1 = _mm512_loadu_si512(p1 + static_cast<size_t>(g) * kGroupBytes);
      const int8_t* xg = x0 + 4 * g;
#define SA_VNNI_ROW(i)                                                              \
  {                                                                                 \
    int32_t v;                                                                      \
    std::memcpy(&v, xg + (i) * ld, 4);                                              \
    const __m512i xb = _mm512_set1_epi32(v);                                        \
    a##i = _mm512_dpbusd_epi32(a##i, xb, w0);                                       \
    b##i = _mm512_dpbusd_epi32(b##i, xb, w1);                                       \
  }
      SA_VNNI_ROW(0) SA_VNNI_ROW(1) SA_VNNI_ROW(2) SA_VNNI_ROW(3)
      SA_VNNI_ROW(4) SA_VNNI_ROW(5) SA_VNNI_ROW(6) SA_VNNI_ROW(7)
#undef SA_VNNI_ROW
    }
    const __m512i acc[16] = {a0, b0, a1, b1, a2, b2, a3, b3, a4, b4, a5, b5, a6, b6, a7, b7};
    for (int i = 0; i < 8; ++i) {
      _mm512_storeu_si512(c + (rb + i) * kBlock, acc[2 * i]);
      _mm512_storeu_si512(c + (rb + i) * kBlock + kPanel, acc[2 * i + 1]);
    }
  }
}

// AMX: tiles 0-3 hold the block's four 16 x 16 int32 quarters, 4-5 two 16-row
// slices of x (64 k each, read in place with the row stride), 6-7 the two
// panels' next 64 k (16 k-groups x 64 bytes, contiguous). One tdpbssd per
// quarter per 64 k. Blocks with at most 16 valid rows skip the lower half.
struct TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile,amx-int8,avx512f"))) void amx_configure() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
}

// Each thread loads the (only) tile configuration once and keeps it: a text
// query runs ~1500 work items, and nothing else in the process uses tiles. The
// kernel saves and restores the tile state with the thread's other registers.
void amx_configure_once() {
  thread_local bool configured = false;
  if (!configured) {
    amx_configure();
    configured = true;
  }
}

__attribute__((target("amx-tile,amx-int8,avx512f"))) void block_amx(const Job& jb, int r0, int j0,
                                                                   int32_t* c) {
  const int rows = std::min(kBlock, jb.m - r0);
  const int steps = jb.w->k_pad / kKStep;
  const int8_t* p0 = panel_ptr(jb, jb.out.col0 + j0);
  const int8_t* p1 = p0 + static_cast<size_t>(jb.w->k_pad) * kPanel;
  const int8_t* x0 = jb.xq + static_cast<size_t>(r0) * jb.ldx;
  const int8_t* x1 = x0 + static_cast<size_t>(16) * jb.ldx;
  constexpr size_t kStepBytes = kKStep * kPanel;  // 1 KB of a panel per 64 k
  constexpr int kPrefetchSteps = 4;  // past a panel's end: the next panel's start
  _tile_zero(0);
  _tile_zero(1);
  if (rows > 16) {
    _tile_zero(2);
    _tile_zero(3);
    for (int s = 0; s < steps; ++s) {
      _tile_loadd(4, x0 + s * kKStep, jb.ldx);
      _tile_loadd(6, p0 + s * kStepBytes, kGroupBytes);
      _tile_loadd(7, p1 + s * kStepBytes, kGroupBytes);
      _tile_loadd(5, x1 + s * kKStep, jb.ldx);
      _tile_dpbssd(0, 4, 6);
      _tile_dpbssd(1, 4, 7);
      _tile_dpbssd(2, 5, 6);
      _tile_dpbssd(3, 5, 7);
    }
    _tile_stored(2, c + 16 * kBlock, kBlock * 4);
    _tile_stored(3, c + 16 * kBlock + 16, kBlock * 4);
  } else {
    // Few rows (a text query): each panel byte is used once, so the block
    // streams the weights and waits on every tile load; asking for the
    // panels kPrefetchSteps ahead into L2 keeps more lines in flight (12-token
    // query, one thread, interleaved: 8.05 -> 7.39 ms median).
    for (int s = 0; s < steps; ++s) {
      const char* f0 = reinterpret_cast<const char*>(p0 + (s + kPrefetchSteps) * kStepBytes);
      const char* f1 = reinterpret_cast<const char*>(p1 + (s + kPrefetchSteps) * kStepBytes);
      for (int i = 0; i < 16; ++i) {
        _mm_prefetch(f0 + 64 * i, _MM_HINT_T1);
        _mm_prefetch(f1 + 64 * i, _MM_HINT_T1);
      }
      _tile_loadd(4, x0 + s * kKStep, jb.ldx);
      _tile_loadd(6, p0 + s * kStepBytes, kGroupBytes);
      _tile_loadd(7, p1 + s * kStepBytes, kGroupBytes);
      _tile_dpbssd(0, 4, 6);
      _tile_dpbssd(1, 4, 7);
    }
  }
  _tile_stored(0, c, kBlock * 4);
  _tile_stored(1, c + 16, kBlock * 4);
}

using BlockFn = void (*)(const Job&, int, int, int32_t*);

BlockFn block_fn(Q8Kernel k) {
  switch (k) {
    case Q8Kernel::kAmx: return block_amx;
    case Q8Kernel::kAvx512Vnni: return block_vnni;
    case Q8Kernel::kAvx2: return block_avx2;
    case Q8Kernel::kReference: break;
  }
  return block_reference;
}

void run_item(const void* ctx, int item) {
  const Job& jb = *static_cast<const Job*>(ctx);
  const int ci = item / jb.n_row_items;
  const int ri = item % jb.n_row_items;
  const int jb0 = ci * jb.col_blocks_per_item * kBlock;
  const int jb1 = std::min(jb.out.n_cols, jb0 + jb.col_blocks_per_item * kBlock);
  const int rb0 = ri * jb.row_blocks_per_item * kBlock;
  const int rb1 = std::min(jb.m, rb0 + jb.row_blocks_per_item * kBlock);
  const BlockFn fn = block_fn(jb.kernel);
  alignas(64) int32_t c[kBlock * kBlock];
  if (jb.kernel == Q8Kernel::kAmx) amx_configure_once();
  for (int j0 = jb0; j0 < jb1; j0 += kBlock) {
    for (int r0 = rb0; r0 < rb1; r0 += kBlock) {
      // The block's outputs into L2 while its sums are computed: the epilogue
      // reads them (the residual) or write-misses on them, and y is in L3 or
      // memory by now (image batches: the epilogue was ~17 % of the samples).
      const int rows = std::min(kBlock, jb.m - r0);
      for (int r = 0; r < rows; ++r) {
        const char* yr = reinterpret_cast<const char*>(jb.out.y + static_cast<size_t>(r0 + r) * jb.out.ldy + j0);
        _mm_prefetch(yr, _MM_HINT_T1);
        _mm_prefetch(yr + 64, _MM_HINT_T1);
      }
      fn(jb, r0, j0, c);
      epilogue(jb, c, r0, j0);
    }
  }
}

// ---- activation quantization ----------------------------------------------

struct QuantRows {
  const float* x;
  int k, k_pad;
  int8_t* xq;
  float* xs;
  bool u8;
  int m, rows_per_item;
};

// Row r: s = max|x| / 127, q = round(x / s) in [-127, 127] (+128 as u8).
void quantize_row(const float* x, int k, int k_pad, bool u8, int8_t* q, float* scale) {
  float amax = 0.0f;
  int i = 0;
#ifdef SA_OPS_AVX2
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 vmax = _mm256_setzero_ps();
  for (; i + 8 <= k; i += 8) vmax = _mm256_max_ps(vmax, _mm256_and_ps(abs_mask, _mm256_loadu_ps(x + i)));
  amax = simd::hmax(vmax);
#endif
  for (; i < k; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  *scale = amax / 127.0f;
  const int8_t flip = u8 ? static_cast<int8_t>(0x80) : 0;
  i = 0;
#ifdef SA_OPS_AVX2
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i vflip = _mm256_set1_epi8(flip);
  for (; i + 32 <= k; i += 32) {
    const __m256i a = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    const __m256i b = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 8), vinv));
    const __m256i c = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 16), vinv));
    const __m256i d = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + i + 24), vinv));
    const __m256i ab = _mm256_packs_epi32(a, b);
    const __m256i cd = _mm256_packs_epi32(c, d);
    const __m256i abcd = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(ab, cd), perm);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), _mm256_xor_si256(abcd, vflip));
  }
#endif
  for (; i < k; ++i) {
    const float v = std::nearbyint(x[i] * inv);
    q[i] = static_cast<int8_t>(static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f)) ^ flip);
  }
  std::memset(q + k, flip, static_cast<size_t>(k_pad - k));
}

void quantize_item(const void* ctx, int item) {
  const QuantRows& qr = *static_cast<const QuantRows*>(ctx);
  const int r1 = std::min(qr.m, (item + 1) * qr.rows_per_item);
  for (int r = item * qr.rows_per_item; r < r1; ++r) {
    quantize_row(qr.x + static_cast<size_t>(r) * qr.k, qr.k, qr.k_pad, qr.u8,
                 qr.xq + static_cast<size_t>(r) * qr.k_pad, qr.xs + r);
  }
}

// The calling thread's quantized-activation buffers, grown as needed and kept:
// a fresh multi-MB allocation per product would page-fault every time.
struct Scratch {
  std::vector<int8_t, HugePageAllocator<int8_t>> xq;
  std::vector<float> xs;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

Q8Kernel kernel_from_env(Q8Kernel best) {
  const char* e = std::getenv("SA_INT8_KERNEL");
  if (!e) return best;
  const std::string v = e;
  Q8Kernel want = best;
  if (v == "ref") want = Q8Kernel::kReference;
  if (v == "avx2") want = Q8Kernel::kAvx2;
  if (v == "vnni") want = Q8Kernel::kAvx512Vnni;
  if (v == "amx") want = Q8Kernel::kAmx;
  return static_cast<int>(want) < static_cast<int>(best) ? want : best;
}

}  // namespace

const char* q8_kernel_name(Q8Kernel k) {
  switch (k) {
    case Q8Kernel::kAmx: return "amx";
    case Q8Kernel::kAvx512Vnni: return "avx512-vnni";
    case Q8Kernel::kAvx2: return "avx2";
    case Q8Kernel::kReference: break;
  }
  return "reference";
}

bool q8_kernel_supported(Q8Kernel k) {
  const Features& f = features();
  switch (k) {
    case Q8Kernel::kAmx: return f.amx;
    case Q8Kernel::kAvx512Vnni: return f.vnni512;
    case Q8Kernel::kAvx2: return f.avx2;
    case Q8Kernel::kReference: break;
  }
  return true;
}

Q8Kernel q8_best_kernel() {
  static const Q8Kernel best = [] {
    Q8Kernel k = Q8Kernel::kReference;
    if (q8_kernel_supported(Q8Kernel::kAvx2)) k = Q8Kernel::kAvx2;
    if (q8_kernel_supported(Q8Kernel::kAvx512Vnni)) k = Q8Kernel::kAvx512Vnni;
    if (q8_kernel_supported(Q8Kernel::kAmx)) k = Q8Kernel::kAmx;
    return kernel_from_env(k);
  }();
  return best;
}

void q8_quantize_weights(const float* w, int n, int k, Q8Weights* out) {
  out->n = n;
  out->k = k;
  // One spare panel: a 32-column block that starts on an odd panel (a slice
  // at a multiple of 16) reads one panel past the last.
  out->n_pad = (round_up(n, kPanel) / kPanel + 1) * kPanel;
  out->k_pad = round_up(std::max(k, 1), kKStep);
  out->w.assign(static_cast<size_t>(out->n_pad) * out->k_pad, 0);
  out->scale.assign(out->n_pad, 0.0f);
  out->colsum.assign(out->n_pad, 0);
  for (int j = 0; j < n; ++j) {
    const float* wr = w + static_cast<size_t>(j) * k;
    float amax = 0.0f;
    for (int p = 0; p < k; ++p) amax = std::max(amax, std::fabs(wr[p]));
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    out->scale[j] = amax / 127.0f;
    int8_t* panel = out->w.data() + static_cast<size_t>(j / kPanel) * out->k_pad * kPanel;
    int32_t sum = 0;
    for (int p = 0; p < k; ++p) {
      const int q = static_cast<int>(std::clamp(std::nearbyint(wr[p] * inv), -127.0f, 127.0f));
      panel[(p / 4) * kGroupBytes + 4 * (j % kPanel) + p % 4] = static_cast<int8_t>(q);
      sum += q;
    }
    out->colsum[j] = sum;
  }
}

void gemm_q8_with(Q8Kernel kernel, const float* x, int m, const Q8Weights& w, int col0,
                  int n_cols, float beta, float* y, int ldy, const float* bias, Act act) {
  if (m <= 0 || n_cols <= 0) return;
  const int k = w.k;
  const int k_pad = w.k_pad;
  const int m_pad = round_up(m, kBlock);
  const bool u8 = kernel == Q8Kernel::kAvx512Vnni;
  Scratch& s = scratch();
  const size_t need = static_cast<size_t>(m_pad) * k_pad;
  if (s.xq.size() < need) s.xq.resize(need);
  if (s.xs.size() < static_cast<size_t>(m_pad)) s.xs.resize(m_pad);
  // Rows past m feed only discarded outputs, but are read: keep them defined.
  std::memset(s.xq.data() + static_cast<size_t>(m) * k_pad, 0,
              static_cast<size_t>(m_pad - m) * k_pad);
  std::fill(s.xs.begin() + m, s.xs.begin() + m_pad, 0.0f);

  QuantRows qr{x, k, k_pad, s.xq.data(), s.xs.data(), u8, m, 0};
  qr.rows_per_item = std::max(1, std::min(64, (m + 1) / 2));
  const int q_items = (m + qr.rows_per_item - 1) / qr.rows_per_item;
  // Quantizing is one pass over x: only worth a hand-off for many rows (a
  // query's 12 x 3072 took longer handed over than done here).
  if (static_cast<size_t>(m) * k >= (1 << 17)) {
    parallel_for(q_items, quantize_item, &qr);
  } else {
    for (int i = 0; i < q_items; ++i) quantize_item(&qr, i);
  }

  Job jb{};
  jb.xq = s.xq.data();
  jb.xs = s.xs.data();
  jb.ldx = k_pad;
  jb.m = m;
  jb.w = &w;
  jb.out = {col0, n_cols, beta, y, ldy, bias, act};
  jb.offset = u8 ? 128 : 0;
  jb.kernel = kernel;
  // Items: a run of column blocks over a run of row blocks, about 32 items per
  // product so that two threads finish within a small item of each other.
  const int col_blocks = (n_cols + kBlock - 1) / kBlock;
  const int row_blocks = m_pad / kBlock;
  jb.row_blocks_per_item = std::min(row_blocks, 8);
  jb.n_row_items = (row_blocks + jb.row_blocks_per_item - 1) / jb.row_blocks_per_item;
  const int want_col_items = std::max(1, 32 / jb.n_row_items);
  jb.col_blocks_per_item = std::max(1, (col_blocks + want_col_items - 1) / want_col_items);
  jb.n_col_items = (col_blocks + jb.col_blocks_per_item - 1) / jb.col_blocks_per_item;
  const int items = jb.n_col_items * jb.n_row_items;
  const double macs = static_cast<double>(m) * n_cols * k;
  if (items > 1 && macs >= 1 << 18) {
    parallel_for(items, run_item, &jb);
  } else {
    for (int i = 0; i < items; ++i) run_item(&jb, i);
  }
}

void gemm_q8(const float* x, int m, const Q8Weights& w, int col0, int n_cols, float beta, float* y,
             int ldy, const float* bias, Act act) {
  gemm_q8_with(q8_best_kernel(), x, m, w, col0, n_cols, beta, y, ldy, bias, act);
}

}  // namespace sa
