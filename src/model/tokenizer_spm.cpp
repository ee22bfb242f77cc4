// SentencePiece wrapper: the id mapping of HF XLMRobertaTokenizer
// (_convert_token_to_id: spm id + fairseq_offset, spm's <unk> -> unk_token_id).
#include "model/tokenizer_spm.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <exception>
#include <filesystem>

#include "core/file_util.h"

namespace sa {

SentencePieceTokenizer::SentencePieceTokenizer()
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

Result<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::load(
    const std::string& model_path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_path, ec)) {
    return Status::NotFound("sentencepiece model not found: " + model_path);
  }
  SA_ASSIGN_OR_RETURN(std::string bytes, read_file(model_path));
  auto r = from_bytes(bytes);
  if (!r.ok()) return r.status().with_context(model_path);
  return r;
}

Result<std::unique_ptr<SentencePieceTokenizer>> SentencePieceTokenizer::from_bytes(
    std::string_view model) {
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
  try {
    auto st = t->sp_->LoadFromSerializedProto(model);
    if (!st.ok()) {
      return Status::Corruption("not a sentencepiece model: " + st.ToString());
    }
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("not a sentencepiece model: ") + e.what());
  }
  if (t->sp_->GetPieceSize() < 4) {
    return Status::Corruption("sentencepiece model has fewer than 4 pieces");
  }
  return t;
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text, int max_len) const {
  std::vector<int> spm_ids;
  // Encode only fails on an unloaded processor, which load() rules out.
  if (!sp_->Encode(text, &spm_ids).ok()) spm_ids.clear();
  const size_t n_pieces =
      std::min(spm_ids.size(), static_cast<size_t>(max_len < 2 ? 0 : max_len - 2));
  const int spm_unk = sp_->unk_id();
  std::vector<int32_t> ids;
  ids.reserve(n_pieces + 2);
  ids.push_back(kBosId);
  for (size_t i = 0; i < n_pieces; ++i) {
    ids.push_back(spm_ids[i] == spm_unk ? kUnkId : spm_ids[i] + kOffset);
  }
  ids.push_back(kEosId);
  return ids;
}

std::vector<std::string> SentencePieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> pieces;
  if (!sp_->Encode(text, &pieces).ok()) pieces.clear();
  return pieces;
}

int SentencePieceTokenizer::vocab_size() const { return sp_->GetPieceSize() + kOffset; }

}  // namespace sa
