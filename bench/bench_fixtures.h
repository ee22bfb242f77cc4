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
#include <sqlite3.h>
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
// The store creates the schema; the rows then go in through SQLite directly,
// 50k per transaction with synchronous off (the store's one-row transactions
// took 556 s for 1M rows; this takes about a minute). Photos are dated one
// minute apart over ~2 years, so timeline pages and date filters have work.
inline Status populate_random_album(const std::string& db_path, int n) {
  {
    SA_ASSIGN_OR_RETURN(auto store, Store::open(db_path));
  }
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return Status::IOError("cannot open " + db_path);
  }
  auto exec = [&](const char* sql) -> Status {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "?";
      sqlite3_free(err);
      return Status::Internal(std::string(sql) + ": " + msg);
    }
    return Status::OK();
  };
  sqlite3_stmt* ins_photo = nullptr;
  sqlite3_stmt* ins_vec = nullptr;
  Status st = exec("PRAGMA synchronous=OFF; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536");
  if (st.ok() &&
      (sqlite3_prepare_v2(db,
                          "INSERT INTO photos(hash, filename, folder, mime, taken_at, added_at, status) "
                          "VALUES (?,?,?,'image/jpeg',?,?,'ready')",
                          -1, &ins_photo, nullptr) != SQLITE_OK ||
       sqlite3_prepare_v2(db, "INSERT INTO vectors(photo_id, kind, model, dim, data) VALUES (?,'clip',?,?,?)",
                          -1, &ins_vec, nullptr) != SQLITE_OK)) {
    st = Status::Internal(std::string("prepare: ") + sqlite3_errmsg(db));
  }
  std::mt19937 rng(42);
  std::normal_distribution<float> nd;
  std::vector<float> v(kEmbedDim);
  for (int i = 0; st.ok() && i < n; ++i) {
    if (i % 50000 == 0) {
      st = exec(i == 0 ? "BEGIN" : "COMMIT; BEGIN");
      if (!st.ok()) break;
    }
    char hash[65], taken[32];
    std::snprintf(hash, sizeof hash, "%064x", i);
    // 2023-01-01 plus i minutes (30-day months: synthetic but valid dates).
    const int minutes = i, day = minutes / 1440;
    std::snprintf(taken, sizeof taken, "%04d-%02d-%02dT%02d:%02d:00", 2023 + day / 360, day / 30 % 12 + 1,
                  day % 30 + 1, minutes / 60 % 24, minutes % 60);
    const std::string filename = "IMG_" + std::to_string(i) + ".jpg";
    const std::string folder = "bench/" + std::to_string(i % 100);
    sqlite3_bind_text(ins_photo, 1, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins_photo, 2, filename.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins_photo, 3, folder.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins_photo, 4, taken, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins_photo, 5, "2024-01-01T00:00:00Z", -1, SQLITE_STATIC);
    if (sqlite3_step(ins_photo) != SQLITE_DONE) {
      st = Status::Internal(std::string("insert photo: ") + sqlite3_errmsg(db));
      break;
    }
    sqlite3_reset(ins_photo);
    const int64_t id = sqlite3_last_insert_rowid(db);
    float s = 0;
    for (float& x : v) { x = nd(rng); s += x * x; }
    for (float& x : v) x /= std::sqrt(s);
    sqlite3_bind_int64(ins_vec, 1, id);
    sqlite3_bind_text(ins_vec, 2, kModelName, -1, SQLITE_STATIC);
    sqlite3_bind_int(ins_vec, 3, kEmbedDim);
    sqlite3_bind_blob(ins_vec, 4, v.data(), kEmbedDim * static_cast<int>(sizeof(float)), SQLITE_STATIC);
    if (sqlite3_step(ins_vec) != SQLITE_DONE) {
      st = Status::Internal(std::string("insert vector: ") + sqlite3_errmsg(db));
      break;
    }
    sqlite3_reset(ins_vec);
  }
  if (st.ok() && n > 0) st = exec("COMMIT");
  sqlite3_finalize(ins_photo);
  sqlite3_finalize(ins_vec);
  sqlite3_close(db);
  return st;
}

}  // namespace sa::bench
