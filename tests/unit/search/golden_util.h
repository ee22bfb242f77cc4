// Reads tests/data/clip/tiny-b16/golden.json and derives expected rankings from
// it (shared by the search, jobs and album tests).
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/file_util.h"

namespace sa::golden {

inline std::string data(const std::string& rel) { return std::string(SA_TEST_DATA) + "/" + rel; }
inline std::string tiny_clip_dir() { return data("clip/tiny-b16/hf-safetensors"); }

struct Item {
  std::string name;  // "pokemon", text for texts
  std::string file;  // images/<file>
  std::vector<float> emb;  // L2-normalised
};

struct Golden {
  std::vector<Item> images, texts;
};

inline std::vector<float> normalized(const nlohmann::json& a) {
  std::vector<float> v = a.get<std::vector<float>>();
  double s = 0;
  for (float x : v) s += double(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(s));
  return v;
}

inline Golden load() {
  Golden g;
  auto txt = read_file(data("clip/tiny-b16/golden.json"));
  if (!txt.ok()) return g;
  auto j = nlohmann::json::parse(*txt);
  for (auto& im : j["images"]) g.images.push_back({im["name"], im["file"], normalized(im["embedding"])});
  for (auto& t : j["texts"]) g.texts.push_back({t["text"], "", normalized(t["embedding"])});
  return g;
}

inline float dot(const std::vector<float>& a, const std::vector<float>& b) {
  float s = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) s += a[i] * b[i];
  return s;
}

// Ordered pairs (better, worse) of image names whose golden cosines with `q`
// differ by more than `margin`: any correct ranking must keep these in order.
inline std::vector<std::pair<std::string, std::string>> separated_pairs(
    const Golden& g, const std::vector<float>& q, float margin, const std::string& exclude = "") {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& a : g.images) {
    for (auto& b : g.images) {
      if (a.name == exclude || b.name == exclude) continue;
      if (dot(q, a.emb) - dot(q, b.emb) > margin) out.emplace_back(a.name, b.name);
    }
  }
  return out;
}

}  // namespace sa::golden
