// WordPiece tokenizer. Each step names the function of cn_clip's
// bert_tokenizer.py it reproduces; Unicode data (categories, case mapping, NFD)
// comes from libutf8proc.
#include "model/tokenizer_wordpiece.h"

#include <utf8proc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/file_util.h"

extern const unsigned char sa_vocab_data[];
extern const unsigned long sa_vocab_size;

namespace sa {
namespace {

using Codepoints = std::vector<char32_t>;

// Decodes UTF-8, skipping bytes that do not start a valid sequence.
Codepoints decode_utf8(std::string_view s) {
  Codepoints out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {  // invalid byte: ignore it, like decode("utf-8", "ignore")
      ++p;
      --left;
      continue;
    }
    out.push_back(static_cast<char32_t>(cp));
    p += n;
    left -= n;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

utf8proc_category_t category(char32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

// _is_whitespace
bool is_bert_whitespace(char32_t c) {
  return c == U' ' || c == U'\t' || c == U'\n' || c == U'\r' ||
         category(c) == UTF8PROC_CATEGORY_ZS;
}

// _is_control
bool is_bert_control(char32_t c) {
  if (c == U'\t' || c == U'\n' || c == U'\r') return false;
  auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF;
}

// _is_punctuation
bool is_bert_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
      (c >= 123 && c <= 126)) {
    return true;
  }
  switch (category(c)) {
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

// _is_chinese_char: the CJK Unified Ideographs blocks (not kana, not Hangul).
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Python's str.split() separators: str.isspace(). After cleaning only the space,
// LINE SEPARATOR and PARAGRAPH SEPARATOR (Zl, Zp) can remain, but the full
// definition keeps this independent of the order of the steps.
bool is_py_space(char32_t c) {
  if ((c >= 9 && c <= 13) || (c >= 28 && c <= 32) || c == 0x85) return true;
  auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
         cat == UTF8PROC_CATEGORY_ZP;
}

bool is_cased(char32_t c) {
  auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
         cat == UTF8PROC_CATEGORY_LT;
}

// Unicode Case_Ignorable: marks, format chars, modifiers and the word-internal
// punctuation of Word_Break MidLetter/MidNumLet/Single_Quote.
bool is_case_ignorable(char32_t c) {
  switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13:
    case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
      return true;
    default:
      break;
  }
  auto cat = category(c);
  return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_ME ||
         cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_LM ||
         cat == UTF8PROC_CATEGORY_SK;
}

// Python's str.lower() on one word. utf8proc gives the simple mappings; Python
// also applies the context rule for a word-final capital sigma (-> U+03C2).
// Its one unconditional multi-char mapping (U+0130 -> "i" + U+0307) ends as "i"
// after accent stripping, which is what the simple mapping gives directly.
void py_lower(Codepoints& w) {
  Codepoints orig = w;
  for (size_t i = 0; i < w.size(); ++i) {
    char32_t c = orig[i];
    if (c == 0x3A3) {
      bool before = false;
      for (size_t j = i; j-- > 0;) {
        if (is_case_ignorable(orig[j])) continue;
        before = is_cased(orig[j]);
        break;
      }
      bool after = false;
      for (size_t j = i + 1; j < orig.size(); ++j) {
        if (is_case_ignorable(orig[j])) continue;
        after = is_cased(orig[j]);
        break;
      }
      w[i] = (before && !after) ? 0x3C2 : 0x3C3;
      continue;
    }
    w[i] = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
  }
}

// _run_strip_accents: NFD (with canonical reordering), then drop Mn.
Codepoints strip_accents(const Codepoints& w) {
  std::string utf8;
  for (char32_t c : w) append_utf8(utf8, c);
  utf8proc_uint8_t* nfd = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(utf8.data()),
                                    static_cast<utf8proc_ssize_t>(utf8.size()), &nfd,
                                    static_cast<utf8proc_option_t>(UTF8PROC_STABLE |
                                                                   UTF8PROC_DECOMPOSE));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> guard(nfd, &std::free);
  if (n < 0) return w;  // cannot happen: the input was encoded from valid code points
  Codepoints out;
  for (char32_t c : decode_utf8(std::string_view(reinterpret_cast<const char*>(nfd),
                                                 static_cast<size_t>(n)))) {
    if (category(c) != UTF8PROC_CATEGORY_MN) out.push_back(c);
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::from_vocab(
    std::string_view vocab_text, bool lower_case, int max_chars_per_word) {
  if (max_chars_per_word < 1) {
    return Status::InvalidArgument("wordpiece: max_chars_per_word must be positive");
  }
  std::unique_ptr<WordPieceTokenizer> t(new WordPieceTokenizer());
  t->lower_case_ = lower_case;
  t->max_chars_per_word_ = max_chars_per_word;
  // load_vocab: Python text mode splits lines at \n, \r\n and \r, and strips
  // each line; the id is the line number.
  int32_t index = 0;
  size_t pos = 0;
  while (pos < vocab_text.size()) {
    size_t end = vocab_text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = vocab_text.size();
    Codepoints line = decode_utf8(vocab_text.substr(pos, end - pos));
    size_t b = 0, e = line.size();
    while (b < e && is_py_space(line[b])) ++b;
    while (e > b && is_py_space(line[e - 1])) --e;
    std::string token;
    for (size_t i = b; i < e; ++i) append_utf8(token, line[i]);
    t->vocab_[std::move(token)] = index++;
    pos = end;
    if (pos < vocab_text.size()) {
      if (vocab_text[pos] == '\r' && pos + 1 < vocab_text.size() && vocab_text[pos + 1] == '\n') {
        ++pos;
      }
      ++pos;
    }
  }
  t->vocab_size_ = index;
  if (index == 0) return Status::InvalidArgument("wordpiece: empty vocabulary");
  t->cls_id_ = t->token_id("[CLS]");
  t->sep_id_ = t->token_id("[SEP]");
  t->unk_id_ = t->token_id("[UNK]");
  int32_t pad = t->token_id("[PAD]");
  t->pad_id_ = pad >= 0 ? pad : 0;
  for (const char* name : {"[CLS]", "[SEP]", "[UNK]"}) {
    if (t->token_id(name) < 0) {
      return Status::InvalidArgument(std::string("wordpiece: vocabulary has no ") + name +
                                     " token (is this a BERT vocab.txt?)");
    }
  }
  return t;
}

Result<std::unique_ptr<WordPieceTokenizer>> WordPieceTokenizer::from_file(
    const std::string& path, bool lower_case, int max_chars_per_word) {
  SA_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto r = from_vocab(text, lower_case, max_chars_per_word);
  if (!r.ok()) return r.status().with_context(path);
  return r;
}

const WordPieceTokenizer& WordPieceTokenizer::builtin() {
  static const WordPieceTokenizer* const kBuiltin = [] {
    auto r = from_vocab(std::string_view(reinterpret_cast<const char*>(sa_vocab_data),
                                         static_cast<size_t>(sa_vocab_size)),
                        /*lower_case=*/true, kCnClipMaxCharsPerWord);
    if (!r.ok()) {
      // The vocabulary is compiled in: a failure here is a broken build.
      std::fprintf(stderr, "fatal: built-in vocab.txt: %s\n", r.status().to_string().c_str());
      std::abort();
    }
    return std::move(r).value().release();
  }();
  return *kBuiltin;
}

int32_t WordPieceTokenizer::token_id(std::string_view token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

template <typename Emit>
void WordPieceTokenizer::run(std::string_view text, Emit&& emit) const {
  // _clean_text + _tokenize_chinese_chars, then whitespace_tokenize.
  std::vector<Codepoints> words;
  Codepoints cur;
  auto flush = [&] {
    if (!cur.empty()) words.push_back(std::move(cur));
    cur.clear();
  };
  for (char32_t c : decode_utf8(text)) {
    if (c == 0 || c == 0xFFFD || is_bert_control(c)) continue;
    if (is_bert_whitespace(c) || is_py_space(c)) {
      flush();
    } else if (is_cjk(c)) {
      flush();
      cur.push_back(c);
      flush();
    } else {
      cur.push_back(c);
    }
  }
  flush();

  std::string piece;
  for (Codepoints& word : words) {
    if (lower_case_) {
      py_lower(word);
      word = strip_accents(word);
    }
    // _run_split_on_punc, then whitespace_tokenize of the joined result.
    std::vector<Codepoints> sub;
    bool start_new = true;
    for (char32_t c : word) {
      if (is_bert_punctuation(c)) {
        sub.push_back({c});
        start_new = true;
      } else if (is_py_space(c)) {
        start_new = true;
      } else {
        if (start_new) sub.emplace_back();
        start_new = false;
        sub.back().push_back(c);
      }
    }

    // WordpieceTokenizer.tokenize: greedy longest match, in code points.
    for (const Codepoints& token : sub) {
      if (token.size() > static_cast<size_t>(max_chars_per_word_)) {
        emit(std::string_view("[UNK]"), unk_id_);
        continue;
      }
      // Byte offset of every code point boundary, so substrings are views.
      std::string utf8;
      std::vector<size_t> at;
      for (char32_t c : token) {
        at.push_back(utf8.size());
        append_utf8(utf8, c);
      }
      at.push_back(utf8.size());
      std::vector<std::pair<size_t, size_t>> spans;  // [start, end) in code points
      std::vector<int32_t> ids;
      size_t start = 0;
      bool bad = false;
      while (start < token.size()) {
        size_t end = token.size();
        int32_t found = -1;
        while (start < end) {
          piece.clear();
          if (start > 0) piece = "##";
          piece.append(utf8, at[start], at[end] - at[start]);
          found = token_id(piece);
          if (found >= 0) break;
          --end;
        }
        if (found < 0) {
          bad = true;
          break;
        }
        spans.emplace_back(start, end);
        ids.push_back(found);
        start = end;
      }
      if (bad) {
        emit(std::string_view("[UNK]"), unk_id_);
        continue;
      }
      for (size_t i = 0; i < spans.size(); ++i) {
        piece.clear();
        if (spans[i].first > 0) piece = "##";
        piece.append(utf8, at[spans[i].first], at[spans[i].second] - at[spans[i].first]);
        emit(std::string_view(piece), ids[i]);
      }
    }
  }
}

std::vector<int32_t> WordPieceTokenizer::encode(std::string_view text, int max_len) const {
  const size_t n_pieces = static_cast<size_t>(max_len < 2 ? 0 : max_len - 2);
  std::vector<int32_t> ids{cls_id_};
  run(text, [&](std::string_view, int32_t id) {
    if (ids.size() - 1 < n_pieces) ids.push_back(id);
  });
  ids.push_back(sep_id_);
  return ids;
}

std::vector<std::string> WordPieceTokenizer::tokenize(std::string_view text) const {
  std::vector<std::string> out;
  run(text, [&](std::string_view piece, int32_t) { out.emplace_back(piece); });
  return out;
}

}  // namespace sa
