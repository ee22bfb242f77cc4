// BERT-family encoder loading, plus the small checked readers every loader uses.
#include "model/bert_loader.h"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "model/tensor_names.h"

namespace sa {

namespace fs = std::filesystem;

Status read_linear(const Checkpoint& ck, const std::string& w_name, const std::string& b_name,
                   int n_out, int n_in, Linear* out) {
  out->n_out = n_out;
  out->n_in = n_in;
  SA_ASSIGN_OR_RETURN(out->w, ck.get_tensor(w_name, {n_out, n_in}));
  if (!b_name.empty()) {
    SA_ASSIGN_OR_RETURN(out->b, ck.get_tensor(b_name, {n_out}));
  } else {
    out->b.clear();
  }
  return Status::OK();
}

Status read_qkv(const Checkpoint& ck, const std::string& qw, const std::string& qb,
                const std::string& kw, const std::string& kb, const std::string& vw,
                const std::string& vb, int d, Linear* out) {
  const std::string* names[6] = {&qw, &kw, &vw, &qb, &kb, &vb};
  for (int i = 0; i < 6; ++i) {
    // Check all six before allocating the stacked buffers.
    SA_ASSIGN_OR_RETURN(std::vector<int64_t> s, ck.shape_of(*names[i]));
    const std::vector<int64_t> want = i < 3 ? std::vector<int64_t>{d, d} : std::vector<int64_t>{d};
    if (s != want) {
      return Status::InvalidArgument("tensor '" + *names[i] + "' has shape " + shape_to_string(s) +
                                     ", expected " + shape_to_string(want) + " (" + ck.path() + ")");
    }
  }
  out->n_out = 3 * d;
  out->n_in = d;
  out->w.assign(size_t(3) * d * d, 0.0f);
  out->b.assign(size_t(3) * d, 0.0f);
  const std::string* ws[3] = {&qw, &kw, &vw};
  const std::string* bs[3] = {&qb, &kb, &vb};
  for (int i = 0; i < 3; ++i) {
    SA_RETURN_IF_ERROR(ck.read_tensor(*ws[i], {d, d}, out->w.data() + size_t(i) * d * d));
    SA_RETURN_IF_ERROR(ck.read_tensor(*bs[i], {d}, out->b.data() + size_t(i) * d));
  }
  return Status::OK();
}

Status read_layer_norm(const Checkpoint& ck, const std::string& w_name, const std::string& b_name,
                       int d, LayerNormW* out) {
  std::string w = w_name, b = b_name;
  // TF-converted BERT files (e.g. hfl/chinese-roberta-wwm-ext) still say gamma/beta.
  auto legacy = [](const std::string& name, const char* from, const char* to) {
    const size_t n = std::strlen(from);
    if (name.size() < n || name.compare(name.size() - n, n, from) != 0) return name;
    return name.substr(0, name.size() - n) + to;
  };
  if (!ck.has(w) && ck.has(legacy(w, tn::kWeightSuffix, tn::kLegacyGammaSuffix))) {
    w = legacy(w, tn::kWeightSuffix, tn::kLegacyGammaSuffix);
    b = legacy(b, tn::kBiasSuffix, tn::kLegacyBetaSuffix);
  }
  SA_ASSIGN_OR_RETURN(out->g, ck.get_tensor(w, {d}));
  SA_ASSIGN_OR_RETURN(out->b, ck.get_tensor(b, {d}));
  return Status::OK();
}

Status read_transposed(const Checkpoint& ck, const std::string& name, int rows, int cols,
                       std::vector<float>* out) {
  SA_ASSIGN_OR_RETURN(std::vector<float> t, ck.get_tensor(name, {rows, cols}));
  out->assign(size_t(rows) * cols, 0.0f);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) (*out)[size_t(c) * rows + r] = t[size_t(r) * cols + c];
  }
  return Status::OK();
}

Result<nlohmann::json> read_json_file(const std::string& path) {
  SA_ASSIGN_OR_RETURN(std::string text, read_file(path, size_t(16) << 20));
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (!j.is_object()) return Status::Corruption(path + ": not a JSON object");
    return j;
  } catch (const std::exception& e) {
    return Status::Corruption(path + ": not valid JSON: " + e.what());
  }
}

int count_layers(const Checkpoint& ck, const std::string& prefix, const char* pattern) {
  int n = 0;
  while (n < 100000 && ck.has(prefix + tn::at(pattern, n))) ++n;
  return n;
}

