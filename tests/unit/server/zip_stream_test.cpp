// ZipStream: archives read back with minizip's unzip are byte-identical to the
// files, names are kept (UTF-8) with (1), (2) for clashes, and the bytes reach
// the sink while the archive is being written.
#include "server/zip_stream.h"

#include <gtest/gtest.h>
#include <minizip/unzip.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace sa {
namespace {

namespace fs = std::filesystem;

class ZipStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sa_zip_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& bytes) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  static std::string random_bytes(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }
  // Reads every entry of a ZIP held in memory (minizip's unzip over a temp file).
  std::map<std::string, std::string> unzip_all(const std::string& zip) {
    const std::string p = write("out.zip", zip);
    std::map<std::string, std::string> out;
    unzFile uf = unzOpen64(p.c_str());
    EXPECT_NE(uf, nullptr);
    if (!uf) return out;
    for (int rc = unzGoToFirstFile(uf); rc == UNZ_OK; rc = unzGoToNextFile(uf)) {
      char name[512];
      unz_file_info64 info;
      EXPECT_EQ(unzGetCurrentFileInfo64(uf, &info, name, sizeof name, nullptr, 0, nullptr, 0), UNZ_OK);
      EXPECT_TRUE(info.flag & (1 << 11)) << "UTF-8 flag";
      EXPECT_EQ(unzOpenCurrentFile(uf), UNZ_OK);
      std::string data(info.uncompressed_size, '\0');
      int n = data.empty() ? 0 : unzReadCurrentFile(uf, data.data(), static_cast<unsigned>(data.size()));
      EXPECT_EQ(n, static_cast<int>(data.size()));
      EXPECT_EQ(unzCloseCurrentFile(uf), UNZ_OK) << "CRC check of " << name;
      out[name] = data;
    }
    unzClose(uf);
    return out;
  }
  fs::path dir_;
};

TEST_F(ZipStreamTest, ByteIdenticalEntriesWithUniqueNames) {
  const std::string a = random_bytes(3 << 20, 1), b = random_bytes(12345, 2), c = "";
  const std::string pa = write("a.bin", a), pb = write("b.bin", b), pc = write("c.bin", c);
  std::string zip;
  int calls = 0;
  ZipStream z([&](const char* d, size_t n) {
    zip.append(d, n);
    ++calls;
    return true;
  });
  EXPECT_EQ(z.unique_name("海边.jpg"), "海边.jpg");
  EXPECT_EQ(z.unique_name("海边.jpg"), "海边 (1).jpg");
  EXPECT_EQ(z.unique_name("海边.jpg"), "海边 (2).jpg");
  EXPECT_EQ(z.unique_name("noext"), "noext");
  EXPECT_EQ(z.unique_name("noext"), "noext (1)");
  EXPECT_EQ(z.unique_name("a/b.jpg"), "a_b.jpg");
  ASSERT_TRUE(z.add_file("海边.jpg", pa, 1700000000).ok());
  ASSERT_TRUE(z.add_file("海边 (1).jpg", pb, 1700000000).ok());
  ASSERT_TRUE(z.add_file("empty.jpg", pc, 1700000000).ok());
  ASSERT_TRUE(z.finish().ok());
  EXPECT_EQ(z.bytes_sent(), zip.size());
  EXPECT_GT(calls, 3);
  auto entries = unzip_all(zip);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_TRUE(entries["海边.jpg"] == a);
  EXPECT_TRUE(entries["海边 (1).jpg"] == b);
  EXPECT_TRUE(entries["empty.jpg"].empty());
}

TEST_F(ZipStreamTest, BytesLeaveBeforeTheEntryIsClosed) {
  // An 8 MiB file: most of it must reach the sink before add_file returns,
  // i.e. nothing holds a whole entry back.
  const std::string big = random_bytes(8 << 20, 3);
  const std::string p = write("big.bin", big);
  size_t max_gap = 0, total = 0;
  ZipStream z([&](const char* d, size_t n) {
    total += n;
    max_gap = std::max(max_gap, n);
    return true;
  });
  ASSERT_TRUE(z.add_file("big.jpg", p, 0).ok());
  ASSERT_TRUE(z.finish().ok());
  EXPECT_GT(total, big.size());
  EXPECT_LE(max_gap, size_t(2) << 20) << "one sink write carried most of the file";
}

TEST_F(ZipStreamTest, AClientThatGoesAwayStopsTheArchive) {
  const std::string p = write("big.bin", random_bytes(4 << 20, 4));
  size_t got = 0;
  ZipStream z([&](const char*, size_t n) {
    got += n;
    return got < (1 << 20);  // the client hangs up after ~1 MiB
  });
  Status s = z.add_file("x.jpg", p, 0);
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s.to_string();
  EXPECT_FALSE(z.add_file("y.jpg", p, 0).ok());
  EXPECT_LT(got, size_t(3) << 20);
}

TEST_F(ZipStreamTest, MissingFileIsNotFound) {
  ZipStream z([](const char*, size_t) { return true; });
  EXPECT_EQ(z.add_file("x.jpg", (dir_ / "nope").string(), 0).code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sa
