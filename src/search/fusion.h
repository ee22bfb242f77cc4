// Hybrid ranking: fuses CLIP similarity, description similarity and keyword match
// into one score. Pure functions (no I/O); the formula is documented in docs/search.md.
// The keyword component comes from the one keyword scorer, store/keyword_score.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/keyword_score.h"  // keyword_score(): FusionCandidate::keyword

namespace sa {

// w_clip and w_desc weigh the two semantic scores against each other (their
// weighted mean is in [0,1]); w_kw must stay > 1 / (1 - 0.5) = 2 so that a full
// keyword match (kw = 1) outranks any partial (kw <= 0.5) or no match.
struct FusionWeights {
  float w_clip = 1.0f;  // calibrated CLIP similarity
  float w_desc = 0.8f;  // calibrated description similarity
  float w_kw = 2.5f;    // keyword match, in [0,1]
};

struct FusionCandidate {
  int64_t id = 0;
  float clip = 0;                // cosine(query text, image), always known
  std::optional<float> desc;     // cosine(query, description); empty = no description vector
  float keyword = 0;             // keyword_score(), in [0,1]
};

struct FusedScore {
  int64_t id = 0;
  float score = 0;
  float clip = 0;
  std::optional<float> desc;
  float keyword = 0;
};

// Min-max calibration of the CLIP and description cosines within the candidate
// set, then
//   score = (w_clip*clip_n + w_desc*desc_n) / (w_clip + w_desc) + w_kw*kw
// where a candidate without a description uses desc_n = clip_n. Returns the
// candidates sorted by score, highest first; ties keep the higher raw CLIP
// cosine first, then the lower id.
std::vector<FusedScore> fuse_scores(const std::vector<FusionCandidate>& cands,
                                    const FusionWeights& w = {});

}  // namespace sa
