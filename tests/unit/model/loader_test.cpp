// CLIP and BERT loaders on the real tiny checkpoints of tests/data: the three
// CLIP layouts must give identical weights; broken copies (made here, in a
// temp dir) must give the right error codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <string>
#include <vector>

#include "model/bert_loader.h"
#include "model/checkpoint.h"
#include "model/clip_loader.h"
#include "model_test_util.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

const std::string kData = SA_TEST_DATA;
const std::string kClipDir = kData + "/clip/tiny-b16";
const std::string kOfficial = kClipDir + "/clip_cn_tiny-b16.pt";
const std::string kHfSt = kClipDir + "/hf-safetensors";
const std::string kHfBin = kClipDir + "/hf-bin";
const std::string kBertMean = kData + "/text/tiny-bert-mean";
const std::string kXlmr = kData + "/text/tiny-xlmr-cls";

using testutil::slurp;
using testutil::TempDir;

// Replaces the first occurrence of `from` by `to` (same length keeps offsets valid).
std::string patched(std::string bytes, const std::string& from, const std::string& to) {
  const size_t at = bytes.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) bytes.replace(at, from.size(), to);
  return bytes;
}

void expect_linear_eq(const Linear& a, const Linear& b, const std::string& what) {
  EXPECT_EQ(a.n_out, b.n_out) << what;
  EXPECT_EQ(a.n_in, b.n_in) << what;
  EXPECT_EQ(a.w.size(), size_t(a.n_out) * a.n_in) << what;
  EXPECT_TRUE(a.w == b.w) << what << ".w";
  EXPECT_TRUE(a.b == b.b) << what << ".b";
}

void expect_ln_eq(const LayerNormW& a, const LayerNormW& b, const std::string& what) {
  EXPECT_TRUE(a.g == b.g) << what << ".g";
  EXPECT_TRUE(a.b == b.b) << what << ".b";
}

void expect_bert_eq(const BertWeights& a, const BertWeights& b) {
  EXPECT_EQ(a.cfg.vocab_size, b.cfg.vocab_size);
  EXPECT_EQ(a.cfg.hidden, b.cfg.hidden);
  EXPECT_EQ(a.cfg.layers, b.cfg.layers);
  EXPECT_EQ(a.cfg.heads, b.cfg.heads);
  EXPECT_EQ(a.cfg.intermediate, b.cfg.intermediate);
  EXPECT_EQ(a.cfg.max_position, b.cfg.max_position);
  EXPECT_EQ(a.cfg.type_vocab_size, b.cfg.type_vocab_size);
  EXPECT_EQ(a.cfg.ln_eps, b.cfg.ln_eps);
  EXPECT_EQ(a.cfg.position_offset, b.cfg.position_offset);
  EXPECT_TRUE(a.word_embeddings == b.word_embeddings);
  EXPECT_TRUE(a.position_embeddings == b.position_embeddings);
  EXPECT_TRUE(a.token_type_embeddings == b.token_type_embeddings);
  expect_ln_eq(a.emb_ln, b.emb_ln, "emb_ln");
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    const std::string l = "text layer " + std::to_string(i);
    expect_linear_eq(a.layers[i].qkv, b.layers[i].qkv, l + " qkv");
    expect_linear_eq(a.layers[i].attn_out, b.layers[i].attn_out, l + " attn_out");
    expect_ln_eq(a.layers[i].attn_ln, b.layers[i].attn_ln, l + " attn_ln");
    expect_linear_eq(a.layers[i].inter, b.layers[i].inter, l + " inter");
    expect_linear_eq(a.layers[i].out, b.layers[i].out, l + " out");
    expect_ln_eq(a.layers[i].out_ln, b.layers[i].out_ln, l + " out_ln");
  }
}

