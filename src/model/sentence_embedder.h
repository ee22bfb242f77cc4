// Sentence embeddings for description search: a sentence-transformers model
// (bce-embedding-base_v1, text2vec-base-chinese, or any BERT / XLM-R encoder
// with the same files) run on our BERT engine.
//
// Model directory (what `save_pretrained` / the Hugging Face repos hold):
//   config.json                   BertModel or XLMRobertaModel config (model_type
//                                 "bert" or "xlm-roberta")
//   model.safetensors | pytorch_model.bin
//   vocab.txt                     (BERT: WordPiece, HF BertTokenizer rules)
//   sentencepiece.bpe.model       (XLM-R: fairseq ids, see tokenizer_spm.h)
//   modules.json                  optional; lists Transformer, Pooling, Normalize
//   1_Pooling/config.json         pooling_mode_cls_token | pooling_mode_mean_tokens;
//                                 without modules.json and this file: mean, as
//                                 sentence-transformers does
//   sentence_bert_config.json     optional; max_seq_length, do_lower_case
//   tokenizer_config.json         optional; do_lower_case (BERT, default true)
// Output is always L2-normalised (cosine = inner product).
//
// Errors from load: NotFound (no directory, config or tokenizer file),
// Corruption (unparsable JSON), InvalidArgument (inconsistent configs),
// Unimplemented (a pooling mode or module other than the above).
//
// Thread safety: immutable after load; tokenize/embed may be called from
// several threads (inference itself already uses the BLAS thread pool).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "model/precision.h"
#include "model/weights.h"

namespace sa {

class WordPieceTokenizer;
class SentencePieceTokenizer;

enum class SentencePooling { kCls, kMean };

class SentenceEmbedder {
 public:
  // precision kInt8: quantized encoder projections after the self-check of
  // precision.h (int8_check()); stays fp32 when it fails.
  static Result<std::unique_ptr<SentenceEmbedder>> load(const std::string& dir,
                                                        Precision precision = Precision::kFp32);
  ~SentenceEmbedder();

  int dim() const { return w_.cfg.hidden; }
  int max_seq_length() const { return max_len_; }  // ids per text, specials included
  SentencePooling pooling() const { return pooling_; }
  const BertWeights& weights() const { return w_; }
  Precision precision() const { return int8_.passed ? Precision::kInt8 : Precision::kFp32; }
  const Int8Check& int8_check() const { return int8_; }

  // The ids fed to the encoder: [CLS] .. [SEP] or <s> .. </s>, truncated to
  // max_seq_length().
  std::vector<int32_t> tokenize(std::string_view text) const;

  // out: [texts.size(), dim()] row-major, each row L2-normalised. An empty
  // text still embeds (its specials alone). InvalidArgument if a token id falls
  // outside the embedding table (tokenizer and weights disagree).
  Status embed(const std::vector<std::string>& texts, float* out) const;

 private:
  SentenceEmbedder();

  void enable_int8();

  BertWeights w_;
  Int8Check int8_;
  std::unique_ptr<WordPieceTokenizer> wordpiece_;  // exactly one of the two is set
  std::unique_ptr<SentencePieceTokenizer> spm_;
  SentencePooling pooling_ = SentencePooling::kMean;
  int max_len_ = 512;
  bool lower_case_input_ = false;  // sentence_bert_config do_lower_case
};

}  // namespace sa
