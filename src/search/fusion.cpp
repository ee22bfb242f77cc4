#include "search/fusion.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace sa {
namespace {

// Below this spread the candidates are indistinguishable on a component; they all
// get full credit instead of a 0/0.
constexpr float kMinSpread = 1e-6f;
constexpr float kPartialScale = 0.5f;

struct Range {
  float lo = std::numeric_limits<float>::max();
  float hi = std::numeric_limits<float>::lowest();
  void add(float v) { lo = std::min(lo, v); hi = std::max(hi, v); }
  float norm(float v) const {
    if (!(hi - lo > kMinSpread)) return 1.0f;
    return (v - lo) / (hi - lo);
  }
};

std::string fold(std::string_view s, bool drop_space) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (drop_space && (u == ' ' || u == '\t' || u == '\n' || u == '\r')) continue;
    out.push_back(u < 0x80 ? static_cast<char>(std::tolower(u)) : c);
  }
  return out;
}

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

float keyword_score(std::string_view query, std::string_view text) {
  std::string q = fold(query, true);
  if (q.empty() || text.empty()) return 0.0f;
  std::string t = fold(text, true);
  if (t.find(q) != std::string::npos) return 1.0f;
  // Partial credit: whitespace-separated query terms found in the text.
  std::string terms = fold(query, false);
  int n = 0, hit = 0;
  size_t pos = 0;
  while (pos < terms.size()) {
    size_t b = terms.find_first_not_of(" \t\r\n", pos);
    if (b == std::string::npos) break;
    size_t e = terms.find_first_of(" \t\r\n", b);
    if (e == std::string::npos) e = terms.size();
    ++n;
    if (t.find(terms.substr(b, e - b)) != std::string::npos) ++hit;
    pos = e;
  }
  if (n <= 1) return 0.0f;  // a single term was already checked as the whole query
  return kPartialScale * static_cast<float>(hit) / static_cast<float>(n);
}

}  // namespace sa
