// The packed fp32 GEMM (f32_gemm.h).
#include "model/f32_gemm.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "model/elementwise.h"
#include "model/few_row_gemm.h"
#include "model/simd.h"

namespace sa {
namespace {

constexpr int kP = kF32PanelCols;
constexpr int kRows = 12;   // rows per register block (24 zmm accumulators)
constexpr int kKChunk = 16;  // k values per row in one step of the packed rows
// Floats from the current weight position to the one prefetched into L1
// (16 steps of k ahead): the panel streams from L2 for every row block.
constexpr int kPrefetchFloats = 512;

struct Job {
  const float* x;
  int m, k;
  const float* panels;
  elementwise::ProductOut out;
  int rows_per_item, n_row_items, panels_per_item, n_col_items;
  uint64_t call;  // this product's number (next_call), for reusing packed rows
};

// Numbers products, so that a thread knows whether the rows it packed for an
// earlier item belong to the product it is running now.
std::atomic<uint64_t> next_call{1};

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

// Floats of one packed row block: ceil(k / 16) steps of [12 rows][16 k].
size_t packed_block_floats(int k) {
  return static_cast<size_t>((k + kKChunk - 1) / kKChunk) * kRows * kKChunk;
}

// Rows [0, rows) of x (row stride ldx, k columns) -> out, the layout block()
// reads: out[(p / 16) * 192 + r * 16 + p % 16] = x[r][p]. Each row's 16
// values of a step are one contiguous copy, so packing costs about a memcpy;
// the kernel's broadcasts then walk 768 contiguous bytes per 16 steps of k
// instead of `rows` separate rows (whose stride, 12 KiB at k = 3072, maps
// them all to one L1 set). Values past k are not written (never read).
__attribute__((target("avx512f"))) void pack_rows(const float* x, size_t ldx, int rows, int k,
                                                  float* out) {
  const int full = k / kKChunk;
  const int tail = k - full * kKChunk;
  const __mmask16 tail_mask = static_cast<__mmask16>((1u << tail) - 1);
  for (int r = 0; r < rows; ++r) {
    const float* src = x + r * ldx;
    float* dst = out + r * kKChunk;
    for (int c = 0; c < full; ++c) {
      _mm512_storeu_ps(dst + static_cast<size_t>(c) * kRows * kKChunk,
                       _mm512_loadu_ps(src + c * kKChunk));
    }
    if (tail) {
      _mm512_mask_storeu_ps(dst + static_cast<size_t>(full) * kRows * kKChunk, tail_mask,
                            _mm512_maskz_loadu_ps(tail_mask, src + full * kKChunk));
    }
  }
}

// Rows [0, MR) of a packed row block times one panel (32 columns, k-major)
// -> acc [MR][32].
// next / next_lines: a slice of the next panel to bring into L2 meanwhile (a
// few lines per 16 steps of k), or null.
template <int MR>
__attribute__((target("avx512f"))) void block(const float* a, const float* w, int k, float* acc,
                                              const char* next, int next_lines) {
  __m512 lo[MR], hi[MR];
  for (int i = 0; i < MR; ++i) lo[i] = hi[i] = _mm512_setzero_ps();
  auto step = [&](const float* ap) {
    _mm_prefetch(reinterpret_cast<const char*>(w + kPrefetchFloats), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(w + kPrefetchFloats + 16), _MM_HINT_T0);
    const __m512 wl = _mm512_loadu_ps(w), wh = _mm512_loadu_ps(w + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 v = _mm512_set1_ps(ap[i * kKChunk]);
      lo[i] = _mm512_fmadd_ps(v, wl, lo[i]);
      hi[i] = _mm512_fmadd_ps(v, wh, hi[i]);
    }
    w += kP;
  };
  const int full = k / kKChunk;
  const int per_chunk = next && full > 0 ? (next_lines + full - 1) / full : 0;
  const char* next_end = next + static_cast<size_t>(next_lines) * 64;
  for (int c = 0; c < full; ++c, a += kRows * kKChunk) {
    for (int i = 0; i < per_chunk && next < next_end; ++i, next += 64) _mm_prefetch(next, _MM_HINT_T1);
    for (int kk = 0; kk < kKChunk; ++kk) step(a + kk);
  }
  for (int kk = 0; kk < k - full * kKChunk; ++kk) step(a + kk);
  for (int i = 0; i < MR; ++i) {
    _mm512_storeu_ps(acc + i * kP, lo[i]);
    _mm512_storeu_ps(acc + i * kP + 16, hi[i]);
  }
}

using BlockFn = void (*)(const float*, const float*, int, float*, const char*, int);
template <int... R>
constexpr std::array<BlockFn, sizeof...(R)> block_table(std::integer_sequence<int, R...>) {
  return {&block<R + 1>...};
}
// kBlocks[rows - 1]: the kernel for a row block of 1..12 rows.
constexpr auto kBlocks = block_table(std::make_integer_sequence<int, kRows>{});

// Per-thread buffer of the packed rows of the item being run, and which
// product's rows [r_begin, r_end) it holds: consecutive items of a product
// share their rows (item order is row-chunk major), so a thread that takes
// the next item of the same rows packs nothing.
struct PackedRows {
  std::vector<float> buf;
  uint64_t call = 0;
  int r_begin = -1;
};

void run_item(const void* ctx, int item) {
  const Job& jb = *static_cast<const Job*>(ctx);
  const int ri = item / jb.n_col_items;
  const int ci = item % jb.n_col_items;
  const int r_begin = ri * jb.rows_per_item;
  const int r_end = std::min(jb.m, r_begin + jb.rows_per_item);
  const int c_begin = ci * jb.panels_per_item;  // panels relative to col0
  const int n_panels = (jb.out.n_cols + kP - 1) / kP;
  const int c_end = std::min(n_panels, c_begin + jb.panels_per_item);
  const size_t block_floats = packed_block_floats(jb.k);
  const int n_blocks = (r_end - r_begin + kRows - 1) / kRows;
  thread_local PackedRows pr;
  if (pr.call != jb.call || pr.r_begin != r_begin) {
    if (pr.buf.size() < block_floats * n_blocks) pr.buf.resize(block_floats * n_blocks);
    for (int b = 0; b < n_blocks; ++b) {
      const int r0 = r_begin + b * kRows;
      pack_rows(jb.x + static_cast<size_t>(r0) * jb.k, jb.k, std::min(kRows, r_end - r0), jb.k,
                pr.buf.data() + b * block_floats);
    }
    pr.call = jb.call;
    pr.r_begin = r_begin;
  }
  const float* packed = pr.buf.data();
  alignas(64) float acc[kRows * kP];
  // While a panel runs over the item's row blocks from L2, the next panel is
  // fetched from L3 into L2 in slices, one per block: otherwise the first row
  // block of every panel waits on L3.
  const int panel_lines = jb.k * kP * 4 / 64;
  for (int c = c_begin; c < c_end; ++c) {
    const float* panel = jb.panels + (static_cast<size_t>(jb.out.col0 / kP) + c) * jb.k * kP;
    const char* next = c + 1 < c_end ? reinterpret_cast<const char*>(panel + static_cast<size_t>(jb.k) * kP) : nullptr;
    for (int b = 0; b < n_blocks; ++b) {
      const int r0 = r_begin + b * kRows;
      const int rows = std::min(kRows, r_end - r0);
      const int l0 = panel_lines * b / n_blocks, l1 = panel_lines * (b + 1) / n_blocks;
      // The block's 12 x 32 outputs into L2 while it runs: the store reads
      // them (the residual) or writes them (a write miss reads them too), and
      // y, written by an earlier pass, is in L3 or memory by now.
      for (int r = 0; r < rows; ++r) {
        const char* yr = reinterpret_cast<const char*>(jb.out.y + static_cast<size_t>(r0 + r) * jb.out.ldy + c * kP);
        _mm_prefetch(yr, _MM_HINT_T1);
        _mm_prefetch(yr + 64, _MM_HINT_T1);
      }
      kBlocks[rows - 1](packed + b * block_floats, panel, jb.k, acc,
                        next ? next + static_cast<size_t>(l0) * 64 : nullptr, l1 - l0);
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
  Job jb{x, m, k, panels, {col0, n_cols, beta, y, ldy, bias, act}, 0, 0, 1, 1,
         next_call.fetch_add(1, std::memory_order_relaxed)};
  // Items of up to 96 rows (48 at k > 1024: the item's packed rows, reread
  // for every panel, stay within ~0.6 MB of the 2 MB L2), the rows split
  // evenly over the chunks in whole 12-row blocks (197 rows: 72, 72, 53, not
  // 96, 96, 5), by a run of panels; ~48 items or more per product, so that
  // the thread that finishes first waits at most one small item for the other.
  const int max_rows = k > 1024 ? 4 * kRows : 8 * kRows;
  const int n_chunks = (m + max_rows - 1) / max_rows;
  jb.rows_per_item = ((m + n_chunks - 1) / n_chunks + kRows - 1) / kRows * kRows;
  jb.n_row_items = (m + jb.rows_per_item - 1) / jb.rows_per_item;
  const int n_panels = (n_cols + kP - 1) / kP;
  const int want_col_items = std::max(1, (48 + jb.n_row_items - 1) / jb.n_row_items);
  jb.panels_per_item = std::max(std::min(4, n_panels), (n_panels + want_col_items - 1) / want_col_items);
  jb.n_col_items = (n_panels + jb.panels_per_item - 1) / jb.panels_per_item;
  const int items = jb.n_col_items * jb.n_row_items;
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