// Everything but logit_scale (see below) must be bit-identical.
void expect_clip_eq(const ClipWeights& a, const ClipWeights& b) {
  EXPECT_EQ(a.embed_dim, b.embed_dim);
  const VitConfig& ca = a.visual.cfg;
  const VitConfig& cb = b.visual.cfg;
  EXPECT_EQ(ca.image_size, cb.image_size);
  EXPECT_EQ(ca.patch_size, cb.patch_size);
  EXPECT_EQ(ca.width, cb.width);
  EXPECT_EQ(ca.layers, cb.layers);
  EXPECT_EQ(ca.heads, cb.heads);
  EXPECT_EQ(ca.mlp, cb.mlp);
  EXPECT_EQ(ca.ln_eps, cb.ln_eps);
  expect_linear_eq(a.visual.patch_embed, b.visual.patch_embed, "patch_embed");
  EXPECT_TRUE(a.visual.class_embedding == b.visual.class_embedding);
  EXPECT_TRUE(a.visual.positional_embedding == b.visual.positional_embedding);
  expect_ln_eq(a.visual.ln_pre, b.visual.ln_pre, "ln_pre");
  ASSERT_EQ(a.visual.blocks.size(), b.visual.blocks.size());
  for (size_t i = 0; i < a.visual.blocks.size(); ++i) {
    const std::string l = "vision block " + std::to_string(i);
    const VitBlock& x = a.visual.blocks[i];
    const VitBlock& y = b.visual.blocks[i];
    expect_ln_eq(x.ln_1, y.ln_1, l + " ln_1");
    expect_linear_eq(x.qkv, y.qkv, l + " qkv");
    expect_linear_eq(x.attn_out, y.attn_out, l + " attn_out");
    expect_ln_eq(x.ln_2, y.ln_2, l + " ln_2");
    expect_linear_eq(x.fc, y.fc, l + " fc");
    expect_linear_eq(x.proj, y.proj, l + " proj");
  }
  expect_ln_eq(a.visual.ln_post, b.visual.ln_post, "ln_post");
  expect_linear_eq(a.visual.proj, b.visual.proj, "visual proj");
  expect_bert_eq(a.text, b.text);
  expect_linear_eq(a.text_proj, b.text_proj, "text_proj");
}

TEST(LoaderClip, OfficialTinyLoadsWithModelInfo) {
  auto w = load_clip_weights(kOfficial);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  EXPECT_EQ(w->arch, "custom");  // matches none of the released architectures
  const VitConfig& v = w->visual.cfg;
  EXPECT_EQ(v.image_size, 224);
  EXPECT_EQ(v.patch_size, 16);
  EXPECT_EQ(v.width, 128);
  EXPECT_EQ(v.layers, 2);
  EXPECT_EQ(v.heads, 2);  // vision_head_width 64
  EXPECT_EQ(v.mlp, 512);
  EXPECT_FLOAT_EQ(v.ln_eps, 1e-5f);
  const BertConfig& t = w->text.cfg;
  EXPECT_EQ(t.vocab_size, 21128);
  EXPECT_EQ(t.hidden, 64);
  EXPECT_EQ(t.layers, 2);
  EXPECT_EQ(t.heads, 2);  // from model_info.json: not derivable from shapes
  EXPECT_EQ(t.intermediate, 256);
  EXPECT_EQ(t.max_position, 512);
  EXPECT_EQ(t.type_vocab_size, 2);
  EXPECT_FLOAT_EQ(t.ln_eps, 1e-12f);
  EXPECT_EQ(t.position_offset, 0);
  EXPECT_EQ(w->embed_dim, 64);
  EXPECT_EQ(w->logit_scale, 2.66015625f);
  EXPECT_EQ(w->visual.patch_embed.n_in, 3 * 16 * 16);
  EXPECT_EQ(w->visual.patch_embed.w.size(), size_t(128) * 768);
  EXPECT_TRUE(w->visual.patch_embed.b.empty());
  EXPECT_EQ(w->visual.positional_embedding.size(), size_t(197) * 128);
  EXPECT_EQ(w->visual.blocks[1].qkv.w.size(), size_t(3) * 128 * 128);
  EXPECT_EQ(w->visual.blocks[1].qkv.b.size(), size_t(3) * 128);
  EXPECT_EQ(w->text.layers[0].qkv.w.size(), size_t(3) * 64 * 64);
  EXPECT_TRUE(w->visual.proj.b.empty());
  EXPECT_TRUE(w->text_proj.b.empty());
  EXPECT_EQ(w->text.word_embeddings.size(), size_t(21128) * 64);
}

