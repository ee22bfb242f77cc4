// The few-row matrix products (see few_row_gemm.h): an fp32 dot-product
// kernel, a register-blocked kernel over the packed fp16 copy of the text
// weights, the helper thread that splits them over two cores, and the fp16
// packing itself (attach_fp16).
#include "model/few_row_gemm.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "model/elementwise.h"
#include "model/huge_pages.h"
#include "model/ops.h"
#include "model/simd.h"

namespace sa {
namespace {

#ifdef SA_OPS_AVX2
using simd::hsum;

// Sums of four accumulators: [sum(a0), sum(a1), sum(a2), sum(a3)].
inline __m128 hsum4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

inline void store4(float* y, __m128 v, float beta) {
  if (beta != 0.0f) v = _mm_add_ps(v, _mm_mul_ps(_mm_set1_ps(beta), _mm_loadu_ps(y)));
  _mm_storeu_ps(y, v);
}

// y[m, n] = x[m, k] @ w[n, k]^T + beta * y for a handful of rows, fp32 weights
// (the ViT's last-block class tokens; text towers whose checkpoint is not fp16).
// With so few rows the product is bound by streaming w, and OpenBLAS's sgemm
// spends several times that packing w for its kernels. Each block of four
// weight rows is read from memory once and reused from L1 for every row of x,
// and the next block is prefetched while the first pair of rows runs (~15%).
// ldy: row stride of y (>= n).
void gemm_small_m(const float* x, int m, const float* w, int n, int k, float beta, float* y,
                  int ldy) {
  constexpr int kPrefetchMask = 64 / sizeof(float) - 1;  // one prefetch per line
  const int k8 = k & ~7;
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* w0 = w + static_cast<size_t>(j) * k;
    const float* w1 = w0 + k;
    const float* w2 = w1 + k;
    const float* w3 = w2 + k;
    int i = 0;
    for (; i + 2 <= m; i += 2) {
      const float* x0 = x + static_cast<size_t>(i) * k;
      const float* x1 = x0 + k;
      __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;
      __m256 a10 = a00, a11 = a00, a12 = a00, a13 = a00;
      // While the first pair of rows runs, fetch the next weight block.
      const float* next = (i == 0 && j + 8 <= n) ? w3 + k : nullptr;
      for (int p = 0; p < k8; p += 8) {
        if (next && (p & kPrefetchMask) == 0) {
          _mm_prefetch(reinterpret_cast<const char*>(next + p), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(next + k + p), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(next + 2 * k + p), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(next + 3 * k + p), _MM_HINT_T0);
        }
        const __m256 v0 = _mm256_loadu_ps(w0 + p), v1 = _mm256_loadu_ps(w1 + p);
        const __m256 v2 = _mm256_loadu_ps(w2 + p), v3 = _mm256_loadu_ps(w3 + p);
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
        const __m128 v = _mm_setr_ps(w0[p], w1[p], w2[p], w3[p]);
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
        a0 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(w0 + p), a0);
        a1 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(w1 + p), a1);
        a2 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(w2 + p), a2);
        a3 = _mm256_fmadd_ps(u0, _mm256_loadu_ps(w3 + p), a3);
      }
      __m128 s0 = hsum4(a0, a1, a2, a3);
      for (int p = k8; p < k; ++p) {
        s0 = _mm_add_ps(s0, _mm_mul_ps(_mm_set1_ps(x0[p]), _mm_setr_ps(w0[p], w1[p], w2[p], w3[p])));
      }
      store4(y + static_cast<size_t>(i) * ldy + j, s0, beta);
    }
  }
  for (; j < n; ++j) {  // last n % 4 weight rows
    const float* wj = w + static_cast<size_t>(j) * k;
    for (int i = 0; i < m; ++i) {
      const float* xi = x + static_cast<size_t>(i) * k;
      __m256 a = _mm256_setzero_ps();
      int p = 0;
      for (; p < k8; p += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(xi + p), _mm256_loadu_ps(wj + p), a);
      float sum = hsum(a);
      for (; p < k; ++p) sum += xi[p] * wj[p];
      float& out = y[static_cast<size_t>(i) * ldy + j];
      out = sum + (beta != 0.0f ? beta * out : 0.0f);
    }
  }
}

