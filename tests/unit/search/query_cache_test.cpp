#include "search/query_cache.h"

#include <gtest/gtest.h>

#include <thread>

namespace sa {
namespace {

TEST(QueryCache, ReturnsWhatWasStoredAndCountsHitsAndMisses) {
  QueryCache c(4);
  EXPECT_FALSE(c.get("猫").has_value());
  c.put("猫", {1.0f, 2.0f});
  auto v = c.get("猫");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_FALSE(c.get("狗").has_value());
  EXPECT_EQ(c.hits(), 1);
  EXPECT_EQ(c.misses(), 2);
  // Replacing keeps one entry with the new value.
  c.put("猫", {3.0f});
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(*c.get("猫"), std::vector<float>{3.0f});
}

TEST(QueryCache, DropsTheLeastRecentlyUsed) {
  QueryCache c(2);
  c.put("a", {1});
  c.put("b", {2});
  ASSERT_TRUE(c.get("a"));  // a is now the most recent: b goes next
  c.put("c", {3});
  EXPECT_EQ(c.size(), 2u);
  EXPECT_TRUE(c.get("a"));
  EXPECT_FALSE(c.get("b"));
  EXPECT_TRUE(c.get("c"));
  // Re-putting an entry also makes it the most recent.
  c.put("a", {4});
  c.put("d", {5});
  EXPECT_TRUE(c.get("a"));
  EXPECT_FALSE(c.get("c"));
}

TEST(QueryCache, ZeroCapacityStoresNothing) {
  QueryCache c(0);
  c.put("a", {1});
  EXPECT_EQ(c.size(), 0u);
  EXPECT_FALSE(c.get("a"));
}

TEST(QueryCache, OverlongTextsAreNotKept) {
  QueryCache c(4);
  const std::string at_limit(QueryCache::kMaxTextBytes, 'x');
  const std::string over(QueryCache::kMaxTextBytes + 1, 'x');
  c.put(at_limit, {1});
  c.put(over, {2});
  EXPECT_EQ(c.size(), 1u);
  EXPECT_TRUE(c.get(at_limit));
  EXPECT_FALSE(c.get(over));
}

TEST(QueryCache, ConcurrentUseKeepsItConsistent) {
  QueryCache c(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string key = std::to_string((i * 7 + t) % 16);
        if (auto v = c.get(key)) {
          EXPECT_EQ(v->size(), 1u);
          EXPECT_EQ((*v)[0], static_cast<float>(std::stoi(key)));
        } else {
          c.put(key, {static_cast<float>(std::stoi(key))});
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(c.size(), 8u);
  EXPECT_EQ(c.hits() + c.misses(), 4 * 2000);
}

}  // namespace
}  // namespace sa
