// box_shrink_rgb against libvips' own vips_shrink, and the thumbnails encode_jpeg makes
// with it against the thumbnails of the libvips-only path it replaced (issue 17).
#include <gtest/gtest.h>

#include <vips/vips.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>

#include "core/file_util.h"
#include "image/box_shrink.h"
#include "image/image.h"

namespace sa {
namespace {

struct Unref {
  void operator()(VipsImage* p) const {
    if (p) g_object_unref(p);
  }
};
using VipsPtr = std::unique_ptr<VipsImage, Unref>;

// Smooth gradients plus noise: block means land on every rounding case.
RgbImage test_image(int w, int h, uint32_t seed) {
  RgbImage img{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(-40, 40);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < 3; ++c) {
        int v = (x * (c + 1) * 255 / std::max(w, 1) + y * 255 / std::max(h, 1)) / 2 + noise(rng);
        img.pixels[(size_t(y) * w + x) * 3 + c] = static_cast<uint8_t>(std::clamp(v, 0, 255));
      }
    }
  }
  return img;
}

VipsPtr wrap(const RgbImage& img) {
  VipsImage* in = vips_image_new_from_memory(img.pixels.data(), img.pixels.size(), img.width,
                                             img.height, 3, VIPS_FORMAT_UCHAR);
  VipsImage* out = nullptr;
  if (!in || vips_copy(in, &out, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr) != 0) {
    if (in) g_object_unref(in);
    return nullptr;
  }
  g_object_unref(in);
  return VipsPtr(out);
}

RgbImage to_rgb(VipsImage* im) {
  size_t len = 0;
  void* mem = vips_image_write_to_memory(im, &len);
  RgbImage out{im->Xsize, im->Ysize, {}};
  if (mem) out.pixels.assign(static_cast<uint8_t*>(mem), static_cast<uint8_t*>(mem) + len);
  g_free(mem);
  return out;
}

RgbImage vips_box(const RgbImage& img, int fx, int fy) {
  VipsPtr in = wrap(img);
  VipsImage* out = nullptr;
  if (!in || vips_shrink(in.get(), &out, fx, fy, nullptr) != 0) return {};
  VipsPtr o(out);
  return to_rgb(o.get());
}

// The thumbnail as encode_jpeg made it before box_shrink_rgb (libvips only).
std::string vips_only_thumbnail(const RgbImage& img, int max_side, int quality) {
  VipsPtr in = wrap(img);
  if (!in) return {};
  const double s = static_cast<double>(max_side) / std::max(img.width, img.height);
  const int tw = std::max(1, static_cast<int>(std::lround(img.width * s)));
  const int th = std::max(1, static_cast<int>(std::lround(img.height * s)));
  const int fx = std::max(1, img.width / (2 * tw)), fy = std::max(1, img.height / (2 * th));
  VipsImage* out = nullptr;
  if (fx > 1 || fy > 1) {
    if (vips_shrink(in.get(), &out, fx, fy, nullptr) != 0) return {};
    in.reset(out);
  }
  if (in->Xsize != tw || in->Ysize != th) {
    if (vips_resize(in.get(), &out, static_cast<double>(tw) / in->Xsize, "vscale",
                    static_cast<double>(th) / in->Ysize, nullptr) != 0) {
      return {};
    }
    in.reset(out);
  }
  void* buf = nullptr;
  size_t len = 0;
  if (vips_jpegsave_buffer(in.get(), &buf, &len, "Q", quality, "strip", TRUE, nullptr) != 0) {
    return {};
  }
  std::string bytes(static_cast<const char*>(buf), len);
  g_free(buf);
  return bytes;
}

struct Diff {
  int max = 0;
  double mean = 0;
};
Diff diff(const RgbImage& a, const RgbImage& b) {
  Diff d;
  if (a.pixels.size() != b.pixels.size() || a.pixels.empty()) return {256, 256};
  int64_t sum = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    int v = std::abs(int(a.pixels[i]) - int(b.pixels[i]));
    d.max = std::max(d.max, v);
    sum += v;
  }
  d.mean = double(sum) / a.pixels.size();
  return d;
}