#ifdef SA_OPS_F16C
// The fp16 few-row kernel (text queries). Weights are packed by attach_fp16
// into panels of kPanel output columns: panel c holds columns [16c, 16c + 16)
// k-major, i.e. panel[p * 16 + j] = w[16c + j][p] as IEEE half (columns past n
// are zero). x is read in place, one stream per row. For each
// panel and each block of up to six rows the kernel keeps the 6 x 16 outputs in
// twelve AVX registers and, per p, widens the panel's 16 weights once and
// broadcasts x[i][p] into two FMAs per row: 12 FMAs per 2 conversions and 6
// broadcasts, against 8 FMAs per 4 conversions in the dot-product form above.
// A panel (16 x 768 halves = 24 KB, 96 KB at k = 3072) is streamed from memory
// by the first row block and re-read from L1/L2 by the others. Single core,
// weights streamed from DRAM: ~60 -> ~75 GFLOP/s at 12 rows (~95 in cache).
constexpr int kPanel = kFp16PanelCols;
constexpr int kMaxBlockRows = 6;

// How a row block prefetches the weights it will need:
// - kAhead: kPanelAheadBytes ahead of its own panel into L1, one 64-byte line
//   per two steps of p (the rate it consumes them). For the block that streams
//   the panel from memory when nothing fetched it earlier. The hardware
//   prefetcher alone left the 12-token query ~15 % slower (docs/performance.md);
//   2-16 KB measured alike, 1 KB and less as none.
// - kNextHalf: half of the next panel (from `next`) into L2, one line per four
//   steps. With two row blocks per panel (7-12 rows, a text query) both blocks
//   do this, so the next panel arrives while both run: memory works through
//   the second, cached block too, instead of only while the first block
//   streams its panel (and waits for it). 12-token queries 1.5-3.7 % faster at
//   the median and 2.7-4.3 % at the lower quartile (queries of both kernels
//   interleaved in one process; lower quartile 9 of 9 runs). The same spread
//   into L1 (T0) measured no better than kAhead: it evicts the panel the
//   second block is reading.
// - kNone: the later blocks, which find the panel in cache.
enum class Prefetch { kNone, kAhead, kNextHalf };
constexpr int kPanelAheadBytes = 4096;

// y[r][0..cols) = act(sum_p x[r * rs + p] * panel[p][0..cols) + beta * y + bias),
// r < R.
// kPf: how to prefetch (above). A template parameter, and p unrolled by two
// with at most one prefetch per pair: the per-step test and loop overhead this
// removes made 12-token queries 2-8 % faster (6 of 6 runs, queries of both
// kernels interleaved in one process).
// bias: the panel's (up to) 16 bias values, or null. next: for kNextHalf, the
// half panel to fetch.
template <int R, Prefetch kPf>
void panel_block(const float* x, int rs, const uint16_t* panel, int k, float beta, float* y,
                 int ldy, int cols, const float* bias, Act act, const char* next) {
  static_assert(R >= 1 && R <= kMaxBlockRows, "row block");
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
  __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0;
  const uint16_t* wp = panel;
  const float* x0 = x;  // row r at x0 + r * rs, one stream per row
  const float* x1 = x0 + (R > 1 ? rs : 0);
  const float* x2 = x0 + (R > 2 ? 2 * rs : 0);
  const float* x3 = x0 + (R > 3 ? 3 * rs : 0);
  const float* x4 = x0 + (R > 4 ? 4 * rs : 0);
  const float* x5 = x0 + (R > 5 ? 5 * rs : 0);
  // Prefetches never fault, so running past the matrix's end is harmless.
  const char* ahead = reinterpret_cast<const char*>(panel) + kPanelAheadBytes;
  // Step p + o: widen the 16 weights once, broadcast x[r][p + o] into two FMAs
  // per row. Named accumulators, not an array: GCC keeps an array in memory
  // and stores it back every iteration, which halves the rate.
#define SA_PANEL_ROW(r, o)                                 \
  if constexpr (R > r) {                                   \
    const __m256 v = _mm256_broadcast_ss(x##r + p + (o));   \
    a##r = _mm256_fmadd_ps(v, lo, a##r);                   \
    b##r = _mm256_fmadd_ps(v, hi, b##r);                   \
  }
#define SA_PANEL_STEP(o)                                                                      \
  {                                                                                           \
    const uint16_t* w = wp + (o) * kPanel;                                                    \
    const __m256 lo = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));  \
    const __m256 hi =                                                                         \
        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 8)));            \
    SA_PANEL_ROW(0, o)                                                                        \
    SA_PANEL_ROW(1, o)                                                                        \
    SA_PANEL_ROW(2, o)                                                                        \
    SA_PANEL_ROW(3, o)                                                                        \
    SA_PANEL_ROW(4, o)                                                                        \
    SA_PANEL_ROW(5, o)                                                                        \
  }
  int p = 0;
  for (; p + 2 <= k; p += 2, wp += 2 * kPanel) {
    if constexpr (kPf == Prefetch::kAhead) {
      // One 64-byte line per two steps: the rate the panel is consumed.
      _mm_prefetch(ahead + p * kPanel * 2, _MM_HINT_T0);
    } else if constexpr (kPf == Prefetch::kNextHalf) {
      // One line per four steps: half a panel over the k steps of this block.
      if ((p & 2) == 0) _mm_prefetch(next + p * 16, _MM_HINT_T1);
    }
    SA_PANEL_STEP(0)
    SA_PANEL_STEP(1)
  }
  if (p < k) SA_PANEL_STEP(0)  // odd k
