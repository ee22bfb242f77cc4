#include "ingest/safe_name.h"

#include <gtest/gtest.h>

namespace sa {
namespace {

TEST(SafeName, KeepsRelativeFolderAndBaseName) {
  SafeName n = sanitize_upload_name("trip/day1/a.jpg");
  EXPECT_EQ(n.folder, "trip/day1");
  EXPECT_EQ(n.filename, "a.jpg");
  n = sanitize_upload_name("b.png");
  EXPECT_EQ(n.folder, "");
  EXPECT_EQ(n.filename, "b.png");
}

TEST(SafeName, DropsTraversalAbsoluteAndBackslashes) {
  SafeName n = sanitize_upload_name("../../etc/passwd");
  EXPECT_EQ(n.folder, "etc");
  EXPECT_EQ(n.filename, "passwd");
  n = sanitize_upload_name("/etc/shadow");
  EXPECT_EQ(n.folder, "etc");
  EXPECT_EQ(n.filename, "shadow");
  n = sanitize_upload_name("C:\\Users\\me\\..\\Pictures\\.\\x.jpg");
  EXPECT_EQ(n.folder, "Users/me/Pictures");
  EXPECT_EQ(n.filename, "x.jpg");
  n = sanitize_upload_name("a//b///c.jpg");
  EXPECT_EQ(n.folder, "a/b");
  EXPECT_EQ(n.filename, "c.jpg");
}

TEST(SafeName, NothingUsableBecomesUnnamed) {
  EXPECT_EQ(sanitize_upload_name("").filename, "unnamed");
  EXPECT_EQ(sanitize_upload_name("../..").filename, "unnamed");
  EXPECT_EQ(sanitize_upload_name("/").filename, "unnamed");
  EXPECT_EQ(sanitize_upload_name("..\\..\\").folder, "");
}

TEST(SafeName, ControlCharsAndBadUtf8AreCleaned) {
  SafeName n = sanitize_upload_name(std::string("a\nb\x01\x7f.jpg"));
  EXPECT_EQ(n.filename, "ab.jpg");
  n = sanitize_upload_name(std::string("\xff\xfe") + "照片.jpg");
  EXPECT_EQ(n.filename, "??照片.jpg");
  n = sanitize_upload_name("旅行/海边 日落.jpg");
  EXPECT_EQ(n.folder, "旅行");
  EXPECT_EQ(n.filename, "海边 日落.jpg");
}

TEST(SafeName, LongComponentsAreCappedOnACodePoint) {
  std::string longname;
  for (int i = 0; i < 200; ++i) longname += "猫";  // 600 bytes
  SafeName n = sanitize_upload_name(longname);
  EXPECT_LE(n.filename.size(), 255u);
  EXPECT_EQ(n.filename.size() % 3, 0u);
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "d/";
  n = sanitize_upload_name(deep + "f.jpg");
  EXPECT_EQ(n.filename, "f.jpg");
  EXPECT_EQ(std::count(n.folder.begin(), n.folder.end(), '/'), 15);
}

TEST(SafeName, PathsComeFromTheHashOnly) {
  std::string h(64, 'a');
  h[0] = '3';
  h[1] = 'f';
  EXPECT_EQ(original_rel_path(h, "jpg"), "originals/3f/" + h + ".jpg");
  EXPECT_EQ(thumbnail_rel_path(h), "thumbnails/3f/" + h + ".jpg");
  EXPECT_TRUE(is_sha256_hex(h));
  EXPECT_FALSE(is_sha256_hex("../" + h.substr(3)));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'A')));
  EXPECT_EQ(extension_for_format("jpeg"), "jpg");
  EXPECT_EQ(extension_for_format("png"), "png");
  EXPECT_EQ(extension_for_format("weird"), "bin");
}

}  // namespace
}  // namespace sa
