// The vector index alone (issue 16), on N random or clustered unit vectors of
// 512 dimensions held in memory (no SQLite, no model):
//
//   fp16 scan      VectorIndex::search, k = 10, exact re-rank from the fp32
//                  copy in memory: ms per query (p50/p99).
//   fp32 scan      matmul_xwt over the fp32 matrix + partial sort, what the
//                  index did before (FAISS flat storage): ms per query.
//   top-10         overlap of the fp16 path with the fp32 top 10, with and
//                  without the re-rank (identical expected with it).
//   memory         VectorIndex::memory_bytes() vs the fp32 matrix.
//   build          add() of all N vectors, s; save + load of the index file, s.
//
// Run: build/bench/bench_index [--sizes=100000,1000000] [--queries=50] [--clustered]
// Prints one JSON line per size.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "index/vector_index.h"
#include "model/ops.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

long peak_rss_mb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

constexpr int kDim = 512;

void run(int n, int queries, bool clustered) {
  std::mt19937 rng(42);
  std::normal_distribution<float> nd;
  std::vector<float> x(static_cast<size_t>(n) * kDim);
  std::vector<float> centre(kDim);
  for (int i = 0; i < n; ++i) {
    float* r = &x[static_cast<size_t>(i) * kDim];
    if (clustered && i % 100 == 0)
      for (float& c : centre) c = nd(rng);
    double ss = 0;
    for (int j = 0; j < kDim; ++j) {
      r[j] = clustered ? centre[j] + 0.3f * nd(rng) : nd(rng);
      ss += double(r[j]) * r[j];
    }
    for (int j = 0; j < kDim; ++j) r[j] = static_cast<float>(r[j] / std::sqrt(ss));
  }
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), 1);

  sa::VectorIndex index(kDim);
  auto t0 = Clock::now();
  for (int b = 0; b < n; b += 4096) {
    const int m = std::min(4096, n - b);
    auto st = index.add(std::span<const int64_t>(ids.data() + b, m),
                        std::span<const float>(x.data() + static_cast<size_t>(b) * kDim, static_cast<size_t>(m) * kDim));
    if (!st.ok()) {
      std::fprintf(stderr, "add: %s\n", st.to_string().c_str());
      return;
    }
  }
  const double add_s = since(t0);
  const std::string path = (std::filesystem::temp_directory_path() / ("sa_bench_index_" + std::to_string(getpid()))).string();
  t0 = Clock::now();
  (void)index.save(path, {"m", kDim, {}});
  const double save_s = since(t0);
  t0 = Clock::now();
  auto loaded = sa::VectorIndex::load(path);
  const double load_s = since(t0);
  std::filesystem::remove(path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "load: %s\n", loaded.status().to_string().c_str());
    return;
  }
  loaded->first.reset();

  std::vector<double> t16, t16raw, t32;
  int overlap_rerank = 0, overlap_raw = 0, identical_rerank = 0;
  std::vector<float> scores(static_cast<size_t>(n));
  for (int t = 0; t < queries; ++t) {
    std::vector<float> q(kDim);
    // A query near a stored vector (as a real query is near its matches).
    const float* near = &x[static_cast<size_t>(rng() % n) * kDim];
    for (int j = 0; j < kDim; ++j) q[j] = near[j] + 0.05f * nd(rng);
    double qs = 0;
    for (float v : q) qs += double(v) * v;
    for (float& v : q) v = static_cast<float>(v / std::sqrt(qs));

    t0 = Clock::now();
    sa::matmul_xwt(q.data(), 1, x.data(), n, kDim, scores.data());
    std::vector<int> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 10, order.end(),
                      [&](int a, int b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
    t32.push_back(since(t0) * 1e3);
    std::vector<int64_t> ref;
    for (int i = 0; i < 10; ++i) ref.push_back(ids[static_cast<size_t>(order[i])]);

    index.set_exact_lookup({});
    t0 = Clock::now();
    auto raw = index.search(q, 10);
    t16raw.push_back(since(t0) * 1e3);
    index.set_exact_lookup([&](int64_t id, std::span<float> out) {
      std::memcpy(out.data(), &x[static_cast<size_t>(id - 1) * kDim], kDim * sizeof(float));
      return true;
    });
    t0 = Clock::now();
    auto got = index.search(q, 10);
    t16.push_back(since(t0) * 1e3);
    if (!got.ok() || !raw.ok()) return;
    bool same = got->size() == 10;
    for (int i = 0; i < 10 && i < static_cast<int>(got->size()); ++i) {
      same = same && (*got)[i].id == ref[i];
      overlap_rerank += std::count(ref.begin(), ref.end(), (*got)[i].id) > 0;
      overlap_raw += std::count(ref.begin(), ref.end(), (*raw)[i].id) > 0;
    }
    identical_rerank += same;
  }
  std::printf(
      "{\"n\":%d,\"data\":\"%s\",\"queries\":%d,\"fp16_rerank_p50_ms\":%.2f,\"fp16_rerank_p99_ms\":%.2f,"
      "\"fp16_only_p50_ms\":%.2f,\"fp32_scan_p50_ms\":%.2f,\"fp32_scan_p99_ms\":%.2f,"
      "\"top10_overlap_rerank\":%.4f,\"top10_identical_order_rerank\":%d,\"top10_overlap_fp16_only\":%.4f,"
      "\"index_mb\":%.1f,\"fp32_mb\":%.1f,\"add_s\":%.2f,\"save_s\":%.2f,\"load_s\":%.2f,\"peak_rss_mb\":%ld}\n",
      n, clustered ? "clustered" : "random", queries, percentile(t16, 0.5), percentile(t16, 0.99),
      percentile(t16raw, 0.5), percentile(t32, 0.5), percentile(t32, 0.99),
      overlap_rerank / (10.0 * queries), identical_rerank, overlap_raw / (10.0 * queries),
      index.memory_bytes() / 1048576.0, static_cast<double>(x.size()) * 4 / 1048576.0, add_s, save_s, load_s,
      peak_rss_mb());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {100000};
  int queries = 50;
  bool clustered = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--sizes=", 8) == 0) {
      sizes.clear();
      for (const char* p = argv[i] + 8; *p;) {
        sizes.push_back(std::atoi(p));
        const char* c = std::strchr(p, ',');
        if (!c) break;
        p = c + 1;
      }
    } else if (std::strncmp(argv[i], "--queries=", 10) == 0) {
      queries = std::max(1, std::atoi(argv[i] + 10));
    } else if (std::strcmp(argv[i], "--clustered") == 0) {
      clustered = true;
    }
  }
  for (int n : sizes) run(n, queries, clustered);
  return 0;
}
