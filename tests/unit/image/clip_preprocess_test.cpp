// clip_preprocess / resize_bicubic_pil against the official cn_clip goldens.
#include "image/clip_preprocess.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "core/file_util.h"
#include "image/image.h"

namespace sa {
namespace {

const std::string kData = SA_TEST_DATA;
constexpr int kRes = 224;

std::vector<float> read_f32(const std::string& path) {
  auto bytes = read_file(path);
  EXPECT_TRUE(bytes.ok()) << bytes.status().to_string();
  if (!bytes.ok()) return {};
  std::vector<float> v(bytes->size() / 4);
  std::memcpy(v.data(), bytes->data(), v.size() * 4);  // little-endian host
  return v;
}

struct GoldenImage {
  std::string name, file, pixels;
};

std::vector<GoldenImage> golden_images() {
  auto text = read_file(kData + "/clip/tiny-b16/golden.json");
  EXPECT_TRUE(text.ok());
  std::vector<GoldenImage> out;
  if (!text.ok()) return out;
  auto j = nlohmann::json::parse(*text);
  for (const auto& im : j.at("images")) {
    out.push_back({im.at("name"), im.at("file"), im.at("pixels")});
  }
  return out;
}

TEST(ClipPreprocess, MatchesGoldenPixelsForEveryImage) {
  auto goldens = golden_images();
  ASSERT_EQ(goldens.size(), 7u);
  for (const auto& g : goldens) {
    SCOPED_TRACE(g.name);
    auto bytes = read_file(kData + "/images/" + g.file);
    ASSERT_TRUE(bytes.ok());
    auto img = decode_rgb(*bytes, DecodeLimits{});
    ASSERT_TRUE(img.ok()) << img.status().to_string();
    std::vector<float> got = clip_preprocess(*img, kRes);
    std::vector<float> want = read_f32(kData + "/clip/tiny-b16/" + g.pixels);
    ASSERT_EQ(want.size(), size_t{3} * kRes * kRes);
    ASSERT_EQ(got.size(), want.size());
    double max_diff = 0, sum_diff = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      double d = std::fabs(double(got[i]) - want[i]);
      max_diff = std::max(max_diff, d);
      sum_diff += d;
    }
    double mean_diff = sum_diff / want.size();
    // tests/data/README.md tolerances.
    EXPECT_LE(max_diff, 0.02);
    EXPECT_LE(mean_diff, 0.002);
    // PNG decoding is lossless and identical everywhere, so there the resize must be
    // bit-exact with PIL (any off-by-one level would show as ~0.015).
    if (g.file.ends_with(".png")) {
      EXPECT_LE(max_diff, 1e-6) << "PNG input should reproduce PIL exactly";
    }
    std::printf("[ golden ] %-14s max|diff| %.6f mean|diff| %.7f\n", g.name.c_str(), max_diff,
                mean_diff);
  }
}

TEST(ClipPreprocess, NormalisesWithClipMeanAndStd) {
  RgbImage img{2, 2, std::vector<uint8_t>(12, 0)};
  for (int i = 0; i < 4; ++i) {
    img.pixels[i * 3 + 0] = 255;
    img.pixels[i * 3 + 1] = 0;
    img.pixels[i * 3 + 2] = 128;
  }
  auto out = clip_preprocess(img, 3);  // upscaled constant image stays constant
  ASSERT_EQ(out.size(), 27u);
  for (int i = 0; i < 9; ++i) {
    EXPECT_FLOAT_EQ(out[i], (1.0f - 0.48145466f) / 0.26862954f);
    EXPECT_FLOAT_EQ(out[9 + i], (0.0f - 0.4578275f) / 0.26130258f);
    EXPECT_FLOAT_EQ(out[18 + i], (128.0f / 255.0f - 0.40821073f) / 0.27577711f);
  }
}

TEST(ClipPreprocess, RejectsEmptyInput) {
  EXPECT_TRUE(clip_preprocess(RgbImage{}, 224).empty());
  RgbImage bad{4, 4, std::vector<uint8_t>(5)};
  EXPECT_TRUE(clip_preprocess(bad, 224).empty());
  RgbImage ok{1, 1, {1, 2, 3}};
  EXPECT_TRUE(clip_preprocess(ok, 0).empty());
}

// Straightforward double-precision version of the same antialiased bicubic filter,
// written independently of the fixed-point code: the two must agree to one level.
double kernel(double x) {
  x = std::fabs(x);
  if (x < 1) return 1.5 * x * x * x - 2.5 * x * x + 1;
  if (x < 2) return -0.5 * x * x * x + 2.5 * x * x - 4 * x + 2;
  return 0;
}
std::vector<double> ref_resize_1d(const std::vector<double>& in, int out_n) {
  int n = static_cast<int>(in.size());
  double scale = double(n) / out_n, fs = std::max(1.0, scale), support = 2 * fs;
  std::vector<double> out(out_n);
  for (int i = 0; i < out_n; ++i) {
    double c = (i + 0.5) * scale, sum = 0, wsum = 0;
    for (int j = 0; j < n; ++j) {
      double w = kernel((j + 0.5 - c) / fs);
      if (std::fabs(j + 0.5 - c) >= support) w = 0;
      sum += w * in[j];
      wsum += w;
    }
    out[i] = std::clamp(std::round(sum / wsum), 0.0, 255.0);  // 8-bit between passes
  }
  return out;
}

TEST(ResizeBicubicPil, AgreesWithFloatReferenceWithinOneLevel) {
  std::mt19937 rng(7);
  const int sizes[][4] = {{37, 23, 11, 7}, {16, 16, 40, 33}, {97, 64, 224, 224}, {300, 5, 13, 9}};
  for (const auto& s : sizes) {
    int w = s[0], h = s[1], ow = s[2], oh = s[3];
    SCOPED_TRACE(testing::Message() << w << "x" << h << " -> " << ow << "x" << oh);
    std::vector<uint8_t> src(size_t(w) * h * 3);
    // Smooth content plus noise: exercises both the overshoot clamp and rounding.
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c)
          src[(size_t(y) * w + x) * 3 + c] =
              static_cast<uint8_t>(std::clamp(128 + 100 * std::sin(x * 0.3 + c) * std::cos(y * 0.2) +
                                                   double(rng() % 41) - 20.0, 0.0, 255.0));
    std::vector<uint8_t> dst(size_t(ow) * oh * 3);
    resize_bicubic_pil(src.data(), w, h, dst.data(), ow, oh);

    int worst = 0;
    for (int c = 0; c < 3; ++c) {
      std::vector<std::vector<double>> rows(h);
      for (int y = 0; y < h; ++y) {
        std::vector<double> line(w);
        for (int x = 0; x < w; ++x) line[x] = src[(size_t(y) * w + x) * 3 + c];
        rows[y] = ow == w ? line : ref_resize_1d(line, ow);
      }
      for (int x = 0; x < ow; ++x) {
        std::vector<double> col(h);
        for (int y = 0; y < h; ++y) col[y] = rows[y][x];
        std::vector<double> res = oh == h ? col : ref_resize_1d(col, oh);
        for (int y = 0; y < oh; ++y) {
          int d = std::abs(int(res[y]) - int(dst[(size_t(y) * ow + x) * 3 + c]));
          worst = std::max(worst, d);
        }
      }
    }
    EXPECT_LE(worst, 1);
  }
}

