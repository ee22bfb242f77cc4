// Sentence-embedding cost of a base-size encoder (768-d, 12 layers: the shape of
// bce-embedding-base_v1 and text2vec-base-chinese) on a 20-token description,
// the workload of issue 4's target. Random weights; pooling and normalisation
// are included so the number is what SentenceEmbedder::embed costs per text.
//
// Run: build/bench/bench_sentence [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include <numeric>
#include <vector>

#include "model/bert.h"
#include "model/chinese_clip.h"
#include "model/random_weights.h"

namespace {

// Released sentence checkpoints are fp16/fp32 of fp16-trained values; like
// SentenceEmbedder::load, keep the exact fp16 copy for few-row products.
sa::BertWeights fp16_like_checkpoint(sa::BertWeights w) {
  sa::round_bert_to_fp16(w);
  sa::bert_attach_fp16(w);
  return w;
}

const sa::BertWeights& base_encoder(bool xlmr) {
  static const sa::BertWeights bert = [] {
    sa::BertConfig c;  // BERT-base (text2vec-base-chinese)
    return fp16_like_checkpoint(sa::random_bert_weights(c, 11));
  }();
  static const sa::BertWeights xlm = [] {
    sa::BertConfig c;  // XLM-R base shapes as in bce (vocabulary kept small: it costs no FLOPs)
    c.type_vocab_size = 1;
    c.ln_eps = 1e-5f;
    c.pad_token_id = 1;
    c.position_offset = 2;
    c.max_position = 514;
    return fp16_like_checkpoint(sa::random_bert_weights(c, 12));
  }();
  return xlmr ? xlm : bert;
}

void embed_sentence_base(benchmark::State& state, bool xlmr, bool mean_pool) {
  const sa::BertWeights& w = base_encoder(xlmr);
  const int n_tok = static_cast<int>(state.range(0));
  std::vector<int32_t> ids(n_tok);
  std::iota(ids.begin(), ids.end(), 100);
  const int d = w.cfg.hidden;
  const std::vector<std::vector<int32_t>> seqs = {ids};
  std::vector<float> hidden(static_cast<size_t>(n_tok) * d), pooled(d);
  for (auto _ : state) {
    if (mean_pool) {
      sa::bert_forward(w, ids.data(), n_tok, hidden.data());
      std::fill(pooled.begin(), pooled.end(), 0.f);
      for (int t = 0; t < n_tok; ++t)
        for (int j = 0; j < d; ++j) pooled[j] += hidden[static_cast<size_t>(t) * d + j] / n_tok;
    } else {
      sa::bert_forward_cls(w, seqs, pooled.data());  // as SentenceEmbedder does for CLS
    }
    sa::l2_normalize_rows(pooled.data(), 1, d);
    benchmark::DoNotOptimize(pooled.data());
  }
}

BENCHMARK_CAPTURE(embed_sentence_base, bce_xlmr_cls, true, false)->Arg(20)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(embed_sentence_base, text2vec_bert_mean, false, true)->Arg(20)->Unit(benchmark::kMillisecond)->MinTime(2.0);

}  // namespace

BENCHMARK_MAIN();
