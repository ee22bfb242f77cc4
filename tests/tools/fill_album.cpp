// Test helper for the browser tests: fills a data directory with N photos
// straight through the Store (no upload, no decode), so a test can have a
// 10,000-photo library in a second. Every photo gets a copy of one JPEG as its
// original and thumbnail, a distinct fake hash, and a taken_at spread evenly
// over `years` years ending in December 2024 (deterministic).
//
//   sa_fill_album DATA_DIR COUNT JPEG [YEARS=10]
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/file_util.h"
#include "core/sha256.h"
#include "ingest/safe_name.h"
#include "store/store.h"

int main(int argc, char** argv) {
  using namespace sa;
  namespace fs = std::filesystem;
  if (argc < 4) {
    std::fprintf(stderr, "usage: sa_fill_album DATA_DIR COUNT JPEG [YEARS]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int count = std::atoi(argv[2]);
  const int years = argc > 4 ? std::atoi(argv[4]) : 10;
  auto jpeg = read_file(argv[3]);
  if (!jpeg.ok() || count <= 0 || years <= 0) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  if (!make_dirs(dir).ok()) return 1;
  auto store = Store::open((fs::path(dir) / "album.db").string());
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return 1;
  }
  const fs::path master = fs::path(dir) / "fill-source.jpg";
  if (!write_file_atomic(master.string(), *jpeg).ok()) return 1;
  const int months = years * 12;
  for (int i = 0; i < count; ++i) {
    // Photo i falls in month (i * months / count), counted back from 2024-12.
    const int m = months - 1 - static_cast<int>(static_cast<long long>(i) * months / count);
    const int year = 2024 - (months - 1 - m) / 12;
    const int month = 12 - (months - 1 - m) % 12;
    const int day = 1 + (i * 7) % 28, hour = (i * 5) % 24, minute = (i * 13) % 60;
    char taken[32];
    std::snprintf(taken, sizeof taken, "%04d-%02d-%02dT%02d:%02d:00", year, month, day, hour, minute);
    PhotoInfo p;
    p.hash = sha256_hex("fill-" + std::to_string(i));
    p.filename = "IMG_" + std::to_string(10000 + i) + ".jpg";
    p.folder = "相册/" + std::to_string(year);
    p.mime = "image/jpeg";
    p.size = static_cast<int64_t>(jpeg->size());
    p.width = 64;
    p.height = 48;
    p.taken_at = taken;
    p.taken_at_source = "exif";
    p.status = PhotoStatus::kNoModel;
    // Hard links to one copy: 20,000 files in a second instead of 20,000 fsyncs.
    for (const std::string& rel : {original_rel_path(p.hash, "jpg"), thumbnail_rel_path(p.hash)}) {
      const fs::path f = fs::path(dir) / rel;
      std::error_code ec;
      fs::create_directories(f.parent_path(), ec);
      fs::create_hard_link(master, f, ec);
      if (ec && !fs::exists(f)) {
        std::fprintf(stderr, "%s: %s\n", f.c_str(), ec.message().c_str());
        return 1;
      }
    }
    auto r = (*store)->insert_photo(p);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().to_string().c_str());
      return 1;
    }
  }
  std::printf("%d\n", count);
  return 0;
}
