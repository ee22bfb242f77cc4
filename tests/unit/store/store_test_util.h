// Shared fixtures for the store tests: a fresh database file per test.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "store/store.h"

namespace sa::testing {

// A unique temporary directory, removed on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("sa_store_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline PhotoInfo make_photo(const std::string& hash, const std::string& filename = "a.jpg") {
  PhotoInfo p;
  p.hash = hash;
  p.filename = filename;
  p.folder = "trip/day1";
  p.mime = "image/jpeg";
  p.size = 1234;
  p.width = 640;
  p.height = 480;
  p.taken_at = "2023-01-22T10:00:00";
  p.camera = "Canon EOS R5";
  p.gps_lat = 31.23;
  p.gps_lon = 121.47;
  return p;
}

// Inserts a photos row with only the columns every schema version has, through
// a second connection: for tests that build a database at an older version
// (Store::insert_photo writes the newest schema's columns).
inline int64_t insert_legacy_photo(const std::string& db_path, const std::string& hash,
                                   const std::string& filename, const std::string& taken_at = "",
                                   const std::string& added_at = "2022-05-01T08:00:00Z") {
  auto db = Db::open(db_path);
  EXPECT_TRUE(db.ok()) << db.status().to_string();
  if (!db.ok()) return 0;
  auto st = db->prepare(
      "INSERT INTO photos(hash, filename, folder, mime, taken_at, added_at) "
      "VALUES (?, ?, 'trip/day1', 'image/jpeg', ?, ?)");
  EXPECT_TRUE(st.ok()) << st.status().to_string();
  if (!st.ok()) return 0;
  st->bind(1, hash).bind(2, filename).bind(3, taken_at).bind(4, added_at);
  Status r = st->run();
  EXPECT_TRUE(r.ok()) << r.to_string();
  return db->last_insert_rowid();
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.file("album.db");
    auto s = Store::open(path_);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  void reopen(const StoreOptions& opt = {}) {
    store_.reset();
    auto s = Store::open(path_, opt);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(s).value();
  }
  int64_t add(const std::string& hash, const std::string& filename = "a.jpg") {
    auto r = store_->insert_photo(make_photo(hash, filename));
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? r->id : 0;
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
};

}  // namespace sa::testing