namespace {

// The dimension a tensor has on `axis`, or NotFound naming the tensor.
Result<int> dim_of(const Checkpoint& ck, const std::string& name, size_t rank, size_t axis) {
  SA_ASSIGN_OR_RETURN(std::vector<int64_t> s, ck.shape_of(name));
  if (s.size() != rank) {
    return Status::InvalidArgument("tensor '" + name + "' has shape " + shape_to_string(s) +
                                   ", expected rank " + std::to_string(rank));
  }
  if (s[axis] <= 0 || s[axis] > (int64_t(1) << 30)) {
    return Status::InvalidArgument("tensor '" + name + "' has shape " + shape_to_string(s));
  }
  return int(s[axis]);
}

Status agree(const char* what, int in_file, int in_config, const std::string& source) {
  if (in_config != 0 && in_config != in_file) {
    return Status::InvalidArgument("checkpoint has " + std::string(what) + " " +
                                   std::to_string(in_file) + " but " + source + " says " +
                                   std::to_string(in_config));
  }
  return Status::OK();
}

}  // namespace

Result<BertWeights> load_bert_encoder(const Checkpoint& ck, const std::string& prefix,
                                      const BertHints& h) {
  namespace n = tn::bert;
  BertWeights w;
  BertConfig& c = w.cfg;
  const std::string p = prefix;
  SA_ASSIGN_OR_RETURN(c.vocab_size, dim_of(ck, p + n::kWordEmbeddings, 2, 0));
  SA_ASSIGN_OR_RETURN(c.hidden, dim_of(ck, p + n::kWordEmbeddings, 2, 1));
  SA_ASSIGN_OR_RETURN(c.max_position, dim_of(ck, p + n::kPositionEmbeddings, 2, 0));
  SA_ASSIGN_OR_RETURN(c.type_vocab_size, dim_of(ck, p + n::kTokenTypeEmbeddings, 2, 0));
  c.layers = count_layers(ck, p, n::kAttnOutW);
  if (c.layers == 0) {
    return Status::NotFound("tensor '" + p + tn::at(n::kAttnOutW, 0) + "' is missing from " +
                            ck.path() + " (no encoder layers)");
  }
  SA_ASSIGN_OR_RETURN(c.intermediate, dim_of(ck, p + tn::at(n::kInterW, 0), 2, 0));
  SA_RETURN_IF_ERROR(agree("text vocab size", c.vocab_size, h.vocab_size, h.source));
  SA_RETURN_IF_ERROR(agree("text hidden size", c.hidden, h.hidden, h.source));
  SA_RETURN_IF_ERROR(agree("text layer count", c.layers, h.layers, h.source));
  SA_RETURN_IF_ERROR(agree("text intermediate size", c.intermediate, h.intermediate, h.source));
  SA_RETURN_IF_ERROR(agree("text max positions", c.max_position, h.max_position, h.source));
  SA_RETURN_IF_ERROR(agree("text type vocab size", c.type_vocab_size, h.type_vocab_size, h.source));
  c.heads = h.heads != 0 ? h.heads : c.hidden / 64;
  if (c.heads <= 0 || c.hidden % c.heads != 0) {
    return Status::InvalidArgument("text hidden size " + std::to_string(c.hidden) +
                                   " is not divisible into " + std::to_string(c.heads) +
                                   " attention heads (" + h.source + ")");
  }
  c.ln_eps = h.ln_eps;
  c.pad_token_id = h.pad_token_id;
  c.position_offset = h.position_offset;
  if (c.position_offset < 0 || c.position_offset >= c.max_position) {
    return Status::InvalidArgument("position offset " + std::to_string(c.position_offset) +
                                   " does not fit " + std::to_string(c.max_position) +
                                   " positions (" + h.source + ")");
  }

  const int d = c.hidden;
  SA_ASSIGN_OR_RETURN(w.word_embeddings, ck.get_tensor(p + n::kWordEmbeddings, {c.vocab_size, d}));
  SA_ASSIGN_OR_RETURN(w.position_embeddings,
                      ck.get_tensor(p + n::kPositionEmbeddings, {c.max_position, d}));
  SA_ASSIGN_OR_RETURN(w.token_type_embeddings,
                      ck.get_tensor(p + n::kTokenTypeEmbeddings, {c.type_vocab_size, d}));
  SA_RETURN_IF_ERROR(read_layer_norm(ck, p + n::kEmbLnW, p + n::kEmbLnB, d, &w.emb_ln));
  w.layers.resize(size_t(c.layers));
  for (int i = 0; i < c.layers; ++i) {
    BertLayer& L = w.layers[size_t(i)];
    auto name = [&](const char* pattern) { return p + tn::at(pattern, i); };
    if (ck.has(name(n::kWqkvW))) {
      SA_RETURN_IF_ERROR(read_linear(ck, name(n::kWqkvW), name(n::kWqkvB), 3 * d, d, &L.qkv));
    } else {
      SA_RETURN_IF_ERROR(read_qkv(ck, name(n::kQW), name(n::kQB), name(n::kKW), name(n::kKB),
                                  name(n::kVW), name(n::kVB), d, &L.qkv));
    }
    SA_RETURN_IF_ERROR(read_linear(ck, name(n::kAttnOutW), name(n::kAttnOutB), d, d, &L.attn_out));
    SA_RETURN_IF_ERROR(read_layer_norm(ck, name(n::kAttnLnW), name(n::kAttnLnB), d, &L.attn_ln));
    SA_RETURN_IF_ERROR(
        read_linear(ck, name(n::kInterW), name(n::kInterB), c.intermediate, d, &L.inter));
    SA_RETURN_IF_ERROR(read_linear(ck, name(n::kOutW), name(n::kOutB), d, c.intermediate, &L.out));
    SA_RETURN_IF_ERROR(read_layer_norm(ck, name(n::kOutLnW), name(n::kOutLnB), d, &L.out_ln));
  }
  return w;
}

