// More generated hostile files (issue 11, "Done means"): every format cut at many
// points, bit flips in HEIF/AVIF, PNG and HEIF/AVIF dimension bombs, huge EXIF in PNG
// and WebP. Each must come back as a clear rejection (InvalidArgument or
// ResourceExhausted) or a valid photo, never a crash or a hang (the decode deadline
// bounds each one; ctest's timeout catches a hang).
#include <gtest/gtest.h>
#include <vips/vips.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "image/image.h"

namespace sa {
namespace {

struct Unref {
  void operator()(VipsImage* i) const { g_object_unref(i); }
};
using Img = std::unique_ptr<VipsImage, Unref>;

// 96 x 64 sRGB gradient with some texture, so every codec has real data to cut.
Img gradient() {
  std::vector<uint8_t> px(96 * 64 * 3);
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 96; ++x) {
      for (int b = 0; b < 3; ++b) px[(y * 96 + x) * 3 + b] = static_cast<uint8_t>((x * 37 + y * 11 + b * 70 + x * y) % 256);
    }
  }
  VipsImage* mem = vips_image_new_from_memory_copy(px.data(), px.size(), 96, 64, 3, VIPS_FORMAT_UCHAR);
  return Img(mem);
}

// Encodes with libvips' saver for `suffix` ("" when this libvips cannot write it).
std::string encode(const char* suffix) {
  EXPECT_TRUE(image_init().ok());
  if (!vips_foreign_find_save_buffer(suffix)) return {};
  Img img = gradient();
  void* buf = nullptr;
  size_t len = 0;
  if (vips_image_write_to_buffer(img.get(), suffix, &buf, &len, nullptr) != 0) {
    vips_error_clear();
    return {};
  }
  std::string s(static_cast<char*>(buf), len);
  g_free(buf);
  return s;
}

struct Sample {
  const char* name;
  std::string bytes;
};

std::vector<Sample> samples() {
  std::vector<Sample> v;
  for (const char* suffix : {".jpg", ".png", ".gif", ".tif", ".webp", ".heic", ".avif"}) {
    std::string s = encode(suffix);
    if (!s.empty()) v.push_back({suffix, std::move(s)});
  }
  return v;
}

bool is_clear_rejection(const Status& s) {
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kResourceExhausted;
}

// Decodes `bytes`; fails the test unless the answer is a consistent image or a clear rejection.
bool decode_is_sane(const std::string& bytes, const std::string& what) {
  DecodeLimits lim;
  lim.max_pixels = 4'000'000;
  lim.max_seconds = 10;
  auto d = decode_rgb(bytes, lim);
  if (d.ok()) {
    EXPECT_EQ(d->pixels.size(), size_t(d->width) * d->height * 3) << what;
    EXPECT_LE(int64_t(d->width) * d->height, lim.max_pixels) << what;
    return true;
  }
  EXPECT_TRUE(is_clear_rejection(d.status())) << what << ": " << d.status().to_string();
  return false;
}

uint32_t crc32(const std::string& s) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char ch : s) {
    c ^= ch;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

void be32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xFF);
}

std::string png_chunk(const std::string& type, const std::string& data) {
  std::string c(4, '\0');
  be32(c, 0, static_cast<uint32_t>(data.size()));
  c += type + data;
  std::string crc(4, '\0');
  be32(crc, 0, crc32(type + data));
  return c + crc;
}

TEST(HostileGenerated, EveryFormatCutAtManyPointsIsRefusedOrWhole) {
  const auto all = samples();
  ASSERT_GE(all.size(), 5u) << "libvips cannot even write JPEG, PNG, GIF, TIFF and WebP";
  for (const auto& [name, bytes] : all) {
    ASSERT_TRUE(decode_is_sane(bytes, name)) << name << " does not decode whole";
    // Every byte of the first 128 (the headers), 64 points spread over the rest, and
    // the last few bytes (end markers).
    std::vector<size_t> cuts;
    for (size_t n = 0; n < std::min<size_t>(128, bytes.size()); ++n) cuts.push_back(n);
    for (int i = 0; i < 64; ++i) cuts.push_back(128 + (bytes.size() - 128) * i / 64);
    for (size_t back = 1; back <= 4; ++back) cuts.push_back(bytes.size() - back);
    // A cut may only be accepted when nothing of the picture was lost (a GIF without
    // its one-byte trailer): the same pixels as the whole file, never a half-grey photo.
    const auto whole = decode_rgb(bytes, DecodeLimits{});
    ASSERT_TRUE(whole.ok());
    int accepted = 0;
    for (size_t n : cuts) {
      if (n >= bytes.size()) continue;
      const std::string cut = bytes.substr(0, n);
      if (decode_is_sane(cut, std::string(name) + " cut at " + std::to_string(n))) {
        ++accepted;
        auto d = decode_rgb(cut, DecodeLimits{});
        ASSERT_TRUE(d.ok());
        EXPECT_TRUE(d->width == whole->width && d->height == whole->height && d->pixels == whole->pixels)
            << name << " cut at " << n << " of " << bytes.size() << " bytes was accepted with other pixels";
      }
    }
    std::printf("[ cuts   ] %-5s %zu bytes, %zu cuts, %d accepted\n", name, bytes.size(), cuts.size(), accepted);
  }
}

