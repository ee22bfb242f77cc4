#include "ingest/safe_name.h"

#include <gtest/gtest.h>

#include <random>

#include <nlohmann/json.hpp>

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
  EXPECT_EQ(n.filename, "\uFFFD\uFFFD照片.jpg");
  n = sanitize_upload_name("旅行/海边 日落.jpg");
  EXPECT_EQ(n.folder, "旅行");
  EXPECT_EQ(n.filename, "海边 日落.jpg");
}

// What a JSON reply shows for raw bytes (the server dumps with replace).
std::string as_json_shows(const std::string& raw) {
  return nlohmann::json::parse(nlohmann::json(raw).dump(-1, ' ', false,
                                                        nlohmann::json::error_handler_t::replace))
      .get<std::string>();
}

// Throws (type_error 316) on invalid UTF-8, like a strict JSON writer would.
bool is_valid_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

TEST(SafeName, OverlongFormsAndSurrogatesAreReplaced) {
  const std::string r = "\uFFFD";
  struct Case {
    std::string raw, want;
  } cases[] = {
      {"a\xED\xA0\x80.jpg", "a" + r + r + r + ".jpg"},       // U+D800, a UTF-16 surrogate
      {"a\xED\xBF\xBF.jpg", "a" + r + r + r + ".jpg"},       // U+DFFF
      {"a\xE0\x80\x80.jpg", "a" + r + r + r + ".jpg"},       // overlong U+0000
      {"a\xF0\x80\x80\x80.jpg", "a" + r + r + r + r + ".jpg"},  // overlong U+0000
      {"a\xC0\x80.jpg", "a" + r + r + ".jpg"},               // overlong NUL
      {"a\xC1\xBF.jpg", "a" + r + r + ".jpg"},               // overlong U+007F
      {"a\xF4\x90\x80\x80.jpg", "a" + r + r + r + r + ".jpg"},  // above U+10FFFF
      {"a\xE2\x82.jpg", "a" + r + ".jpg"},  // truncated: one U+FFFD for the subpart
      {"a.jpg\xE6\x97", "a.jpg" + r},
      {"\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80\xF4\x8F\xBF\xBF",  // neighbours stay
       "\uD7FF\uE000\U00010000\U0010FFFF"},
  };
  for (const auto& c : cases) {
    const std::string got = sanitize_upload_name(c.raw).filename;
    EXPECT_EQ(got, c.want) << ::testing::PrintToString(c.raw);
    EXPECT_TRUE(is_valid_utf8(got)) << ::testing::PrintToString(c.raw);
    // The stored name is what the upload reply (raw name, dumped with replace) showed.
    EXPECT_EQ(got, as_json_shows(c.raw)) << ::testing::PrintToString(c.raw);
  }
  SafeName n = sanitize_upload_name("\xED\xA0\x80/\xC0\xAF..\xC0\xAF/x.jpg");
  EXPECT_EQ(n.folder, r + r + r + "/" + r + r + ".." + r + r);
  EXPECT_EQ(n.filename, "x.jpg");
}

TEST(SafeName, ArbitraryBytesAlwaysGiveValidUtf8) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255), len(0, 40);
  for (int iter = 0; iter < 5000; ++iter) {
    std::string raw;
    for (int i = len(rng); i > 0; --i) raw.push_back(static_cast<char>(byte(rng)));
    const SafeName n = sanitize_upload_name(raw);
    ASSERT_TRUE(is_valid_utf8(n.filename)) << ::testing::PrintToString(raw);
    ASSERT_TRUE(is_valid_utf8(n.folder)) << ::testing::PrintToString(raw);
    ASSERT_FALSE(n.filename.empty());
  }
}

TEST(SafeName, LongNamesKeepTheirExtension) {
  const std::string stem(300, 'a');
  SafeName n = sanitize_upload_name("trip/" + stem + ".jpeg");
  EXPECT_EQ(n.folder, "trip");
  EXPECT_EQ(n.filename, std::string(250, 'a') + ".jpeg");
  // Multi-byte stem: cut before a whole character, extension kept.
  std::string cats;
  for (int i = 0; i < 100; ++i) cats += "猫";  // 300 bytes
  n = sanitize_upload_name(cats + ".jpg");
  EXPECT_EQ(n.filename, cats.substr(0, 83 * 3) + ".jpg");  // 251 bytes left for the stem
  EXPECT_EQ(n.filename.size(), 253u);
  EXPECT_TRUE(is_valid_utf8(n.filename));
  // A 4-byte character at the cut.
  std::string emoji;
  for (int i = 0; i < 70; ++i) emoji += "\U0001F600";  // 280 bytes
  n = sanitize_upload_name(emoji + ".png");
  EXPECT_EQ(n.filename, emoji.substr(0, 62 * 4) + ".png");
  EXPECT_TRUE(is_valid_utf8(n.filename));
  // Exactly 255 bytes is left alone; 256 loses one stem byte.
  n = sanitize_upload_name(std::string(251, 'b') + ".jpg");
  EXPECT_EQ(n.filename.size(), 255u);
  n = sanitize_upload_name(std::string(252, 'b') + ".jpg");
  EXPECT_EQ(n.filename, std::string(251, 'b') + ".jpg");
  // No usable extension (a dot file, or an "extension" longer than a name part):
  // plain cut on a code point.
  n = sanitize_upload_name("." + std::string(300, 'c'));
  EXPECT_EQ(n.filename, "." + std::string(254, 'c'));
  n = sanitize_upload_name("x." + cats);
  EXPECT_EQ(n.filename, "x." + cats.substr(0, 84 * 3));
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
}

}  // namespace
}  // namespace sa

namespace sa {
namespace {

// Issue 11, item 11: bidi controls would make "\u202Egnp.exe" display as "exe.png".
TEST(SafeName, BidiControlsAreStripped) {
  EXPECT_EQ(sanitize_upload_name("\xE2\x80\xAEgnp.exe").filename, "gnp.exe");
  for (const char* ctl : {"\xE2\x80\xAA", "\xE2\x80\xAB", "\xE2\x80\xAC", "\xE2\x80\xAD",
                          "\xE2\x80\xAE", "\xE2\x81\xA6", "\xE2\x81\xA7", "\xE2\x81\xA8",
                          "\xE2\x81\xA9", "\xE2\x80\x8E", "\xE2\x80\x8F", "\xD8\x9C",
                          "\xC2\x85"}) {
    SafeName n = sanitize_upload_name(std::string("trip") + ctl + "/a" + ctl + "b.jpg");
    EXPECT_EQ(n.folder, "trip") << ctl;
    EXPECT_EQ(n.filename, "ab.jpg") << ctl;
  }
  // Neighbours that are ordinary text stay: U+2010 hyphen, U+2070 superscript zero, 猫.
  EXPECT_EQ(sanitize_upload_name("a\xE2\x80\x90" "b\xE2\x81\xB0猫.png").filename,
            "a\xE2\x80\x90" "b\xE2\x81\xB0猫.png");
}

}  // namespace
}  // namespace sa
