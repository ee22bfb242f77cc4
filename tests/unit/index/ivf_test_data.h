// Generated vectors and recall helpers shared by the IVF tests (ivf_test.cpp:
// the exact layout; ivf_probe_test.cpp: the approximate search).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "core/status.h"
#include "index/vector_index.h"

namespace sa::test {

struct TestVectors {
  int dim = 0;
  std::vector<int64_t> ids;
  std::vector<float> vecs;
};

// n vectors of `dim`: random (per_cluster 0: no structure), or groups of
// `per_cluster` around random centres (members at cosine ~0.95 to their
// centre: photos of one event). Ids are first_id, first_id + id_step, ...
inline TestVectors make_vectors(int dim, int n, int per_cluster, uint32_t seed, int64_t first_id = 1,
                                int64_t id_step = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  TestVectors d;
  d.dim = dim;
  std::vector<float> centre(dim);
  for (int i = 0; i < n; ++i) {
    if (per_cluster > 0 && i % per_cluster == 0)
      for (float& x : centre) x = nd(rng);
    d.ids.push_back(first_id + i * id_step);
    for (int j = 0; j < dim; ++j) d.vecs.push_back(per_cluster > 0 ? centre[j] + 0.3f * nd(rng) : nd(rng));
  }
  return d;
}

// A query near a stored vector: that vector normalised plus Gaussian noise of
// `noise` per component (0.09-0.12: cosine ~0.7, as a text query near its photos).
inline std::vector<float> near_query(const TestVectors& d, std::mt19937& rng, float noise) {
  std::uniform_int_distribution<size_t> pick(0, d.ids.size() - 1);
  std::normal_distribution<float> nd;
  const size_t i = pick(rng);
  const size_t dim = static_cast<size_t>(d.dim);
  std::vector<float> q(dim);
  double ss = 0;
  for (size_t j = 0; j < dim; ++j) ss += d.vecs[i * dim + j] * d.vecs[i * dim + j];
  const float inv = static_cast<float>(1 / std::sqrt(ss));
  for (size_t j = 0; j < dim; ++j) q[j] = d.vecs[i * dim + j] * inv + noise * nd(rng);
  return q;
}

inline std::vector<int64_t> ids_of(const Result<std::vector<SearchResult>>& r) {
  std::vector<int64_t> out;
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  if (r.ok())
    for (const auto& h : *r) out.push_back(h.id);
  return out;
}

// Share of `ref` found in `got` (recall of got against the reference ranking);
// an empty reference is matched only by an empty answer.
inline double overlap(const std::vector<int64_t>& got, const std::vector<int64_t>& ref) {
  std::set<int64_t> g(got.begin(), got.end());
  int hit = 0;
  for (int64_t x : ref) hit += g.count(x) ? 1 : 0;
  return ref.empty() ? (got.empty() ? 1.0 : 0.0) : static_cast<double>(hit) / static_cast<double>(ref.size());
}

}  // namespace sa::test
