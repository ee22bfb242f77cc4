// SentencePiece tokenizer for XLM-R models (bce-embedding-base_v1), a thin
// wrapper over libsentencepiece with Hugging Face XLMRobertaTokenizer's ids.
//
// Ids follow the fairseq convention XLM-R was trained with: <s>=0, <pad>=1,
// </s>=2, <unk>=3, and every other piece has its sentencepiece id + 1 (the
// sentencepiece model itself numbers <unk>=0, <s>=1, </s>=2).
//
// Thread safety: immutable after load; encode may be called concurrently
// (SentencePieceProcessor::Encode is const and keeps no per-call state).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace sa {

class SentencePieceTokenizer {
 public:
  static constexpr int32_t kBosId = 0;  // <s>
  static constexpr int32_t kPadId = 1;  // <pad>
  static constexpr int32_t kEosId = 2;  // </s>
  static constexpr int32_t kUnkId = 3;  // <unk>
  static constexpr int32_t kOffset = 1;

  // model_path: a sentencepiece model (sentencepiece.bpe.model). NotFound if the
  // file is missing, Corruption if it is not a sentencepiece model.
  static Result<std::unique_ptr<SentencePieceTokenizer>> load(const std::string& model_path);
  // Same, from the model's bytes.
  static Result<std::unique_ptr<SentencePieceTokenizer>> from_bytes(std::string_view model);
  ~SentencePieceTokenizer();

  // <s> pieces </s>; pieces truncated so that at most max_len ids come back
  // (max_len below 2 is treated as 2).
  std::vector<int32_t> encode(std::string_view text, int max_len) const;
  // Pieces only (sentencepiece's own spelling, "▁" marks a word start).
  std::vector<std::string> tokenize(std::string_view text) const;
  // Size of the id space: sentencepiece pieces + 1 (the <pad> slot).
  int vocab_size() const;

 private:
  SentencePieceTokenizer();
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace sa
