#include "search/types.h"

#include <ostream>

namespace sa {

std::string_view to_string(SearchMode m) {
  switch (m) {
    case SearchMode::kClip: return "clip";
    case SearchMode::kHybrid: return "hybrid";
  }
  return "?";  // only for a value cast from an out-of-range integer
}

std::optional<SearchMode> parse_search_mode(std::string_view s) {
  for (SearchMode m : {SearchMode::kClip, SearchMode::kHybrid})
    if (to_string(m) == s) return m;
  return std::nullopt;
}

std::ostream& operator<<(std::ostream& os, SearchMode m) { return os << to_string(m); }

}  // namespace sa
