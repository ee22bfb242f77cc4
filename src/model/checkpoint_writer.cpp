// Official cn_clip names (tensor_names.h), safetensors container
// (checkpoint_safetensors.cpp describes the format).
#include "model/checkpoint_writer.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "model/tensor_names.h"

namespace sa {
namespace {

struct Entry {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> owned;     // when the stored layout differs (transposes, slices)
  const float* data = nullptr;  // numel floats
  size_t numel() const {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
  }
};

class Collector {
 public:
  void add(std::string name, std::vector<int64_t> shape, const float* data) {
    Entry e;
    e.name = std::move(name);
    e.shape = std::move(shape);
    e.data = data;
    entries_.push_back(std::move(e));
  }
  void add_owned(std::string name, std::vector<int64_t> shape, std::vector<float> v) {
    Entry e;
    e.name = std::move(name);
    e.shape = std::move(shape);
    e.owned = std::move(v);
    entries_.push_back(std::move(e));
    entries_.back().data = entries_.back().owned.data();
  }
  // [rows, cols] row-major stored as [cols, rows].
  void add_transposed(std::string name, const float* src, int rows, int cols) {
    std::vector<float> t(static_cast<size_t>(rows) * cols);
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) t[static_cast<size_t>(c) * rows + r] = src[static_cast<size_t>(r) * cols + c];
    }
    add_owned(std::move(name), {cols, rows}, std::move(t));
  }
  void add_ln(const std::string& w, const std::string& b, const LayerNormW& ln) {
    add(w, {static_cast<int64_t>(ln.g.size())}, ln.g.data());
    add(b, {static_cast<int64_t>(ln.b.size())}, ln.b.data());
  }
  std::vector<Entry>& entries() { return entries_; }

 private:
  std::vector<Entry> entries_;
};

Status check_fp32(const Linear& l, const std::string& name) {
  if (l.w.size() != static_cast<size_t>(l.n_out) * l.n_in) {
    return Status::InvalidArgument("write_clip_checkpoint: '" + name + "' has no fp32 weights");
  }
  return Status::OK();
}

}  // namespace

uint16_t float_to_half_bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t e8 = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (e8 == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0u));
  const int32_t exp = static_cast<int32_t>(e8) - 127 + 15;
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exp <= 0) {  // half subnormal (or zero): value = h * 2^-24
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    const int shift = 14 - exp;
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
  return static_cast<uint16_t>(sign | h);
}