TEST(LoaderClip, ThreeLayoutsGiveIdenticalWeights) {
  auto off = load_clip_weights(kOfficial);
  auto st = load_clip_weights(kHfSt);
  auto bin = load_clip_weights(kHfBin);
  auto st_file = load_clip_weights(kHfSt + "/model.safetensors");
  ASSERT_TRUE(off.ok()) << off.status().to_string();
  ASSERT_TRUE(st.ok()) << st.status().to_string();
  ASSERT_TRUE(bin.ok()) << bin.status().to_string();
  ASSERT_TRUE(st_file.ok()) << st_file.status().to_string();
  {
    SCOPED_TRACE("official vs hf-safetensors");
    expect_clip_eq(*off, *st);
  }
  {
    SCOPED_TRACE("official vs hf-bin");
    expect_clip_eq(*off, *bin);
  }
  {
    SCOPED_TRACE("folder vs file path");
    expect_clip_eq(*st, *st_file);
  }
  // The fp16 layouts store logit_scale rounded (as the goldens); the fp32
  // safetensors copy kept 2.6592, within one fp16 step.
  EXPECT_EQ(off->logit_scale, bin->logit_scale);
  EXPECT_NEAR(st->logit_scale, off->logit_scale, 1e-3);
}

TEST(LoaderClip, ProjectionsAndAttentionAreRearrangedCorrectly) {
  auto w = load_clip_weights(kOfficial);
  ASSERT_TRUE(w.ok());
  auto ck = Checkpoint::open(kOfficial);
  auto hf = Checkpoint::open(kHfSt + "/model.safetensors");
  ASSERT_TRUE(ck.ok() && hf.ok());
  // visual.proj [width=128, embed=64] -> Linear [64, 128].
  auto proj = (*ck)->get_tensor("module.visual.proj", {128, 64});
  ASSERT_TRUE(proj.ok());
  for (int r : {0, 5, 127}) {
    for (int c : {0, 7, 63}) EXPECT_EQ(w->visual.proj.w[size_t(c) * 128 + r], (*proj)[size_t(r) * 64 + c]);
  }
  // text_projection [hidden=64, embed=64] -> Linear [64, 64] transposed.
  auto tp = (*ck)->get_tensor("module.text_projection", {64, 64});
  ASSERT_TRUE(tp.ok());
  EXPECT_EQ(w->text_proj.w[size_t(3) * 64 + 10], (*tp)[size_t(10) * 64 + 3]);
  EXPECT_NE((*tp)[size_t(10) * 64 + 3], (*tp)[size_t(3) * 64 + 10]);
  // qkv rows: [0,d) = q, [d,2d) = k, [2d,3d) = v (HF names the parts).
  auto v = (*hf)->get_tensor("vision_model.encoder.layers.1.self_attn.v_proj.weight", {128, 128});
  auto kb = (*hf)->get_tensor("vision_model.encoder.layers.1.self_attn.k_proj.bias", {128});
  ASSERT_TRUE(v.ok() && kb.ok());
  const VitBlock& b = w->visual.blocks[1];
  EXPECT_TRUE(std::equal(v->begin(), v->end(), b.qkv.w.begin() + 2 * 128 * 128));
  EXPECT_TRUE(std::equal(kb->begin(), kb->end(), b.qkv.b.begin() + 128));
  auto q = (*ck)->get_tensor("module.bert.encoder.layer.0.attention.self.query.weight", {64, 64});
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(std::equal(q->begin(), q->end(), w->text.layers[0].qkv.w.begin()));
  // Patch embedding keeps the conv's (c, y, x) order per output channel.
  auto conv = (*ck)->get_tensor("module.visual.conv1.weight", {128, 3, 16, 16});
  ASSERT_TRUE(conv.ok());
  EXPECT_EQ(w->visual.patch_embed.w[size_t(9) * 768 + 2 * 256 + 5 * 16 + 11],
            (*conv)[((size_t(9) * 3 + 2) * 16 + 5) * 16 + 11]);
}

