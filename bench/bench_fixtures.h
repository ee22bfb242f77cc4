// Shared set-up for the album-level benchmarks (bench_album, bench_http):
// a full-size random Chinese-CLIP (ViT-B-16 + RoBERTa-base shapes, from the
// official architecture table) and a data directory filled with n photos and
// random normalised vectors, written straight into the store.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "app/album.h"
#include "core/status.h"
#include "model/chinese_clip.h"
#include "model/clip_loader.h"
#include "model/random_weights.h"
#include "store/store.h"

namespace sa::bench {

inline constexpr int kEmbedDim = 512;

// Queries timed by the search benchmarks (short Chinese descriptions, 5-11 tokens).
inline const std::vector<std::string> kQueries = {"海边的日落", "拿着相机的人", "2023年春节全家福",
                                                  "一只猫", "北京天安门前的合影", "一杯咖啡",
                                                  "雪山下的湖", "生日蛋糕"};

// The q-quantile (0..1) of v by nearest rank.
inline double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
  return v[i];
}
inline constexpr const char* kModelName = "bench-vitb16";

// Built once per process; exits with a message if the weights cannot be made.
// The text encoder's weights are rounded to fp16 values, as in the released
// checkpoints, so the engine keeps its fp16 copy for queries as it does for a
// real model.
inline std::shared_ptr<const ChineseClip> random_vitb16() {
  static std::shared_ptr<const ChineseClip> m = [] {
    Result<ClipArchSpec> spec = clip_arch_spec("ViT-B-16");
    if (!spec.ok()) {
      std::fprintf(stderr, "model: %s\n", spec.status().to_string().c_str());
      std::exit(1);
    }
    ClipWeights w = random_clip_weights(spec->vision, spec->text, spec->embed_dim, 7);
    round_bert_to_fp16(w.text);
    auto r = ChineseClip::from_weights(std::move(w));
    if (!r.ok()) {
      std::fprintf(stderr, "model: %s\n", r.status().to_string().c_str());
      std::exit(1);
    }
    return std::shared_ptr<const ChineseClip>(std::move(*r));
  }();
  return m;
}

// Inserts n synthetic photos with random unit "clip" vectors of kModelName.
inline Status populate_random_album(const std::string& db_path, int n) {
  SA_ASSIGN_OR_RETURN(auto store, Store::open(db_path));
  std::mt19937 rng(42);
  std::normal_distribution<float> nd;
  std::vector<float> v(kEmbedDim);
  for (int i = 0; i < n; ++i) {
    PhotoInfo p;
    char hash[65];
    std::snprintf(hash, sizeof hash, "%064x", i);
    p.hash = hash;
    p.filename = "IMG_" + std::to_string(i) + ".jpg";
    p.folder = "bench/" + std::to_string(i % 100);
    p.mime = "image/jpeg";
    p.status = PhotoStatus::kReady;
    p.taken_at = "2023-01-" + std::to_string(10 + i % 20) + "T10:00:00";
    SA_ASSIGN_OR_RETURN(auto id, store->insert_photo(p));
    float s = 0;
    for (float& x : v) { x = nd(rng); s += x * x; }
    for (float& x : v) x /= std::sqrt(s);
    SA_RETURN_IF_ERROR(store->put_vector(id.id, "clip", kModelName, v));
  }
  return Status::OK();
}

}  // namespace sa::bench