#undef SA_PANEL_STEP
#undef SA_PANEL_ROW
  // The epilogue, in the order linear() used to run it over y afterwards:
  // (acc + beta * y) + bias, then act. Doing it here, while the values are in
  // registers, took bias and GELU off the serial path between products (they
  // cost 2.5-3.7 % of a 12-token query there).
  const __m256 acc[2 * kMaxBlockRows] = {a0, b0, a1, b1, a2, b2, a3, b3, a4, b4, a5, b5};
  for (int r = 0; r < R; ++r) {
    float* yr = y + static_cast<size_t>(r) * ldy;
    if (cols == kPanel) {
      __m256 lo = acc[2 * r], hi = acc[2 * r + 1];
      if (beta != 0.0f) {
        lo = _mm256_add_ps(lo, _mm256_mul_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(yr)));
        hi = _mm256_add_ps(hi, _mm256_mul_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(yr + 8)));
      }
      if (bias) {
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(bias));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(bias + 8));
      }
      _mm256_storeu_ps(yr, elementwise::act_vec(lo, act));
      _mm256_storeu_ps(yr + 8, elementwise::act_vec(hi, act));
      continue;
    }
    alignas(32) float tmp[kPanel];
    _mm256_store_ps(tmp, acc[2 * r]);
    _mm256_store_ps(tmp + 8, acc[2 * r + 1]);
    for (int j = 0; j < cols; ++j) {
      float v = tmp[j] + (beta != 0.0f ? beta * yr[j] : 0.0f);
      if (bias) v += bias[j];
      yr[j] = elementwise::act_scalar(v, act);
    }
  }
}

using PanelBlockFn = void (*)(const float*, int, const uint16_t*, int, float, float*, int, int,
                             const float*, Act, const char*);
template <Prefetch kPf>
constexpr PanelBlockFn kPanelBlockRows[kMaxBlockRows + 1] = {
    nullptr,           panel_block<1, kPf>, panel_block<2, kPf>, panel_block<3, kPf>,
    panel_block<4, kPf>, panel_block<5, kPf>, panel_block<6, kPf>};

// Columns [c0 * 16, min(c1 * 16, n)) of y[m, n] (row stride ldy) from panels
// [c0, c1). Rows go in ceil(m / 6) blocks of near-equal size (8 rows: 4 + 4,
// not 6 + 2, which would run the second block at a third of the rate).
void gemm_panels(const float* x, int m, const uint16_t* panels, int n, int k, float beta,
                 float* y, int ldy, int c0, int c1, const float* bias, Act act) {
  const int n_blocks = (m + kMaxBlockRows - 1) / kMaxBlockRows;
  for (int c = c0; c < c1; ++c) {
    const uint16_t* panel = panels + static_cast<size_t>(c) * kPanel * k;
    const int cols = std::min(kPanel, n - c * kPanel);
    // Two blocks fetch the next panel between them when it is this chunk's;
    // otherwise the first block prefetches ahead of its own panel.
    const bool spread = n_blocks == 2 && c + 1 < c1;
    const char* next = reinterpret_cast<const char*>(panel + static_cast<size_t>(kPanel) * k);
    const size_t half = static_cast<size_t>(kPanel) * k;  // bytes: half a panel of halves
    int r = 0;
    for (int b = 0; b < n_blocks; ++b) {
      const int rows = m / n_blocks + (b < m % n_blocks ? 1 : 0);
      const PanelBlockFn fn = spread   ? kPanelBlockRows<Prefetch::kNextHalf>[rows]
                              : b == 0 ? kPanelBlockRows<Prefetch::kAhead>[rows]
                                       : kPanelBlockRows<Prefetch::kNone>[rows];
      fn(x + static_cast<size_t>(r) * k, k, panel, k, beta,
         y + static_cast<size_t>(r) * ldy + c * kPanel, ldy, cols,
         bias ? bias + c * kPanel : nullptr, act, spread ? next + b * half : nullptr);
      r += rows;
    }
  }
}
#endif  // SA_OPS_F16C

