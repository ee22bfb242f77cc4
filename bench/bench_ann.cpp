// Approximate indexes measured against the exact scan (issue 16: "FAISS IVF or
// HNSW, chosen by measurement"), on N unit vectors of 512 dimensions, random
// or clustered (100 vectors around each of N/100 centres):
//
//   ivf  faiss::IndexIVFFlat (inner product), nlist = 4 sqrt(N), trained on
//        min(N, 64 nlist) vectors: train + add time, then recall@10 vs exact
//        and ms per query at each nprobe.
//   hnsw faiss::IndexHNSWFlat (M = 16, efConstruction = 40): build time,
//        recall@10 and ms per query at each efSearch. (--no-hnsw skips it.)
//
// Queries are stored vectors plus noise (cosine ~0.7 to their source), as a
// text query is near, not on, its best photos. Prints one JSON line per
// setting. Run: build/bench/bench_ann [--n=100000] [--queries=100] [--clustered] [--no-hnsw]
#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "index/vector_index.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
constexpr int kDim = 512;
constexpr int kK = 10;

void normalise(float* r) {
  double ss = 0;
  for (int j = 0; j < kDim; ++j) ss += double(r[j]) * r[j];
  for (int j = 0; j < kDim; ++j) r[j] = static_cast<float>(r[j] / std::sqrt(ss));
}

}  // namespace

int main(int argc, char** argv) {
  int n = 100000, queries = 100;
  bool clustered = false, hnsw = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--n=", 4) == 0) n = std::atoi(argv[i] + 4);
    if (std::strncmp(argv[i], "--queries=", 10) == 0) queries = std::atoi(argv[i] + 10);
    if (std::strcmp(argv[i], "--clustered") == 0) clustered = true;
    if (std::strcmp(argv[i], "--no-hnsw") == 0) hnsw = false;
  }
  omp_set_num_threads(2);
  const char* data = clustered ? "clustered" : "random";
  std::mt19937 rng(42);
  std::normal_distribution<float> nd;
  std::vector<float> x(static_cast<size_t>(n) * kDim), centre(kDim);
  for (int i = 0; i < n; ++i) {
    float* r = &x[static_cast<size_t>(i) * kDim];
    if (clustered && i % 100 == 0)
      for (float& c : centre) c = nd(rng);
    for (int j = 0; j < kDim; ++j) r[j] = clustered ? centre[j] + 0.3f * nd(rng) : nd(rng);
    normalise(r);
  }
  std::vector<float> qs(static_cast<size_t>(queries) * kDim);
  for (int t = 0; t < queries; ++t) {
    const float* near = &x[static_cast<size_t>(rng() % n) * kDim];
    float* q = &qs[static_cast<size_t>(t) * kDim];
    for (int j = 0; j < kDim; ++j) q[j] = near[j] + 0.05f * nd(rng);
    normalise(q);
  }
  // Exact reference: the project's own index (int8 scan + exact re-rank).
  sa::VectorIndex exact(kDim);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), 0);
  (void)exact.add(ids, x);
  exact.set_exact_lookup([&](int64_t id, std::span<float> out) {
    std::memcpy(out.data(), &x[static_cast<size_t>(id) * kDim], kDim * sizeof(float));
    return true;
  });
  std::vector<std::vector<int64_t>> ref(static_cast<size_t>(queries));
  auto t0 = Clock::now();
  for (int t = 0; t < queries; ++t) {
    auto r = exact.search(std::span<const float>(&qs[static_cast<size_t>(t) * kDim], kDim), kK);
    for (const auto& h : *r) ref[static_cast<size_t>(t)].push_back(h.id);
  }
  std::printf("{\"index\":\"exact_int8_rerank\",\"n\":%d,\"data\":\"%s\",\"ms_per_query\":%.2f}\n", n, data,
              since(t0) * 1e3 / queries);
  std::fflush(stdout);

  auto measure = [&](faiss::Index& index, const char* name, const char* param, int value, double build_s) {
    std::vector<float> dist(static_cast<size_t>(queries) * kK);
    std::vector<faiss::Index::idx_t> lab(static_cast<size_t>(queries) * kK);
    auto t1 = Clock::now();
    for (int t = 0; t < queries; ++t)  // one at a time, as the server asks
      index.search(1, &qs[static_cast<size_t>(t) * kDim], kK, &dist[static_cast<size_t>(t) * kK],
                   &lab[static_cast<size_t>(t) * kK]);
    const double ms = since(t1) * 1e3 / queries;
    int hit = 0;
    for (int t = 0; t < queries; ++t)
      for (int i = 0; i < kK; ++i)
        hit += std::count(ref[static_cast<size_t>(t)].begin(), ref[static_cast<size_t>(t)].end(),
                          lab[static_cast<size_t>(t) * kK + i]) > 0;
    std::printf("{\"index\":\"%s\",\"n\":%d,\"data\":\"%s\",\"%s\":%d,\"recall_at_10\":%.4f,\"ms_per_query\":%.2f,\"build_s\":%.1f}\n",
                name, n, data, param, value, hit / (10.0 * queries), ms, build_s);
    std::fflush(stdout);
  };

  {
    const int nlist = std::max(16, static_cast<int>(4 * std::sqrt(double(n))));
    faiss::IndexFlatIP quantizer(kDim);
    faiss::IndexIVFFlat ivf(&quantizer, kDim, nlist, faiss::METRIC_INNER_PRODUCT);
    auto tb = Clock::now();
    const int ntrain = std::min(n, 64 * nlist);
    ivf.train(ntrain, x.data());
    ivf.add(n, x.data());
    const double build_s = since(tb);
    for (int nprobe : {1, 8, 32, 128, nlist / 4, nlist / 2}) {
      ivf.nprobe = nprobe;
      measure(ivf, "ivf_flat", "nprobe", nprobe, build_s);
    }
  }
  if (hnsw) {
    faiss::IndexHNSWFlat h(kDim, 16, faiss::METRIC_INNER_PRODUCT);
    h.hnsw.efConstruction = 40;
    auto tb = Clock::now();
    h.add(n, x.data());
    const double build_s = since(tb);
    for (int ef : {16, 64, 256}) {
      h.hnsw.efSearch = ef;
      measure(h, "hnsw_flat", "ef_search", ef, build_s);
    }
  }
  return 0;
}
