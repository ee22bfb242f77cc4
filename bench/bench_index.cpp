// The vector index alone (issue 16), on N random or clustered unit vectors of
// 512 dimensions held in memory (no SQLite, no model):
//
//   int8 scan      VectorIndex::search, k = 10, exact re-rank from the fp32
//                  copy in memory: ms per query (p50/p99).
//   fp32 scan      matmul_xwt over the fp32 matrix + partial sort, what the
//                  index did before (FAISS flat storage): ms per query.
//   top-10         overlap of the int8 path with the fp32 top 10, with and
//                  without the re-rank (identical expected with it).
//   memory         VectorIndex::memory_bytes() vs the fp32 matrix.
//   build          add() of all N vectors, s; save + load of the index file, s.
//   --ivf          then the IVF layout (build_ivf, --lists=L, default ~sqrt N):
//                  build s, ms per query, recall@10 against the flat search
//                  (no filter, "favourites" id % 7, an "album" of 1 % of the
//                  photos; the album also through search_among), share of
//                  vectors scanned, peak RSS during the build; one line per
//                  stopping rule: --misses=M1,... (expected neighbours left,
//                  ProbeOptions) and --probes=F1,... (hard budgets); default exact.
//   --no-fp32      keep no fp32 copy (3M+ on a small machine): no fp32 scan,
//                  no re-rank (both layouts return int8 scores).
//
// Run: build/bench/bench_index [--sizes=100000,1000000] [--queries=50] [--clustered]
//      [--ivf] [--lists=L] [--misses=0.1,0.3] [--probes=0.05,0.1] [--no-fp32]
// Prints one JSON line per size (and one more per size with --ivf).
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

struct Options {
  int queries = 50;
  bool clustered = false, ivf = false, fp32 = true;
  int lists = 0;
  // IVF stopping rules to measure: --misses=M1,.. (expected misses) and
  // --probes=F1,.. (hard budgets); default: exact only.
  std::vector<sa::ProbeOptions> probes;
};

// Vectors [b, b + m) of the data set, unit rows (the same for every b split).
struct Generator {
  bool clustered;
  std::mt19937 rng{42};
  std::normal_distribution<float> nd;
  std::vector<float> centre = std::vector<float>(kDim);
  int next = 0;
  void fill(float* r) {
    if (clustered && next % 100 == 0)
      for (float& c : centre) c = nd(rng);
    double ss = 0;
    for (int j = 0; j < kDim; ++j) {
      r[j] = clustered ? centre[j] + 0.3f * nd(rng) : nd(rng);
      ss += double(r[j]) * r[j];
    }
    for (int j = 0; j < kDim; ++j) r[j] = static_cast<float>(r[j] / std::sqrt(ss));
    ++next;
  }
};

void run_ivf(sa::VectorIndex& index, int n, const Options& o, const std::vector<std::vector<float>>& qs);