// Few-row products are split over the calling thread and one helper thread
// that lives for the process. A fresh std::thread per product (the previous
// design) cost ~30-60 us per start, and a 12-token RoBERTa-base query runs 48
// products; OpenBLAS's pool was no better, its threads spin with sched_yield
// after each call and took the second core from the next product. The helper
// instead spins for kSpin after each job, so the products of one query hand
// over in well under a microsecond, then sleeps on a condition variable and
// costs nothing between queries. It runs one caller's job at a time: a second
// caller that finds it taken does its whole product alone, so concurrent
// queries never wait on each other. Work is handed out in chunks from a shared
// counter, so whichever thread is faster (or less disturbed) takes more.
//
// When the two threads do not have two cores to themselves (other processes,
// or a shell's scheduler group that gets one core's share), a thread that
// spins waiting for the other can take the very CPU time the other needs: a
// 12-token INT8 query measured 58 ms median instead of 5-8 ms that way (two
// spinning threads in one core's share, each of ~100 hand-offs per query
// waiting out a time slice). So: a job the helper has not yet taken when the
// caller runs out of work is taken back (the caller returns at once, the
// helper never sees it); the caller waits only for a job the helper is
// running, spinning briefly and then yielding; and the helper yields between
// short spins while it waits for the next job.
class FewRowHelper {
 public:
  // Never destroyed: a product run from another static's destructor or a
  // thread still busy at exit must not find the mutexes gone. The helper
  // thread sleeps in cv_.wait() when the process ends.
  static FewRowHelper& get() {
    static FewRowHelper* h = new FewRowHelper;
    return *h;
  }

  // Runs work() on this thread and, when the helper is free and gets to it in
  // time, also on the helper; returns once both are done. work must take its
  // chunks from a shared counter and be safe to run twice at once.
  template <typename Fn>
  void run(Fn& work) {
    std::unique_lock<std::mutex> use(use_, std::try_to_lock);
    if (!use.owns_lock() || !started_) {
      work();
      return;
    }
    job_ = [](void* f) { (*static_cast<Fn*>(f))(); };
    job_arg_ = &work;
    state_.store(kPosted);  // seq_cst: ordered before the read of sleeping_ below
    if (sleeping_.load()) {
      std::lock_guard<std::mutex> lk(mu_);  // the helper is in wait() or about to be
      cv_.notify_one();
    }
    work();
    int expected = kPosted;
    if (state_.compare_exchange_strong(expected, kIdle)) return;  // taken back, never started
    for (int i = 0; state_.load(std::memory_order_acquire) != kDone; ++i) {
      if (i < kSpinPauses) {
        spin_pause();
      } else {
        std::this_thread::yield();
      }
    }
    state_.store(kIdle, std::memory_order_relaxed);
  }

 private:
  // state_: the caller posts (kIdle -> kPosted); the helper takes the job
  // (kPosted -> kTaken) and finishes it (-> kDone), or the caller takes it
  // back first (kPosted -> kIdle); the caller ends each job at kIdle.
  static constexpr int kIdle = 0, kPosted = 1, kTaken = 2, kDone = 3;
  // How long the helper spins for the next job before sleeping: longer than
  // the gaps between the products of one query (attention, LayerNorm: tens of
  // microseconds), short enough to be idle between queries.
  static constexpr std::chrono::microseconds kSpin{300};
  // Pauses before a waiting thread yields (~10 us); the helper also yields
  // after every such run of pauses while it waits for a job.
  static constexpr int kSpinPauses = 256;

  // Started only when the BLAS thread budget allows a second thread
  // (OPENBLAS_NUM_THREADS, by default every core): one setting bounds all
  // inference threads, and OPENBLAS_NUM_THREADS=1 means one thread here too.
  FewRowHelper() {
    if (std::thread::hardware_concurrency() < 2 || openblas_get_num_threads() < 2) return;
    try {
      std::thread([this] { loop(); }).detach();
      started_ = true;
    } catch (const std::system_error&) {
      // No thread to be had (resource limits): callers do all the work alone.
    }
  }

