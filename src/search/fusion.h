// Hybrid ranking: fuses CLIP similarity, description similarity and keyword match
// into one score. Pure functions (no I/O); the formula is documented in docs/search.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sa {

struct FusionWeights {
  float w_clip = 1.0f;  // calibrated CLIP similarity, in [0,1]
  float w_desc = 0.8f;  // calibrated description similarity, in [0,1]
  float w_kw = 2.0f;    // keyword match, in [0,1]; > w_clip + w_desc so a full match wins
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
// set, then score = w_clip*clip_n + w_desc*desc_n + w_kw*kw (desc_n = 0 without a
// description). Returns candidates sorted by score, highest first; ties keep the
// higher raw CLIP cosine first, then the lower id.
std::vector<FusedScore> fuse_scores(const std::vector<FusionCandidate>& cands,
                                    const FusionWeights& w = {});

// Keyword match strength of a query against a photo's text (description, keywords,
// file name), in [0,1]: 1 when the whole query (whitespace removed, case folded for
// ASCII) occurs in the text; otherwise the fraction of the query's whitespace-
// separated terms that occur, scaled by 0.9 so a partial match never equals a full one.
float keyword_score(std::string_view query, std::string_view text);

}  // namespace sa
