// Browsing at the Album level: taken_at sources (EXIF, file time on import,
// upload time), the timeline list, and previews (JPEG, long edge <= 2048, made
// once and cached) for HEIF, TIFF and 16-bit PNG originals.
#include <gtest/gtest.h>
#include <sys/time.h>
#include <vips/vips.h>

#include <filesystem>
#include <random>

#include "app/album_impl.h"
#include "core/file_util.h"
#include "image/image.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

// A w x h gradient saved by libvips in `format` ("png16", "tif", "heic", "jpg"),
// optionally with an EXIF DateTimeOriginal. "" when libvips cannot write it.
std::string make_image(int w, int h, const std::string& format, const char* exif_date = nullptr) {
  if (!image_init().ok()) return "";
  VipsImage* base = nullptr;
  if (vips_xyz(&base, w, h, nullptr) != 0) return "";
  VipsImage* three = nullptr;
  VipsImage* parts[3] = {nullptr, nullptr, nullptr};
  vips_extract_band(base, &parts[0], 0, nullptr);
  vips_extract_band(base, &parts[1], 1, nullptr);
  vips_linear1(parts[0], &parts[2], 0.5, 10.0, nullptr);
  vips_bandjoin(parts, &three, 3, nullptr);
  for (auto* p : parts) g_object_unref(p);
  g_object_unref(base);
  const bool sixteen = format == "png16";
  VipsImage* cast = nullptr;
  vips_cast(three, &cast, sixteen ? VIPS_FORMAT_USHORT : VIPS_FORMAT_UCHAR, nullptr);
  g_object_unref(three);
  VipsImage* img = nullptr;
  vips_copy(cast, &img, "interpretation", sixteen ? VIPS_INTERPRETATION_RGB16 : VIPS_INTERPRETATION_sRGB,
            nullptr);
  g_object_unref(cast);
  if (exif_date) vips_image_set_string(img, "exif-ifd2-DateTimeOriginal", exif_date);
  void* buf = nullptr;
  size_t len = 0;
  int rc = -1;
  if (format == "png16") rc = vips_pngsave_buffer(img, &buf, &len, "bitdepth", 16, nullptr);
  else if (format == "tif") rc = vips_tiffsave_buffer(img, &buf, &len, nullptr);
  else if (format == "heic") rc = vips_heifsave_buffer(img, &buf, &len, "compression", VIPS_FOREIGN_HEIF_COMPRESSION_HEVC, nullptr);
  else rc = vips_jpegsave_buffer(img, &buf, &len, nullptr);
  g_object_unref(img);
  if (rc != 0) {
    vips_error_clear();
    return "";
  }
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

class BrowseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("sa_browse_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(root_);
    cfg_.data_dir = (root_ / "data").string();
    cfg_.vlm.api_key.clear();
    cfg_.vlm.base_url = "https://example.invalid/v1";
    AlbumDeps d;  // no model: nothing to embed
    auto a = open_album(cfg_, std::move(d));
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    album_ = std::move(*a);
  }
  void TearDown() override {
    album_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  int64_t add(const std::string& name, const std::string& bytes) {
    auto r = album_->add_file(name, bytes);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().to_string();
    return r.ok() ? r->id : 0;
  }
  void expect_preview(int64_t id, int want_w, int want_h) {
    auto path = album_->preview_path(id);
    ASSERT_TRUE(path.ok()) << path.status().to_string();
    EXPECT_EQ(path->rfind((fs::path(cfg_.data_dir) / "previews").string(), 0), 0u) << *path;
    auto bytes = read_file(*path);
    ASSERT_TRUE(bytes.ok());
    auto meta = probe_image(*bytes, DecodeLimits{});
    ASSERT_TRUE(meta.ok()) << meta.status().to_string();
    EXPECT_EQ(meta->format, "jpeg");
    EXPECT_EQ(meta->width, want_w);
    EXPECT_EQ(meta->height, want_h);
    // Cached: the second call finds the same file and does not rewrite it.
    const auto t0 = fs::last_write_time(*path);
    auto again = album_->preview_path(id);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *path);
    EXPECT_EQ(fs::last_write_time(*again), t0);
  }

  fs::path root_;
  Config cfg_;
  std::unique_ptr<AlbumImpl> album_;
};

TEST_F(BrowseTest, TakenAtComesFromExifElseUploadTime) {
  const int64_t dated = add("dated.jpg", make_image(64, 48, "jpg", "2016:08:09 10:11:12"));
  const int64_t plain = add("plain.jpg", make_image(64, 48, "jpg"));
  auto a = album_->get_photo(dated), b = album_->get_photo(plain);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->taken_at, "2016-08-09T10:11:12");
  EXPECT_EQ(a->taken_at_source, "exif");
  EXPECT_EQ(b->taken_at_source, "upload");
  auto page = album_->query_photos(PhotoQuery{});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].id, plain);  // uploaded now: newer than 2016
  PhotoQuery bad;
  bad.date_from = "2023-13";
  EXPECT_EQ(album_->query_photos(bad).status().code(), StatusCode::kInvalidArgument);
  auto months = album_->timeline();
  ASSERT_TRUE(months.ok());
  ASSERT_EQ(months->size(), 2u);
  EXPECT_EQ(months->back().month, "2016-08");
}

TEST_F(BrowseTest, ImportWithoutExifUsesTheFileTime) {
  fs::path src = root_ / "import";
  fs::create_directories(src);
  const fs::path file = src / "scan.png";
  ASSERT_TRUE(write_file_atomic(file.string(), make_image(40, 30, "png16")).ok());
  // 2015-06-01 12:00:00 UTC
  struct timeval tv[2] = {{1433160000, 0}, {1433160000, 0}};
  ASSERT_EQ(utimes(file.c_str(), tv), 0);
  auto rep = album_->import_folder(src.string());
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  ASSERT_EQ(rep->added, 1);
  auto page = album_->query_photos(PhotoQuery{});
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].taken_at_source, "file");
  // Local time of that instant: 2015-06-01 or -02 depending on the zone.
  EXPECT_EQ(page->items[0].taken_at.substr(0, 9), "2015-06-0") << page->items[0].taken_at;
}

TEST_F(BrowseTest, PreviewOf16BitPngIsAJpegAtMost2048) {
  const std::string png = make_image(3000, 1500, "png16");
  ASSERT_FALSE(png.empty());
  expect_preview(add("deep.png", png), 2048, 1024);
}

TEST_F(BrowseTest, PreviewOfTiffAndSmallImagesKeepsTheirSize) {
  const std::string tif = make_image(300, 200, "tif");
  ASSERT_FALSE(tif.empty());
  expect_preview(add("scan.tif", tif), 300, 200);  // never upscaled
}

TEST_F(BrowseTest, PreviewOfHeicIsAJpeg) {
  const std::string heic = make_image(2400, 1600, "heic");
  if (heic.empty()) GTEST_SKIP() << "libvips here has no HEIF encoder to make the test file";
  expect_preview(add("phone.heic", heic), 2048, 1365);
}

TEST_F(BrowseTest, PreviewGoesWithThePhoto) {
  const int64_t id = add("a.png", make_image(100, 80, "png16"));
  auto path = album_->preview_path(id);
  ASSERT_TRUE(path.ok());
  ASSERT_TRUE(fs::exists(*path));
  ASSERT_TRUE(album_->delete_photo(id).ok());
  EXPECT_FALSE(fs::exists(*path));
  EXPECT_EQ(album_->preview_path(id).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sa
