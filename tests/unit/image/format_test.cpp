// The format table (magic bytes -> format, MIME, extension, loader) and the structural
// checks (trailing garbage, data that ends long before the image).
#include "image/format.h"

#include <gtest/gtest.h>

#include "core/file_util.h"
#include "image/image.h"
#include "image/structure.h"

namespace sa {
namespace {

std::string load(const std::string& name) {
  auto r = read_file(std::string(SA_TEST_DATA) + "/images/" + name, 64 << 20);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : std::string();
}

std::string ftyp(const char* major, std::string compat) {
  std::string box(4, '\0');
  box += "ftyp";
  box += major;
  box += std::string(4, '\0');  // minor version
  box += compat;
  box[3] = static_cast<char>(box.size());
  return box + std::string(16, '\0');
}

TEST(FormatTable, SniffsEveryAcceptedFormatFromMagicBytes) {
  EXPECT_EQ(sniff_format(load("coffee_q90.jpg")), ImageFormat::kJpeg);
  EXPECT_EQ(sniff_format(load("coffee.png")), ImageFormat::kPng);
  EXPECT_EQ(sniff_format("GIF89a\x01\x00\x01\x00"), ImageFormat::kGif);
  EXPECT_EQ(sniff_format(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16)), ImageFormat::kWebp);
  EXPECT_EQ(sniff_format(std::string("II*\0\x08\0\0\0", 8)), ImageFormat::kTiff);
  EXPECT_EQ(sniff_format(std::string("MM\0*\0\0\0\x08", 8)), ImageFormat::kTiff);
  EXPECT_EQ(sniff_format(ftyp("heic", "mif1heic")), ImageFormat::kHeic);
  EXPECT_EQ(sniff_format(ftyp("mif1", "mif1heic")), ImageFormat::kHeic);
  EXPECT_EQ(sniff_format(ftyp("avif", "mif1avif")), ImageFormat::kAvif);
  EXPECT_EQ(sniff_format(ftyp("mif1", "mif1avifmiaf")), ImageFormat::kAvif);
  EXPECT_EQ(sniff_format(ftyp("isom", "isomiso2mp41")), ImageFormat::kUnknown);  // a video
}

TEST(FormatTable, RefusesWhatNoLoaderOfOursHandles) {
  // SVG (and gzip-compressed SVGZ, whose libvips sniffer hangs on a truncated file),
  // PDF, BMP, BigTIFF, empty and short inputs.
  EXPECT_EQ(sniff_format("<svg xmlns='http://www.w3.org/2000/svg'/>"), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format("\x1f\x8b\x08\x00\x00\x00\x00\x00"), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format("%PDF-1.4"), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format("BM\x36\x00"), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(std::string("II+\0", 4)), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format(""), ImageFormat::kUnknown);
  EXPECT_EQ(sniff_format("\xFF\xD8"), ImageFormat::kUnknown);
}

TEST(FormatTable, MimeAndExtensionsRoundTrip) {
  for (const FormatInfo& f : all_formats()) {
    EXPECT_EQ(format_from_mime(f.mime), f.format) << f.name;
    EXPECT_EQ(format_from_extension(f.ext), f.format) << f.name;
    EXPECT_EQ(extension_for_mime(f.mime), f.ext) << f.name;
    EXPECT_FALSE(f.vips_loader.empty()) << f.name;
  }
  EXPECT_EQ(format_info(ImageFormat::kAvif).mime, "image/avif");
  EXPECT_EQ(format_info(ImageFormat::kHeic).mime, "image/heic");
  EXPECT_EQ(format_from_extension("IMG_0001.JPEG"), ImageFormat::kJpeg);
  EXPECT_EQ(format_from_extension(".Tiff"), ImageFormat::kTiff);
  EXPECT_EQ(format_from_extension("a.heif"), ImageFormat::kHeic);
  EXPECT_EQ(format_from_extension("a.svg"), ImageFormat::kUnknown);
  EXPECT_EQ(format_from_extension("noext"), ImageFormat::kUnknown);
  EXPECT_EQ(mime_for_extension("x.avif"), "image/avif");
  EXPECT_EQ(mime_for_extension("x.svg"), "application/octet-stream");
  EXPECT_EQ(extension_for_mime("image/svg+xml"), "bin");
  EXPECT_EQ(format_from_mime("image/jpg"), ImageFormat::kJpeg);
}

TEST(Structure, FindsTheEndOfJpegAndPng) {
  std::string jpg = load("coffee_q90.jpg"), png = load("coffee.png");
  auto je = image_data_end(ImageFormat::kJpeg, jpg);
  ASSERT_TRUE(je.ok()) << je.status().to_string();
  EXPECT_EQ(*je, jpg.size());
  auto pe = image_data_end(ImageFormat::kPng, png);
  ASSERT_TRUE(pe.ok()) << pe.status().to_string();
  EXPECT_EQ(*pe, png.size());
}

TEST(Structure, TrailingGarbageOverTheSlackIsRefused) {
  std::string jpg = load("coffee_q90.jpg");
  // A small trailer (cameras append a few KB) is fine.
  std::string small = jpg + std::string(kTrailingSlackBytes, '\0');
  EXPECT_TRUE(probe_image(small, DecodeLimits{}).ok());
  // Megabytes of zeros after the image are not.
  std::string zeros = jpg + std::string(4 << 20, '\0');
  auto p = probe_image(zeros, DecodeLimits{});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("trailing garbage"), std::string::npos);
  std::string png = load("coffee.png") + std::string(1 << 20, 'x');
  EXPECT_EQ(probe_image(png, DecodeLimits{}).status().code(), StatusCode::kInvalidArgument);
  // A second whole file (a motion photo's video, an MPF picture) is not garbage.
  std::string motion = jpg + ftyp("isom", "isommp41") + std::string(1 << 20, '\x11');
  EXPECT_TRUE(probe_image(motion, DecodeLimits{}).ok());
  std::string mpf = jpg + jpg + jpg + jpg + jpg + jpg;
  EXPECT_TRUE(probe_image(mpf, DecodeLimits{}).ok());
}

