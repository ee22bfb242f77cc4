// Value types of a search: the options of one query and one ranked hit.
// Header-only; a hit carries the photo row (store/types.h).
#pragma once

#include <optional>
#include <string>

#include "store/types.h"

namespace sa {

struct SearchOptions {
  int limit = 20;
  int offset = 0;
  std::optional<float> min_score;
  std::string mode = "clip";  // "clip" | "hybrid"
  std::string date_from, date_to;  // inclusive, "YYYY-MM-DD" prefix match on taken_at
};

struct SearchHit {
  PhotoInfo photo;
  float score = 0;          // the ranking score
  float clip_score = 0;     // cosine, text->image
  std::optional<float> desc_score;     // cosine, query->description (hybrid)
  std::optional<float> keyword_score;  // FTS5 match strength in [0,1] (hybrid)
};

}  // namespace sa