TEST(BoxShrink, EqualsVipsShrinkOnEveryShapeAndFactor) {
  ASSERT_TRUE(image_init().ok());
  struct Case {
    int w, h, fx, fy;
  };
  // Exact multiples, partial last blocks on either side (rounded up and down), one
  // factor 1, factors above 16 bits of sum.
  const Case cases[] = {{400, 300, 5, 5},   {403, 301, 5, 5},   {402, 304, 5, 5},
                        {97, 61, 3, 2},     {1000, 750, 2, 2},  {123, 456, 1, 4},
                        {321, 77, 6, 1},    {999, 17, 7, 7},    {1200, 900, 300, 300},
                        {64, 48, 64, 48},   {5, 5, 2, 2}};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    RgbImage img = test_image(c.w, c.h, seed++);
    RgbImage ours = box_shrink_rgb(img, c.fx, c.fy);
    RgbImage ref = vips_box(img, c.fx, c.fy);
    ASSERT_FALSE(ref.pixels.empty()) << "vips_shrink failed";
    SCOPED_TRACE(::testing::Message() << c.w << "x" << c.h << " / " << c.fx << "x" << c.fy);
    ASSERT_EQ(ours.width, ref.width);
    ASSERT_EQ(ours.height, ref.height);
    Diff d = diff(ours, ref);
    EXPECT_EQ(d.max, 0) << "mean " << d.mean;
  }
}

TEST(BoxShrink, RejectsInconsistentImages) {
  EXPECT_TRUE(box_shrink_rgb(RgbImage{}, 2, 2).pixels.empty());
  RgbImage bad{4, 4, std::vector<uint8_t>(10)};
  EXPECT_TRUE(box_shrink_rgb(bad, 2, 2).pixels.empty());
  RgbImage one{3, 2, std::vector<uint8_t>(18, 7)};
  RgbImage same = box_shrink_rgb(one, 0, 1);
  EXPECT_EQ(same.pixels, one.pixels);
}

// The thumbnails (400 px, and the VLM's 1024 px) of photo-sized frames, made by
// encode_jpeg with box_shrink_rgb, against the libvips-only path: the same bytes.
TEST(BoxShrink, ThumbnailsIdenticalToTheLibvipsOnlyPath) {
  ASSERT_TRUE(image_init().ok());
  struct Case {
    int w, h, side;
  };
  const Case cases[] = {{4000, 3000, 400}, {3000, 4000, 400}, {4032, 3024, 400},
                        {1999, 1001, 400}, {4000, 3000, 1024}, {801, 599, 400}};
  uint32_t seed = 100;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.w << "x" << c.h << " -> " << c.side);
    RgbImage img = test_image(c.w, c.h, seed++);
    auto ours = encode_jpeg(img, c.side, 82);
    ASSERT_TRUE(ours.ok()) << ours.status().to_string();
    std::string ref = vips_only_thumbnail(img, c.side, 82);
    ASSERT_FALSE(ref.empty());
    auto a = decode_rgb(*ours, {});
    auto b = decode_rgb(ref, {});
    ASSERT_TRUE(a.ok() && b.ok());
    Diff d = diff(*a, *b);
    EXPECT_EQ(d.max, 0) << "mean " << d.mean;
    EXPECT_EQ(*ours, ref);
  }
}

// A real photo, too (decoded the way the import decodes it).
TEST(BoxShrink, RealPhotoThumbnailIdentical) {
  ASSERT_TRUE(image_init().ok());
  auto bytes = read_file(std::string(SA_TEST_DATA) + "/images/chelsea.png");
  ASSERT_TRUE(bytes.ok());
  auto img = decode_rgb(*bytes, {});
  ASSERT_TRUE(img.ok());
  auto ours = encode_jpeg(*img, 100, 82);
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(*ours, vips_only_thumbnail(*img, 100, 82));
}

}  // namespace
}  // namespace sa