TEST(HostileGenerated, BitFlipsInEveryFormatNeverCrash) {
  std::mt19937 rng(99);
  for (const auto& [name, bytes] : samples()) {
    int rejected = 0;
    for (int iter = 0; iter < 120; ++iter) {
      std::string s = bytes;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        const size_t pos = (rng() % 2) ? rng() % std::min<size_t>(s.size(), 256) : rng() % s.size();
        s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8)));
      }
      rejected += !decode_is_sane(s, std::string(name) + " flip round " + std::to_string(iter));
    }
    std::printf("[ flips  ] %-5s %d of 120 rejected\n", name, rejected);
  }
}

TEST(HostileGenerated, PngDimensionBombIsRefusedFromTheHeader) {
  std::string png = encode(".png");
  ASSERT_GT(png.size(), 33u);
  // IHDR: 8 bytes signature, 4 length, "IHDR", width, height, ..., CRC over type + data.
  be32(png, 16, 60000);
  be32(png, 20, 60000);
  std::string crc(4, '\0');
  be32(crc, 0, crc32(png.substr(12, 4 + 13)));
  png.replace(29, 4, crc);
  auto p = probe_image(png, DecodeLimits{});
  EXPECT_EQ(p.status().code(), StatusCode::kResourceExhausted) << p.status().to_string();
  auto d = decode_rgb(png, DecodeLimits{});
  EXPECT_EQ(d.status().code(), StatusCode::kResourceExhausted) << d.status().to_string();
}

TEST(HostileGenerated, HeifAndAvifDimensionBombsAreRefused) {
  int tried = 0;
  for (const char* suffix : {".heic", ".avif"}) {
    std::string s = encode(suffix);
    if (s.empty()) continue;
    ++tried;
    // Every 'ispe' (image spatial extent) box claims 60000 x 60000.
    int patched = 0;
    for (size_t at = s.find("ispe"); at != std::string::npos; at = s.find("ispe", at + 4)) {
      if (at + 16 > s.size()) break;
      be32(s, at + 8, 60000);
      be32(s, at + 12, 60000);
      ++patched;
    }
    ASSERT_GT(patched, 0) << suffix;
    auto d = decode_rgb(s, DecodeLimits{});
    ASSERT_FALSE(d.ok()) << suffix << " bomb decoded";
    EXPECT_TRUE(is_clear_rejection(d.status())) << suffix << ": " << d.status().to_string();
    auto p = probe_image(s, DecodeLimits{});
    EXPECT_FALSE(p.ok()) << suffix;
  }
  if (tried == 0) GTEST_SKIP() << "this libvips writes neither HEIC nor AVIF";
}

TEST(HostileGenerated, HugeExifInPngAndWebpIsHandled) {
  std::mt19937 rng(5);
  std::string exif = std::string("II*\0\x08\0\0\0\xff\xff", 10);
  while (exif.size() < (8u << 20)) exif += static_cast<char>(rng());
  // PNG: an 8 MB eXIf chunk right after IHDR.
  const std::string png = encode(".png");
  ASSERT_GT(png.size(), 33u);
  const std::string big_png = png.substr(0, 33) + png_chunk("eXIf", exif) + png.substr(33);
  ImageMeta meta;
  auto d = decode_rgb(big_png, DecodeLimits{}, &meta);
  if (d.ok()) {
    EXPECT_EQ(d->width, 96);
    EXPECT_LT(meta.camera.size(), 1024u);
    EXPECT_LT(meta.taken_at.size(), 64u);
  } else {
    EXPECT_TRUE(is_clear_rejection(d.status())) << d.status().to_string();
  }
  // WebP: the same as an EXIF chunk after the image (a simple-format file gains no
  // VP8X header, so libwebp may ignore it; either answer is fine, quickly).
  const std::string webp = encode(".webp");
  ASSERT_GT(webp.size(), 12u);
  std::string chunk = "EXIF";
  const uint32_t n = static_cast<uint32_t>(exif.size());
  for (int i = 0; i < 4; ++i) chunk += static_cast<char>((n >> (8 * i)) & 0xFF);
  std::string big_webp = webp + chunk + exif;
  const uint32_t riff = static_cast<uint32_t>(big_webp.size() - 8);
  for (int i = 0; i < 4; ++i) big_webp[4 + i] = static_cast<char>((riff >> (8 * i)) & 0xFF);
  decode_is_sane(big_webp, "webp with 8 MB EXIF");
}

}  // namespace
}  // namespace sa