  static void spin_pause() { _mm_pause(); }

  void loop() {
    for (;;) {
      // Spin for a while, yielding and checking the clock every kSpinPauses.
      const auto until = std::chrono::steady_clock::now() + kSpin;
      for (int i = 0; state_.load(std::memory_order_acquire) != kPosted; ++i) {
        spin_pause();
        if (i % kSpinPauses == kSpinPauses - 1) {
          if (std::chrono::steady_clock::now() > until) break;
          std::this_thread::yield();
        }
      }
      if (state_.load(std::memory_order_acquire) != kPosted) {
        std::unique_lock<std::mutex> lk(mu_);
        sleeping_.store(true);  // seq_cst: ordered before the re-read of state_
        cv_.wait(lk, [&] { return state_.load() == kPosted; });
        sleeping_.store(false);
      }
      int expected = kPosted;
      if (!state_.compare_exchange_strong(expected, kTaken)) continue;  // taken back
      job_(job_arg_);
      state_.store(kDone, std::memory_order_release);
    }
  }

  std::mutex use_;  // held by the caller whose job the helper runs
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int> state_{kIdle};
  std::atomic<bool> sleeping_{false};
  void (*job_)(void*) = nullptr;  // written before state_ = kPosted, read after taking it
  void* job_arg_ = nullptr;
  bool started_ = false;  // set once in the constructor
};

// Weights per product from which the work is split over two threads: below
// it, handing over costs more than the half it saves.
constexpr size_t kSplitMinWeights = 256 * 768;

// Columns per chunk handed out to either thread (whole 4-column blocks for the
// fp32 kernel, whole panels for the fp16 one). Every column is computed by the
// same code whichever thread takes it, so the split does not change results.
// 128 columns (a 12-token query's chunk streams 192-768 KB of fp16 weights)
// measured 1.5-2 % faster than 64, and 32 slower still (queries of the two
// settings interleaved in one process, 300-400 each, 5 of 5 runs): longer
// sequential streams per thread, fewer hand-offs of the shared counter.
// The last kSplitTailCols columns go out in chunks of kSplitTailChunk: a thread
// that takes the last big chunk would otherwise leave the other waiting up to
// a whole chunk (at k = 3072, ~140 us, for each of a query's 48 products).
constexpr int kSplitChunk = 128;
constexpr int kSplitTailChunk = 16;
constexpr int kSplitTailCols = 256;
// Fewer columns than this: one thread does the product.
constexpr int kSplitMinCols = 128;

template <typename ChunkFn>
void split_columns(int n, int k, ChunkFn&& chunk) {
  if (n < kSplitMinCols || static_cast<size_t>(n) * k < kSplitMinWeights) {
    chunk(0, n);
    return;
  }
  // Chunks [0, n_big) are kSplitChunk columns from 0; the rest are
  // kSplitTailChunk columns from tail0, the last one ending at n. Each index
  // is handed out once.
  const int n_big = std::max(0, (n - kSplitTailCols) / kSplitChunk);
  const int tail0 = n_big * kSplitChunk;
  const int n_chunks = n_big + (n - tail0 + kSplitTailChunk - 1) / kSplitTailChunk;
  std::atomic<int> next{0};
  auto work = [&] {
    for (int c = next.fetch_add(1); c < n_chunks; c = next.fetch_add(1)) {
      const int j = c < n_big ? c * kSplitChunk : tail0 + (c - n_big) * kSplitTailChunk;
      chunk(j, std::min(n, j + (c < n_big ? kSplitChunk : kSplitTailChunk)));
    }
  };
  FewRowHelper::get().run(work);
}

#endif  // SA_OPS_AVX2

// Up to this many rows the fp32 few-row kernel beats OpenBLAS's sgemm on this
// class of machine (see bench/bench_engine.cpp): a 20-token base-size sentence
// embedding measured 45-54 ms with it vs 70-88 ms with sgemm.
constexpr int kSmallM = 32;

// Up to this many rows the fp16 panel kernel beats sgemm on the fp32 weights:
// RoBERTa-base, median of 30 runs on the 2-core VM, panels vs sgemm: 52 tokens
// 85 vs 124 ms, 100 tokens 142 vs 183 ms; at 200 tokens they tie (the rows of
// x no longer stay in L2 across a panel's row blocks).
constexpr int kPanelMaxM = 128;

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

