// VectorIndex's int8 storage (issue 16): the top k after the exact re-rank is
// the top k of a double-precision scan over the fp32 vectors, on random, on
// tightly clustered (near-duplicate) and on outlier-heavy vectors; without a
// re-rank scores stay within the index's error bound; filters are applied
// before the top k is chosen; chunks grow and shrink across their boundary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>

#include "index/index_impl.h"
#include "index/vector_index.h"

namespace sa {
namespace {

struct Data {
  int dim = 0;
  std::vector<int64_t> ids;
  std::vector<float> x;  // row-major, not normalised
  std::map<int64_t, std::vector<float>> by_id;
};

Data random_data(int n, int dim, uint32_t seed) {
  Data d;
  d.dim = dim;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  d.x.resize(static_cast<size_t>(n) * dim);
  for (float& v : d.x) v = nd(rng);
  for (int i = 0; i < n; ++i) d.ids.push_back(10 + 7 * i);
  return d;
}

// n vectors in n / 50 clusters, each member the centre plus noise of 1/100 of
// its length: scores within a cluster differ by ~1e-3, far below the int8
// error bound.
Data clustered_data(int n, int dim, uint32_t seed) {
  Data d;
  d.dim = dim;
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> centre(static_cast<size_t>(dim));
  d.x.resize(static_cast<size_t>(n) * dim);
  for (int i = 0; i < n; ++i) {
    if (i % 50 == 0)
      for (float& v : centre) v = nd(rng);
    for (int j = 0; j < dim; ++j) d.x[static_cast<size_t>(i) * dim + j] = centre[j] + 0.01f * nd(rng);
    d.ids.push_back(5 + 3 * i);
  }
  return d;
}

void index_rows(Data& d) {
  for (size_t i = 0; i < d.ids.size(); ++i)
    d.by_id[d.ids[i]].assign(d.x.begin() + i * d.dim, d.x.begin() + (i + 1) * d.dim);
}

ExactLookup lookup_of(const Data& d) {
  return [&d](int64_t id, std::span<float> out) {
    auto it = d.by_id.find(id);
    if (it == d.by_id.end()) return false;
    std::copy(it->second.begin(), it->second.end(), out.begin());
    return true;
  };
}

// Brute-force cosine top k in double precision over the rows `keep` allows.
std::vector<std::pair<double, int64_t>> brute_force(const Data& d, const std::vector<float>& q, int k,
                                                    const IdFilter& keep = {}) {
  double qn = 0;
  for (float v : q) qn += double(v) * v;
  qn = std::sqrt(qn);
  std::vector<std::pair<double, int64_t>> ref;
  for (const auto& [id, row] : d.by_id) {
    if (keep && !keep(id)) continue;
    double dot = 0, rn = 0;
    for (int j = 0; j < d.dim; ++j) {
      dot += double(row[j]) * q[j];
      rn += double(row[j]) * row[j];
    }
    ref.push_back({dot / (std::sqrt(rn) * qn), id});
  }
  std::sort(ref.begin(), ref.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  if (static_cast<int>(ref.size()) > k) ref.resize(k);
  return ref;
}

std::vector<float> query_near(const Data& d, size_t row, std::mt19937& rng, float noise) {
  std::normal_distribution<float> nd;
  std::vector<float> q(d.x.begin() + row * d.dim, d.x.begin() + (row + 1) * d.dim);
  for (float& v : q) v += noise * nd(rng);
  return q;
}

void expect_exact_top_k(const char* what, Data& d, int k, int queries, float noise) {
  index_rows(d);
  VectorIndex index(d.dim);
  ASSERT_TRUE(index.add(d.ids, d.x).ok());
  index.set_exact_lookup(lookup_of(d));
  std::mt19937 rng(99);
  for (int t = 0; t < queries; ++t) {
    auto q = query_near(d, rng() % d.ids.size(), rng, noise);
    auto got = index.search(q, k);
    ASSERT_TRUE(got.ok());
    auto ref = brute_force(d, q, k);
    ASSERT_EQ(got->size(), ref.size());
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_EQ((*got)[i].id, ref[i].second) << what << " query " << t << " rank " << i;
      EXPECT_NEAR((*got)[i].score, ref[i].first, 2e-6) << what << " query " << t << " rank " << i;
    }
  }
}

TEST(Int8Rerank, RandomVectorsGiveTheExactTopTen) {
  Data d = random_data(20000, 512, 1);
  expect_exact_top_k("random", d, 10, 20, 3.0f);  // a query loosely near a row
}

TEST(Int8Rerank, NearDuplicateClustersGiveTheExactTopTen) {
  // Members of a cluster score within ~1e-3 of each other: int8 alone would
  // swap them; the re-rank must not.
  Data d = clustered_data(20000, 512, 2);
  expect_exact_top_k("clustered", d, 10, 20, 0.002f);
}

// Vectors whose length sits mostly in a few components (as real embeddings
// have "outlier" channels): a per-vector int8 scale set by the largest
// component would round all the others to a few steps. The rotation spreads
// them, so the bound stays as small as for random vectors.
Data outlier_data(int n, int dim, uint32_t seed) {
  Data d = random_data(n, dim, seed);
  for (int i = 0; i < n; ++i) {
    float* row = d.x.data() + static_cast<size_t>(i) * dim;
    row[3] += 40.0f;  // ~0.87 of every vector's length in two components
    row[dim - 2] -= 25.0f;
  }
  return d;
}

void expect_scores_within_bound(Data& d, float max_bound) {
  index_rows(d);
  VectorIndex index(d.dim);
  ASSERT_TRUE(index.add(d.ids, d.x).ok());
  std::mt19937 rng(4);
  const float bound = index.error_bound();
  EXPECT_GT(bound, 1e-4f);
  EXPECT_LT(bound, max_bound);
  double worst = 0;
  for (int t = 0; t < 10; ++t) {
    auto q = query_near(d, rng() % d.ids.size(), rng, 0.5f);
    auto got = index.search(q, 20);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 20u);
    for (const auto& h : *got) {
      auto ref = brute_force(d, q, 1, [&](int64_t id) { return id == h.id; });
      EXPECT_NEAR(h.score, ref[0].first, bound);
      worst = std::max(worst, std::fabs(h.score - ref[0].first));
    }
  }
  EXPECT_GT(worst, 0.0);  // the int8 scores really are approximate without a lookup
}

TEST(Int8Rerank, WithoutLookupScoresStayWithinTheBound) {
  // 256-d: half a step of 1/127 of the largest (~3.5 / 16) component in each
  // of 256 components, RMS over a uniform rounding: ~0.006.
  Data d = clustered_data(5000, 256, 3);
  expect_scores_within_bound(d, 0.012f);
}

TEST(Int8Rerank, OutlierComponentsKeepTheBoundSmall) {
  // Unrotated, the largest component (~0.87) would set a step of ~0.007 and
  // the error would be ~0.06; rotated it is that of random vectors.
  Data d = outlier_data(5000, 256, 8);
  expect_scores_within_bound(d, 0.012f);
}

TEST(Int8Rerank, OutlierVectorsGiveTheExactTopTen) {
  Data d = outlier_data(20000, 512, 9);
  expect_exact_top_k("outlier", d, 10, 20, 0.5f);
}

TEST(Int8Rerank, RotationKeepsLengthsAndScores) {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  for (int dim : {1, 2, 3, 100, 512, 768, 1000}) {
    std::vector<float> a(static_cast<size_t>(dim)), b(static_cast<size_t>(dim));
    for (float& v : a) v = nd(rng);
    for (float& v : b) v = nd(rng);
    double dot = 0, aa = 0;
    for (int j = 0; j < dim; ++j) {
      dot += double(a[j]) * b[j];
      aa += double(a[j]) * a[j];
    }
    std::vector<float> ra(a), rb(b);
    index_internal::rotate(ra.data(), dim);
    index_internal::rotate(rb.data(), dim);
    double rdot = 0, raa = 0;
    for (int j = 0; j < dim; ++j) {
      rdot += double(ra[j]) * rb[j];
      raa += double(ra[j]) * ra[j];
    }
    EXPECT_NEAR(raa, aa, 1e-5 * aa) << dim;
    EXPECT_NEAR(rdot, dot, 1e-5 * std::sqrt(aa) * dim) << dim;
    if (dim >= 100) {
      EXPECT_NE(ra, a) << dim;  // it does move the components
    }
    // A one-hot vector is spread over its whole power-of-two block.
    std::vector<float> e(static_cast<size_t>(dim), 0.0f);
    e[0] = 1;
    index_internal::rotate(e.data(), dim);
    int block = 1;
    while (block * 2 <= dim) block *= 2;
    for (int j = 0; j < block; ++j) EXPECT_NEAR(std::fabs(e[j]), 1 / std::sqrt(float(block)), 1e-6) << dim;
  }
}

TEST(Int8Rerank, FilterIsAppliedBeforeTheTopK) {
  // Only every 97th photo qualifies: a top-k-then-filter would find nearly none.
  Data d = random_data(30000, 64, 5);
  index_rows(d);
  VectorIndex index(d.dim);
  ASSERT_TRUE(index.add(d.ids, d.x).ok());
  index.set_exact_lookup(lookup_of(d));
  IdFilter keep = [](int64_t id) { return id % 97 == 0; };
  std::mt19937 rng(6);
  for (int t = 0; t < 10; ++t) {
    auto q = query_near(d, rng() % d.ids.size(), rng, 1.0f);
    auto got = index.search(q, 15, keep);
    ASSERT_TRUE(got.ok());
    auto ref = brute_force(d, q, 15, keep);
    ASSERT_EQ(got->size(), ref.size());
    ASSERT_EQ(ref.size(), 15u);
    for (size_t i = 0; i < ref.size(); ++i) EXPECT_EQ((*got)[i].id, ref[i].second) << "rank " << i;
  }
  // A filter nothing passes gives nothing; one that passes 3 gives those 3.
  std::vector<float> q(d.x.begin(), d.x.begin() + d.dim);
  EXPECT_TRUE(index.search(q, 5, [](int64_t) { return false; })->empty());
  auto three = index.search(q, 5, [&](int64_t id) { return id == d.ids[0] || id == d.ids[1] || id == d.ids[2]; });
  ASSERT_EQ(three->size(), 3u);
  EXPECT_EQ((*three)[0].id, d.ids[0]);
}

TEST(Int8Rerank, ChunksGrowAndShrinkAcrossTheBoundary) {
  // More than one storage chunk; removals move the last vector into holes and
  // drop an emptied chunk; everything is still found, also after save/load.
  const int n = static_cast<int>(VectorIndex::kChunkVectors) + 40;
  Data d = random_data(n, 8, 7);
  index_rows(d);
  VectorIndex index(d.dim);
  ASSERT_TRUE(index.add(d.ids, d.x).ok());
  std::vector<int64_t> gone;
  for (int i = 0; i < 60; ++i) gone.push_back(d.ids[static_cast<size_t>(i * 997 % n)]);
  std::sort(gone.begin(), gone.end());
  gone.erase(std::unique(gone.begin(), gone.end()), gone.end());
  ASSERT_EQ(*index.remove(gone), static_cast<int64_t>(gone.size()));
  for (int64_t id : gone) d.by_id.erase(id);
  EXPECT_EQ(index.size(), static_cast<int64_t>(d.by_id.size()));
  index.set_exact_lookup(lookup_of(d));
  auto check = [&](const VectorIndex& ix) {
    for (int64_t id : {d.ids[1], d.ids[static_cast<size_t>(n / 2)], d.ids[static_cast<size_t>(n - 1)]}) {
      if (!d.by_id.count(id)) continue;
      auto r = ix.search(d.by_id[id], 1);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->size(), 1u);
      EXPECT_EQ((*r)[0].id, id);
    }
    for (int64_t id : gone) EXPECT_FALSE(ix.contains(id));
  };
  check(index);
  auto path = std::filesystem::temp_directory_path() / ("sa_int8_chunks_" + std::to_string(::getpid()) + ".idx");
  ASSERT_TRUE(index.save(path.string(), {"m", 8, {}}).ok());
  auto loaded = VectorIndex::load(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  loaded->first->set_exact_lookup(lookup_of(d));
  EXPECT_EQ(loaded->first->size(), index.size());
  check(*loaded->first);
  // Re-adding the removed ones lands them at the end, across the boundary again.
  Data back;
  back.dim = 8;
  for (int64_t id : gone) {
    back.ids.push_back(id);
    size_t row = static_cast<size_t>((id - 10) / 7);
    back.x.insert(back.x.end(), d.x.begin() + row * 8, d.x.begin() + (row + 1) * 8);
    d.by_id[id].assign(d.x.begin() + row * 8, d.x.begin() + (row + 1) * 8);
  }
  ASSERT_TRUE(index.add(back.ids, back.x).ok());
  EXPECT_EQ(index.size(), n);
  auto r = index.search(d.by_id[gone[0]], 1);
  EXPECT_EQ((*r)[0].id, gone[0]);
}

TEST(IndexStandby, AnswersUntilContentsAreReplaced) {
  VectorIndex index(4);
  int calls = 0;
  index.set_standby(
      [&](std::span<const float> q, int k, const IdFilter& filter) -> Result<std::vector<SearchResult>> {
        ++calls;
        EXPECT_NEAR(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3], 1.0f, 1e-5);  // normalised
        std::vector<SearchResult> out;
        for (int64_t id = 1; id <= k; ++id)
          if (!filter || filter(id)) out.push_back({id, 0.5f});
        return out;
      },
      1234);
  EXPECT_FALSE(index.ready());
  EXPECT_EQ(index.size(), 1234);
  std::vector<float> q = {2, 0, 0, 0};
  auto r = index.search(q, 3, [](int64_t id) { return id != 2; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(calls, 1);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].id, 3);

  VectorIndex loaded(4);
  std::vector<int64_t> ids = {77};
  std::vector<float> v = {1, 0, 0, 0};
  ASSERT_TRUE(loaded.add(ids, v).ok());
  index.replace_contents(std::move(loaded));
  EXPECT_TRUE(index.ready());
  EXPECT_EQ(index.size(), 1);
  r = index.search(q, 3);
  EXPECT_EQ(calls, 1);  // the standby is gone
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].id, 77);
}

}  // namespace
}  // namespace sa