TEST(Structure, JpegWhoseDataEndsLongBeforeTheImageIsRefused) {
  std::string jpg = load("coffee_q90.jpg");
  // Patch the frame header to claim 9000x9000: the 8x8 blocks alone need ~79 KB.
  size_t sof = jpg.find("\xFF\xC0");
  if (sof == std::string::npos) sof = jpg.find("\xFF\xC2");
  ASSERT_NE(sof, std::string::npos);
  std::string big = jpg;
  big[sof + 5] = static_cast<char>(9000 >> 8);
  big[sof + 6] = static_cast<char>(9000 & 0xFF);
  big[sof + 7] = static_cast<char>(9000 >> 8);
  big[sof + 8] = static_cast<char>(9000 & 0xFF);
  ASSERT_LT(big.size(), 79u * 1024);
  auto p = probe_image(big, DecodeLimits{});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("9000x9000"), std::string::npos) << p.status().to_string();
  EXPECT_FALSE(decode_rgb(big, DecodeLimits{}).ok());
  EXPECT_TRUE(decode_rgb(jpg, DecodeLimits{}).ok());  // the original is fine
}

TEST(Structure, TruncationAtAnyCutIsRefusedOrDecodesCleanly) {
  for (const char* name : {"coffee_q90.jpg", "coffee.png", "chelsea_exif6.jpg"}) {
    std::string bytes = load(name);
    int accepted = 0;
    for (size_t cut = 1; cut < bytes.size(); cut += std::max<size_t>(1, bytes.size() / 97)) {
      auto r = decode_rgb(std::string_view(bytes).substr(0, cut), DecodeLimits{});
      if (r.ok()) ++accepted;
    }
    // Every strict prefix lacks the end marker: none is a photo.
    EXPECT_EQ(accepted, 0) << name;
  }
}

TEST(Structure, DecodeShrinksToMaxSide) {
  std::string jpg = load("coffee_q90.jpg");  // 600x400
  DecodeLimits lim;
  lim.max_side = 256;
  ImageMeta meta;
  auto r = decode_rgb(jpg, lim, &meta);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_LE(std::max(r->width, r->height), 256);
  EXPECT_GE(std::max(r->width, r->height), 128);
  EXPECT_EQ(meta.width, 600);  // the metadata keeps the full size
  auto png = decode_rgb(load("coffee.png"), lim);
  ASSERT_TRUE(png.ok());
  EXPECT_EQ(png->width, 200);
  EXPECT_EQ(png->height, 133);  // 400 / 3, box shrink
}

}  // namespace
}  // namespace sa