// y[m, n] = act(x[m, k] @ w[n, k]^T + beta * y + bias) (row stride n).
// w16: the fp16 panels of the same weights (attach_fp16) or null; used for
// 1..kPanelMaxM rows when present.
void gemm_xwt(const float* x, int m, const float* w, const uint16_t* w16, int n, int k, float beta,
              float* y, const float* bias, Act act) {
#ifdef SA_OPS_F16C
  if (w16 && m <= kPanelMaxM) {
    split_columns(n, k, [=](int j0, int j1) {
      gemm_panels(x, m, w16, n, k, beta, y, n, j0 / kPanel, (j1 + kPanel - 1) / kPanel, bias,
                  act);
    });
    return;
  }
#else
  (void)w16;
#endif
#ifdef SA_OPS_AVX2
  if (m <= kSmallM) {
    split_columns(n, k, [=](int j0, int j1) {
      gemm_small_m(x, m, w + static_cast<size_t>(j0) * k, j1 - j0, k, beta, y + j0, n);
    });
    elementwise::bias_act(y, bias, m, n, act);
    return;
  }
#endif
  if (m == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, w, k, x, 1, beta, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, beta, y, n);
  }
  elementwise::bias_act(y, bias, m, n, act);
}

void parallel_for(int n, void (*fn)(const void* ctx, int i), const void* ctx) {
#ifdef SA_OPS_AVX2
  if (n > 1) {
    std::atomic<int> next{0};
    auto work = [&] {
      for (int i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(ctx, i);
    };
    FewRowHelper::get().run(work);
    return;
  }
#endif
  for (int i = 0; i < n; ++i) fn(ctx, i);
}

const uint16_t* half_weights(const Linear& l) {
  return !l.w16.empty() && l.w16.size() == fp16_copy_halves(l.n_out, l.n_in) ? l.w16.data() : nullptr;
}

bool fp16_kernel_available() {
#ifdef SA_OPS_F16C
  return true;
#else
  return false;
#endif
}

size_t fp16_copy_halves(int n_out, int n_in) {
#ifdef SA_OPS_F16C
  return static_cast<size_t>((n_out + kPanel - 1) / kPanel) * kPanel * n_in;
#else
  (void)n_out;
  (void)n_in;
  return 0;
#endif
}

bool attach_fp16(Linear& l) {
  l.w16.clear();
  if (!fp16_kernel_available() || l.w.empty() ||
      l.w.size() != static_cast<size_t>(l.n_out) * l.n_in) {
    return false;
  }
  // Panel layout (gemm_panels): column j of panel c at [c * 16 * n_in + p * 16 + j % 16].
  std::vector<uint16_t, HugePageAllocator<uint16_t>> h(fp16_copy_halves(l.n_out, l.n_in), 0);
  constexpr int kCols = kFp16PanelCols;
  for (int o = 0; o < l.n_out; ++o) {
    uint16_t* dst = h.data() + static_cast<size_t>(o / kCols) * kCols * l.n_in + o % kCols;
    const float* src = l.w.data() + static_cast<size_t>(o) * l.n_in;
    for (int p = 0; p < l.n_in; ++p) {
      if (!float_to_half_exact(src[p], dst + static_cast<size_t>(p) * kCols)) return false;
    }
  }
  l.w16 = std::move(h);
  return true;
}

void matmul_xwt(const float* x, int m, const float* w, int n, int k, float* y) {
  if (m <= 0 || n <= 0) return;
  gemm_xwt(x, m, w, nullptr, n, k, 0.0f, y);
}

void matmul_xwt_fp16_panels(const float* x, int m, const uint16_t* w16, int n, int k, float* y) {
  if (m <= 0 || n <= 0) return;
#ifdef SA_OPS_F16C
  if (m <= kPanelMaxM) {
    gemm_xwt(x, m, nullptr, w16, n, k, 0.0f, y);
    return;
  }
#endif
  // Portable path: IEEE half -> float by bit manipulation.
  auto widen = [](uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1f) {
      bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
      bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do { ++e; man <<= 1; } while ((man & 0x400u) == 0);
      bits = sign | ((112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  };
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      const uint16_t* col = w16 + static_cast<size_t>(j / kFp16PanelCols) * kFp16PanelCols * k + j % kFp16PanelCols;
      float s = 0.0f;
      for (int p = 0; p < k; ++p) s += x[static_cast<size_t>(i) * k + p] * widen(col[static_cast<size_t>(p) * kFp16PanelCols]);
      y[static_cast<size_t>(i) * n + j] = s;
    }
  }
}

}  // namespace sa