Result<std::unique_ptr<Checkpoint>> open_hf_weights(const std::string& dir) {
  for (const char* file : {"model.safetensors", "pytorch_model.bin"}) {
    const std::string path = (fs::path(dir) / file).string();
    if (file_exists(path)) return Checkpoint::open(path);
  }
  if (file_exists((fs::path(dir) / "model.safetensors.index.json").string()) ||
      file_exists((fs::path(dir) / "pytorch_model.bin.index.json").string())) {
    return Status::Unimplemented(dir + ": sharded checkpoints (*.index.json) are not supported");
  }
  return Status::NotFound(dir + " has neither model.safetensors nor pytorch_model.bin");
}

namespace {

int json_int(const nlohmann::json& j, const char* key, int fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

}  // namespace

Result<BertWeights> load_bert_weights(const std::string& dir) try {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound(dir + " is not a directory (expected an HF model folder)");
  }
  const std::string config_path = (fs::path(dir) / "config.json").string();
  if (!file_exists(config_path)) return Status::NotFound(dir + " has no config.json");
  SA_ASSIGN_OR_RETURN(nlohmann::json cfg, read_json_file(config_path));
  SA_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> ck, open_hf_weights(dir));

  BertHints h;
  h.source = config_path;
  h.vocab_size = json_int(cfg, "vocab_size", 0);
  h.hidden = json_int(cfg, "hidden_size", 0);
  h.layers = json_int(cfg, "num_hidden_layers", 0);
  h.heads = json_int(cfg, "num_attention_heads", 0);
  h.intermediate = json_int(cfg, "intermediate_size", 0);
  h.max_position = json_int(cfg, "max_position_embeddings", 0);
  h.type_vocab_size = json_int(cfg, "type_vocab_size", 0);
  auto mt = cfg.find("model_type");
  const std::string model_type = mt != cfg.end() && mt->is_string() ? mt->get<std::string>() : "bert";
  const bool roberta_like =
      model_type == "xlm-roberta" || model_type == "roberta" || model_type == "camembert";
  h.pad_token_id = json_int(cfg, "pad_token_id", roberta_like ? 1 : 0);
  h.ln_eps = 1e-12f;
  if (auto it = cfg.find("layer_norm_eps"); it != cfg.end() && it->is_number()) {
    h.ln_eps = it->get<float>();
  }
  // RoBERTa numbers positions from padding_idx + 1 (create_position_ids_from_input_ids).
  h.position_offset = roberta_like ? h.pad_token_id + 1 : 0;

  for (const char* prefix : tn::bert::kPrefixes) {
    if (ck->has(std::string(prefix) + tn::bert::kWordEmbeddings)) {
      return load_bert_encoder(*ck, prefix, h);
    }
  }
  return Status::NotFound("tensor '" + std::string(tn::bert::kWordEmbeddings) +
                          "' (with prefix '', 'bert.', 'roberta.' or 'model.') is missing from " +
                          ck->path());
} catch (const std::bad_alloc&) {
  return Status::ResourceExhausted(dir + ": out of memory while loading the model");
} catch (const std::exception& e) {  // nlohmann::json type errors and the like
  return Status::Corruption(dir + ": " + e.what());
}

}  // namespace sa
