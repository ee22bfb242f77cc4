// Sentence embedder: reads the sentence-transformers side files, picks the
// tokenizer, then tokenise -> bert_forward -> pool -> L2-normalise, as
// sentence_transformers' Transformer + Pooling + Normalize modules do.
#include "model/sentence_embedder.h"

#include <utf8proc.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "model/bert.h"
#include "model/bert_loader.h"
#include "model/chinese_clip.h"
#include "model/int8_gemm.h"
#include "model/tokenizer_spm.h"
#include "model/tokenizer_wordpiece.h"

namespace sa {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Bounds the activations of one bert_forward_batch call; a single text longer
// than this still runs alone.
constexpr size_t kMaxTokensPerBatch = 2048;

bool file_exists(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// Reads a JSON object (or array). NotFound if absent (callers decide whether
// that matters), Corruption if unparsable or of the other kind.
Result<json> read_json(const fs::path& p, bool want_array = false) {
  if (!file_exists(p)) return Status::NotFound(p.string() + " not found");
  SA_ASSIGN_OR_RETURN(std::string text, read_file(p.string()));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || (want_array ? !j.is_array() : !j.is_object())) {
    return Status::Corruption(p.string() + (want_array ? ": not a JSON array" : ": not a JSON object"));
  }
  return j;
}

// A typed optional field: absent -> fallback, wrong type -> InvalidArgument.
template <typename T>
Result<T> field(const json& j, const char* key, T fallback, const fs::path& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  bool ok = false;
  if constexpr (std::is_same_v<T, bool>) {
    ok = it->is_boolean();
  } else if constexpr (std::is_integral_v<T>) {
    ok = it->is_number_integer();
  } else {
    ok = it->is_string();
  }
  if (!ok) {
    return Status::InvalidArgument(where.string() + ": field '" + key + "' has the wrong type");
  }
  return it->get<T>();
}

// Python's str.lower() for sentence-transformers' do_lower_case (per code point;
// invalid UTF-8 passes through to the tokenizer, which drops it).
std::string lower_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      out.push_back(static_cast<char>(*p));
      ++p;
      --left;
      continue;
    }
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(m));
    p += n;
    left -= n;
  }
  return out;
}

}  // namespace

SentenceEmbedder::SentenceEmbedder() = default;
SentenceEmbedder::~SentenceEmbedder() = default;

