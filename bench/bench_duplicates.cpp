// Duplicate grouping (GET /api/duplicates) on random unit vectors:
//   duplicates_10k        the default options: LSH bands + exact check (above
//                         DuplicateSearchOptions::exact_limit), 512-d
//   duplicates_10k_exact  exact range search (IndexFlatIP) over all 10k, for comparison
//   duplicates_100k       LSH bands + exact check
// Random vectors hold no near-duplicates; a few planted pairs (cosine ~0.998)
// make sure groups are built.
//
//   build/bench_duplicates --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>

#include "search/duplicates.h"

namespace {

constexpr int kDim = 512;

struct Data {
  std::vector<int64_t> ids;
  std::vector<float> vecs;
};

Data make(int64_t n) {
  std::mt19937 rng(42);
  std::normal_distribution<float> nd(0, 1);
  Data d;
  d.vecs.resize(static_cast<size_t>(n) * kDim);
  for (int64_t i = 0; i < n; ++i) {
    d.ids.push_back(i + 1);
    float* v = d.vecs.data() + i * kDim;
    float s = 0;
    for (int j = 0; j < kDim; ++j) s += (v[j] = nd(rng)) * v[j];
    for (int j = 0; j < kDim; ++j) v[j] /= std::sqrt(s);
  }
  // Every 1000th vector gets a near copy as its neighbour.
  for (int64_t i = 0; i + 1 < n; i += 1000) {
    float* a = d.vecs.data() + i * kDim;
    float* b = a + kDim;
    float s = 0;
    for (int j = 0; j < kDim; ++j) s += (b[j] = a[j] + 0.01f * nd(rng)) * b[j];
    for (int j = 0; j < kDim; ++j) b[j] /= std::sqrt(s);
  }
  return d;
}

void run(benchmark::State& state, bool exact) {
  const Data d = make(state.range(0));
  sa::DuplicateSearchOptions opt;
  if (exact) opt.exact_limit = state.range(0);
  size_t groups = 0;
  for (auto _ : state) {
    auto g = sa::group_near_duplicates(d.ids, d.vecs, kDim, opt);
    if (!g.ok()) {
      state.SkipWithError(g.status().to_string().c_str());
      return;
    }
    groups = g->size();
    benchmark::DoNotOptimize(g);
  }
  state.counters["groups"] = static_cast<double>(groups);
  state.counters["photos"] = static_cast<double>(state.range(0));
  state.counters["planted"] = static_cast<double>((state.range(0) - 2) / 1000 + 1);
}

}  // namespace

BENCHMARK_CAPTURE(run, lsh, false)->Name("duplicates_10k")->Arg(10'000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(run, exact, true)->Name("duplicates_10k_exact")->Arg(10'000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK_CAPTURE(run, lsh, false)->Name("duplicates_100k")->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);
BENCHMARK_MAIN();