Status write_clip_checkpoint(const ClipWeights& w, const std::string& path, CheckpointDType dtype) {
  namespace o = tn::official;
  namespace b = tn::bert;
  const VitWeights& v = w.visual;
  const VitConfig& vc = v.cfg;
  const BertConfig& tc = w.text.cfg;
  const int d = vc.width, h = tc.hidden;
  if (vc.mlp != 4 * d || vc.heads <= 0 || d % vc.heads != 0) {
    // model_info.json (cn_clip's config) implies mlp = 4 * width.
    return Status::InvalidArgument("write_clip_checkpoint: vision mlp must be 4 x width");
  }
  Collector c;
  SA_RETURN_IF_ERROR(check_fp32(v.patch_embed, o::kConv1));
  c.add(o::kConv1, {d, 3, vc.patch_size, vc.patch_size}, v.patch_embed.w.data());
  c.add(o::kClassEmbedding, {d}, v.class_embedding.data());
  c.add(o::kPositionalEmbedding, {vc.n_tokens(), d}, v.positional_embedding.data());
  c.add_ln(o::kLnPreW, o::kLnPreB, v.ln_pre);
  for (int i = 0; i < static_cast<int>(v.blocks.size()); ++i) {
    const VitBlock& blk = v.blocks[i];
    auto n = [i](const char* pattern) { return tn::at(pattern, i); };
    for (const Linear* l : {&blk.qkv, &blk.attn_out, &blk.fc, &blk.proj}) {
      SA_RETURN_IF_ERROR(check_fp32(*l, "visual block " + std::to_string(i)));
    }
    c.add_ln(n(o::kLn1W), n(o::kLn1B), blk.ln_1);
    c.add(n(o::kInProjW), {3 * d, d}, blk.qkv.w.data());
    c.add(n(o::kInProjB), {3 * d}, blk.qkv.b.data());
    c.add(n(o::kOutProjW), {d, d}, blk.attn_out.w.data());
    c.add(n(o::kOutProjB), {d}, blk.attn_out.b.data());
    c.add_ln(n(o::kLn2W), n(o::kLn2B), blk.ln_2);
    c.add(n(o::kFcW), {vc.mlp, d}, blk.fc.w.data());
    c.add(n(o::kFcB), {vc.mlp}, blk.fc.b.data());
    c.add(n(o::kMlpProjW), {d, vc.mlp}, blk.proj.w.data());
    c.add(n(o::kMlpProjB), {d}, blk.proj.b.data());
  }
  c.add_ln(o::kLnPostW, o::kLnPostB, v.ln_post);
  SA_RETURN_IF_ERROR(check_fp32(v.proj, o::kProj));
  c.add_transposed(o::kProj, v.proj.w.data(), w.embed_dim, d);  // stored [width, embed]

  const std::string p = o::kBertPrefix;
  c.add(p + b::kWordEmbeddings, {tc.vocab_size, h}, w.text.word_embeddings.data());
  c.add(p + b::kPositionEmbeddings, {tc.max_position, h}, w.text.position_embeddings.data());
  c.add(p + b::kTokenTypeEmbeddings, {tc.type_vocab_size, h}, w.text.token_type_embeddings.data());
  c.add_ln(p + b::kEmbLnW, p + b::kEmbLnB, w.text.emb_ln);
  for (int i = 0; i < static_cast<int>(w.text.layers.size()); ++i) {
    const BertLayer& l = w.text.layers[i];
    auto n = [&](const char* pattern) { return p + tn::at(pattern, i); };
    for (const Linear* lin : l.projections()) {
      SA_RETURN_IF_ERROR(check_fp32(*lin, "text layer " + std::to_string(i)));
    }
    const size_t hh = static_cast<size_t>(h) * h;
    c.add(n(b::kQW), {h, h}, l.qkv.w.data());
    c.add(n(b::kQB), {h}, l.qkv.b.data());
    c.add(n(b::kKW), {h, h}, l.qkv.w.data() + hh);
    c.add(n(b::kKB), {h}, l.qkv.b.data() + h);
    c.add(n(b::kVW), {h, h}, l.qkv.w.data() + 2 * hh);
    c.add(n(b::kVB), {h}, l.qkv.b.data() + 2 * h);
    c.add(n(b::kAttnOutW), {h, h}, l.attn_out.w.data());
    c.add(n(b::kAttnOutB), {h}, l.attn_out.b.data());
    c.add_ln(n(b::kAttnLnW), n(b::kAttnLnB), l.attn_ln);
    c.add(n(b::kInterW), {tc.intermediate, h}, l.inter.w.data());
    c.add(n(b::kInterB), {tc.intermediate}, l.inter.b.data());
    c.add(n(b::kOutW), {h, tc.intermediate}, l.out.w.data());
    c.add(n(b::kOutB), {h}, l.out.b.data());
    c.add_ln(n(b::kOutLnW), n(b::kOutLnB), l.out_ln);
  }
  SA_RETURN_IF_ERROR(check_fp32(w.text_proj, o::kTextProjection));
  c.add_transposed(o::kTextProjection, w.text_proj.w.data(), w.embed_dim, h);  // [hidden, embed]
  c.add_owned(o::kLogitScale, {}, {w.logit_scale});

  const size_t esize = dtype == CheckpointDType::kF16 ? 2 : 4;
  nlohmann::json header = nlohmann::json::object();
  size_t off = 0;
  for (const Entry& e : c.entries()) {
    const size_t bytes = e.numel() * esize;
    header[e.name] = {{"dtype", esize == 2 ? "F16" : "F32"}, {"shape", e.shape}, {"data_offsets", {off, off + bytes}}};
    off += bytes;
  }
  std::string hs = header.dump();
  while ((hs.size() + 8) % 8 != 0) hs.push_back(' ');
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return Status::IOError("cannot write " + path);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(hs.size()) >> (8 * i));
  f.write(reinterpret_cast<const char*>(len), 8);
  f.write(hs.data(), static_cast<std::streamsize>(hs.size()));
  std::vector<uint16_t> half;
  for (const Entry& e : c.entries()) {
    const size_t n = e.numel();
    if (esize == 4) {
      f.write(reinterpret_cast<const char*>(e.data), static_cast<std::streamsize>(n * 4));
    } else {
      half.resize(n);
      for (size_t i = 0; i < n; ++i) half[i] = float_to_half_bits(e.data[i]);
      f.write(reinterpret_cast<const char*>(half.data()), static_cast<std::streamsize>(n * 2));
    }
  }
  f.close();
  if (!f) return Status::IOError("error writing " + path);

  nlohmann::json info = {
      {"embed_dim", w.embed_dim},
      {"image_resolution", vc.image_size},
      {"vision_layers", vc.layers},
      {"vision_width", d},
      {"vision_patch_size", vc.patch_size},
      {"vision_head_width", d / vc.heads},
      {"vocab_size", tc.vocab_size},
      {"text_hidden_size", h},
      {"text_num_hidden_layers", tc.layers},
      {"text_num_attention_heads", tc.heads},
      {"text_intermediate_size", tc.intermediate},
      {"text_max_position_embeddings", tc.max_position},
      {"text_type_vocab_size", tc.type_vocab_size},
  };
  const std::string info_path =
      (std::filesystem::path(path).parent_path() / "model_info.json").string();
  std::ofstream fi(info_path, std::ios::trunc);
  fi << info.dump(2) << "\n";
  fi.close();
  if (!fi) return Status::IOError("cannot write " + info_path);
  return Status::OK();
}

}  // namespace sa
