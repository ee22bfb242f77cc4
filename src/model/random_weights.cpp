#include "model/random_weights.h"

#include <algorithm>
#include <cmath>

namespace sa {
namespace {

// splitmix64: tiny, fast and good enough for test weights; std::mt19937 plus a
// distribution would take seconds for the ~190M values of a full ViT-B + BERT.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float uniform() { return static_cast<float>(next() >> 40) * (2.0f / 16777216.0f) - 1.0f; }

 private:
  uint64_t s_;
};

// Uniform on [-a, a] with a = std * sqrt(3) has standard deviation `std`.
std::vector<float> rand_vec(Rng& rng, size_t n, float std, float mean = 0.0f) {
  std::vector<float> v(n);
  const float a = std * std::sqrt(3.0f);
  for (float& x : v) x = mean + a * rng.uniform();
  return v;
}

Linear rand_linear(Rng& rng, int n_out, int n_in, bool bias) {
  Linear l;
  l.n_out = n_out;
  l.n_in = n_in;
  l.w = rand_vec(rng, static_cast<size_t>(n_out) * n_in, 0.02f);
  if (bias) l.b = rand_vec(rng, n_out, 0.02f);
  return l;
}

LayerNormW rand_ln(Rng& rng, int d) {
  LayerNormW ln;
  ln.g = rand_vec(rng, d, 0.05f, 1.0f);
  ln.b = rand_vec(rng, d, 0.02f);
  return ln;
}

}  // namespace

VitWeights random_vit_weights(const VitConfig& v, int embed_dim, uint64_t seed) {
  Rng rng(seed);
  VitWeights w;
  w.cfg = v;
  const int d = v.width;
  w.patch_embed = rand_linear(rng, d, 3 * v.patch_size * v.patch_size, false);
  w.class_embedding = rand_vec(rng, d, 0.5f);
  w.positional_embedding = rand_vec(rng, static_cast<size_t>(v.n_tokens()) * d, 0.1f);
  w.ln_pre = rand_ln(rng, d);
  w.blocks.resize(v.layers);
  for (VitBlock& b : w.blocks) {
    b.ln_1 = rand_ln(rng, d);
    b.qkv = rand_linear(rng, 3 * d, d, true);
    b.attn_out = rand_linear(rng, d, d, true);
    b.ln_2 = rand_ln(rng, d);
    b.fc = rand_linear(rng, v.mlp, d, true);
    b.proj = rand_linear(rng, d, v.mlp, true);
  }
  w.ln_post = rand_ln(rng, d);
  w.proj = rand_linear(rng, embed_dim, d, false);
  return w;
}

BertWeights random_bert_weights(const BertConfig& b, uint64_t seed) {
  Rng rng(seed);
  BertWeights w;
  w.cfg = b;
  const int d = b.hidden;
  w.word_embeddings = rand_vec(rng, static_cast<size_t>(b.vocab_size) * d, 0.5f);
  w.position_embeddings = rand_vec(rng, static_cast<size_t>(b.max_position) * d, 0.1f);
  w.token_type_embeddings = rand_vec(rng, static_cast<size_t>(b.type_vocab_size) * d, 0.1f);
  w.emb_ln = rand_ln(rng, d);
  w.layers.resize(b.layers);
  for (BertLayer& l : w.layers) {
    l.qkv = rand_linear(rng, 3 * d, d, true);
    l.attn_out = rand_linear(rng, d, d, true);
    l.attn_ln = rand_ln(rng, d);
    l.inter = rand_linear(rng, b.intermediate, d, true);
    l.out = rand_linear(rng, d, b.intermediate, true);
    l.out_ln = rand_ln(rng, d);
  }
  return w;
}

ClipWeights random_clip_weights(const VitConfig& v, const BertConfig& b, int embed_dim,
                                uint64_t seed) {
  ClipWeights w;
  w.arch = "custom";
  w.embed_dim = embed_dim;
  w.visual = random_vit_weights(v, embed_dim, seed);
  w.text = random_bert_weights(b, seed ^ 0x5A5A5A5A5A5A5A5Aull);
  Rng rng(seed + 1);
  w.text_proj = rand_linear(rng, embed_dim, b.hidden, false);
  w.logit_scale = std::log(100.0f);
  return w;
}

namespace {

// Round to nearest (even) fp16 value; these weights stay in fp16's normal range.
void round_to_fp16(Linear& l) {
  for (float& x : l.w) {
    if (x == 0.0f || !std::isfinite(x)) continue;
    int e;
    std::frexp(x, &e);  // x = f * 2^e, 0.5 <= |f| < 1: 11 significant bits = 2^(e - 11) steps
    const float step = std::ldexp(1.0f, std::max(e, -13) - 11);
    x = std::nearbyint(x / step) * step;
  }
}

}  // namespace

void round_bert_to_fp16(BertWeights& w) {
  for (BertLayer& l : w.layers) {
    for (Linear* lin : l.projections()) round_to_fp16(*lin);
  }
}

}  // namespace sa
