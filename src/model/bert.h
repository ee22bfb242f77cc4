// BERT / RoBERTa / XLM-R encoder (post-LN), fp32 on OpenBLAS.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"
#include "model/weights.h"

namespace sa {

// Checks tensor sizes against the config, naming the first offending tensor.
Status validate_bert(const BertWeights& w);

// Checks ids of one sequence: non-empty, each in [0, vocab), and short enough
// for the position table.
Status validate_bert_ids(const BertConfig& cfg, const int32_t* ids, int n_tok);

// attach_fp16 (ops.h) on the four projections of every layer: the text tower's
// query path then streams half the bytes where the checkpoint was fp16. Returns
// how many of the 4 * layers projections got an fp16 copy (the rest stay fp32).
int bert_attach_fp16(BertWeights& w);

// attach_int8 (ops.h) on the four projections of every layer (the INT8
// precision; replaces the fp16 copies). Returns how many got an INT8 copy.
int bert_attach_int8(BertWeights& w, bool drop_fp32);

// One unpadded sequence (no attention mask needed) -> last hidden states
// out [n_tok, hidden]. ids must have passed validate_bert_ids.
void bert_forward(const BertWeights& w, const int32_t* ids, int n_tok, float* out);

// Several unpadded sequences at once: their tokens are concatenated for the
// GEMMs, attention stays within each sequence. out [sum of lengths, hidden],
// sequences in order. Same result as bert_forward on each.
void bert_forward_batch(const BertWeights& w, const std::vector<std::vector<int32_t>>& seqs,
                        float* out);

// Only the first token's last hidden state of each sequence ([CLS] pooling:
// the Chinese-CLIP text tower, XLM-R sentence models): out [seqs.size(),
// hidden], zeros for an empty sequence. The last layer runs its query, output
// projection and MLP on those rows alone (keys and values still on every
// token), ~8% less work for a 12-token query. Same values as the first rows of
// bert_forward_batch.
void bert_forward_cls(const BertWeights& w, const std::vector<std::vector<int32_t>>& seqs,
                      float* out);

}  // namespace sa