Result<std::unique_ptr<SentenceEmbedder>> SentenceEmbedder::load(const std::string& dir_str,
                                                                 Precision precision) {
  const fs::path dir(dir_str);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::NotFound("sentence model directory not found: " + dir_str);
  }
  std::unique_ptr<SentenceEmbedder> e(new SentenceEmbedder());

  // config.json: which architecture, hence which tokenizer.
  SA_ASSIGN_OR_RETURN(json config, read_json(dir / "config.json"));
  SA_ASSIGN_OR_RETURN(std::string model_type,
                      field<std::string>(config, "model_type", "bert", dir / "config.json"));

  // Pooling.
  fs::path pool_dir = dir / "1_Pooling";
  bool pooling_required = false;
  if (file_exists(dir / "modules.json")) {
    SA_ASSIGN_OR_RETURN(json modules, read_json(dir / "modules.json", /*want_array=*/true));
    for (const auto& m : modules) {
      std::string type = m.is_object() ? m.value("type", "") : "";
      std::string path = m.is_object() && m.contains("path") && m["path"].is_string()
                             ? m["path"].get<std::string>()
                             : "";
      auto ends_with = [&](const char* s) {
        std::string suffix = s;
        return type.size() >= suffix.size() &&
               type.compare(type.size() - suffix.size(), suffix.size(), suffix) == 0;
      };
      if (ends_with("models.Transformer") || ends_with("models.Normalize")) continue;
      if (ends_with("models.Pooling")) {
        pool_dir = dir / path;
        pooling_required = true;
        continue;
      }
      return Status::Unimplemented((dir / "modules.json").string() + ": module type '" + type +
                                   "' is not supported (only Transformer, Pooling, Normalize)");
    }
  }
  const fs::path pool_cfg_path = pool_dir / "config.json";
  if (file_exists(pool_cfg_path)) {
    SA_ASSIGN_OR_RETURN(json pool, read_json(pool_cfg_path));
    SA_ASSIGN_OR_RETURN(bool cls, field<bool>(pool, "pooling_mode_cls_token", false, pool_cfg_path));
    SA_ASSIGN_OR_RETURN(bool mean,
                        field<bool>(pool, "pooling_mode_mean_tokens", false, pool_cfg_path));
    for (const char* other : {"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                              "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
      SA_ASSIGN_OR_RETURN(bool on, field<bool>(pool, other, false, pool_cfg_path));
      if (on) {
        return Status::Unimplemented(pool_cfg_path.string() + ": " + other +
                                     " is not supported (only cls or mean pooling)");
      }
    }
    if (cls == mean) {
      return Status::InvalidArgument(pool_cfg_path.string() +
                                     ": exactly one of pooling_mode_cls_token and "
                                     "pooling_mode_mean_tokens must be true");
    }
    e->pooling_ = cls ? SentencePooling::kCls : SentencePooling::kMean;
    SA_ASSIGN_OR_RETURN(int64_t dim,
                        field<int64_t>(pool, "word_embedding_dimension", -1, pool_cfg_path));
    if (dim != -1) {
      auto hidden = config.find("hidden_size");
      if (hidden != config.end() && hidden->is_number_integer() && hidden->get<int64_t>() != dim) {
        return Status::InvalidArgument(pool_cfg_path.string() + ": word_embedding_dimension " +
                                       std::to_string(dim) + " != hidden_size " +
                                       std::to_string(hidden->get<int64_t>()));
      }
    }
  } else if (pooling_required) {
    return Status::NotFound("pooling config listed in modules.json not found: " +
                            pool_cfg_path.string());
  } else {
    e->pooling_ = SentencePooling::kMean;  // sentence-transformers' default
  }

  // sentence_bert_config.json.
  int64_t max_seq = -1;
  if (file_exists(dir / "sentence_bert_config.json")) {
    const fs::path p = dir / "sentence_bert_config.json";
    SA_ASSIGN_OR_RETURN(json sb, read_json(p));
    SA_ASSIGN_OR_RETURN(max_seq, field<int64_t>(sb, "max_seq_length", -1, p));
    SA_ASSIGN_OR_RETURN(e->lower_case_input_, field<bool>(sb, "do_lower_case", false, p));
    if (max_seq != -1 && max_seq < 2) {
      return Status::InvalidArgument(p.string() + ": max_seq_length must be at least 2");
    }
  }

  // Tokenizer.
  if (model_type == "xlm-roberta") {
    const fs::path spm = dir / "sentencepiece.bpe.model";
    if (!file_exists(spm)) {
      return Status::NotFound("XLM-R tokenizer missing: " + spm.string());
    }
    SA_ASSIGN_OR_RETURN(e->spm_, SentencePieceTokenizer::load(spm.string()));
  } else if (model_type == "bert") {
    const fs::path vocab = dir / "vocab.txt";
    if (!file_exists(vocab)) {
      return Status::NotFound("BERT tokenizer missing: " + vocab.string());
    }
    bool lower = true;  // BertTokenizer's default
    if (file_exists(dir / "tokenizer_config.json")) {
      const fs::path p = dir / "tokenizer_config.json";
      SA_ASSIGN_OR_RETURN(json tc, read_json(p));
      SA_ASSIGN_OR_RETURN(lower, field<bool>(tc, "do_lower_case", true, p));
    }
    SA_ASSIGN_OR_RETURN(e->wordpiece_,
                        WordPieceTokenizer::from_file(vocab.string(), lower,
                                                      WordPieceTokenizer::kHfMaxCharsPerWord));
  } else {
    return Status::Unimplemented("sentence model_type '" + model_type +
                                 "' is not supported (bert, xlm-roberta)");
  }

  // Weights.
  auto w = load_bert_weights(dir_str);
  if (!w.ok()) return w.status().with_context("sentence model " + dir_str);
  e->w_ = std::move(w).value();
  bert_attach_fp16(e->w_);  // exact fp16 copies where the checkpoint was fp16

  const int positions = e->w_.cfg.max_position - e->w_.cfg.position_offset;
  e->max_len_ = max_seq == -1 ? positions : static_cast<int>(std::min<int64_t>(max_seq, positions));
  if (e->max_len_ < 2) {
    return Status::InvalidArgument("sentence model " + dir_str + ": position table too small");
  }
  const int tok_vocab = e->spm_ ? e->spm_->vocab_size() : e->wordpiece_->vocab_size();
  if (tok_vocab > e->w_.cfg.vocab_size) {
    return Status::InvalidArgument("sentence model " + dir_str + ": tokenizer has " +
                                   std::to_string(tok_vocab) + " tokens but the embedding table " +
                                   std::to_string(e->w_.cfg.vocab_size));
  }
  if (precision == Precision::kInt8) e->enable_int8();
  return e;
}

