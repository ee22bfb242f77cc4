// Generated hostile files (issue 11): a bomb of every format, huge EXIF, polyglots.
// (Bit flips and truncations: image_test.cpp DamagedFilesNeverCrash, format_test.cpp.)
#include <gtest/gtest.h>

#include <random>

#include "core/file_util.h"
#include "image/format.h"
#include "image/image.h"

namespace sa {
namespace {

std::string load(const std::string& name) {
  auto r = read_file(std::string(SA_TEST_DATA) + "/images/" + name, 64 << 20);
  EXPECT_TRUE(r.ok());
  return r.ok() ? *r : std::string();
}

void le16(std::string& s, uint32_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}
void le32(std::string& s, uint32_t v) {
  le16(s, v & 0xFFFF);
  le16(s, v >> 16);
}

// A w x h GIF frame on a w x h logical screen holding a single coded pixel (libvips 8.14
// sizes the image from the frame, so a big screen alone is no bomb).
std::string gif_bomb(uint16_t w, uint16_t h) {
  std::string s = "GIF89a";
  le16(s, w);
  le16(s, h);
  s += std::string("\x80\x00\x00", 3);          // 2-colour global table
  s += std::string("\x00\x00\x00\xff\xff\xff", 6);
  s += ",";
  le16(s, 0); le16(s, 0); le16(s, w); le16(s, h);
  s += '\0';
  s += std::string("\x02\x02\x44\x01\x00", 5);  // LZW: clear, 0, end
  s += ';';
  return s;
}

// Little-endian TIFF, 8-bit grey, one strip of 16 bytes, claiming w x h.
std::string tiff_bomb(uint32_t w, uint32_t h) {
  std::string s("II*\0", 4);
  le32(s, 8);
  const uint16_t n = 8;
  le16(s, n);
  auto entry = [&](uint16_t tag, uint16_t type, uint32_t count, uint32_t value) {
    le16(s, tag); le16(s, type); le32(s, count); le32(s, value);
  };
  const uint32_t data = 8 + 2 + n * 12 + 4;
  entry(256, 4, 1, w);       // ImageWidth
  entry(257, 4, 1, h);       // ImageLength
  entry(258, 3, 1, 8);       // BitsPerSample
  entry(259, 3, 1, 1);       // no compression
  entry(262, 3, 1, 1);       // BlackIsZero
  entry(273, 4, 1, data);    // StripOffsets
  entry(278, 4, 1, h);       // RowsPerStrip
  entry(279, 4, 1, 16);      // StripByteCounts
  le32(s, 0);
  return s + std::string(16, '\x7f');
}

// RIFF/WEBP with a VP8X canvas of w x h and no image data.
std::string webp_bomb(uint32_t w, uint32_t h) {
  std::string chunk = "VP8X";
  le32(chunk, 10);
  chunk += std::string(4, '\0');
  for (uint32_t v : {w - 1, h - 1}) {
    chunk += static_cast<char>(v & 0xFF);
    chunk += static_cast<char>((v >> 8) & 0xFF);
    chunk += static_cast<char>((v >> 16) & 0xFF);
  }
  std::string s = "RIFF";
  le32(s, static_cast<uint32_t>(4 + chunk.size()));
  return s + "WEBP" + chunk;
}

std::string jpeg_with_size(std::string jpg, uint16_t w, uint16_t h) {
  size_t sof = jpg.find("\xFF\xC0");
  if (sof == std::string::npos) sof = jpg.find("\xFF\xC2");
  EXPECT_NE(sof, std::string::npos);
  jpg[sof + 5] = static_cast<char>(h >> 8);
  jpg[sof + 6] = static_cast<char>(h & 0xFF);
  jpg[sof + 7] = static_cast<char>(w >> 8);
  jpg[sof + 8] = static_cast<char>(w & 0xFF);
  return jpg;
}

void expect_refused(const std::string& bytes, const char* what) {
  auto p = probe_image(bytes, DecodeLimits{});
  auto d = decode_rgb(bytes, DecodeLimits{});
  EXPECT_FALSE(d.ok()) << what;
  EXPECT_FALSE(p.ok()) << what;
  if (!d.ok()) {
    StatusCode c = d.status().code();
    EXPECT_TRUE(c == StatusCode::kInvalidArgument || c == StatusCode::kResourceExhausted)
        << what << ": " << d.status().to_string();
  }
}

TEST(HostileFiles, BombOfEveryFormatIsRefusedBeforeDecoding) {
  const std::string jpg = load("coffee_q90.jpg");
  auto j = probe_image(jpeg_with_size(jpg, 65000, 65000), DecodeLimits{});
  EXPECT_EQ(j.status().code(), StatusCode::kResourceExhausted) << j.status().to_string();
  auto g = probe_image(gif_bomb(65535, 65535), DecodeLimits{});
  EXPECT_EQ(g.status().code(), StatusCode::kResourceExhausted) << g.status().to_string();
  auto t = probe_image(tiff_bomb(100000, 100000), DecodeLimits{});
  EXPECT_EQ(t.status().code(), StatusCode::kResourceExhausted) << t.status().to_string();
  expect_refused(webp_bomb(16384, 16384), "webp canvas bomb");
  expect_refused(jpeg_with_size(jpg, 65000, 65000), "jpeg bomb");
  expect_refused(gif_bomb(65535, 65535), "gif bomb");
  expect_refused(tiff_bomb(100000, 100000), "tiff bomb");
  // The same constructions at a sane size are fine (so the limit is what refused them).
  EXPECT_TRUE(decode_rgb(gif_bomb(4, 4), DecodeLimits{}).ok());
  EXPECT_TRUE(decode_rgb(tiff_bomb(4, 4), DecodeLimits{}).ok());
  // A HEIF container of nothing but boxes claiming a size.
  std::string heif("\0\0\0\x18" "ftypheic\0\0\0\0mif1heic", 24);
  heif += std::string("\0\0\0\x10" "meta\0\0\0\0\0\0\0\0", 16);
  expect_refused(heif, "empty heif");
}

TEST(HostileFiles, HugeExifIsHandledQuickly) {
  const std::string jpg = load("coffee_q90.jpg");
  std::mt19937 rng(7);
  // 200 APP1 segments of ~64 KB each (13 MB of EXIF-looking bytes) right after SOI.
  std::string exif;
  for (int i = 0; i < 200; ++i) {
    std::string body = std::string("Exif\0\0II*\0\x08\0\0\0\xff\xff", 16);
    while (body.size() < 65000) body += static_cast<char>(rng());
    exif += "\xFF\xE1";
    exif += static_cast<char>((body.size() + 2) >> 8);
    exif += static_cast<char>((body.size() + 2) & 0xFF);
    exif += body;
  }
  std::string big = jpg.substr(0, 2) + exif + jpg.substr(2);
  auto d = decode_rgb(big, DecodeLimits{});
  if (d.ok()) {
    EXPECT_EQ(d->width, 600);
  } else {
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument) << d.status().to_string();
  }
  ImageMeta meta;
  auto again = decode_rgb(big, DecodeLimits{}, &meta);
  EXPECT_EQ(again.ok(), d.ok());
  EXPECT_LT(meta.camera.size(), 1024u);
}

TEST(HostileFiles, PolyglotsAreJudgedByTheirLeadingBytes) {
  const std::string jpg = load("coffee_q90.jpg"), png = load("coffee.png");
  // An SVG carrying a JPEG: not ours, whatever the name.
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"><!--" + jpg + "--></svg>";
  EXPECT_EQ(decode_rgb(svg, DecodeLimits{}).status().code(), StatusCode::kInvalidArgument);
  // A JPEG with a 1 MB zip archive appended: trailing garbage.
  std::string zip = "PK\x03\x04" + std::string(1 << 20, 'z');
  EXPECT_EQ(decode_rgb(jpg + zip, DecodeLimits{}).status().code(), StatusCode::kInvalidArgument);
  // GIF + JAR ("GIFAR").
  std::string gifar = gif_bomb(4, 4) + zip;
  EXPECT_EQ(decode_rgb(gifar, DecodeLimits{}).status().code(), StatusCode::kInvalidArgument);
  // PNG + HTML over the slack.
  std::string html = png + "<html><script>alert(1)</script>" + std::string(100000, ' ');
  EXPECT_EQ(decode_rgb(html, DecodeLimits{}).status().code(), StatusCode::kInvalidArgument);
  // A PDF that starts with JPEG magic bytes but is no JPEG.
  std::string pdf = "\xFF\xD8\xFF%PDF-1.4\n" + std::string(1000, 'x');
  EXPECT_EQ(decode_rgb(pdf, DecodeLimits{}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sa
