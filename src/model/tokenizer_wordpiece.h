// BERT WordPiece tokenizer, token for token the one Chinese-CLIP ships
// (cn_clip/clip/bert_tokenizer.py, Google's original BERT FullTokenizer).
//
// Pipeline (all on Unicode code points; invalid UTF-8 bytes are skipped, as
// Python's decode("utf-8", "ignore") does):
//   1. clean: drop U+0000, U+FFFD and control characters (Cc/Cf except \t \n \r);
//      whitespace (\t \n \r, Zs) becomes a space.
//   2. every CJK ideograph becomes a word of its own.
//   3. split on whitespace.
//   4. lower_case: lower-case each word, then NFD and drop combining marks (Mn).
//      No NFKC: full-width "Ａ" becomes "ａ", not "a" (matches the goldens).
//   5. split punctuation out (ASCII 33-47, 58-64, 91-96, 123-126, Unicode P*).
//   6. greedy longest-match WordPiece with "##" continuation pieces; a word with
//      no full cover, or longer than max_chars_per_word code points, is [UNK].
//
// cn_clip uses max_chars_per_word = 200 (its WordpieceTokenizer default);
// Hugging Face's BertTokenizer (text2vec and other sentence models) uses 100.
//
// Thread safety: immutable after construction; all methods are const and may be
// called from any number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"

namespace sa {

class WordPieceTokenizer {
 public:
  static constexpr int kCnClipMaxCharsPerWord = 200;
  static constexpr int kHfMaxCharsPerWord = 100;
  // cn_clip's context length: [CLS] + 50 pieces + [SEP].
  static constexpr int kCnClipContextLength = 52;

  // vocab_text: vocab.txt contents, one token per line (id = line number; lines
  // are stripped of surrounding whitespace; a repeated token keeps its last id,
  // as load_vocab's dict does). InvalidArgument if the vocabulary is empty or
  // lacks [CLS], [SEP] or [UNK]; [PAD] falls back to id 0.
  static Result<std::unique_ptr<WordPieceTokenizer>> from_vocab(
      std::string_view vocab_text, bool lower_case = true,
      int max_chars_per_word = kCnClipMaxCharsPerWord);
  // NotFound / IOError when the file cannot be read, else as from_vocab.
  static Result<std::unique_ptr<WordPieceTokenizer>> from_file(
      const std::string& path, bool lower_case = true,
      int max_chars_per_word = kCnClipMaxCharsPerWord);
  // The shipped bert-base-chinese vocabulary (assets/vocab.txt, compiled in),
  // configured exactly as cn_clip's tokenizer. Built once, on first use.
  static const WordPieceTokenizer& builtin();

  // [CLS] pieces [SEP]; pieces are truncated so that at most max_len ids come
  // back (cn_clip: max_len 52). max_len below 2 is treated as 2.
  std::vector<int32_t> encode(std::string_view text, int max_len) const;
  // Word pieces only, no [CLS]/[SEP], no truncation.
  std::vector<std::string> tokenize(std::string_view text) const;

  int32_t token_id(std::string_view token) const;  // -1 if absent
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t pad_id() const { return pad_id_; }
  int32_t unk_id() const { return unk_id_; }
  int vocab_size() const { return vocab_size_; }
  bool lower_case() const { return lower_case_; }

 private:
  WordPieceTokenizer() = default;

  // Runs the pipeline and calls emit(piece, id) for every word piece.
  template <typename Emit>
  void run(std::string_view text, Emit&& emit) const;

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> vocab_;
  bool lower_case_ = true;
  int max_chars_per_word_ = kCnClipMaxCharsPerWord;
  int vocab_size_ = 0;
  int32_t cls_id_ = -1, sep_id_ = -1, pad_id_ = 0, unk_id_ = -1;
};

}  // namespace sa