TEST(ResizeBicubicPil, SameSizeIsACopyAndConstantsStayConstant) {
  std::vector<uint8_t> src(5 * 4 * 3);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> dst(src.size());
  resize_bicubic_pil(src.data(), 5, 4, dst.data(), 5, 4);
  EXPECT_EQ(src, dst);

  std::vector<uint8_t> flat(50 * 30 * 3, 201);
  for (auto [ow, oh] : {std::pair{7, 3}, {50, 11}, {9, 30}, {120, 77}}) {
    std::vector<uint8_t> out(size_t(ow) * oh * 3);
    resize_bicubic_pil(flat.data(), 50, 30, out.data(), ow, oh);
    for (uint8_t v : out) ASSERT_EQ(v, 201) << ow << "x" << oh;
  }
}

TEST(ResizeBicubicPil, OneAxisOnlyLeavesTheOtherAxisUntouched) {
  // 4 wide, 3 tall; each row constant -> a horizontal-only resize keeps each row's value.
  std::vector<uint8_t> src(4 * 3 * 3);
  for (int y = 0; y < 3; ++y)
    for (int i = 0; i < 12; ++i) src[y * 12 + i] = static_cast<uint8_t>(10 + 100 * y);
  std::vector<uint8_t> dst(2 * 3 * 3);
  resize_bicubic_pil(src.data(), 4, 3, dst.data(), 2, 3);
  for (int y = 0; y < 3; ++y)
    for (int i = 0; i < 6; ++i) EXPECT_EQ(dst[y * 6 + i], 10 + 100 * y);
}

}  // namespace
}  // namespace sa