void run(int n, const Options& o) {
  const int queries = o.queries;
  const bool clustered = o.clustered;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  Generator gen{clustered};
  // Without fp32 the data is generated batch by batch and only the queries'
  // sources are kept.
  std::vector<float> x(o.fp32 ? static_cast<size_t>(n) * kDim : 0);
  std::vector<int> sources(static_cast<size_t>(queries));
  for (int& s : sources) s = static_cast<int>(rng() % n);
  std::vector<std::vector<float>> qs(static_cast<size_t>(queries), std::vector<float>(kDim));
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), 1);

  sa::VectorIndex index(kDim);
  auto t0 = Clock::now();
  std::vector<float> batch(4096 * kDim);
  for (int b = 0; b < n; b += 4096) {
    const int m = std::min(4096, n - b);
    float* dst = o.fp32 ? x.data() + static_cast<size_t>(b) * kDim : batch.data();
    for (int i = 0; i < m; ++i) gen.fill(dst + static_cast<size_t>(i) * kDim);
    for (int t = 0; t < queries; ++t) {
      const int s = sources[static_cast<size_t>(t)];
      if (s >= b && s < b + m) std::copy_n(dst + static_cast<size_t>(s - b) * kDim, kDim, qs[static_cast<size_t>(t)].data());
    }
    auto st = index.add(std::span<const int64_t>(ids.data() + b, m),
                        std::span<const float>(dst, static_cast<size_t>(m) * kDim));
    if (!st.ok()) {
      std::fprintf(stderr, "add: %s\n", st.to_string().c_str());
      return;
    }
  }
  const double add_s = since(t0);
  // A query near a stored vector (as a real query is near its matches).
  for (auto& q : qs) {
    double qn = 0;
    for (float& v : q) {
      v += 0.05f * nd(rng);
      qn += double(v) * v;
    }
    for (float& v : q) v = static_cast<float>(v / std::sqrt(qn));
  }
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
  std::vector<float> scores(o.fp32 ? static_cast<size_t>(n) : 0);
  for (int t = 0; t < queries && !o.fp32; ++t) {
    index.set_exact_lookup({});
    t0 = Clock::now();
    auto raw = index.search(qs[static_cast<size_t>(t)], 10);
    t16raw.push_back(since(t0) * 1e3);
    t16.push_back(t16raw.back());
    t32.push_back(0);
  }
  for (int t = 0; t < queries && o.fp32; ++t) {
    const std::vector<float>& q = qs[static_cast<size_t>(t)];

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
      "{\"n\":%d,\"data\":\"%s\",\"queries\":%d,\"int8_rerank_p50_ms\":%.2f,\"int8_rerank_p99_ms\":%.2f,"
      "\"int8_only_p50_ms\":%.2f,\"fp32_scan_p50_ms\":%.2f,\"fp32_scan_p99_ms\":%.2f,"
      "\"top10_overlap_rerank\":%.4f,\"top10_identical_order_rerank\":%d,\"top10_overlap_int8_only\":%.4f,"
      "\"index_mb\":%.1f,\"fp32_mb\":%.1f,\"add_s\":%.2f,\"save_s\":%.2f,\"load_s\":%.2f,\"peak_rss_mb\":%ld}\n",
      n, clustered ? "clustered" : "random", queries, percentile(t16, 0.5), percentile(t16, 0.99),
      percentile(t16raw, 0.5), percentile(t32, 0.5), percentile(t32, 0.99),
      overlap_rerank / (10.0 * queries), identical_rerank, overlap_raw / (10.0 * queries),
      index.memory_bytes() / 1048576.0, static_cast<double>(x.size()) * 4 / 1048576.0, add_s, save_s, load_s,
      peak_rss_mb());
  std::fflush(stdout);
  if (o.ivf) run_ivf(index, n, o, qs);
}

