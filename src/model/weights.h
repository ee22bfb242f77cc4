// The internal weight set every checkpoint layout is mapped onto (fp32, owned).
//
// Conventions (shared by the readers in checkpoint_*.cpp and the forward passes
// in vit.cpp / bert.cpp):
// - Linear: w is [n_out, n_in] row-major (PyTorch nn.Linear layout), b is [n_out]
//   or empty for no bias. y = x @ w^T + b.
// - Attention projections are stacked as one Linear qkv: rows [0,d) = q,
//   [d,2d) = k, [2d,3d) = v (the official in_proj_weight layout).
// - Projections to the shared embedding space are Linears without bias:
//   visual proj w is [embed_dim, width] (= official `visual.proj`^T = HF
//   `visual_projection.weight`), text proj w is [embed_dim, hidden].
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "model/huge_pages.h"

namespace sa {

// INT8 copy of one [n, k] Linear (int8_gemm.h, `--precision int8`): weights
// quantized per output channel (symmetric, scale = max|w| / 127), packed for
// the kernels: columns in panels of 16, k in groups of 4 (the VNNI / AMX
// B-tile layout): w[(c * k_pad + 4 g) * 16 + 4 j + t] = q(w[16 c + j][4 g + t]).
// n_pad is n rounded up to 16 plus one spare zero panel, k_pad k rounded up to
// 64; the padding is zeros.
struct Q8Weights {
  int n = 0;
  int k = 0;
  int n_pad = 0;
  int k_pad = 0;
  // Ordinary pages: 2 MiB rounding of ~100 blocks of 0.6-2.4 MB would cost
  // ~80 MB for ViT-B-16, 15 % of the INT8 model's memory.
  std::vector<int8_t> w;
  std::vector<float> scale;     // [n_pad]: w ~= q * scale[col]
  std::vector<int32_t> colsum;  // [n_pad]: sum over k of q (u8-offset correction)
  bool empty() const { return w.empty(); }
  size_t bytes() const { return w.size() + scale.size() * 4 + colsum.size() * 4; }
};

struct Linear {
  int n_out = 0;
  int n_in = 0;
  std::vector<float> w;  // [n_out, n_in]
  std::vector<float> b;  // [n_out] or empty
  // Optional exact fp16 copy of w (IEEE half bit patterns, packed in panels for
  // the few-row kernel), set by attach_fp16 (ops.h) only when every value of w
  // is an fp16 value; few-row products then stream it instead of w. Empty =
  // fp32 only. On huge pages when large: every text query reads all of it.
  std::vector<uint16_t, HugePageAllocator<uint16_t>> w16;
  // Optional INT8 copy (attach_int8, ops.h): when set, every product of this
  // Linear runs on it (the `int8` precision), and w may be released.
  Q8Weights q8;
  // Optional fp32 copy packed for the engine's AVX-512 GEMM (attach_packed_f32,
  // ops.h): panels of 32 output columns, k-major, n rounded up to 32 with zero
  // columns. When set, products run on it instead of OpenBLAS and w is released.
  std::vector<float> p32;  // ordinary pages: panels are reused from cache, and 2 MiB rounding would cost ~45 MB
};

struct LayerNormW {
  std::vector<float> g;  // [d]
  std::vector<float> b;  // [d]
};

// ViT (OpenAI-CLIP style) hyper-parameters.
struct VitConfig {
  int image_size = 224;
  int patch_size = 16;
  int width = 768;
  int layers = 12;
  int heads = 12;        // width / head_width
  int mlp = 3072;        // 4 * width
  float ln_eps = 1e-5f;
  int n_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  int n_tokens() const { return n_patches() + 1; }
};

struct VitBlock {
  LayerNormW ln_1;
  Linear qkv;       // [3*width, width]
  Linear attn_out;  // [width, width]
  LayerNormW ln_2;
  Linear fc;        // [mlp, width]   then QuickGELU
  Linear proj;      // [width, mlp]
};

struct VitWeights {
  VitConfig cfg;
  Linear patch_embed;                     // conv1 as [width, 3*p*p], no bias; input order c,y,x
  std::vector<float> class_embedding;     // [width]
  std::vector<float> positional_embedding;  // [n_tokens, width]
  LayerNormW ln_pre;
  std::vector<VitBlock> blocks;
  LayerNormW ln_post;
  Linear proj;                            // [embed_dim, width], no bias
};

enum class BertAct { kGeluErf };

// BERT / RoBERTa / XLM-R encoder hyper-parameters.
struct BertConfig {
  int vocab_size = 21128;
  int hidden = 768;
  int layers = 12;
  int heads = 12;
  int intermediate = 3072;
  int max_position = 512;
  int type_vocab_size = 2;
  float ln_eps = 1e-12f;
  int pad_token_id = 0;
  // XLM-R numbers positions from padding_idx + 1 (= 2): position id of token i is
  // i + position_offset. 0 for BERT.
  int position_offset = 0;
};

struct BertLayer {
  Linear qkv;         // [3*hidden, hidden]
  Linear attn_out;    // [hidden, hidden]
  LayerNormW attn_ln;
  Linear inter;       // [intermediate, hidden]  then GELU(erf)
  Linear out;         // [hidden, intermediate]
  LayerNormW out_ln;

  // The four projections, for code that treats them alike (fp16 copies).
  std::array<Linear*, 4> projections() { return {&qkv, &attn_out, &inter, &out}; }
  std::array<const Linear*, 4> projections() const { return {&qkv, &attn_out, &inter, &out}; }
};

struct BertWeights {
  BertConfig cfg;
  std::vector<float> word_embeddings;      // [vocab, hidden]
  std::vector<float> position_embeddings;  // [max_position, hidden]
  std::vector<float> token_type_embeddings;  // [type_vocab, hidden]; type 0 used
  LayerNormW emb_ln;
  std::vector<BertLayer> layers;
};

struct ClipWeights {
  std::string arch;  // "ViT-B-16", ... or "custom"
  int embed_dim = 512;
  VitWeights visual;
  BertWeights text;
  Linear text_proj;  // [embed_dim, hidden], no bias
  float logit_scale = 4.6052f;  // log scale, as stored
};

}  // namespace sa
