// The relevance `score` of a search hit: raw similarities mapped onto [0,1] so
// that a number means the same in CLIP and hybrid mode and one cut-off
// (min_score) works for both. Pure functions; docs/search.md "Scores" has the
// reasoning and the measurements behind the defaults.
#pragma once

#include <optional>

#include "search/types.h"  // ScoreCalibration

namespace sa {

// clamp((cosine - floor) / (ceiling - floor), 0, 1); a ceiling not above the
// floor makes it a step at the floor.
float calibrated(float cosine, float floor, float ceiling);

// CLIP mode: the calibrated text-image cosine.
float clip_relevance(float clip_cosine, const ScoreCalibration& c);

// Hybrid mode: 1 - (1 - r_clip)(1 - r_desc)(1 - r_kw) with r_desc the calibrated
// description cosine (0 without one) and r_kw = keyword_full * keyword match.
// Equals clip_relevance() when the photo has neither description nor keyword match.
float hybrid_relevance(float clip_cosine, std::optional<float> desc_cosine, float keyword,
                       const ScoreCalibration& c);

}  // namespace sa
