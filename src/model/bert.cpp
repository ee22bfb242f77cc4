// BERT encoder forward pass (HF BertModel / cn_clip modeling_bert, post-LN):
//   emb = LayerNorm(word[id] + position[i + offset] + token_type[0])
//   per layer: a = LayerNorm(x + attn_out(self_attn(x)))
//              x = LayerNorm(a + out(gelu(inter(a))))
// Sequences are never padded, so the additive attention mask of the reference
// is all zeros and is left out.
#include "model/bert.h"

#include <algorithm>
#include <string>
#include <vector>

#include "model/ops.h"

namespace sa {
namespace {

// The last layer for the first token of each sequence only: keys and values
// still come from every token, but the query, the output projection and the
// MLP run on n_seq rows. x: [rows, d] hidden states entering the layer;
// out: [n_seq, d].
void last_layer_cls(const BertWeights& w, const BertLayer& l, const std::vector<int>& starts,
                    const float* x, float* out) {
  const BertConfig& c = w.cfg;
  const int d = c.hidden;
  const int n_seq = static_cast<int>(starts.size()) - 1;
  const int rows = starts.back();
  int max_len = 0;
  for (int s = 0; s < n_seq; ++s) max_len = std::max(max_len, starts[s + 1] - starts[s]);
  std::vector<float> xc(static_cast<size_t>(n_seq) * d);
  for (int s = 0; s < n_seq; ++s) {
    std::copy_n(x + static_cast<size_t>(starts[s]) * d, d, xc.data() + static_cast<size_t>(s) * d);
  }
  std::vector<float> kv(static_cast<size_t>(rows) * 2 * d);
  std::vector<float> q(static_cast<size_t>(n_seq) * d);
  linear_slice(l.qkv, d, 3 * d, x, rows, kv.data());
  linear_slice(l.qkv, 0, d, xc.data(), n_seq, q.data());
  std::vector<float> att(static_cast<size_t>(n_seq) * d);
  std::vector<float> scores(max_len);
  for (int s = 0; s < n_seq; ++s) {
    const float* k = kv.data() + static_cast<size_t>(starts[s]) * 2 * d;
    attention(q.data() + static_cast<size_t>(s) * d, d, 1, k, k + d, 2 * d,
              starts[s + 1] - starts[s], d, c.heads, att.data() + static_cast<size_t>(s) * d, d,
              scores.data());
  }
  linear_accumulate(l.attn_out, att.data(), n_seq, xc.data(), /*add_bias=*/false);
  add_bias_layer_norm(xc.data(), l.attn_out.b.data(), l.attn_ln, n_seq, d, c.ln_eps, xc.data());
  std::vector<float> inter(static_cast<size_t>(n_seq) * c.intermediate);
  linear(l.inter, xc.data(), n_seq, inter.data(), Act::kGeluErf);
  linear_accumulate(l.out, inter.data(), n_seq, xc.data(), /*add_bias=*/false);
  add_bias_layer_norm(xc.data(), l.out.b.data(), l.out_ln, n_seq, d, c.ln_eps, out);
}

// Runs the encoder over `n_seq` sequences whose tokens are concatenated in
// `ids`; sequence s spans [starts[s], starts[s + 1]), none empty. x: [rows, d]
// hidden states, which end as the last layer's unless cls_out is set; then the
// last layer writes only each sequence's first token to cls_out [n_seq, d].
void bert_forward_impl(const BertWeights& w, const int32_t* ids, const std::vector<int>& starts,
                       float* x, float* cls_out) {
  const BertConfig& c = w.cfg;
  const int d = c.hidden;
  const int n_seq = static_cast<int>(starts.size()) - 1;
  const int rows = starts.back();
  if (rows <= 0) return;
  const size_t sz_rows = static_cast<size_t>(rows);
  int max_len = 0;
  for (int s = 0; s < n_seq; ++s) max_len = std::max(max_len, starts[s + 1] - starts[s]);

  const float* type0 = w.token_type_embeddings.data();
  for (int s = 0; s < n_seq; ++s) {
    for (int t = starts[s]; t < starts[s + 1]; ++t) {
      const float* we = w.word_embeddings.data() + static_cast<size_t>(ids[t]) * d;
      const float* pe =
          w.position_embeddings.data() + static_cast<size_t>(t - starts[s] + c.position_offset) * d;
      float* xr = x + static_cast<size_t>(t) * d;
      for (int j = 0; j < d; ++j) xr[j] = we[j] + pe[j] + type0[j];
    }
  }
  layer_norm(w.emb_ln, x, rows, d, c.ln_eps, x);

  const size_t n_full = cls_out && !w.layers.empty() ? w.layers.size() - 1 : w.layers.size();
  std::vector<float> qkv(sz_rows * 3 * d);
  std::vector<float> att(sz_rows * d);
  std::vector<float> inter(sz_rows * c.intermediate);
  std::vector<float> scores(static_cast<size_t>(max_len) * max_len);
  for (size_t li = 0; li < n_full; ++li) {
    const BertLayer& l = w.layers[li];
    linear(l.qkv, x, rows, qkv.data());
    for (int s = 0; s < n_seq; ++s) {
      const size_t r0 = starts[s];
      attention(qkv.data() + r0 * 3 * d, 3 * d, starts[s + 1] - starts[s], d, c.heads,
                att.data() + r0 * d, d, scores.data());
    }
    // a = LN(x + attn_out(att)) -- accumulated into x, normalised in place.
    linear_accumulate(l.attn_out, att.data(), rows, x, /*add_bias=*/false);
    add_bias_layer_norm(x, l.attn_out.b.data(), l.attn_ln, rows, d, c.ln_eps, x);
    linear(l.inter, x, rows, inter.data(), Act::kGeluErf);
    linear_accumulate(l.out, inter.data(), rows, x, /*add_bias=*/false);
    add_bias_layer_norm(x, l.out.b.data(), l.out_ln, rows, d, c.ln_eps, x);
  }
  if (!cls_out) return;
  if (n_full < w.layers.size()) {
    last_layer_cls(w, w.layers.back(), starts, x, cls_out);
  } else {  // no layers: the embeddings' first rows
    for (int s = 0; s < n_seq; ++s) {
      std::copy_n(x + static_cast<size_t>(starts[s]) * d, d, cls_out + static_cast<size_t>(s) * d);
    }
  }
}

// Concatenated ids and sequence starts of the non-empty sequences.
void concat(const std::vector<std::vector<int32_t>>& seqs, std::vector<int32_t>* ids,
            std::vector<int>* starts) {
  starts->assign(1, 0);
  for (const auto& s : seqs) {
    if (s.empty()) continue;  // contributes no rows
    ids->insert(ids->end(), s.begin(), s.end());
    starts->push_back(static_cast<int>(ids->size()));
  }
}

}  // namespace

Status validate_bert(const BertWeights& w) {
  const BertConfig& c = w.cfg;
  if (c.hidden <= 0 || c.heads <= 0 || c.hidden % c.heads != 0 || c.intermediate <= 0 ||
      c.layers < 0 || c.vocab_size <= 0 || c.max_position <= 0 || c.type_vocab_size <= 0 ||
      c.position_offset < 0 || c.position_offset >= c.max_position) {
    return Status::InvalidArgument("text: bad config (hidden " + std::to_string(c.hidden) +
                                   ", heads " + std::to_string(c.heads) + ", intermediate " +
                                   std::to_string(c.intermediate) + ", vocab " +
                                   std::to_string(c.vocab_size) + ")");
  }
  if (static_cast<int>(w.layers.size()) != c.layers) {
    return Status::InvalidArgument("text: " + std::to_string(w.layers.size()) +
                                   " layers, config says " + std::to_string(c.layers));
  }
  const size_t d = c.hidden;
  SA_RETURN_IF_ERROR(check_size(w.word_embeddings, c.vocab_size * d, "embeddings.word_embeddings"));
  SA_RETURN_IF_ERROR(
      check_size(w.position_embeddings, c.max_position * d, "embeddings.position_embeddings"));
  SA_RETURN_IF_ERROR(check_size(w.token_type_embeddings, c.type_vocab_size * d,
                                "embeddings.token_type_embeddings"));
  SA_RETURN_IF_ERROR(check_layer_norm(w.emb_ln, c.hidden, "embeddings.LayerNorm"));
  for (int i = 0; i < c.layers; ++i) {
    const BertLayer& l = w.layers[i];
    const std::string p = "encoder.layer." + std::to_string(i);
    SA_RETURN_IF_ERROR(check_linear(l.qkv, 3 * c.hidden, c.hidden, true, p + ".attention.self"));
    SA_RETURN_IF_ERROR(
        check_linear(l.attn_out, c.hidden, c.hidden, true, p + ".attention.output.dense"));
    SA_RETURN_IF_ERROR(check_layer_norm(l.attn_ln, c.hidden, p + ".attention.output.LayerNorm"));
    SA_RETURN_IF_ERROR(
        check_linear(l.inter, c.intermediate, c.hidden, true, p + ".intermediate.dense"));
    SA_RETURN_IF_ERROR(check_linear(l.out, c.hidden, c.intermediate, true, p + ".output.dense"));
    SA_RETURN_IF_ERROR(check_layer_norm(l.out_ln, c.hidden, p + ".output.LayerNorm"));
  }
  return Status::OK();
}

Status validate_bert_ids(const BertConfig& cfg, const int32_t* ids, int n_tok) {
  if (n_tok <= 0) return Status::InvalidArgument("empty token sequence");
  if (n_tok > cfg.max_position - cfg.position_offset) {
    return Status::InvalidArgument("sequence of " + std::to_string(n_tok) +
                                   " tokens is longer than the model's " +
                                   std::to_string(cfg.max_position - cfg.position_offset) +
                                   " positions");
  }
  for (int i = 0; i < n_tok; ++i) {
    if (ids[i] < 0 || ids[i] >= cfg.vocab_size) {
      return Status::InvalidArgument("token id " + std::to_string(ids[i]) + " at position " +
                                     std::to_string(i) + " is outside the vocabulary of " +
                                     std::to_string(cfg.vocab_size));
    }
  }
  return Status::OK();
}

int bert_attach_fp16(BertWeights& w) {
  int n = 0;
  for (BertLayer& l : w.layers) {
    for (Linear* lin : l.projections()) n += attach_fp16(*lin) ? 1 : 0;
  }
  return n;
}

int bert_attach_int8(BertWeights& w, bool drop_fp32) {
  int n = 0;
  for (BertLayer& l : w.layers) {
    for (Linear* lin : l.projections()) n += attach_int8(*lin, drop_fp32) ? 1 : 0;
  }
  return n;
}

void bert_forward(const BertWeights& w, const int32_t* ids, int n_tok, float* out) {
  if (n_tok <= 0) return;
  bert_forward_impl(w, ids, {0, n_tok}, out, nullptr);
}

void bert_forward_batch(const BertWeights& w, const std::vector<std::vector<int32_t>>& seqs,
                        float* out) {
  std::vector<int32_t> ids;
  std::vector<int> starts;
  concat(seqs, &ids, &starts);
  bert_forward_impl(w, ids.data(), starts, out, nullptr);
}

void bert_forward_cls(const BertWeights& w, const std::vector<std::vector<int32_t>>& seqs,
                      float* out) {
  std::vector<int32_t> ids;
  std::vector<int> starts;
  concat(seqs, &ids, &starts);
  std::vector<float> cls(static_cast<size_t>(starts.size() - 1) * w.cfg.hidden);
  std::vector<float> x(ids.size() * w.cfg.hidden);
  bert_forward_impl(w, ids.data(), starts, x.data(), cls.data());
  // Back in the callers' order, zeros for empty sequences.
  const size_t d = w.cfg.hidden;
  size_t k = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    float* o = out + i * d;
    if (seqs[i].empty()) {
      std::fill(o, o + d, 0.0f);
    } else {
      std::copy_n(cls.data() + k++ * d, d, o);
    }
  }
}

}  // namespace sa
