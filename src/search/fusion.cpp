#include "search/fusion.h"

#include <algorithm>
#include <limits>

namespace sa {
namespace {

// Below this spread the candidates are indistinguishable on a component; they all
// get full credit instead of a 0/0.
constexpr float kMinSpread = 1e-6f;

struct Range {
  float lo = std::numeric_limits<float>::max();
  float hi = std::numeric_limits<float>::lowest();
  void add(float v) { lo = std::min(lo, v); hi = std::max(hi, v); }
  float norm(float v) const {
    if (!(hi - lo > kMinSpread)) return 1.0f;
    return (v - lo) / (hi - lo);
  }
};

}  // namespace

std::vector<FusedScore> fuse_scores(const std::vector<FusionCandidate>& cands,
                                    const FusionWeights& w) {
  Range clip_r, desc_r;
  for (const auto& c : cands) {
    clip_r.add(c.clip);
    if (c.desc) desc_r.add(*c.desc);
  }
  std::vector<FusedScore> out;
  out.reserve(cands.size());
  for (const auto& c : cands) {
    FusedScore f;
    f.id = c.id;
    f.clip = c.clip;
    f.desc = c.desc;
    f.keyword = std::clamp(c.keyword, 0.0f, 1.0f);
    const float clip_n = clip_r.norm(c.clip);
    // Without a description the photo's own CLIP evidence stands in, so it is
    // neither punished nor favoured for not having been described.
    const float desc_n = c.desc ? desc_r.norm(*c.desc) : clip_n;
    const float sem = (w.w_clip * clip_n + w.w_desc * desc_n) / (w.w_clip + w.w_desc);
    f.score = sem + w.w_kw * f.keyword;
    out.push_back(f);
  }
  std::sort(out.begin(), out.end(), [](const FusedScore& a, const FusedScore& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.clip != b.clip) return a.clip > b.clip;
    return a.id < b.id;
  });
  return out;
}

}  // namespace sa
