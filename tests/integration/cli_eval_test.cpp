// `smart-album eval` as a user runs it: the --json shapes of both modes, agreement
// with the plain-text output, and one-line failures for bad input.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/file_util.h"

namespace sa {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kData = SA_TEST_DATA;
const std::string kBin = SA_BINARY;
const std::string kModel = kData + "/clip/tiny-b16/clip_cn_tiny-b16.pt";
const std::string kImages = kData + "/images";

struct CmdResult {
  int rc = -1;
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class CliEval : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sa_cli_eval_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  CmdResult run(const std::vector<std::string>& args) {
    std::string cmd = quote(kBin);
    for (const auto& a : args) cmd += " " + quote(a);
    const std::string out = (dir_ / "stdout").string(), err = (dir_ / "stderr").string();
    cmd += " >" + quote(out) + " 2>" + quote(err) + " </dev/null";
    const int status = std::system(cmd.c_str());
    CmdResult r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = read_file(out).ok() ? *read_file(out) : "";
    r.err = read_file(err).ok() ? *read_file(err) : "";
    return r;
  }

  fs::path dir_;
};

TEST_F(CliEval, CaptionsJsonHasTheDocumentedShape) {
  const std::string captions = write("captions.json", json{
      {"pokemon.jpeg", {"杰尼龟", "皮卡丘"}},
      {"chelsea.png", "一只猫"},
      {"coffee.png", {"一杯“热”咖啡"}},
      {"camera.png", "黑白照片里拿着相机的人"},
  }.dump());
  CmdResult r = run({"eval", "--model", kModel, "--captions", captions, "--json", kImages});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 3u);
  double sum = 0;
  for (const char* dir : {"text_to_image", "image_to_text"}) {
    ASSERT_TRUE(j.contains(dir)) << r.out;
    ASSERT_EQ(j[dir].size(), 3u);
    for (const char* k : {"r1", "r5", "r10"}) {
      const double v = j[dir][k].get<double>();
      EXPECT_GE(v, 0.0);
      EXPECT_LE(v, 100.0);
      sum += v;
    }
    // Four images in the gallery: everything is found within 5.
    EXPECT_DOUBLE_EQ(j[dir]["r5"].get<double>(), 100.0);
    EXPECT_LE(j[dir]["r1"].get<double>(), j[dir]["r5"].get<double>());
  }
  EXPECT_NEAR(j["mean_recall"].get<double>(), sum / 6, 1e-9);
  EXPECT_EQ(r.out.find("{\"text_to_image\":"), 0u) << "documented key order";

  CmdResult text = run({"eval", "--model", kModel, "--captions", captions, kImages});
  ASSERT_EQ(text.rc, 0) << text.err;
  char r1[32];
  std::snprintf(r1, sizeof(r1), "R@1 %.2f", j["text_to_image"]["r1"].get<double>());
  EXPECT_NE(text.out.find(std::string("text-to-image  ") + r1), std::string::npos) << text.out;
}

TEST_F(CliEval, ZeroShotJsonHasTopOneAndFive) {
  const std::string labels = write("labels.txt", "猫\n咖啡\n相机\n杰尼龟\n狗\n日落\n鱼\n");
  const std::string templates = write("templates.txt", "{}的照片。\n一张{}的图片。\n");
  const std::string truth =
      write("truth.json", R"({"camera.png": 2, "chelsea.png": 0, "coffee.png": 1, "pokemon.jpeg": 3})");
  CmdResult r = run({"eval", "--model", kModel, "--labels", labels, "--templates", templates, "--truth", truth,
               "--json", kImages});
  ASSERT_EQ(r.rc, 0) << r.err;
  const json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_LE(j["top1"].get<double>(), j["top5"].get<double>());
  EXPECT_GE(j["top1"].get<double>(), 0.0);
  EXPECT_LE(j["top5"].get<double>(), 100.0);
  // Without --templates one prompt per class is used; still a valid result.
  CmdResult plain = run({"eval", "--model", kModel, "--labels", labels, "--truth", truth, "--json", kImages});
  ASSERT_EQ(plain.rc, 0) << plain.err;
  EXPECT_TRUE(json::parse(plain.out).contains("top5"));
}

// --precision reaches the model: int8 runs the engine's self-check (and int8 when it
// passes), fp32 does not; both give a whole result.
TEST_F(CliEval, PrecisionFlagIsApplied) {
  const std::string captions = write("captions_p.json", json{
      {"pokemon.jpeg", "杰尼龟"}, {"chelsea.png", "一只猫"}, {"coffee.png", "一杯咖啡"}, {"camera.png", "相机"},
  }.dump());
  CmdResult fp32 = run({"eval", "--model", kModel, "--precision", "fp32", "--captions", captions, "--json", kImages});
  ASSERT_EQ(fp32.rc, 0) << fp32.err;
  EXPECT_NE(fp32.err.find("ran fp32\n"), std::string::npos) << fp32.err;
  CmdResult int8 = run({"eval", "--model", kModel, "--precision", "int8", "--captions", captions, "--json", kImages});
  ASSERT_EQ(int8.rc, 0) << int8.err;
  const bool ran = int8.err.find("ran int8 (") != std::string::npos ||
                   int8.err.find("ran fp32 (int8 refused") != std::string::npos;
  EXPECT_TRUE(ran) << int8.err;
  for (const CmdResult* r : {&fp32, &int8}) {
    const json j = json::parse(r->out);
    EXPECT_DOUBLE_EQ(j["text_to_image"]["r5"].get<double>(), 100.0) << r->out;
  }
}

TEST_F(CliEval, BadInputFailsWithOneLine) {
  const std::string truth = write("truth.json", R"({"camera.png": 9})");
  const std::string labels = write("labels.txt", "猫\n狗\n");
  const std::string missing = write("captions.json", R"({"nope.jpg": "猫"})");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"eval", "--model", kModel, "--labels", labels, "--truth", truth, kImages},
           {"eval", "--model", kModel, "--captions", missing, kImages},
           {"eval", "--model", kModel, kImages},
           {"eval", "--model", kModel, "--labels", labels, kImages},
       }) {
    CmdResult r = run(args);
    EXPECT_NE(r.rc, 0);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace sa
