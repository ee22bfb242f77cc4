// SearchMode <-> string (search/types.h): both values both ways, unknown refused.
#include <gtest/gtest.h>

#include <sstream>

#include "search/types.h"

namespace sa {
namespace {

TEST(SearchTypes, ModeStrings) {
  for (auto [m, name] : {std::pair{SearchMode::kClip, "clip"}, std::pair{SearchMode::kHybrid, "hybrid"}}) {
    EXPECT_EQ(to_string(m), name);
    ASSERT_TRUE(parse_search_mode(name).has_value()) << name;
    EXPECT_EQ(*parse_search_mode(name), m);
    std::ostringstream os;
    os << m;
    EXPECT_EQ(os.str(), name);
  }
  for (const char* unknown : {"", "magic", "CLIP", "Hybrid", " clip", "clip "})
    EXPECT_FALSE(parse_search_mode(unknown).has_value()) << "'" << unknown << "'";
  EXPECT_EQ(SearchOptions{}.mode, SearchMode::kClip);
}

}  // namespace
}  // namespace sa
