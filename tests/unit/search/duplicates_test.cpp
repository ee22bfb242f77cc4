// Near-duplicate grouping: exact (flat range search) and hashed (LSH bands) paths.
#include "search/duplicates.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace sa {
namespace {

constexpr int kDim = 64;

std::vector<float> random_unit(std::mt19937& rng) {
  std::normal_distribution<float> n(0, 1);
  std::vector<float> v(kDim);
  float s = 0;
  for (float& x : v) {
    x = n(rng);
    s += x * x;
  }
  for (float& x : v) x /= std::sqrt(s);
  return v;
}

// v moved towards a random direction so that cos(v, result) is about `cos`.
std::vector<float> near(const std::vector<float>& v, float cos, std::mt19937& rng) {
  std::vector<float> r = random_unit(rng);
  float d = 0;
  for (int i = 0; i < kDim; ++i) d += r[i] * v[i];
  for (int i = 0; i < kDim; ++i) r[i] -= d * v[i];  // orthogonal to v
  float s = 0;
  for (float x : r) s += x * x;
  const float sin = std::sqrt(1 - cos * cos);
  std::vector<float> out(kDim);
  for (int i = 0; i < kDim; ++i) out[i] = cos * v[i] + sin * r[i] / std::sqrt(s);
  return out;
}

struct Set {
  std::vector<int64_t> ids;
  std::vector<float> data;
  void add(int64_t id, const std::vector<float>& v) {
    ids.push_back(id);
    data.insert(data.end(), v.begin(), v.end());
  }
};

TEST(Duplicates, GroupsLinkedPhotosTransitivelyAndLeavesOthersAlone) {
  std::mt19937 rng(7);
  Set s;
  const auto a = random_unit(rng);
  s.add(10, a);
  s.add(11, near(a, 0.99f, rng));
  const auto b = random_unit(rng);
  s.add(20, b);
  const auto b2 = near(b, 0.97f, rng);
  s.add(21, b2);
  s.add(22, near(b2, 0.97f, rng));  // linked to 21, maybe not to 20: one group anyway
  for (int i = 0; i < 30; ++i) s.add(100 + i, random_unit(rng));  // distinct photos
  auto g = group_near_duplicates(s.ids, s.data, kDim, {.threshold = 0.95f});
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  ASSERT_EQ(g->size(), 2u);
  EXPECT_EQ((*g)[0].ids, (std::vector<int64_t>{20, 21, 22}));  // the larger group first
  EXPECT_EQ((*g)[1].ids, (std::vector<int64_t>{10, 11}));
  EXPECT_NEAR((*g)[1].min_similarity, 0.99f, 1e-3);
  EXPECT_GE((*g)[0].min_similarity, 0.95f);

  // A stricter threshold splits them off.
  g = group_near_duplicates(s.ids, s.data, kDim, {.threshold = 0.995f});
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->empty());
}

TEST(Duplicates, PairExactlyAtTheThresholdCounts) {
  Set s;
  std::vector<float> x(kDim, 0), y(kDim, 0);
  x[0] = 1;
  y[0] = 0.5f;
  y[1] = std::sqrt(0.75f);
  s.add(1, x);
  s.add(2, y);
  auto g = group_near_duplicates(s.ids, s.data, kDim, {.threshold = 0.5f});
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->size(), 1u);
  g = group_near_duplicates(s.ids, s.data, kDim, {.threshold = 0.5001f});
  EXPECT_TRUE(g->empty());
}

TEST(Duplicates, HashedSearchFindsTheSameGroupsAsTheExactOne) {
  std::mt19937 rng(11);
  Set s;
  int64_t id = 1;
  std::vector<std::vector<int64_t>> expect;
  for (int c = 0; c < 40; ++c) {
    const auto base = random_unit(rng);
    std::vector<int64_t> members = {id};
    s.add(id++, base);
    for (int k = 0; k < 2; ++k) {
      members.push_back(id);
      s.add(id++, near(base, 0.985f, rng));
    }
    expect.push_back(members);
  }
  for (int i = 0; i < 2000; ++i) s.add(id++, random_unit(rng));
  DuplicateSearchOptions exact{.threshold = 0.95f};
  DuplicateSearchOptions hashed{.threshold = 0.95f, .exact_limit = 100};
  auto ge = group_near_duplicates(s.ids, s.data, kDim, exact);
  auto ga = group_near_duplicates(s.ids, s.data, kDim, hashed);
  ASSERT_TRUE(ge.ok() && ga.ok());
  ASSERT_EQ(ge->size(), 40u);
  for (size_t i = 0; i < ge->size(); ++i) EXPECT_EQ((*ge)[i].ids.size(), 3u);
  // The hashed path may miss a link (rarely), never invent one.
  EXPECT_GE(ga->size(), 38u);
  size_t linked = 0;
  for (const auto& g : *ga) linked += g.ids.size();
  EXPECT_GE(linked, 40u * 3 - 4);
}

TEST(Duplicates, RejectsBadInput) {
  std::vector<int64_t> ids = {1, 2};
  std::vector<float> data(kDim * 2 - 1, 0.1f);
  EXPECT_EQ(group_near_duplicates(ids, data, kDim).status().code(), StatusCode::kInvalidArgument);
  data.resize(kDim * 2, 0.1f);
  EXPECT_EQ(group_near_duplicates(ids, data, kDim, {.threshold = 0}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(group_near_duplicates(ids, data, kDim, {.threshold = 1.5f}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(group_near_duplicates({}, {}, kDim)->empty());
}

}  // namespace
}  // namespace sa