// The IVF layout against the flat layout of the same vectors.
void run_ivf(sa::VectorIndex& index, int n, const Options& o, const std::vector<std::vector<float>>& qs) {
  // The flat answers first (same index, before the layout).
  std::vector<sa::IdFilter> filters = {{}, [](int64_t id) { return id % 7 == 0; },
                                       [](int64_t id) { return (id * 2654435761u) % 100 == 0; }};
  std::vector<std::vector<std::vector<int64_t>>> flat(filters.size());
  std::vector<double> tflat;
  for (size_t f = 0; f < filters.size(); ++f) {
    for (const auto& q : qs) {
      auto t0 = Clock::now();
      auto r = index.search(q, 10, filters[f]);
      if (f == 0) tflat.push_back(since(t0) * 1e3);
      std::vector<int64_t> got;
      if (r.ok())
        for (const auto& h : *r) got.push_back(h.id);
      flat[f].push_back(got);
    }
  }
  sa::IvfOptions io;
  io.lists = o.lists;
  auto t0 = Clock::now();
  auto st = index.build_ivf(io);
  const double build_s = since(t0);
  if (!st.ok()) {
    std::fprintf(stderr, "build_ivf: %s\n", st.to_string().c_str());
    return;
  }
  const long rss_after_build = peak_rss_mb();
  // The 1 % "album" as a sorted id list, for search_among.
  std::vector<int64_t> album;
  for (int64_t id = 1; id <= n; ++id)
    if (filters[2](id)) album.push_back(id);
  for (const sa::ProbeOptions& probe : o.probes) {
    index.set_probe(probe);
    std::vector<double> recall(filters.size() + 1, 0), t_ivf, t_ivf_f, t_among;
    double scanned = 0, lists_scanned = 0;
    int lists = 0;
    for (size_t f = 0; f <= filters.size(); ++f) {
      for (size_t t = 0; t < qs.size(); ++t) {
        sa::SearchStats stats;
        t0 = Clock::now();
        auto r = f < filters.size() ? index.search(qs[t], 10, filters[f], &stats)
                                    : index.search_among(qs[t], 10, album, &stats);
        (f == 0 ? t_ivf : f < filters.size() ? t_ivf_f : t_among).push_back(since(t0) * 1e3);
        if (!r.ok()) return;
        const auto& ref = flat[f < filters.size() ? f : 2][t];
        int hit = 0;
        for (const auto& h : *r) hit += std::count(ref.begin(), ref.end(), h.id) > 0;
        recall[f] += ref.empty() ? 1.0 : static_cast<double>(hit) / static_cast<double>(ref.size());
        if (f == 0) {
          scanned += static_cast<double>(stats.scanned) / n;
          lists_scanned += stats.lists_scanned;
          lists = stats.lists;
        }
      }
    }
    const double nq = static_cast<double>(qs.size());
    std::printf(
        "{\"n\":%d,\"data\":\"%s\",\"layout\":\"ivf\",\"lists\":%d,\"expected_misses\":%.3f,\"probe_fraction\":%.3f,"
        "\"build_s\":%.2f,"
        "\"flat_p50_ms\":%.2f,\"ivf_p50_ms\":%.2f,\"ivf_p99_ms\":%.2f,\"ivf_filtered_p50_ms\":%.2f,"
        "\"among_album1pct_p50_ms\":%.2f,"
        "\"recall10\":%.4f,\"recall10_fav\":%.4f,\"recall10_album1pct\":%.4f,\"recall10_among_album1pct\":%.4f,"
        "\"scanned_frac\":%.4f,\"lists_scanned\":%.1f,\"index_mb\":%.1f,\"peak_rss_mb\":%ld}\n",
        n, o.clustered ? "clustered" : "random", lists, probe.expected_misses, probe.fraction, build_s, percentile(tflat, 0.5),
        percentile(t_ivf, 0.5), percentile(t_ivf, 0.99), percentile(t_ivf_f, 0.5), percentile(t_among, 0.5),
        recall[0] / nq, recall[1] / nq, recall[2] / nq, recall[3] / nq, scanned / nq, lists_scanned / nq,
        index.memory_bytes() / 1048576.0, rss_after_build);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes = {100000};
  Options o;
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
      o.queries = std::max(1, std::atoi(argv[i] + 10));
    } else if (std::strcmp(argv[i], "--clustered") == 0) {
      o.clustered = true;
    } else if (std::strcmp(argv[i], "--ivf") == 0) {
      o.ivf = true;
    } else if (std::strcmp(argv[i], "--no-fp32") == 0) {
      o.fp32 = false;
    } else if (std::strncmp(argv[i], "--probes=", 9) == 0 || std::strncmp(argv[i], "--misses=", 9) == 0) {
      const bool misses = argv[i][2] == 'm';
      for (const char* p = argv[i] + 9; *p;) {
        o.probes.push_back(misses ? sa::ProbeOptions{std::atof(p), 0} : sa::ProbeOptions{0, std::atof(p)});
        const char* c = std::strchr(p, ',');
        if (!c) break;
        p = c + 1;
      }
    } else if (std::strncmp(argv[i], "--lists=", 8) == 0) {
      o.lists = std::atoi(argv[i] + 8);
    }
  }
  if (o.probes.empty()) o.probes.push_back({});
  for (int n : sizes) run(n, o);
  return 0;
}
