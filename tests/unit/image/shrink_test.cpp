// The reduced-cost decode's DCT scaling (DecodeLimits::min_side) and the decode counter.
#include <gtest/gtest.h>

#include <algorithm>

#include "core/file_util.h"
#include "image/clip_preprocess.h"
#include "image/image.h"

namespace sa {
namespace {

TEST(JpegShrink, LargestFactorKeepingBothSidesAtLeastMinSide) {
  EXPECT_EQ(jpeg_shrink_factor(4000, 3000, 448), 4);   // 1000x750; /8 would be 500x375
  EXPECT_EQ(jpeg_shrink_factor(3000, 4000, 448), 4);
  EXPECT_EQ(jpeg_shrink_factor(8000, 6000, 448), 8);   // 1000x750
  EXPECT_EQ(jpeg_shrink_factor(1000, 900, 448), 2);    // 500x450
  EXPECT_EQ(jpeg_shrink_factor(895, 2000, 448), 2);    // ceil(895 / 2) = 448
  EXPECT_EQ(jpeg_shrink_factor(894, 2000, 448), 1);    // 447 at /2
  EXPECT_EQ(jpeg_shrink_factor(500, 375, 448), 1);
  EXPECT_EQ(jpeg_shrink_factor(4000, 3000, 0), 1);
}

TEST(JpegShrink, DecodeHonoursMinSideForJpegOnlyAndCounts) {
  ASSERT_TRUE(image_init().ok());
  auto png = read_file(std::string(SA_TEST_DATA) + "/images/chelsea.png");
  ASSERT_TRUE(png.ok());
  auto small = decode_rgb(*png, {});
  ASSERT_TRUE(small.ok());
  RgbImage big{1800, 1200, std::vector<uint8_t>(size_t(1800) * 1200 * 3)};
  resize_bicubic_pil(small->pixels.data(), small->width, small->height, big.pixels.data(), big.width,
                     big.height);
  auto jpeg = encode_jpeg(big, 1800, 90);
  ASSERT_TRUE(jpeg.ok());

  DecodeLimits lim;
  lim.min_side = 448;
  const int64_t before = image_decode_count();
  ImageMeta meta;
  auto reduced = decode_rgb(*jpeg, lim, &meta);
  ASSERT_TRUE(reduced.ok()) << reduced.status().to_string();
  EXPECT_EQ(reduced->width, 900);   // 1800x1200 / 2: /4 would be 450x300
  EXPECT_EQ(reduced->height, 600);
  EXPECT_EQ(meta.width, 1800);      // the photo's own size is still what is recorded
  EXPECT_EQ(meta.height, 1200);
  auto full = decode_rgb(*jpeg, {});
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->width, 1800);
  auto png_reduced = decode_rgb(*png, lim);  // not a JPEG: full size
  ASSERT_TRUE(png_reduced.ok());
  EXPECT_EQ(png_reduced->width, small->width);
  EXPECT_EQ(image_decode_count() - before, 3);
  EXPECT_FALSE(decode_rgb("not an image", lim).ok());
  EXPECT_EQ(image_decode_count() - before, 3);
}

}  // namespace
}  // namespace sa
