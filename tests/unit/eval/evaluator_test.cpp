// The whole eval path on the test model and the test photos: files decoded and
// embedded by the engine, scored by eval/metrics, compared with the reference count
// over the embeddings cn_clip itself computed (golden.json).
#include "eval/evaluator.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "eval_reference.h"
#include "model/chinese_clip.h"

namespace sa::eval {
namespace {

using evaltest::Matrix;

const std::string kModelDir = std::string(SA_TEST_DATA) + "/clip/tiny-b16";
const std::string kImages = std::string(SA_TEST_DATA) + "/images";

class EvaluatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(image_init().ok());
    auto c = ChineseClip::load(kModelDir + "/clip_cn_tiny-b16.pt");
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    clip_ = std::move(*c).release();
    std::ifstream f(kModelDir + "/golden.json");
    const auto j = nlohmann::json::parse(f);
    for (const auto& im : j["images"]) {
      golden_image_[im["file"].get<std::string>()] =
          evaltest::ref_normalized(im["embedding"].get<std::vector<float>>());
    }
    for (const auto& t : j["texts"]) {
      golden_text_[t["text"].get<std::string>()] = evaltest::ref_normalized(t["embedding"].get<std::vector<float>>());
    }
  }
  static void TearDownTestSuite() { delete clip_; }

  static ChineseClip* clip_;
  static std::map<std::string, std::vector<float>> golden_image_, golden_text_;
};
ChineseClip* EvaluatorTest::clip_ = nullptr;
std::map<std::string, std::vector<float>> EvaluatorTest::golden_image_, EvaluatorTest::golden_text_;

double cosine(const float* a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < b.size(); ++i) s += double(a[i]) * b[i];
  return s;  // both unit length
}

TEST_F(EvaluatorTest, ImageRowsAreTheGoldenEmbeddings) {
  std::vector<std::string> names, paths;
  for (const auto& [file, emb] : golden_image_) {
    names.push_back(file);
    paths.push_back(kImages + "/" + file);
  }
  EvalOptions opt;
  opt.image_batch = 3;  // several batches, the last one short
  int calls = 0;
  opt.progress = [&](std::string_view stage, int done, int total) {
    EXPECT_EQ(stage, "images");
    EXPECT_EQ(total, static_cast<int>(paths.size()));
    ++calls;
  };
  auto emb = embed_image_files(*clip_, paths, opt);
  ASSERT_TRUE(emb.ok()) << emb.status().to_string();
  EXPECT_EQ(calls, 3);
  const int dim = clip_->embed_dim();
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_GE(cosine(emb->data() + i * dim, golden_image_[names[i]]), 0.9999) << names[i];
  }
}

TEST_F(EvaluatorTest, CaptionsScoreAsTheReferenceOnGoldenEmbeddings) {
  // 3-4 captions for some images, one for others; the gallery is every test photo.
  const nlohmann::json captions_json = {
      {"pokemon.jpeg", {"杰尼龟", "妙蛙种子", "小火龙", "皮卡丘"}},
      {"chelsea.png", {"一只猫", "🐱猫咪🐶", "猫が好きです"}},
      {"coffee.png", "一杯咖啡"},
      {"camera.png", {"黑白照片里拿着相机的人", "iPhone 15 Pro 拍摄的照片"}},
      {"coffee_q90.jpg", {"café naïve résumé", "3.14159 和 1,000,000 元"}},
      {"chelsea_exif6.jpg", {"고양이 사진", "A photo of a dog", "海边的日落"}},
      {"chelsea_small.png", {"2023年春节全家福", "我和朋友在北京天安门前的合影", "ＡＢＣ１２３全角字符"}},
  };
  auto set = parse_captions(captions_json.dump());
  ASSERT_TRUE(set.ok());
  auto r = evaluate_captions(*clip_, kImages, *set, EvalOptions{});
  ASSERT_TRUE(r.ok()) << r.status().to_string();

  Matrix images, texts;
  for (const auto& name : set->images) images.push_back(golden_image_.at(name));
  for (const auto& t : set->texts) texts.push_back(golden_text_.at(t));
  const auto [t2i, i2t] = evaltest::ref_retrieval(images, texts, set->text_image);
  EXPECT_DOUBLE_EQ(r->text_to_image.r1, t2i.r1);
  EXPECT_DOUBLE_EQ(r->text_to_image.r5, t2i.r5);
  EXPECT_DOUBLE_EQ(r->text_to_image.r10, t2i.r10);
  EXPECT_DOUBLE_EQ(r->image_to_text.r1, i2t.r1);
  EXPECT_DOUBLE_EQ(r->image_to_text.r5, i2t.r5);
  EXPECT_DOUBLE_EQ(r->image_to_text.r10, i2t.r10);
  EXPECT_EQ(r->n_images, 7);
  EXPECT_EQ(r->n_texts, 18);
}

TEST_F(EvaluatorTest, ZeroShotAveragesTemplatesAsTheReference) {
  const std::vector<std::string> labels = {"猫", "咖啡", "相机", "杰尼龟", "狗", "日落"};
  const std::vector<std::string> templates = {"{}的照片。", "一张{}的图片", "{}"};
  Truth truth;
  truth.images = {"camera.png", "chelsea.png", "coffee.png", "pokemon.jpeg"};
  truth.classes = {2, 0, 1, 3};
  auto r = evaluate_zero_shot(*clip_, kImages, labels, templates, truth, EvalOptions{});
  ASSERT_TRUE(r.ok()) << r.status().to_string();

  // Reference: cn_clip's image embeddings, prompt embeddings one text at a time.
  Matrix images;
  for (const auto& name : truth.images) images.push_back(golden_image_.at(name));
  std::vector<Matrix> class_templates;
  std::vector<float> e(static_cast<size_t>(clip_->embed_dim()));
  for (const auto& label : labels) {
    Matrix rows;
    for (const auto& t : templates) {
      ASSERT_TRUE(clip_->encode_texts({clip_->tokenize(fill_template(t, label))}, e.data()).ok());
      rows.push_back(e);
    }
    class_templates.push_back(rows);
  }
  const auto [top1, top5] = evaltest::ref_zero_shot(images, class_templates, truth.classes);
  EXPECT_DOUBLE_EQ(r->top1, top1);
  EXPECT_DOUBLE_EQ(r->top5, top5);
  EXPECT_EQ(r->n_classes, 6);
}

TEST_F(EvaluatorTest, MissingOrBadImageNamesTheFile) {
  CaptionSet set;
  set.images = {"no_such_photo.jpg"};
  set.texts = {"猫"};
  set.text_image = {0};
  auto r = evaluate_captions(*clip_, kImages, set, EvalOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().to_string().find("no_such_photo.jpg"), std::string::npos);
  set.images = {"../README.md"};
  r = evaluate_captions(*clip_, kImages, set, EvalOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().to_string().find("README.md"), std::string::npos);
}

}  // namespace
}  // namespace sa::eval