void SentenceEmbedder::enable_int8() {
  // The same self-check as ChineseClip's (precision.h), on sentences.
  static const std::vector<std::string> kTexts = {
      "一只猫在沙发上睡觉", "海边的日落，天空是橙色的", "生日蛋糕和蜡烛",
      "雪山下的湖泊", "穿红色衣服的小女孩在公园里奔跑", "A dog running on the beach"};
  const int d = dim();
  const int n = static_cast<int>(kTexts.size());
  std::vector<float> ref(static_cast<size_t>(n) * d), got(ref.size());
  int8_.ran = true;
  int8_.samples = n;
  int8_.kernel = q8_kernel_name(q8_best_kernel());
  if (!embed(kTexts, ref.data()).ok()) return;
  bert_attach_int8(w_, /*drop_fp32=*/false);
  double worst = embed(kTexts, got.data()).ok() ? 1.0 : 0.0;
  for (int i = 0; worst > 0 && i < n; ++i) {
    double dot = 0;  // rows are L2-normalised
    for (int j = 0; j < d; ++j) dot += static_cast<double>(ref[i * d + j]) * got[i * d + j];
    worst = std::min(worst, dot);
  }
  int8_.worst_cosine = worst;
  int8_.passed = worst >= kInt8MinCosine;
  for (BertLayer& l : w_.layers) {
    for (Linear* lin : l.projections()) {
      if (int8_.passed) {
        std::vector<float>().swap(lin->w);
      } else {
        lin->q8 = Q8Weights();
      }
    }
  }
  if (!int8_.passed) bert_attach_fp16(w_);
}

std::vector<int32_t> SentenceEmbedder::tokenize(std::string_view text) const {
  std::string lowered;
  if (lower_case_input_) {
    lowered = lower_utf8(text);
    text = lowered;
  }
  return spm_ ? spm_->encode(text, max_len_) : wordpiece_->encode(text, max_len_);
}

Status SentenceEmbedder::embed(const std::vector<std::string>& texts, float* out) const {
  const int d = dim();
  std::vector<std::vector<int32_t>> seqs;
  seqs.reserve(texts.size());
  for (const auto& t : texts) {
    seqs.push_back(tokenize(t));
    SA_RETURN_IF_ERROR(validate_bert_ids(w_.cfg, seqs.back().data(),
                                         static_cast<int>(seqs.back().size())));
  }

  std::vector<float> hidden;
  size_t begin = 0;
  while (begin < seqs.size()) {
    // A batch of whole texts, at most kMaxTokensPerBatch tokens (at least one text).
    size_t end = begin, n_tok = 0;
    while (end < seqs.size() && (end == begin || n_tok + seqs[end].size() <= kMaxTokensPerBatch)) {
      n_tok += seqs[end].size();
      ++end;
    }
    std::vector<std::vector<int32_t>> batch(std::make_move_iterator(seqs.begin() + begin),
                                            std::make_move_iterator(seqs.begin() + end));
    if (pooling_ == SentencePooling::kCls) {
      bert_forward_cls(w_, batch, out + begin * d);  // [batch, d]
      begin = end;
      continue;
    }
    hidden.assign(n_tok * d, 0.0f);
    bert_forward_batch(w_, batch, hidden.data());  // [n_tok, d]

    size_t row = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      float* o = out + (begin + i) * d;
      const float* h = hidden.data() + row * d;
      const size_t len = batch[i].size();
      // Mean over every token, specials included (no padding: mask is all ones).
      std::vector<double> acc(d, 0.0);
      for (size_t t = 0; t < len; ++t) {
        for (int j = 0; j < d; ++j) acc[j] += h[t * d + j];
      }
      for (int j = 0; j < d; ++j) o[j] = static_cast<float>(acc[j] / static_cast<double>(len));
      row += len;
    }
    begin = end;
  }
  l2_normalize_rows(out, static_cast<int>(texts.size()), d);
  return Status::OK();
}

}  // namespace sa