TEST(LoaderClip, ArchitectureResolution) {
  EXPECT_EQ(known_clip_archs(),
            (std::vector<std::string>{"ViT-B-16", "ViT-L-14", "ViT-L-14-336", "ViT-H-14"}));
  auto h = clip_arch_spec("ViT-H-14");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->vision.width, 1280);
  EXPECT_EQ(h->vision.heads, 16);  // head width 80
  EXPECT_EQ(h->vision.layers, 32);
  EXPECT_EQ(h->text.hidden, 1024);
  EXPECT_EQ(h->text.layers, 24);
  EXPECT_EQ(h->embed_dim, 1024);
  auto l336 = clip_arch_spec("vit-l-14-336");
  ASSERT_TRUE(l336.ok());
  EXPECT_EQ(l336->vision.image_size, 336);
  EXPECT_EQ(l336->vision.n_tokens(), 577);
  EXPECT_EQ(clip_arch_spec("RN50").status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(clip_arch_spec("ViT-Q-99").status().code(), StatusCode::kInvalidArgument);

  // An explicit arch that does not match the tensors is refused, naming the field.
  auto wrong = load_clip_weights(kOfficial, "ViT-B-16");
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(wrong.status().message().find("vision width 128"), std::string::npos)
      << wrong.status().message();
  EXPECT_EQ(load_clip_weights(kOfficial, "RN50").status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(load_clip_weights(kOfficial, "nonsense").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(load_clip_weights(kHfSt, "ViT-L-14").status().code(), StatusCode::kInvalidArgument);

  TempDir tmp;
  const std::string pt = slurp(kOfficial);
  // File name alone -> ViT-B-16, which the tiny tensors contradict.
  auto by_name = load_clip_weights(tmp.write("named/clip_cn_vit-b-16.pt", pt));
  EXPECT_EQ(by_name.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(load_clip_weights(tmp.write("rn/clip_cn_rn50.pt", pt)).status().code(),
            StatusCode::kUnimplemented);
  // No hints at all: shapes from the tensors, head width 64 by default.
  auto bare = load_clip_weights(tmp.write("bare/tiny.pt", pt));
  ASSERT_TRUE(bare.ok()) << bare.status().to_string();
  EXPECT_EQ(bare->arch, "custom");
  EXPECT_EQ(bare->visual.cfg.width, 128);
  EXPECT_EQ(bare->visual.cfg.heads, 2);
  EXPECT_EQ(bare->text.cfg.heads, 1);  // 64 / 64: the real 2 heads need model_info.json
  // RN50 model_info beside the file.
  tmp.write("rninfo/m.pt", pt);
  tmp.write("rninfo/model_info.json",
            R"({"embed_dim": 1024, "image_resolution": 224, "vision_layers": "[3,4,6,3]",
                "vision_width": 64, "vision_patch_size": null})");
  EXPECT_EQ(load_clip_weights(tmp.path("rninfo/m.pt")).status().code(), StatusCode::kUnimplemented);
}

TEST(LoaderCorrupt, MissingTensorIsNamed) {
  TempDir tmp;
  {  // safetensors header: rename a tensor (same length keeps offsets valid)
    const std::string st = slurp(kHfSt + "/model.safetensors");
    const std::string dir = tmp.copy_dir(kHfSt, "st", "model.safetensors",
                                         patched(st, "\"vision_model.encoder.layers.1.mlp.fc2.bias\"",
                                                 "\"vision_model.encoder.layers.1.mlp.fc2.bia_\""));
    auto r = load_clip_weights(dir);
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    EXPECT_NE(r.status().message().find("vision_model.encoder.layers.1.mlp.fc2.bias"),
              std::string::npos)
        << r.status().message();
  }
  {  // official pickle: rename a key
    const std::string pt = slurp(kOfficial);
    auto r = load_clip_weights(
        tmp.write("pt/clip.pt", patched(pt, "module.logit_scale", "module.logit_scal_")));
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
    EXPECT_NE(r.status().message().find("logit_scale"), std::string::npos) << r.status().message();
  }
}

TEST(LoaderCorrupt, WrongShapeIsNamed) {
  TempDir tmp;
  const std::string st = slurp(kHfSt + "/model.safetensors");
  // fc2 of layer 0 stored [512, 128] instead of [128, 512] (same byte size).
  const std::string key = "\"vision_model.encoder.layers.0.mlp.fc2.weight\":{\"dtype\":\"F32\",\"shape\":[";
  const size_t at = st.find(key);
  ASSERT_NE(at, std::string::npos);
  std::string b = st;
  ASSERT_EQ(b.substr(at + key.size(), 7), "128,512");
  b.replace(at + key.size(), 7, "512,128");
  auto r = load_clip_weights(tmp.copy_dir(kHfSt, "shape", "model.safetensors", b));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("vision_model.encoder.layers.0.mlp.fc2.weight"),
            std::string::npos)
      << r.status().message();
  // visual_projection transposed: contradicts projection_dim in config.json.
  auto r2 = load_clip_weights(tmp.copy_dir(
      kHfSt, "proj", "model.safetensors",
      patched(st, "\"visual_projection.weight\":{\"dtype\":\"F32\",\"shape\":[64,128]",
              "\"visual_projection.weight\":{\"dtype\":\"F32\",\"shape\":[128,64]")));
  EXPECT_EQ(r2.status().code(), StatusCode::kInvalidArgument);
}

TEST(LoaderCorrupt, FoldersAndFiles) {
  TempDir tmp;
  fs::create_directories(tmp.path("empty"));
  auto no_cfg = load_clip_weights(tmp.path("empty"));
  EXPECT_EQ(no_cfg.status().code(), StatusCode::kNotFound);
  EXPECT_NE(no_cfg.status().message().find("config.json"), std::string::npos);
  EXPECT_EQ(load_bert_weights(tmp.path("empty")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(load_clip_weights(tmp.path("nothing-here")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(load_bert_weights(tmp.path("nothing-here")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(load_bert_weights(kBertMean + "/config.json").status().code(), StatusCode::kNotFound);
  // config.json but no weights file.
  tmp.write("cfg_only/config.json", slurp(kHfSt + "/config.json"));
  EXPECT_EQ(load_clip_weights(tmp.path("cfg_only")).status().code(), StatusCode::kNotFound);
  // Malformed config.json.
  auto bad_json = load_clip_weights(tmp.copy_dir(kHfSt, "badjson", "config.json", "{\"vision_config\": "));
  EXPECT_EQ(bad_json.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad_json.status().message().find("config.json"), std::string::npos);
  // 0-byte and truncated weights.
  EXPECT_EQ(load_clip_weights(tmp.write("zero/clip_cn_vit-b-16.pt", "")).status().code(),
            StatusCode::kCorruption);
  const std::string pt = slurp(kOfficial);
  EXPECT_EQ(load_clip_weights(tmp.write("half/m.pt", pt.substr(0, pt.size() / 2))).status().code(),
            StatusCode::kCorruption);
  const std::string xb = slurp(kXlmr + "/pytorch_model.bin");
  EXPECT_EQ(load_bert_weights(tmp.copy_dir(kXlmr, "xcut", "pytorch_model.bin",
                                           xb.substr(0, xb.size() - 100)))
                .status()
                .code(),
            StatusCode::kCorruption);
  // A text model is not a CLIP model.
  auto text_as_clip = load_clip_weights(kBertMean);
  EXPECT_FALSE(text_as_clip.ok());
}

TEST(LoaderBert, TinyBertMean) {
  auto w = load_bert_weights(kBertMean);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  const BertConfig& c = w->cfg;
  EXPECT_EQ(c.vocab_size, 21128);
  EXPECT_EQ(c.hidden, 96);
  EXPECT_EQ(c.layers, 2);
  EXPECT_EQ(c.heads, 3);
  EXPECT_EQ(c.intermediate, 384);
  EXPECT_EQ(c.max_position, 512);
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_FLOAT_EQ(c.ln_eps, 1e-12f);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.position_offset, 0);
  ASSERT_EQ(w->layers.size(), 2u);
  EXPECT_EQ(w->layers[1].qkv.w.size(), size_t(3) * 96 * 96);
  EXPECT_EQ(w->layers[1].inter.w.size(), size_t(384) * 96);
  EXPECT_EQ(w->layers[1].out.n_in, 384);
  auto ck = Checkpoint::open(kBertMean + "/model.safetensors");
  ASSERT_TRUE(ck.ok());
  auto kw = (*ck)->get_tensor("encoder.layer.1.attention.self.key.weight", {96, 96});
  ASSERT_TRUE(kw.ok());
  EXPECT_TRUE(std::equal(kw->begin(), kw->end(), w->layers[1].qkv.w.begin() + 96 * 96));
}

TEST(LoaderBert, TinyXlmrCls) {
  auto w = load_bert_weights(kXlmr);
  ASSERT_TRUE(w.ok()) << w.status().to_string();
  const BertConfig& c = w->cfg;
  EXPECT_EQ(c.vocab_size, 1502);
  EXPECT_EQ(c.hidden, 96);
  EXPECT_EQ(c.heads, 3);
  EXPECT_EQ(c.max_position, 66);
  EXPECT_EQ(c.type_vocab_size, 1);
  EXPECT_FLOAT_EQ(c.ln_eps, 1e-5f);
  EXPECT_EQ(c.pad_token_id, 1);
  EXPECT_EQ(c.position_offset, 2);
  EXPECT_EQ(w->token_type_embeddings.size(), size_t(96));
  EXPECT_EQ(w->position_embeddings.size(), size_t(66) * 96);
}

// Rewrites the JSON header of a safetensors file (offsets are relative to the
// data area, so a longer or shorter header keeps them valid).
std::string rewrite_header(const std::string& st, const std::function<std::string(std::string)>& fn) {
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | uint8_t(st[i]);
  const std::string header = fn(st.substr(8, hlen));
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = char((uint64_t(header.size()) >> (8 * i)) & 0xff);
  return file + header + st.substr(8 + hlen);
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

TEST(LoaderBert, PrefixedLegacyNamesAndConfigMismatch) {
  // Every tensor re-prefixed with "bert.", LayerNorm weight/bias renamed to
  // the TF-era gamma/beta.
  const std::string file = rewrite_header(slurp(kBertMean + "/model.safetensors"), [](std::string h) {
    h = replace_all(h, "{\"embeddings.", "{\"bert.embeddings.");
    h = replace_all(h, ",\"embeddings.", ",\"bert.embeddings.");
    h = replace_all(h, ",\"encoder.", ",\"bert.encoder.");
    h = replace_all(h, "LayerNorm.weight\"", "LayerNorm.gamma\"");
    return replace_all(h, "LayerNorm.bias\"", "LayerNorm.beta\"");
  });
  TempDir tmp;
  const std::string dir = tmp.copy_dir(kBertMean, "prefixed", "model.safetensors", file);
  auto ck = Checkpoint::open(dir + "/model.safetensors");
  ASSERT_TRUE(ck.ok()) << ck.status().to_string();
  EXPECT_TRUE((*ck)->has("bert.embeddings.word_embeddings.weight"));
  EXPECT_TRUE((*ck)->has("bert.encoder.layer.1.output.LayerNorm.beta"));
  EXPECT_TRUE((*ck)->has("bert.embeddings.LayerNorm.gamma"));
  EXPECT_FALSE((*ck)->has("embeddings.word_embeddings.weight"));
  auto a = load_bert_weights(dir);
  auto b = load_bert_weights(kBertMean);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  ASSERT_TRUE(b.ok());
  expect_bert_eq(*a, *b);
  // config.json that disagrees with the tensors.
  std::string cfg = slurp(kBertMean + "/config.json");
  auto r = load_bert_weights(tmp.copy_dir(kBertMean, "mismatch", "config.json",
                                          patched(cfg, "\"num_hidden_layers\": 2",
                                                  "\"num_hidden_layers\": 3")));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("layer count"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace sa
