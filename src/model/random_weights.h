// Random weight sets of any shape, for tests and benchmarks (no checkpoint I/O).
//
// Values are deterministic for a given seed: linear weights uniform with std
// 0.02 (BERT's init), biases and embeddings small, LayerNorm gains near 1, so
// activations stay in a realistic range through deep stacks.
#pragma once

#include <cstdint>

#include "model/weights.h"

namespace sa {

VitWeights random_vit_weights(const VitConfig& v, int embed_dim, uint64_t seed);
BertWeights random_bert_weights(const BertConfig& b, uint64_t seed);

// Rounds every encoder projection (qkv, attn_out, inter, out) to the nearest fp16
// value, as the released fp16 checkpoints are, so that random weights take the
// same fp16 fast path (bert_attach_fp16) a real model does.
void round_bert_to_fp16(BertWeights& w);
// arch = "custom", logit_scale = ln(100).
ClipWeights random_clip_weights(const VitConfig& v, const BertConfig& b, int embed_dim,
                                uint64_t seed);

}  // namespace sa
