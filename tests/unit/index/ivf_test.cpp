// The IVF layout of VectorIndex (issue 16): on random and on clustered vectors
// its results equal the flat scan's (recall@10 1.0, asserted >= 0.98 per the
// issue and exactly equal here, since the cap bound makes it exact), it skips
// lists on clustered data, filters stay exact, writes after the layout (tail,
// holes, replaced vectors) are searched correctly, and the layout survives a
// save/load.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <set>
#include <vector>

#include "index/vector_index.h"
#include "ivf_test_data.h"

namespace sa {
namespace {

constexpr int kDim = 64;

using Data = test::TestVectors;
using test::ids_of;
using test::overlap;

// n vectors: random (clusters 0), or `clusters` centres with members at cosine ~0.95 to them.
Data make_data(int n, int clusters, uint32_t seed) {
  return test::make_vectors(kDim, n, clusters > 0 ? n / clusters : 0, seed, 1000, 3);
}

// A query near a stored vector (cosine ~0.7), as a text query near its photos.
std::vector<float> near_query(const Data& d, std::mt19937& rng) { return test::near_query(d, rng, 0.12f); }

struct Pair {
  VectorIndex flat{kDim}, ivf{kDim};
  explicit Pair(const Data& d, int lists = 0) {
    EXPECT_TRUE(flat.add(d.ids, d.vecs).ok());
    EXPECT_TRUE(ivf.add(d.ids, d.vecs).ok());
    IvfOptions opt;
    opt.lists = lists;
    EXPECT_TRUE(ivf.build_ivf(opt).ok());
  }
};

// recall@10 of the IVF search against the flat scan, and the share of vectors scanned.
std::pair<double, double> measure(const Pair& p, const Data& d, int queries, const IdFilter& filter = {}) {
  std::mt19937 rng(99);
  double recall = 0, scanned = 0;
  for (int t = 0; t < queries; ++t) {
    auto q = near_query(d, rng);
    SearchStats st;
    auto a = ids_of(p.ivf.search(q, 10, filter, &st));
    auto b = ids_of(p.flat.search(q, 10, filter));
    EXPECT_EQ(a, b) << "query " << t;  // exact, same order
    recall += overlap(a, b);
    scanned += static_cast<double>(st.scanned) / static_cast<double>(d.ids.size());
  }
  return {recall / queries, scanned / queries};
}

TEST(Ivf, BuildsListsAndKeepsEveryVector) {
  Data d = make_data(3000, 30, 1);
  Pair p(d, 40);
  IvfInfo info = p.ivf.ivf_info();
  EXPECT_TRUE(info.active);
  EXPECT_EQ(info.lists, 40);
  EXPECT_EQ(info.tail, 0);
  EXPECT_EQ(p.ivf.size(), 3000);
  EXPECT_EQ(p.ivf.ids(), p.flat.ids());
  EXPECT_FALSE(p.flat.ivf_info().active);
}

TEST(Ivf, RecallOnRandomVectors) {
  Data d = make_data(4000, 0, 2);
  Pair p(d);
  auto [recall, scanned] = measure(p, d, 30);
  EXPECT_GE(recall, 0.98);
  EXPECT_GT(scanned, 0.0);
}

TEST(Ivf, RecallOnClusteredVectorsAndSkipsLists) {
  Data d = make_data(6000, 60, 3);
  Pair p(d, 60);
  auto [recall, scanned] = measure(p, d, 30);
  EXPECT_GE(recall, 0.98);
  // The point of the layout: on structured data most lists are never read.
  EXPECT_LT(scanned, 0.5);
}

TEST(Ivf, FiltersStayExact) {
  Data d = make_data(6000, 60, 4);
  Pair p(d, 60);
  std::set<int64_t> album;
  for (size_t i = 0; i < d.ids.size(); i += 37) album.insert(d.ids[i]);
  const std::vector<IdFilter> filters = {
      [](int64_t id) { return id % 7 == 0; },                       // "favourite"
      [](int64_t id) { return id >= 4000 && id < 9000; },          // a date range (ids in time order)
      [&album](int64_t id) { return album.count(id) > 0; },         // an album of 163 photos
      [](int64_t id) { return id == 1000 + 3 * 5999; },             // one photo
      [](int64_t) { return false; },                                // nothing
  };
  for (size_t f = 0; f < filters.size(); ++f) {
    auto [recall, scanned] = measure(p, d, 15, filters[f]);
    EXPECT_GE(recall, 0.98) << "filter " << f;
    std::mt19937 rng(7);
    auto q = near_query(d, rng);
    auto r = p.ivf.search(q, 10, filters[f]);
    ASSERT_TRUE(r.ok());
    for (const auto& h : *r) EXPECT_TRUE(filters[f](h.id)) << "filter " << f;
  }
}

TEST(Ivf, WritesAfterTheLayoutAreSearched) {
  Data d = make_data(5000, 50, 5);
  Pair p(d, 50);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  // Remove a tenth, replace a tenth with far-away vectors (they must leave
  // their list, whose cap would not hold them), add new ones.
  std::vector<int64_t> gone;
  for (size_t i = 0; i < d.ids.size(); i += 10) gone.push_back(d.ids[i]);
  ASSERT_EQ(*p.ivf.remove(gone), static_cast<int64_t>(gone.size()));
  ASSERT_EQ(*p.flat.remove(gone), static_cast<int64_t>(gone.size()));
  std::vector<int64_t> changed;
  std::vector<float> cv;
  for (size_t i = 5; i < d.ids.size(); i += 10) {
    changed.push_back(d.ids[i]);
    for (int j = 0; j < kDim; ++j) cv.push_back(nd(rng));
  }
  ASSERT_TRUE(p.ivf.add(changed, cv).ok());
  ASSERT_TRUE(p.flat.add(changed, cv).ok());
  std::vector<int64_t> fresh;
  std::vector<float> fv;
  for (int i = 0; i < 300; ++i) {
    fresh.push_back(100000 + i);
    for (int j = 0; j < kDim; ++j) fv.push_back(nd(rng));
  }
  ASSERT_TRUE(p.ivf.add(fresh, fv).ok());
  ASSERT_TRUE(p.flat.add(fresh, fv).ok());
  EXPECT_EQ(p.ivf.size(), p.flat.size());
  EXPECT_EQ(p.ivf.ids(), p.flat.ids());
  IvfInfo info = p.ivf.ivf_info();
  EXPECT_EQ(info.tail, static_cast<int64_t>(changed.size() + fresh.size()));
  for (int t = 0; t < 20; ++t) {
    // Queries near the new and the replaced vectors, and near old ones.
    std::vector<float> q(kDim);
    if (t % 2 == 0) {
      const float* src = (t % 4 == 0 ? fv.data() + (t * 7 % 300) * kDim : cv.data() + (t * 3 % changed.size()) * kDim);
      for (int j = 0; j < kDim; ++j) q[j] = src[j] + 0.2f * nd(rng);
    } else {
      q = near_query(d, rng);
    }
    EXPECT_EQ(ids_of(p.ivf.search(q, 10)), ids_of(p.flat.search(q, 10))) << t;
  }
  for (int64_t id : gone) EXPECT_FALSE(p.ivf.contains(id));
  // Rebuilding folds the tail and the holes back into lists.
  ASSERT_TRUE(p.ivf.build_ivf().ok());
  info = p.ivf.ivf_info();
  EXPECT_EQ(info.tail, 0);
  EXPECT_EQ(p.ivf.ids(), p.flat.ids());
  auto q = near_query(d, rng);
  EXPECT_EQ(ids_of(p.ivf.search(q, 10)), ids_of(p.flat.search(q, 10)));
  // And dropping it gives the flat layout with no holes.
  p.ivf.drop_ivf();
  info = p.ivf.ivf_info();
  EXPECT_FALSE(info.active);
  EXPECT_EQ(info.holes, 0);
  EXPECT_EQ(ids_of(p.ivf.search(q, 10)), ids_of(p.flat.search(q, 10)));
  // Flat again: remove swaps the last vector in, which must still work.
  ASSERT_EQ(*p.ivf.remove(std::vector<int64_t>{fresh[0]}), 1);
  ASSERT_EQ(*p.flat.remove(std::vector<int64_t>{fresh[0]}), 1);
  EXPECT_EQ(ids_of(p.ivf.search(q, 10)), ids_of(p.flat.search(q, 10)));
}

TEST(Ivf, SavedAndLoadedWithItsLists) {
  Data d = make_data(3000, 30, 6);
  Pair p(d, 30);
  std::vector<int64_t> gone = {d.ids[3], d.ids[100], d.ids[2999]};
  ASSERT_TRUE(p.ivf.remove(gone).ok());
  ASSERT_TRUE(p.flat.remove(gone).ok());
  const auto dir = std::filesystem::temp_directory_path() / ("sa_ivf_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "clip.idx").string();
  IndexMeta meta;
  meta.model = "m";
  meta.dim = kDim;
  meta.fingerprint.count = p.ivf.size();
  ASSERT_TRUE(p.ivf.save(path, meta).ok());
  auto loaded = VectorIndex::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  VectorIndex& li = *loaded->first;
  EXPECT_TRUE(li.ivf_info().active);
  EXPECT_EQ(li.ivf_info().lists, 30);
  EXPECT_EQ(li.ivf_info().holes, p.ivf.ivf_info().holes);
  EXPECT_EQ(li.size(), 2997);
  EXPECT_EQ(li.ids(), p.flat.ids());
  std::mt19937 rng(3);
  for (int t = 0; t < 10; ++t) {
    auto q = near_query(d, rng);
    EXPECT_EQ(ids_of(li.search(q, 10)), ids_of(p.flat.search(q, 10)));
  }
  std::filesystem::remove_all(dir);
}

TEST(Ivf, DeepPagesAndSmallLibraries) {
  // k larger than a list, and libraries smaller than the list count asked for.
  Data d = make_data(500, 5, 8);
  Pair p(d, 64);
  std::mt19937 rng(5);
  auto q = near_query(d, rng);
  EXPECT_EQ(ids_of(p.ivf.search(q, 300)), ids_of(p.flat.search(q, 300)));
  EXPECT_EQ(ids_of(p.ivf.search(q, 1000)).size(), 500u);
  VectorIndex tiny(kDim);
  Data t = make_data(3, 0, 9);
  ASSERT_TRUE(tiny.add(t.ids, t.vecs).ok());
  ASSERT_TRUE(tiny.build_ivf().ok());
  EXPECT_EQ(ids_of(tiny.search(near_query(t, rng), 10)).size(), 3u);
  VectorIndex empty(kDim);
  ASSERT_TRUE(empty.build_ivf().ok());
  EXPECT_FALSE(empty.ivf_info().active);
}

}  // namespace
}  // namespace sa
