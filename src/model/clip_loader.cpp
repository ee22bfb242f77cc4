// Chinese-CLIP checkpoint assembly: official cn_clip files and HF
// ChineseCLIPModel folders, both mapped onto ClipWeights.
#include "model/clip_loader.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "model/bert_loader.h"
#include "model/checkpoint.h"
#include "model/tensor_names.h"

namespace sa {

namespace fs = std::filesystem;

namespace {

// What a config says about the image tower; zero = unknown (read from tensors).
struct VitHints {
  int image_size = 0;
  int patch = 0;
  int width = 0;
  int layers = 0;
  int heads = 0;  // unknown => width / head_width
  int head_width = 0;  // unknown => 64 (80 for width 1280, as ViT-H-14)
  int mlp = 0;
  float ln_eps = 1e-5f;
};

struct ClipHints {
  std::string arch = "custom";
  std::string source = "tensor shapes";
  int embed_dim = 0;
  VitHints vit;
  BertHints text;
};

BertConfig bert_base() {
  BertConfig c;  // RoBERTa-wwm-ext-base-chinese.json
  c.vocab_size = 21128;
  c.hidden = 768;
  c.layers = 12;
  c.heads = 12;
  c.intermediate = 3072;
  c.max_position = 512;
  c.type_vocab_size = 2;
  return c;
}

BertConfig bert_large() {
  BertConfig c = bert_base();  // RoBERTa-wwm-ext-large-chinese.json
  c.hidden = 1024;
  c.layers = 24;
  c.heads = 16;
  c.intermediate = 4096;
  return c;
}

ClipArchSpec make_spec(const char* name, int embed, int res, int patch, int width, int layers,
                       int head_width, BertConfig text) {
  ClipArchSpec s;
  s.name = name;
  s.embed_dim = embed;
  s.vision.image_size = res;
  s.vision.patch_size = patch;
  s.vision.width = width;
  s.vision.layers = layers;
  s.vision.heads = width / head_width;
  s.vision.mlp = 4 * width;
  s.text = text;
  return s;
}

// cn_clip/clip/model_configs/*.json and utils._MODEL_INFO.
const std::vector<ClipArchSpec>& arch_table() {
  static const std::vector<ClipArchSpec> kArchs = {
      make_spec("ViT-B-16", 512, 224, 16, 768, 12, 64, bert_base()),
      make_spec("ViT-L-14", 768, 224, 14, 1024, 24, 64, bert_base()),
      make_spec("ViT-L-14-336", 768, 336, 14, 1024, 24, 64, bert_base()),
      make_spec("ViT-H-14", 1024, 224, 14, 1280, 32, 80, bert_large()),
  };
  return kArchs;
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string join_archs() {
  std::string s;
  for (const auto& a : arch_table()) s += (s.empty() ? "" : ", ") + a.name;
  return s;
}

ClipHints hints_from_spec(const ClipArchSpec& s) {
  ClipHints h;
  h.arch = s.name;
  h.source = "architecture " + s.name;
  h.embed_dim = s.embed_dim;
  h.vit.image_size = s.vision.image_size;
  h.vit.patch = s.vision.patch_size;
  h.vit.width = s.vision.width;
  h.vit.layers = s.vision.layers;
  h.vit.heads = s.vision.heads;
  h.vit.mlp = s.vision.mlp;
  h.text.vocab_size = s.text.vocab_size;
  h.text.hidden = s.text.hidden;
  h.text.layers = s.text.layers;
  h.text.heads = s.text.heads;
  h.text.intermediate = s.text.intermediate;
  h.text.max_position = s.text.max_position;
  h.text.type_vocab_size = s.text.type_vocab_size;
  h.text.source = h.source;
  return h;
}

int jint(const nlohmann::json& j, const char* key, int fallback = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

float jfloat(const nlohmann::json& j, const char* key, float fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<float>() : fallback;
}

Status rn50_unimplemented(const std::string& where) {
  return Status::Unimplemented(where +
                               ": the RN50 (ModifiedResNet) image tower is not supported; use "
                               "a ViT model (" + join_archs() + ")");
}

// cn_clip's merged model_info (vision config + text config in one object).
Result<ClipHints> hints_from_model_info(const std::string& path) {
  SA_ASSIGN_OR_RETURN(nlohmann::json j, read_json_file(path));
  auto layers = j.find("vision_layers");
  auto patch = j.find("vision_patch_size");
  if ((layers != j.end() && !layers->is_number_integer()) ||
      (patch != j.end() && patch->is_null())) {
    return rn50_unimplemented(path);
  }
  ClipHints h;
  h.source = path;
  h.embed_dim = jint(j, "embed_dim");
  h.vit.image_size = jint(j, "image_resolution");
  h.vit.patch = jint(j, "vision_patch_size");
  h.vit.width = jint(j, "vision_width");
  h.vit.layers = jint(j, "vision_layers");
  h.vit.head_width = jint(j, "vision_head_width", 64);
  h.vit.mlp = h.vit.width * 4;
  h.text.vocab_size = jint(j, "vocab_size");
  h.text.hidden = jint(j, "text_hidden_size");
  h.text.layers = jint(j, "text_num_hidden_layers");
  h.text.heads = jint(j, "text_num_attention_heads");
  h.text.intermediate = jint(j, "text_intermediate_size");
  h.text.max_position = jint(j, "text_max_position_embeddings");
  h.text.type_vocab_size = jint(j, "text_type_vocab_size");
  h.text.source = path;
  return h;
}

Result<ClipHints> hints_from_hf_config(const std::string& path) {
  SA_ASSIGN_OR_RETURN(nlohmann::json j, read_json_file(path));
  // Older transformers wrote vision_config_dict / text_config_dict.
  auto section = [&](const char* a, const char* b) {
    auto it = j.find(a);
    if (it != j.end() && it->is_object()) return *it;
    it = j.find(b);
    if (it != j.end() && it->is_object()) return *it;
    return nlohmann::json::object();
  };
  const nlohmann::json v = section("vision_config", "vision_config_dict");
  const nlohmann::json t = section("text_config", "text_config_dict");
  ClipHints h;
  h.source = path;
  h.embed_dim = jint(j, "projection_dim");
  h.vit.image_size = jint(v, "image_size");
  h.vit.patch = jint(v, "patch_size");
  h.vit.width = jint(v, "hidden_size");
  h.vit.layers = jint(v, "num_hidden_layers");
  h.vit.heads = jint(v, "num_attention_heads");
  h.vit.mlp = jint(v, "intermediate_size");
  h.vit.ln_eps = jfloat(v, "layer_norm_eps", 1e-5f);
  h.text.vocab_size = jint(t, "vocab_size");
  h.text.hidden = jint(t, "hidden_size");
  h.text.layers = jint(t, "num_hidden_layers");
  h.text.heads = jint(t, "num_attention_heads");
  h.text.intermediate = jint(t, "intermediate_size");
  h.text.max_position = jint(t, "max_position_embeddings");
  h.text.type_vocab_size = jint(t, "type_vocab_size");
  h.text.ln_eps = jfloat(t, "layer_norm_eps", 1e-12f);
  h.text.pad_token_id = jint(t, "pad_token_id", 0);
  h.text.source = path;
  return h;
}

Status agree(const char* what, int in_file, int in_config, const std::string& source) {
  if (in_config != 0 && in_config != in_file) {
    return Status::InvalidArgument("checkpoint has " + std::string(what) + " " +
                                   std::to_string(in_file) + " but " + source + " says " +
                                   std::to_string(in_config));
  }
  return Status::OK();
}

Result<std::vector<int64_t>> shape_rank(const Checkpoint& ck, const std::string& name, size_t rank) {
  SA_ASSIGN_OR_RETURN(std::vector<int64_t> s, ck.shape_of(name));
  bool ok = s.size() == rank;
  for (int64_t d : s) ok = ok && d > 0 && d <= (int64_t(1) << 30);
  if (!ok) {
    return Status::InvalidArgument("tensor '" + name + "' has shape " + shape_to_string(s) +
                                   ", expected " + std::to_string(rank) + " positive dimensions");
  }
  return s;
}

// Names that locate the image tower's dimensions in either layout.
struct VitDimNames {
  std::string patch;      // [width, 3, p, p]
  std::string pos;        // [n_tokens, width]
  std::string prefix;     // layer names are prefix + pattern
  const char* layer_probe;  // a per-layer tensor, for counting layers
  const char* fc;         // [mlp, width]
};

// Reads width, patch, resolution, layers and mlp from the tensors and checks
// them against the hints.
Result<VitConfig> infer_vit(const Checkpoint& ck, const VitDimNames& n, const VitHints& h,
                            const std::string& source) {
  VitConfig c;
  SA_ASSIGN_OR_RETURN(auto conv, shape_rank(ck, n.patch, 4));
  if (conv[1] != 3 || conv[2] != conv[3]) {
    return Status::InvalidArgument("tensor '" + n.patch + "' has shape " + shape_to_string(conv) +
                                   ", expected [width, 3, p, p]");
  }
  c.width = int(conv[0]);
  c.patch_size = int(conv[2]);
  SA_ASSIGN_OR_RETURN(auto pos, shape_rank(ck, n.pos, 2));
  const int64_t grid = int64_t(std::llround(std::sqrt(double(pos[0] - 1))));
  if (pos[1] != c.width || grid < 1 || grid * grid != pos[0] - 1) {
    return Status::InvalidArgument("tensor '" + n.pos + "' has shape " + shape_to_string(pos) +
                                   ", expected [grid*grid + 1, " + std::to_string(c.width) + "]");
  }
  c.image_size = int(grid) * c.patch_size;
  c.layers = count_layers(ck, n.prefix, n.layer_probe);
  if (c.layers == 0) {
    return Status::NotFound("tensor '" + n.prefix + tn::at(n.layer_probe, 0) + "' is missing from " +
                            ck.path() + " (no image transformer layers)");
  }
  SA_ASSIGN_OR_RETURN(auto fc, shape_rank(ck, n.prefix + tn::at(n.fc, 0), 2));
  c.mlp = int(fc[0]);
  SA_RETURN_IF_ERROR(agree("vision width", c.width, h.width, source));
  SA_RETURN_IF_ERROR(agree("vision patch size", c.patch_size, h.patch, source));
  SA_RETURN_IF_ERROR(agree("image resolution", c.image_size, h.image_size, source));
  SA_RETURN_IF_ERROR(agree("vision layer count", c.layers, h.layers, source));
  SA_RETURN_IF_ERROR(agree("vision mlp size", c.mlp, h.mlp, source));
  if (h.heads != 0) {
    c.heads = h.heads;
  } else {
    const int hw = h.head_width != 0 ? h.head_width : (c.width == 1280 ? 80 : 64);
    c.heads = c.width % hw == 0 ? c.width / hw : 0;
  }
  if (c.heads <= 0 || c.width % c.heads != 0) {
    return Status::InvalidArgument("vision width " + std::to_string(c.width) +
                                   " cannot be split into attention heads (" + source + ")");
  }
  c.ln_eps = h.ln_eps;
  return c;
}

// ---------------------------------------------------------------- official --

Result<std::string> official_prefix(const Checkpoint& ck) {
  for (const char* p : {"module.", ""}) {
    const std::string prefix(p);
    if (ck.has(prefix + tn::official::kResNetMarker)) return rn50_unimplemented(ck.path());
    if (ck.has(prefix + tn::official::kConv1) || ck.has(prefix + tn::official::kLogitScale)) {
      return prefix;
    }
  }
  return Status::NotFound("tensor '" + std::string(tn::official::kConv1) + "' (with or without '" +
                          tn::official::kModulePrefix + "') is missing from " + ck.path() +
                          ": not a Chinese-CLIP checkpoint");
}

Result<ClipHints> resolve_official_hints(const std::string& path, const std::string& arch) {
  if (!arch.empty()) {
    if (lower(arch) == "rn50") return rn50_unimplemented("--arch " + arch);
    SA_ASSIGN_OR_RETURN(ClipArchSpec spec, clip_arch_spec(arch));
    return hints_from_spec(spec);
  }
  const fs::path p(path);
  const std::string info = (p.parent_path() / "model_info.json").string();
  if (file_exists(info)) return hints_from_model_info(info);
  std::string stem = lower(p.stem().string());
  if (stem.rfind("clip_cn_", 0) == 0) {
    stem = stem.substr(8);
    if (stem == "rn50") return rn50_unimplemented(path);
    for (const auto& a : arch_table()) {
      if (lower(a.name) == stem) return hints_from_spec(a);
    }
  }
  return ClipHints();  // everything from the tensor shapes
}

Result<ClipWeights> load_official(const Checkpoint& ck, const ClipHints& h,
                                  const ClipLoadHooks& hooks) {
  namespace o = tn::official;
  SA_ASSIGN_OR_RETURN(const std::string p, official_prefix(ck));
  ClipWeights w;
  w.arch = h.arch;
  VitDimNames dn{p + o::kConv1, p + o::kPositionalEmbedding, p, o::kOutProjW, o::kFcW};
  SA_ASSIGN_OR_RETURN(w.visual.cfg, infer_vit(ck, dn, h.vit, h.source));
  const VitConfig& c = w.visual.cfg;
  const int d = c.width;
  SA_ASSIGN_OR_RETURN(auto proj, shape_rank(ck, p + o::kProj, 2));
  w.embed_dim = int(proj[1]);
  SA_RETURN_IF_ERROR(agree("embedding size", w.embed_dim, h.embed_dim, h.source));

  VitWeights& v = w.visual;
  v.patch_embed.n_out = d;
  v.patch_embed.n_in = 3 * c.patch_size * c.patch_size;
  SA_ASSIGN_OR_RETURN(v.patch_embed.w, ck.get_tensor(p + o::kConv1, {d, 3, c.patch_size, c.patch_size}));
  SA_ASSIGN_OR_RETURN(v.class_embedding, ck.get_tensor(p + o::kClassEmbedding, {d}));
  SA_ASSIGN_OR_RETURN(v.positional_embedding,
                      ck.get_tensor(p + o::kPositionalEmbedding, {c.n_tokens(), d}));
  SA_RETURN_IF_ERROR(read_layer_norm(ck, p + o::kLnPreW, p + o::kLnPreB, d, &v.ln_pre));
  v.blocks.resize(size_t(c.layers));
  for (int i = 0; i < c.layers; ++i) {
    VitBlock& b = v.blocks[size_t(i)];
    auto name = [&](const char* pattern) { return p + tn::at(pattern, i); };
    SA_RETURN_IF_ERROR(read_layer_norm(ck, name(o::kLn1W), name(o::kLn1B), d, &b.ln_1));
    if (ck.has(name(o::kWqkvW))) {
      SA_RETURN_IF_ERROR(read_linear(ck, name(o::kWqkvW), name(o::kWqkvB), 3 * d, d, &b.qkv));
    } else {
      SA_RETURN_IF_ERROR(read_linear(ck, name(o::kInProjW), name(o::kInProjB), 3 * d, d, &b.qkv));
    }
    SA_RETURN_IF_ERROR(read_linear(ck, name(o::kOutProjW), name(o::kOutProjB), d, d, &b.attn_out));
    SA_RETURN_IF_ERROR(read_layer_norm(ck, name(o::kLn2W), name(o::kLn2B), d, &b.ln_2));
    SA_RETURN_IF_ERROR(read_linear(ck, name(o::kFcW), name(o::kFcB), c.mlp, d, &b.fc));
    SA_RETURN_IF_ERROR(read_linear(ck, name(o::kMlpProjW), name(o::kMlpProjB), d, c.mlp, &b.proj));
  }
  SA_RETURN_IF_ERROR(read_layer_norm(ck, p + o::kLnPostW, p + o::kLnPostB, d, &v.ln_post));
  // visual.proj is [width, embed] (x @ proj); Linear wants [embed, width].
  v.proj.n_out = w.embed_dim;
  v.proj.n_in = d;
  SA_RETURN_IF_ERROR(read_transposed(ck, p + o::kProj, d, w.embed_dim, &v.proj.w));
  if (hooks.after_visual) SA_RETURN_IF_ERROR(hooks.after_visual(v));

  SA_ASSIGN_OR_RETURN(w.text, load_bert_encoder(ck, p + o::kBertPrefix, h.text));
  const int hidden = w.text.cfg.hidden;
  w.text_proj.n_out = w.embed_dim;
  w.text_proj.n_in = hidden;
  SA_RETURN_IF_ERROR(read_transposed(ck, p + o::kTextProjection, hidden, w.embed_dim, &w.text_proj.w));
  SA_ASSIGN_OR_RETURN(auto scale, ck.get_tensor(p + o::kLogitScale, {}));
  w.logit_scale = scale[0];
  return w;
}

// ---------------------------------------------------------------------- HF --

Result<ClipWeights> load_hf(const Checkpoint& ck, const ClipHints& h, const ClipLoadHooks& hooks) {
  namespace n = tn::hf_clip;
  ClipWeights w;
  w.arch = h.arch;
  VitDimNames dn{n::kPatchEmbedding, n::kPositionEmbedding, "", n::kOutW, n::kFc1W};
  SA_ASSIGN_OR_RETURN(w.visual.cfg, infer_vit(ck, dn, h.vit, h.source));
  const VitConfig& c = w.visual.cfg;
  const int d = c.width;
  SA_ASSIGN_OR_RETURN(auto proj, shape_rank(ck, n::kVisualProjection, 2));
  w.embed_dim = int(proj[0]);
  SA_RETURN_IF_ERROR(agree("embedding size", w.embed_dim, h.embed_dim, h.source));

  VitWeights& v = w.visual;
  v.patch_embed.n_out = d;
  v.patch_embed.n_in = 3 * c.patch_size * c.patch_size;
  SA_ASSIGN_OR_RETURN(v.patch_embed.w,
                      ck.get_tensor(n::kPatchEmbedding, {d, 3, c.patch_size, c.patch_size}));
  SA_ASSIGN_OR_RETURN(v.class_embedding, ck.get_tensor(n::kClassEmbedding, {d}));
  SA_ASSIGN_OR_RETURN(v.positional_embedding, ck.get_tensor(n::kPositionEmbedding, {c.n_tokens(), d}));
  SA_RETURN_IF_ERROR(read_layer_norm(ck, n::kPreLnW, n::kPreLnB, d, &v.ln_pre));
  v.blocks.resize(size_t(c.layers));
  for (int i = 0; i < c.layers; ++i) {
    VitBlock& b = v.blocks[size_t(i)];
    auto name = [&](const char* pattern) { return tn::at(pattern, i); };
    SA_RETURN_IF_ERROR(read_layer_norm(ck, name(n::kLn1W), name(n::kLn1B), d, &b.ln_1));
    SA_RETURN_IF_ERROR(read_qkv(ck, name(n::kQW), name(n::kQB), name(n::kKW), name(n::kKB),
                                name(n::kVW), name(n::kVB), d, &b.qkv));
    SA_RETURN_IF_ERROR(read_linear(ck, name(n::kOutW), name(n::kOutB), d, d, &b.attn_out));
    SA_RETURN_IF_ERROR(read_layer_norm(ck, name(n::kLn2W), name(n::kLn2B), d, &b.ln_2));
    SA_RETURN_IF_ERROR(read_linear(ck, name(n::kFc1W), name(n::kFc1B), c.mlp, d, &b.fc));
    SA_RETURN_IF_ERROR(read_linear(ck, name(n::kFc2W), name(n::kFc2B), d, c.mlp, &b.proj));
  }
  SA_RETURN_IF_ERROR(read_layer_norm(ck, n::kPostLnW, n::kPostLnB, d, &v.ln_post));
  SA_RETURN_IF_ERROR(read_linear(ck, n::kVisualProjection, "", w.embed_dim, d, &v.proj));
  if (hooks.after_visual) SA_RETURN_IF_ERROR(hooks.after_visual(v));

  SA_ASSIGN_OR_RETURN(w.text, load_bert_encoder(ck, n::kTextPrefix, h.text));
  SA_RETURN_IF_ERROR(
      read_linear(ck, n::kTextProjection, "", w.embed_dim, w.text.cfg.hidden, &w.text_proj));
  SA_ASSIGN_OR_RETURN(auto scale, ck.get_tensor(n::kLogitScale, {}));
  w.logit_scale = scale[0];
  return w;
}

Result<ClipWeights> load_hf_dir(const std::string& dir, const std::unique_ptr<Checkpoint>* opened,
                                const std::string& arch, const ClipLoadHooks& hooks) {
  const std::string config = (fs::path(dir) / "config.json").string();
  if (!file_exists(config)) {
    return Status::NotFound((dir.empty() ? std::string(".") : dir) +
                            " has no config.json (expected an HF ChineseCLIPModel folder or a "
                            "clip_cn_*.pt file)");
  }
  SA_ASSIGN_OR_RETURN(ClipHints h, hints_from_hf_config(config));
  if (!arch.empty()) {
    // An explicit arch must agree with the folder; its name is kept.
    SA_ASSIGN_OR_RETURN(ClipArchSpec spec, clip_arch_spec(arch));
    ClipHints a = hints_from_spec(spec);
    a.vit.ln_eps = h.vit.ln_eps;
    a.text.ln_eps = h.text.ln_eps;
    a.text.pad_token_id = h.text.pad_token_id;
    h = a;
  }
  if (opened) return load_hf(**opened, h, hooks);
  SA_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ck, open_hf_weights(dir));
  return load_hf(*ck, h, hooks);
}

// Names a "custom" result after the known architecture it matches, if any
// (an HF folder or an unnamed .pt of the real ViT-B-16 is reported as such).
ClipWeights name_arch(ClipWeights w) {
  if (w.arch != "custom") return w;
  for (const auto& a : arch_table()) {
    const VitConfig& v = w.visual.cfg;
    const BertConfig& t = w.text.cfg;
    if (a.embed_dim == w.embed_dim && a.vision.image_size == v.image_size &&
        a.vision.patch_size == v.patch_size && a.vision.width == v.width &&
        a.vision.layers == v.layers && a.vision.heads == v.heads && a.vision.mlp == v.mlp &&
        a.text.hidden == t.hidden && a.text.layers == t.layers && a.text.heads == t.heads &&
        a.text.intermediate == t.intermediate) {
      w.arch = a.name;
    }
  }
  return w;
}

}  // namespace

std::vector<std::string> known_clip_archs() {
  std::vector<std::string> out;
  for (const auto& a : arch_table()) out.push_back(a.name);
  return out;
}

Result<ClipArchSpec> clip_arch_spec(const std::string& name) {
  for (const auto& a : arch_table()) {
    if (lower(a.name) == lower(name)) return a;
  }
  if (lower(name) == "rn50") return rn50_unimplemented("architecture " + name);
  return Status::InvalidArgument("unknown Chinese-CLIP architecture '" + name + "'; known: " +
                                 join_archs());
}

Result<ClipWeights> load_clip_weights(const std::string& path, const std::string& arch) {
  return load_clip_weights(path, arch, ClipLoadHooks());
}

Result<ClipWeights> load_clip_weights(const std::string& path, const std::string& arch,
                                      const ClipLoadHooks& hooks) try {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    SA_ASSIGN_OR_RETURN(ClipWeights w, load_hf_dir(path, nullptr, arch, hooks));
    return name_arch(std::move(w));
  }
  if (!fs::exists(path, ec)) return Status::NotFound("no such model file or folder: " + path);
  SA_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ck, Checkpoint::open(path));
  if (ck->has(tn::hf_clip::kPatchEmbedding)) {
    // model.safetensors / pytorch_model.bin named directly: config.json is beside it.
    SA_ASSIGN_OR_RETURN(ClipWeights w,
                        load_hf_dir(fs::path(path).parent_path().string(), &ck, arch, hooks));
    return name_arch(std::move(w));
  }
  SA_ASSIGN_OR_RETURN(ClipHints h, resolve_official_hints(path, arch));
  SA_ASSIGN_OR_RETURN(ClipWeights w, load_official(*ck, h, hooks));
  return name_arch(std::move(w));
} catch (const std::bad_alloc&) {
  return Status::ResourceExhausted(path + ": out of memory while loading the model");
} catch (const std::exception& e) {  // nlohmann::json type errors and the like
  return Status::Corruption(path + ": " + e.what());
}

}  // namespace sa
