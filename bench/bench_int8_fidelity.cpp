// INT8 against fp32 on real photos (issue 15's fidelity targets): the
// full-size random ViT-B-16 + RoBERTa-base (bench_int8's weights, seed 2024,
// encoder projections rounded to fp16 as released), every photo under
// ../shared/testdata/real-photos (recursive: 300 JPEG/PNG, decoded and
// preprocessed exactly as an import does), and 50 Flickr30k-CN captions as
// search queries.
//
// Prints one JSON line: per-photo cosine of the INT8 to the fp32 image
// embedding (median, 1st percentile, minimum; targets: median >= 0.995,
// min >= 0.99), the same for the 50 query embeddings, and the top-10 search
// overlap per query (each precision's query against its own photo vectors;
// target >= 9 of 10 for every query), plus each pass's images/s (the machine
// is shared: only a rough figure). Slow: two full towers over 300 photos.
//
// Env: SA_FIDELITY_PHOTOS (directory, default ../shared/testdata/real-photos
// beside the source tree), SA_FIDELITY_LIMIT (first n photos only).
// Run: build/bench/bench_int8_fidelity
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "image/clip_preprocess.h"
#include "image/image.h"
#include "model/blas_setup.h"
#include "model/chinese_clip.h"
#include "model/clip_loader.h"
#include "model/random_weights.h"

namespace fs = std::filesystem;

namespace {

constexpr int kQueries = 50;
constexpr int kTopK = 10;

struct Pass {
  std::vector<float> img, txt;  // L2-normalised rows
  double images_per_s = 0;
  std::string check;
};

Pass run(sa::Precision p, const std::vector<float>& pixels, int n_img,
         const std::vector<std::string>& queries) {
  auto spec = sa::clip_arch_spec("ViT-B-16");
  sa::ClipWeights w = sa::random_clip_weights(spec->vision, spec->text, spec->embed_dim, 2024);
  sa::round_bert_to_fp16(w.text);
  auto clip = sa::ChineseClip::from_weights(std::move(w), p);
  if (!clip.ok()) {
    std::fprintf(stderr, "model: %s\n", clip.status().to_string().c_str());
    std::exit(1);
  }
  const sa::ChineseClip& c = **clip;
  const int e = c.embed_dim();
  Pass out;
  out.check = c.int8_check().summary();
  out.img.resize(static_cast<size_t>(n_img) * e);
  const size_t per = 3 * static_cast<size_t>(c.image_resolution()) * c.image_resolution();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n_img; i += 8) {
    const int m = std::min(8, n_img - i);
    if (!c.encode_images(pixels.data() + i * per, m, out.img.data() + static_cast<size_t>(i) * e).ok()) std::exit(1);
  }
  out.images_per_s = n_img / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<std::vector<int32_t>> ids;
  for (const std::string& q : queries) ids.push_back(c.tokenize(q));
  out.txt.resize(ids.size() * e);
  if (!c.encode_texts(ids, out.txt.data()).ok()) std::exit(1);
  sa::l2_normalize_rows(out.img.data(), n_img, e);
  sa::l2_normalize_rows(out.txt.data(), static_cast<int>(ids.size()), e);
  return out;
}

std::vector<double> row_cosines(const std::vector<float>& a, const std::vector<float>& b, int d) {
  std::vector<double> out(a.size() / d);
  for (size_t i = 0; i < out.size(); ++i) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += static_cast<double>(a[i * d + j]) * b[i * d + j];
    out[i] = s;  // rows are unit length
  }
  return out;
}

std::vector<int> top_k(const float* q, const std::vector<float>& img, int n, int d, int k) {
  std::vector<std::pair<double, int>> s(n);
  for (int i = 0; i < n; ++i) {
    double v = 0;
    for (int j = 0; j < d; ++j) v += static_cast<double>(q[j]) * img[static_cast<size_t>(i) * d + j];
    s[i] = {-v, i};
  }
  std::partial_sort(s.begin(), s.begin() + k, s.end());
  std::vector<int> out(k);
  for (int i = 0; i < k; ++i) out[i] = s[i].second;
  return out;
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

}  // namespace

