// The fp32 image tower's products alone: the engine's packed GEMM
// (f32_gemm.h) against OpenBLAS's sgemm (+ the same bias/activation pass) on
// the ViT-B/16 shapes, interleaved in one process (packed, sgemm, packed, ...)
// so that both see the same minutes of this shared machine.
//
// Prints one JSON line per shape: GFLOP/s (median of the reps) of each and
// their ratio. Run with OPENBLAS_NUM_THREADS=1 for one thread (the engine's
// helper thread is then not started either).
// SA_BENCH_VIT=1: the whole full-size random ViT-B-16 image tower instead, at
// batch 1 and 8, packed GEMM vs OpenBLAS (images/s, medians, interleaved).
// SA_BENCH_VIT=packed: only the packed tower (for profiling); =int8: only the
// INT8 tower (reported under the packed_* keys).
// Env: SA_BENCH_REPS (default 15), SA_BENCH_BATCH (default 8).
//
// Run: build/bench/bench_f32_gemm
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "model/blas_setup.h"
#include "model/elementwise.h"
#include "model/f32_gemm.h"
#include "model/ops.h"
#include "model/random_weights.h"
#include "model/vit.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

struct Shape {
  const char* name;
  int m, n, k;
  sa::Act act;
  float beta;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int run_vit(const std::string& mode) {
  const int reps = std::getenv("SA_BENCH_REPS") ? std::atoi(std::getenv("SA_BENCH_REPS")) : 6;
  const sa::VitConfig c;  // its defaults are ViT-B-16's
  sa::VitWeights blas = sa::random_vit_weights(c, 512, 2024);
  sa::VitWeights packed = blas;
  if (mode == "int8") {
    sa::vit_attach_int8(packed, true);  // the INT8 tower in place of the packed one (profiling)
  } else {
    sa::vit_attach_packed_f32(packed);
  }
  const bool only_packed = mode == "packed" || mode == "int8";
  if (only_packed) blas = sa::VitWeights{};
  const auto pixels = random_floats(static_cast<size_t>(8) * 3 * 224 * 224, 4);
  std::vector<float> out(8 * 512);
  std::vector<double> p1, p8, b1, b8;
  sa::vit_forward(packed, pixels.data(), 8, out.data());
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    sa::vit_forward(packed, pixels.data(), 1, out.data());
    p1.push_back(1 / seconds_since(t0));
    t0 = Clock::now();
    sa::vit_forward(packed, pixels.data(), 8, out.data());
    p8.push_back(8 / seconds_since(t0));
    if (only_packed) continue;
    t0 = Clock::now();
    sa::vit_forward(blas, pixels.data(), 1, out.data());
    b1.push_back(1 / seconds_since(t0));
    t0 = Clock::now();
    sa::vit_forward(blas, pixels.data(), 8, out.data());
    b8.push_back(8 / seconds_since(t0));
  }
  std::printf(
      "{\"vit\":\"ViT-B-16\",\"threads\":%d,\"packed_img_s_b1\":%.2f,\"openblas_img_s_b1\":%.2f,"
      "\"packed_img_s_b8\":%.2f,\"openblas_img_s_b8\":%.2f,\"packed_over_openblas_b1\":%.3f,"
      "\"packed_over_openblas_b8\":%.3f,\"reps\":%d}\n",
      openblas_get_num_threads(), median(p1), median(b1), median(p8), median(b8),
      only_packed ? 0.0 : median(p1) / median(b1), only_packed ? 0.0 : median(p8) / median(b8), reps);
  return 0;
}

}  // namespace

int main(int, char** argv) {
  sa::reexec_for_blas_kernels(argv);
  if (!sa::f32_packed_available()) {
    std::printf("{\"error\":\"no AVX-512: the packed kernel does not run here\"}\n");
    return 0;
  }
  if (const char* vit = std::getenv("SA_BENCH_VIT")) return run_vit(vit);
  const int reps = std::getenv("SA_BENCH_REPS") ? std::atoi(std::getenv("SA_BENCH_REPS")) : 15;
  const int batch = std::getenv("SA_BENCH_BATCH") ? std::atoi(std::getenv("SA_BENCH_BATCH")) : 8;
  const int t = 197 * batch;
  const Shape shapes[] = {
      {"patch", 196 * batch, 768, 768, sa::Act::kNone, 0.0f},
      {"qkv", t, 2304, 768, sa::Act::kNone, 0.0f},
      {"attn_out", t, 768, 768, sa::Act::kNone, 1.0f},
      {"fc", t, 3072, 768, sa::Act::kQuickGelu, 0.0f},
      {"proj", t, 768, 3072, sa::Act::kNone, 1.0f},
  };
  for (const Shape& s : shapes) {
    const auto x = random_floats(static_cast<size_t>(s.m) * s.k, 1);
    auto w = random_floats(static_cast<size_t>(s.n) * s.k, 2);
    const auto bias = random_floats(s.n, 3);
    std::vector<float> packed(sa::f32_packed_floats(s.n, s.k));
    sa::f32_pack(w.data(), s.n, s.k, packed.data());
    std::vector<float> y(static_cast<size_t>(s.m) * s.n, 0.0f);
    const double flop = 2.0 * s.m * s.n * s.k;
    std::vector<double> g_packed, g_blas;
    for (int r = 0; r < reps + 1; ++r) {
      auto t0 = Clock::now();
      sa::gemm_f32_packed(x.data(), s.m, packed.data(), s.n, s.k, 0, s.n, s.beta, y.data(), s.n,
                          bias.data(), s.act);
      const double tp = std::chrono::duration<double>(Clock::now() - t0).count();
      t0 = Clock::now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.m, s.n, s.k, 1.0f, x.data(), s.k,
                  w.data(), s.k, s.beta, y.data(), s.n);
      // The bias/activation pass the OpenBLAS path runs after sgemm.
      sa::elementwise::bias_act(y.data(), bias.data(), s.m, s.n, s.act);
      const double tb = std::chrono::duration<double>(Clock::now() - t0).count();
      if (r == 0) continue;  // warm-up
      g_packed.push_back(flop / tp / 1e9);
      g_blas.push_back(flop / tb / 1e9);
      // Keep values bounded across reps (beta = 1 accumulates).
      if (s.beta != 0.0f) std::fill(y.begin(), y.end(), 0.0f);
    }
    std::printf(
        "{\"shape\":\"%s\",\"m\":%d,\"n\":%d,\"k\":%d,\"threads\":%d,\"packed_GFLOPs\":%.1f,"
        "\"openblas_GFLOPs\":%.1f,\"packed_over_openblas\":%.3f}\n",
        s.name, s.m, s.n, s.k, openblas_get_num_threads(), median(g_packed), median(g_blas),
        median(g_packed) / median(g_blas));
  }
  return 0;
}
