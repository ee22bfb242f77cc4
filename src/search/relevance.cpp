#include "search/relevance.h"

#include <algorithm>

namespace sa {

float calibrated(float cosine, float floor, float ceiling) {
  if (!(ceiling > floor)) return cosine >= floor ? 1.0f : 0.0f;
  return std::clamp((cosine - floor) / (ceiling - floor), 0.0f, 1.0f);
}

float clip_relevance(float clip_cosine, const ScoreCalibration& c) {
  return calibrated(clip_cosine, c.clip_floor, c.clip_ceiling);
}

float hybrid_relevance(float clip_cosine, std::optional<float> desc_cosine, float keyword,
                       const ScoreCalibration& c) {
  const float r_clip = clip_relevance(clip_cosine, c);
  const float r_desc = desc_cosine ? calibrated(*desc_cosine, c.desc_floor, c.desc_ceiling) : 0.0f;
  const float r_kw = std::clamp(c.keyword_full * keyword, 0.0f, 1.0f);
  return 1.0f - (1.0f - r_clip) * (1.0f - r_desc) * (1.0f - r_kw);
}

}  // namespace sa
