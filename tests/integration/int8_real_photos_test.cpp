// INT8 against fp32 on real photographs (a handful of ../shared/testdata/
// real-photos, decoded and preprocessed as an import does) with the small
// golden Chinese-CLIP in every checkpoint layout: the load-time self-check
// passes, every photo's INT8 embedding is within cosine 0.99 of its fp32 one
// (median >= 0.995, issue 15's targets), and each caption query finds the same
// best photo in both precisions. bench_int8_fidelity runs the full 300 photos
// on the full-size model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "image/clip_preprocess.h"
#include "image/image.h"
#include "model/chinese_clip.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

const std::string kPhotos = SA_REAL_PHOTOS;
const std::string kClip = std::string(SA_TEST_DATA) + "/clip/tiny-b16";

// Four photos from each set, spread over it.
std::vector<std::string> photo_files() {
  std::vector<std::string> out;
  for (const char* sub : {"flickr30k-cn-cars", "imagenet-samples"}) {
    std::vector<std::string> all;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(kPhotos) / sub, ec)) {
      const std::string ext = e.path().extension().string();
      if (ext == ".jpg" || ext == ".png") all.push_back(e.path().string());
    }
    std::sort(all.begin(), all.end());
    for (size_t i = 0; i < all.size() && i < 4 * 23; i += 23) out.push_back(all[i]);
  }
  return out;
}

std::vector<float> unit(const std::vector<float>& v, int n, int d) {
  std::vector<float> out = v;
  l2_normalize_rows(out.data(), n, d);
  return out;
}

double dot(const float* a, const float* b, int d) {
  double s = 0;
  for (int i = 0; i < d; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

class Int8RealPhotos : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::is_directory(kPhotos)) << "missing " << kPhotos
                                           << " (../shared/testdata/real-photos beside the clone)";
    ASSERT_TRUE(image_init().ok());
  }
};

TEST_P(Int8RealPhotos, CloseToFp32) {
  const std::vector<std::string> files = photo_files();
  ASSERT_EQ(files.size(), 8u);
  auto f32 = ChineseClip::load(kClip + "/" + GetParam(), "", Precision::kFp32);
  auto q8 = ChineseClip::load(kClip + "/" + GetParam(), "", Precision::kInt8);
  ASSERT_TRUE(f32.ok()) << f32.status().to_string();
  ASSERT_TRUE(q8.ok()) << q8.status().to_string();
  ASSERT_EQ((*q8)->precision(), Precision::kInt8) << (*q8)->int8_check().summary();
  const int res = (*f32)->image_resolution(), e = (*f32)->embed_dim();
  const int n = static_cast<int>(files.size());
  std::vector<float> px;
  for (const std::string& f : files) {
    auto bytes = read_file(f);
    ASSERT_TRUE(bytes.ok()) << f;
    auto rgb = decode_rgb(*bytes, {});
    ASSERT_TRUE(rgb.ok()) << f << ": " << rgb.status().to_string();
    const std::vector<float> p = clip_preprocess(*rgb, res);
    px.insert(px.end(), p.begin(), p.end());
  }
  std::vector<float> a(static_cast<size_t>(n) * e), b(a.size());
  ASSERT_TRUE((*f32)->encode_images(px.data(), n, a.data()).ok());
  ASSERT_TRUE((*q8)->encode_images(px.data(), n, b.data()).ok());
  a = unit(a, n, e);
  b = unit(b, n, e);
  std::vector<double> cos;
  for (int i = 0; i < n; ++i) {
    cos.push_back(dot(&a[static_cast<size_t>(i) * e], &b[static_cast<size_t>(i) * e], e));
    EXPECT_GE(cos.back(), 0.99) << files[i];
  }
  std::sort(cos.begin(), cos.end());
  EXPECT_GE((cos[n / 2 - 1] + cos[n / 2]) / 2, 0.995);

  const std::vector<std::string> queries = {"一个人在公共汽车站等公共汽车。", "街上的汽车", "一只狗",
                                            "桌子上的一杯咖啡"};
  for (const std::string& q : queries) {
    std::vector<float> ta(e), tb(e);
    ASSERT_TRUE((*f32)->encode_texts({(*f32)->tokenize(q)}, ta.data()).ok());
    ASSERT_TRUE((*q8)->encode_texts({(*q8)->tokenize(q)}, tb.data()).ok());
    ta = unit(ta, 1, e);
    tb = unit(tb, 1, e);
    EXPECT_GE(dot(ta.data(), tb.data(), e), 0.99) << q;
    int best_a = 0, best_b = 0;
    for (int i = 1; i < n; ++i) {
      if (dot(ta.data(), &a[static_cast<size_t>(i) * e], e) > dot(ta.data(), &a[static_cast<size_t>(best_a) * e], e)) best_a = i;
      if (dot(tb.data(), &b[static_cast<size_t>(i) * e], e) > dot(tb.data(), &b[static_cast<size_t>(best_b) * e], e)) best_b = i;
    }
    EXPECT_EQ(best_a, best_b) << q;
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, Int8RealPhotos,
                         ::testing::Values("clip_cn_tiny-b16.pt", "hf-safetensors", "hf-bin"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string s = p.param;
                           for (char& c : s) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace sa
