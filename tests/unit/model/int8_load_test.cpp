// The INT8 load from a checkpoint file (ChineseClip::load with kInt8), which
// reads and quantizes tower by tower to bound its memory: it must give the
// same model as quantizing fully loaded weights, refuse an outlier model and
// then read it again in fp32; and the checkpoint writer the tests and
// bench_load_rss use must round-trip.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "model/checkpoint_writer.h"
#include "model/chinese_clip.h"
#include "model/clip_loader.h"
#include "model/random_weights.h"
#include "model_test_util.h"

namespace sa {
namespace {

// tiny_clip_vit with cn_clip's MLP of 4 x width (what model_info.json implies).
ClipWeights tiny(uint64_t seed) {
  VitConfig v = testutil::tiny_clip_vit();
  v.mlp = 4 * v.width;
  return random_clip_weights(v, testutil::tiny_bert(), 16, seed);
}

// The outlier model of Int8SelfCheck.FallsBackToFp32OnOutliers.
ClipWeights tiny_with_outliers() {
  ClipWeights w = tiny(5);
  for (VitBlock& b : w.visual.blocks) {
    b.ln_1.g[3] = 1e4f;
    b.ln_2.g[3] = 1e4f;
    for (int o = 0; o < b.qkv.n_out; ++o) b.qkv.w[static_cast<size_t>(o) * b.qkv.n_in + 3] = 0;
    for (int o = 0; o < b.fc.n_out; ++o) b.fc.w[static_cast<size_t>(o) * b.fc.n_in + 3] = 0;
    for (float& v : b.proj.w) v *= 100.0f;
  }
  return w;
}

struct Embeddings {
  std::vector<float> img, txt;
};

Embeddings embed(const ChineseClip& clip) {
  const int res = clip.image_resolution(), e = clip.embed_dim();
  std::vector<float> px(2 * 3 * static_cast<size_t>(res) * res);
  for (size_t i = 0; i < px.size(); ++i) px[i] = std::sin(0.37f * static_cast<float>(i));
  std::vector<std::vector<int32_t>> ids = {{1, 5, 9, 2}, {1, 30, 40, 50, 60, 2}};
  Embeddings out{std::vector<float>(2 * static_cast<size_t>(e)), std::vector<float>(2 * static_cast<size_t>(e))};
  EXPECT_TRUE(clip.encode_images(px.data(), 2, out.img.data()).ok());
  EXPECT_TRUE(clip.encode_texts(ids, out.txt.data()).ok());
  return out;
}

TEST(Int8Load, FromFileEqualsQuantizingLoadedWeights) {
  testutil::TempDir dir;
  const std::string path = dir.path("tiny.safetensors");
  ASSERT_TRUE(write_clip_checkpoint(tiny(11), path, CheckpointDType::kF32).ok());
  auto from_file = ChineseClip::load(path, "", Precision::kInt8);
  ASSERT_TRUE(from_file.ok()) << from_file.status().to_string();
  auto in_memory = ChineseClip::from_weights(tiny(11), Precision::kInt8);
  ASSERT_TRUE(in_memory.ok());
  const Int8Check& a = (*from_file)->int8_check();
  const Int8Check& b = (*in_memory)->int8_check();
  EXPECT_TRUE(a.ran && a.passed) << a.summary();
  EXPECT_EQ((*from_file)->precision(), Precision::kInt8);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_DOUBLE_EQ(a.worst_cosine, b.worst_cosine);
  const Embeddings ea = embed(**from_file), eb = embed(**in_memory);
  EXPECT_EQ(ea.img, eb.img);
  EXPECT_EQ(ea.txt, eb.txt);
  // Both towers hold INT8 only.
  const ClipWeights& w = (*from_file)->weights();
  EXPECT_TRUE(w.visual.blocks[0].fc.w.empty());
  EXPECT_FALSE(w.visual.blocks[0].fc.q8.empty());
  EXPECT_TRUE(w.visual.patch_embed.w.empty());
  EXPECT_TRUE(w.text.layers[0].inter.w.empty());
  EXPECT_FALSE(w.text.layers[0].inter.q8.empty());
  EXPECT_TRUE(w.text.layers[0].inter.w16.empty());
}

TEST(Int8Load, RefusedModelIsReadAgainInFp32) {
  testutil::TempDir dir;
  const std::string path = dir.path("outliers.safetensors");
  ASSERT_TRUE(write_clip_checkpoint(tiny_with_outliers(), path, CheckpointDType::kF32).ok());
  auto q = ChineseClip::load(path, "", Precision::kInt8);
  auto f = ChineseClip::load(path, "", Precision::kFp32);
  ASSERT_TRUE(q.ok()) << q.status().to_string();
  ASSERT_TRUE(f.ok()) << f.status().to_string();
  const Int8Check& c = (*q)->int8_check();
  EXPECT_TRUE(c.ran);
  EXPECT_FALSE(c.passed) << c.summary();
  EXPECT_LT(c.worst_cosine, kInt8MinCosine);
  EXPECT_EQ((*q)->precision(), Precision::kFp32);
  const Embeddings eq = embed(**q), ef = embed(**f);
  EXPECT_EQ(eq.img, ef.img);
  EXPECT_EQ(eq.txt, ef.txt);
  EXPECT_TRUE((*q)->weights().visual.blocks[0].fc.q8.empty());
}

TEST(CheckpointWriter, HalfBits) {
  EXPECT_EQ(float_to_half_bits(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half_bits(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half_bits(0.0f), 0x0000);
  EXPECT_EQ(float_to_half_bits(-0.0f), 0x8000);
  EXPECT_EQ(float_to_half_bits(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half_bits(65520.0f), 0x7c00);           // rounds up to infinity
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half_bits(std::ldexp(1.0f, -26)), 0x0000);  // below half of it
  EXPECT_EQ(float_to_half_bits(0.1f), 0x2e66);
  EXPECT_EQ(float_to_half_bits(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie to even
  EXPECT_EQ(float_to_half_bits(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_half_bits(INFINITY), 0x7c00);
}

TEST(CheckpointWriter, F16RoundTripsThroughTheLoader) {
  testutil::TempDir dir;
  const std::string path = dir.path("tiny16.safetensors");
  ClipWeights w = tiny(3);
  round_bert_to_fp16(w.text);  // encoder projections exactly representable
  ASSERT_TRUE(write_clip_checkpoint(w, path, CheckpointDType::kF16).ok());
  auto r = load_clip_weights(path);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->text.layers[1].inter.w, w.text.layers[1].inter.w);
  EXPECT_EQ(r->text.layers[0].qkv.w, w.text.layers[0].qkv.w);
  EXPECT_EQ(r->visual.cfg.heads, w.visual.cfg.heads);
  EXPECT_EQ(r->text.cfg.heads, w.text.cfg.heads);
  ASSERT_EQ(r->visual.proj.w.size(), w.visual.proj.w.size());
  for (size_t i = 0; i < w.visual.proj.w.size(); ++i) {
    EXPECT_NEAR(r->visual.proj.w[i], w.visual.proj.w[i], std::fabs(w.visual.proj.w[i]) * 1e-3 + 1e-7);
  }
}

}  // namespace
}  // namespace sa
