// Loading BERT-family text encoders (BertModel, RoBERTa, XLM-RoBERTa) into
// the fp32 BertWeights of model/weights.h.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/status.h"
#include "model/checkpoint.h"
#include "model/weights.h"

namespace sa {

// Loads an HF text-model directory: config.json + model.safetensors (or
// pytorch_model.bin). Tensor names may carry a prefix "", "bert.", "roberta."
// or "model."; pooler and position_ids tensors are ignored.
// model_type "xlm-roberta"/"roberta": position_offset = pad_token_id + 1.
// type_vocab_size, layer_norm_eps and pad_token_id come from config.json;
// shapes come from the tensors and must agree with config.json.
// Errors: NotFound (no config.json / no weights file / missing tensor),
// Corruption (bad JSON or checkpoint bytes), InvalidArgument (shape mismatch).
Result<BertWeights> load_bert_weights(const std::string& dir);

// What a config file says about an encoder. A zero field is unknown and is
// read from the tensor shapes instead; a nonzero one must match them.
struct BertHints {
  int vocab_size = 0;
  int hidden = 0;
  int layers = 0;
  int heads = 0;  // unknown => hidden / 64
  int intermediate = 0;
  int max_position = 0;
  int type_vocab_size = 0;
  float ln_eps = 1e-12f;
  int pad_token_id = 0;
  int position_offset = 0;
  std::string source = "config";  // names the config in error messages
};

// Reads the encoder whose tensors are named `prefix` + tn::bert::* (shared by
// the CLIP loaders: prefix "bert." for cn_clip, "text_model." for HF).
// Accepts separate query/key/value or a combined Wqkv per layer.
Result<BertWeights> load_bert_encoder(const Checkpoint& ck, const std::string& prefix,
                                      const BertHints& hints);

// ---- helpers shared by the loaders (bert_loader.cpp, clip_loader.cpp) ----

// Reads a Linear [n_out, n_in] (+ bias [n_out] unless b_name is empty).
Status read_linear(const Checkpoint& ck, const std::string& w_name, const std::string& b_name,
                   int n_out, int n_in, Linear* out);
// Reads q, k, v Linears [d, d] and stacks them into one [3d, d] Linear.
Status read_qkv(const Checkpoint& ck, const std::string& qw, const std::string& qb,
                const std::string& kw, const std::string& kb, const std::string& vw,
                const std::string& vb, int d, Linear* out);
Status read_layer_norm(const Checkpoint& ck, const std::string& w_name, const std::string& b_name,
                       int d, LayerNormW* out);
// Reads a 2-D tensor stored [rows, cols] and stores its transpose [cols, rows].
Status read_transposed(const Checkpoint& ck, const std::string& name, int rows, int cols,
                       std::vector<float>* out);
// Parses a JSON file: NotFound if absent, Corruption naming the file if malformed.
Result<nlohmann::json> read_json_file(const std::string& path);
// Number of consecutive layers 0..N-1 for which `pattern` (with "{}") exists.
int count_layers(const Checkpoint& ck, const std::string& prefix, const char* pattern);

// Opens `dir`/model.safetensors, else `dir`/pytorch_model.bin (NotFound if neither).
Result<std::unique_ptr<Checkpoint>> open_hf_weights(const std::string& dir);

}  // namespace sa
