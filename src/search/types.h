// Value types of a search: the options of one query and one ranked hit.
// Header-only; a hit carries the photo row (store/types.h).
#pragma once

#include <iosfwd>
#include <optional>
#include <cstdint>
#include <string>
#include <vector>
#include <string_view>

#include "store/types.h"

namespace sa {

// How raw similarities become a search hit's `score`, a relevance in [0,1] that
// means the same in both modes (docs/search.md "Scores"):
//   clip  r = clamp((cosine - clip_floor) / (clip_ceiling - clip_floor), 0, 1)
//   desc  r = clamp((cosine - desc_floor) / (desc_ceiling - desc_floor), 0, 1)
//   kw    r = keyword_full * keyword match (1 whole query, 0.5 * share of terms)
//   hybrid score = 1 - (1 - r_clip)(1 - r_desc)(1 - r_kw)   (any strong evidence counts)
struct ScoreCalibration {
  float clip_floor = 0.15f, clip_ceiling = 0.40f;
  float desc_floor = 0.40f, desc_ceiling = 0.75f;
  float keyword_full = 0.9f;
};

// How a query is ranked: CLIP alone, or CLIP fused with description similarity
// and keyword matches (docs/search.md).
enum class SearchMode { kClip, kHybrid };

// The one mapping to and from "clip" | "hybrid", for the JSON and CLI edges;
// parse_search_mode gives nullopt for any other string.
std::string_view to_string(SearchMode m);
std::optional<SearchMode> parse_search_mode(std::string_view s);
std::ostream& operator<<(std::ostream& os, SearchMode m);

struct SearchOptions {
  int limit = 20;
  int offset = 0;
  std::optional<float> min_score;  // on `score` (relevance in [0,1])
  ScoreCalibration calibration;
  SearchMode mode = SearchMode::kClip;
  std::string date_from, date_to;  // inclusive, "YYYY-MM-DD" prefix match on taken_at
  bool favorite_only = false;
  int64_t album_id = 0;  // > 0: only photos of this album (NotFound for an unknown album)
  std::string folder;              // "" or a folder: photos in it or below it
  // Whose photos may be found (per-user libraries): applied inside the vector
  // index before its top k and in the keyword query, so another user's photo
  // never takes a place of the user's own.
  OwnerScope scope;
};

struct SearchHit {
  PhotoInfo photo;
  float score = 0;          // relevance in [0,1] (ScoreCalibration); hybrid ranks by its fused score
  float clip_score = 0;     // cosine, text->image
  std::optional<float> desc_score;     // cosine, query->description (hybrid)
  std::optional<float> keyword_score;  // FTS5 match strength in [0,1] (hybrid)
  // Hybrid: what the query hit (search/match_explain.h); empty otherwise.
  std::vector<std::string> matched_keywords, matched_description, matched_text;
};

// A group of near-duplicate photos (GET /api/duplicates).
struct DuplicateGroup {
  std::vector<PhotoInfo> photos;  // the photo to keep first, then the others
  float min_similarity = 1.0f;    // weakest linked pair's cosine in the group
};

}  // namespace sa
