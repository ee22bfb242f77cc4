#include <gtest/gtest.h>

#include <filesystem>

#include "core/file_util.h"
#include "core/sha256.h"
#include "core/status.h"

namespace sa {
namespace {

TEST(Status, CarriesCodeAndContext) {
  Status s = Status::Corruption("bad header");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.to_string(), "corruption: bad header");
  EXPECT_EQ(s.with_context("model.pt").message(), "model.pt: bad header");
  EXPECT_TRUE(Status::OK().with_context("x").ok());
}

Result<int> half(int x) {
  if (x % 2) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> quarter(int x) {
  SA_ASSIGN_OR_RETURN(int h, half(x));
  return half(h);
}

TEST(Result, PropagatesErrors) {
  EXPECT_EQ(quarter(8).value(), 2);
  EXPECT_EQ(quarter(6).status().code(), StatusCode::kInvalidArgument);
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(FileUtil, AtomicWriteReadMmap) {
  auto dir = std::filesystem::temp_directory_path() / ("sa_core_test_" + std::to_string(::getpid()));
  ASSERT_TRUE(make_dirs(dir.string()).ok());
  std::string path = (dir / "f.bin").string();
  ASSERT_TRUE(write_file_atomic(path, "hello").ok());
  ASSERT_TRUE(write_file_atomic(path, "world!").ok());
  auto r = read_file(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "world!");
  auto m = MappedFile::open(path);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data()), m->size()), "world!");
  EXPECT_EQ(read_file(path, 3).status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(read_file((dir / "missing").string()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(MappedFile::open((dir / "missing").string()).status().code(), StatusCode::kNotFound);
  // No temporary files left behind.
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) { (void)e; ++n; }
  EXPECT_EQ(n, 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sa