int main(int, char** argv) {
  sa::reexec_for_blas_kernels(argv);
  if (!sa::image_init().ok()) return 1;
  const char* env_dir = std::getenv("SA_FIDELITY_PHOTOS");
  // ../shared beside the checkout (or beside the worktrees' parent).
  std::string dir = env_dir ? env_dir : "";
  for (const char* up : {"/../../../shared/testdata/real-photos", "/../../../../shared/testdata/real-photos"}) {
    std::error_code e;
    if (dir.empty() && fs::is_directory(std::string(SA_TEST_DATA) + up, e)) dir = std::string(SA_TEST_DATA) + up;
  }
  const int limit = std::getenv("SA_FIDELITY_LIMIT") ? std::atoi(std::getenv("SA_FIDELITY_LIMIT")) : 1 << 30;
  std::vector<std::string> files;
  std::vector<std::string> queries;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".jpg" || ext == ".png" || ext == ".jpeg")) {
      files.push_back(e.path().string());
    }
    if (e.path().filename() == "eval_captions.json") {
      auto bytes = sa::read_file(e.path().string());
      if (!bytes.ok()) return 1;
      const nlohmann::json j = nlohmann::json::parse(*bytes);
      std::vector<std::string> keys;
      for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
      std::sort(keys.begin(), keys.end());
      for (const std::string& k : keys) {
        if (static_cast<int>(queries.size()) < kQueries && !j[k].empty()) queries.push_back(j[k][0]);
      }
    }
  }
  std::sort(files.begin(), files.end());
  if (static_cast<int>(files.size()) > limit) files.resize(limit);
  if (files.empty() || queries.empty()) {
    std::fprintf(stderr, "no photos or captions under %s\n", dir.c_str());
    return 1;
  }
  const int res = 224;
  const size_t per = 3 * static_cast<size_t>(res) * res;
  std::vector<float> pixels(files.size() * per);
  for (size_t i = 0; i < files.size(); ++i) {
    auto bytes = sa::read_file(files[i]);
    if (!bytes.ok()) return 1;
    auto rgb = sa::decode_rgb(*bytes, {});
    if (!rgb.ok()) {
      std::fprintf(stderr, "%s: %s\n", files[i].c_str(), rgb.status().to_string().c_str());
      return 1;
    }
    const std::vector<float> px = sa::clip_preprocess(*rgb, res);
    std::copy(px.begin(), px.end(), pixels.begin() + i * per);
  }
  const int n = static_cast<int>(files.size());
  std::fprintf(stderr, "%d photos, %zu queries; fp32 pass...\n", n, queries.size());
  const Pass f = run(sa::Precision::kFp32, pixels, n, queries);
  std::fprintf(stderr, "int8 pass...\n");
  const Pass q = run(sa::Precision::kInt8, pixels, n, queries);
  const int d = static_cast<int>(f.img.size() / n);
  const std::vector<double> ci = row_cosines(f.img, q.img, d), ct = row_cosines(f.txt, q.txt, d);
  const int k = std::min(kTopK, n);
  int min_overlap = k, at_least_9 = 0;
  double sum_overlap = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    const std::vector<int> a = top_k(&f.txt[i * d], f.img, n, d, k), b = top_k(&q.txt[i * d], q.img, n, d, k);
    int o = 0;
    for (int x : a) o += std::count(b.begin(), b.end(), x) ? 1 : 0;
    min_overlap = std::min(min_overlap, o);
    at_least_9 += o >= k - 1 ? 1 : 0;
    sum_overlap += o;
  }
  // How close the photos are to each other under this random model: the
  // spread of fp32 image-image cosines (top-10 overlap is harder when all
  // photos look alike to the model).
  std::vector<double> pair;
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; j += 7) {
      double s = 0;
      for (int t = 0; t < d; ++t) s += static_cast<double>(f.img[static_cast<size_t>(i) * d + t]) * f.img[static_cast<size_t>(j) * d + t];
      pair.push_back(s);
    }
  }
  std::printf(
      "{\"photos\":%d,\"queries\":%zu,\"check\":\"%s\","
      "\"image_cosine\":{\"median\":%.6f,\"p01\":%.6f,\"min\":%.6f},"
      "\"query_cosine\":{\"median\":%.6f,\"min\":%.6f},"
      "\"top10_overlap\":{\"min\":%d,\"mean\":%.2f,\"queries_ge_9\":%d},"
      "\"fp32_photo_pair_cosine\":{\"p05\":%.4f,\"median\":%.4f,\"p95\":%.4f},"
      "\"images_per_s\":{\"fp32\":%.2f,\"int8\":%.2f}}\n",
      n, queries.size(), q.check.c_str(), quantile(ci, 0.5), quantile(ci, 0.01),
      *std::min_element(ci.begin(), ci.end()), quantile(ct, 0.5), *std::min_element(ct.begin(), ct.end()),
      min_overlap, sum_overlap / queries.size(), at_least_9, quantile(pair, 0.05), quantile(pair, 0.5),
      quantile(pair, 0.95), f.images_per_s, q.images_per_s);
  return 0;
}
