// Tokenizers against the ids the reference Python code produced (exact match),
// plus the edge cases of the BERT basic tokenizer and bad inputs.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "model/tokenizer_spm.h"
#include "model/tokenizer_wordpiece.h"

namespace sa {
namespace {

const std::string kData = SA_TEST_DATA;

nlohmann::json load_json(const std::string& path) {
  auto text = read_file(path);
  EXPECT_TRUE(text.ok()) << text.status().to_string();
  return text.ok() ? nlohmann::json::parse(*text) : nlohmann::json();
}

std::vector<int32_t> golden_ids(const nlohmann::json& t) {
  return t.at("ids").get<std::vector<int32_t>>();
}

// ---- WordPiece --------------------------------------------------------------

TEST(WordPiece, BuiltinMatchesCnClipGoldens) {
  const auto& tok = WordPieceTokenizer::builtin();
  auto g = load_json(kData + "/clip/tiny-b16/golden.json");
  ASSERT_TRUE(g.contains("texts"));
  ASSERT_GE(g["texts"].size(), 20u);
  for (const auto& t : g["texts"]) {
    std::string text = t.at("text");
    EXPECT_EQ(tok.encode(text, WordPieceTokenizer::kCnClipContextLength), golden_ids(t))
        << "text: " << text;
  }
}

TEST(WordPiece, TextEmbedderVocabMatchesGoldens) {
  const std::string dir = kData + "/text/tiny-bert-mean";
  auto tok = WordPieceTokenizer::from_file(dir + "/vocab.txt", true,
                                           WordPieceTokenizer::kHfMaxCharsPerWord);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  auto g = load_json(dir + "/golden.json");
  int max_len = g.at("max_seq_length");
  ASSERT_GE(g["texts"].size(), 10u);
  for (const auto& t : g["texts"]) {
    std::string text = t.at("text");
    EXPECT_EQ((*tok)->encode(text, max_len), golden_ids(t)) << "text: " << text;
  }
}

TEST(WordPiece, SpecialIds) {
  const auto& tok = WordPieceTokenizer::builtin();
  EXPECT_EQ(tok.vocab_size(), 21128);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 100);
  EXPECT_EQ(tok.cls_id(), 101);
  EXPECT_EQ(tok.sep_id(), 102);
  EXPECT_EQ(tok.token_id("[MASK]"), 103);
  EXPECT_EQ(tok.token_id("no-such-token-here"), -1);
}

TEST(WordPiece, TruncatesToMaxLen) {
  const auto& tok = WordPieceTokenizer::builtin();
  std::string text;
  for (int i = 0; i < 100; ++i) text += "猫";
  auto ids = tok.encode(text, 52);
  ASSERT_EQ(ids.size(), 52u);
  EXPECT_EQ(ids.front(), tok.cls_id());
  EXPECT_EQ(ids.back(), tok.sep_id());
  EXPECT_EQ(ids[1], tok.token_id("猫"));
  EXPECT_EQ(tok.encode(text, 5).size(), 5u);
  // Degenerate limits still give a well-formed [CLS] [SEP].
  EXPECT_EQ(tok.encode(text, 0), (std::vector<int32_t>{101, 102}));
  EXPECT_EQ(tok.encode("猫", 1000).size(), 3u);
}

TEST(WordPiece, PiecesAndPunctuation) {
  const auto& tok = WordPieceTokenizer::builtin();
  // Continuation pieces carry "##"; ASCII symbols like '$' and '^' count as
  // punctuation even though Unicode says Sc/Sk.
  auto p = tok.tokenize("unbelievable $5^2");
  ASSERT_FALSE(p.empty());
  EXPECT_EQ(p[0], "u");  // the vocab has no "un": greedy picks the longest prefix
  for (size_t i = 1; i < p.size() && p[i] != "$"; ++i) EXPECT_EQ(p[i].rfind("##", 0), 0u) << p[i];
  EXPECT_EQ(tok.tokenize("a$b"), (std::vector<std::string>{"a", "$", "b"}));
  EXPECT_EQ(tok.tokenize("x^y"), (std::vector<std::string>{"x", "^", "y"}));
  // Unicode punctuation (Po, Ps/Pe, Pd) splits too; a split-out mark missing
  // from the vocabulary is [UNK] on its own.
  EXPECT_EQ(tok.tokenize("a、b（c）"),
            (std::vector<std::string>{"a", "、", "b", "（", "c", "）"}));
  EXPECT_EQ(tok.tokenize("a—b"), (std::vector<std::string>{"a", "[UNK]", "b"}));
}

TEST(WordPiece, CleaningAndWhitespace) {
  const auto& tok = WordPieceTokenizer::builtin();
  // NUL, U+FFFD, a control char (Cc) and a format char (Cf, ZWJ) vanish without splitting.
  std::string dirty = std::string("ab") + '\0' + "c\xef\xbf\xbd" "d\x07" "e\xe2\x80\x8d" "f";
  EXPECT_EQ(tok.tokenize(dirty), tok.tokenize("abcdef"));
  // No-break space, ideographic space, line separator and tab all separate words.
  EXPECT_EQ(tok.tokenize("a\xc2\xa0" "b\xe3\x80\x80" "c\xe2\x80\xa8" "d\te"),
            tok.tokenize("a b c d e"));
  EXPECT_TRUE(tok.tokenize(" \t\r\n ").empty());
  EXPECT_EQ(tok.encode("", 52), (std::vector<int32_t>{101, 102}));
}

TEST(WordPiece, InvalidUtf8IsIgnored) {
  const auto& tok = WordPieceTokenizer::builtin();
  // Stray bytes, a truncated 3-byte sequence and a lone lead byte are dropped.
  std::string bad = "\xff\xfe" "猫" "\x80" "\xe7\x8c" "x" "\xc3";
  EXPECT_EQ(tok.tokenize(bad), (std::vector<std::string>{"猫", "x"}));
}

TEST(WordPiece, LowerCaseAndAccents) {
  const auto& tok = WordPieceTokenizer::builtin();
  EXPECT_EQ(tok.tokenize("CAFÉ"), tok.tokenize("cafe"));
  // Decomposed input (e + U+0301) strips the same way.
  EXPECT_EQ(tok.tokenize("cafe\xcc\x81"), tok.tokenize("cafe"));
  // Full-width letters lower-case to full-width, not to ASCII (no NFKC).
  EXPECT_EQ(tok.tokenize("Ａ"), (std::vector<std::string>{"ａ"}));

  auto cased = WordPieceTokenizer::from_vocab("[PAD]\n[UNK]\n[CLS]\n[SEP]\nA\na\n##B\n##b\ne\né\n",
                                              /*lower_case=*/false);
  ASSERT_TRUE(cased.ok()) << cased.status().to_string();
  EXPECT_EQ((*cased)->tokenize("AB ab"), (std::vector<std::string>{"A", "##B", "a", "##b"}));
  EXPECT_EQ((*cased)->tokenize("é"), (std::vector<std::string>{"é"}));
}

TEST(WordPiece, UnknownAndOverlongWords) {
  auto tok = WordPieceTokenizer::from_vocab("[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n##a\nb\n", true, 5);
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  const auto& t = **tok;
  EXPECT_EQ(t.unk_id(), 1);
  EXPECT_EQ(t.tokenize("aaaaa"), (std::vector<std::string>{"a", "##a", "##a", "##a", "##a"}));
  EXPECT_EQ(t.tokenize("aaaaaa"), (std::vector<std::string>{"[UNK]"}));  // 6 > 5 chars
  // No cover for the whole word -> one [UNK] for the word, not per piece.
  EXPECT_EQ(t.tokenize("ab a"), (std::vector<std::string>{"[UNK]", "a"}));
  EXPECT_EQ(t.encode("ab a", 10), (std::vector<int32_t>{2, 1, 4, 3}));

  // cn_clip's limit is 200 code points, not 100: a 150-char word of known pieces survives.
  std::string word(150, 'a');
  auto pieces = WordPieceTokenizer::builtin().tokenize(word);
  EXPECT_NE(pieces, (std::vector<std::string>{"[UNK]"}));
  EXPECT_EQ(WordPieceTokenizer::builtin().tokenize(std::string(201, 'a')),
            (std::vector<std::string>{"[UNK]"}));
}

TEST(WordPiece, VocabParsing) {
  // CRLF and lone CR end lines; surrounding whitespace is stripped; the last
  // occurrence of a repeated token wins; [PAD] is optional.
  auto tok = WordPieceTokenizer::from_vocab("[UNK]\r\n[CLS]\r[SEP]\n  x  \nx\n");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_EQ((*tok)->vocab_size(), 5);
  EXPECT_EQ((*tok)->cls_id(), 1);
  EXPECT_EQ((*tok)->sep_id(), 2);
  EXPECT_EQ((*tok)->token_id("x"), 4);
  EXPECT_EQ((*tok)->pad_id(), 0);
}

TEST(WordPiece, BadVocabularies) {
  auto empty = WordPieceTokenizer::from_vocab("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  auto no_cls = WordPieceTokenizer::from_vocab("[PAD]\n[UNK]\n[SEP]\n");
  ASSERT_FALSE(no_cls.ok());
  EXPECT_EQ(no_cls.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_cls.status().message().find("[CLS]"), std::string::npos);
  auto missing = WordPieceTokenizer::from_file(kData + "/no/such/vocab.txt");
  ASSERT_FALSE(missing.ok());
  auto bad_limit = WordPieceTokenizer::from_vocab("[UNK]\n[CLS]\n[SEP]\n", true, 0);
  EXPECT_FALSE(bad_limit.ok());
}

// ---- SentencePiece (XLM-R) ----------------------------------------------------

TEST(SentencePiece, MatchesXlmrGoldens) {
  const std::string dir = kData + "/text/tiny-xlmr-cls";
  auto tok = SentencePieceTokenizer::load(dir + "/sentencepiece.bpe.model");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  auto g = load_json(dir + "/golden.json");
  int max_len = g.at("max_seq_length");
  ASSERT_GE(g["texts"].size(), 10u);
  bool saw_unk = false, saw_truncation = false;
  for (const auto& t : g["texts"]) {
    std::string text = t.at("text");
    auto want = golden_ids(t);
    EXPECT_EQ((*tok)->encode(text, max_len), want) << "text: " << text;
    for (int32_t id : want) saw_unk |= id == SentencePieceTokenizer::kUnkId;
    saw_truncation |= want.size() == static_cast<size_t>(max_len);
  }
  // The goldens exercise the unknown-piece mapping and truncation.
  EXPECT_TRUE(saw_unk);
  EXPECT_TRUE(saw_truncation);
}

TEST(SentencePiece, SpecialIdsAndTruncation) {
  auto tok = SentencePieceTokenizer::load(kData + "/text/tiny-xlmr-cls/sentencepiece.bpe.model");
  ASSERT_TRUE(tok.ok()) << tok.status().to_string();
  EXPECT_EQ((*tok)->encode("", 64), (std::vector<int32_t>{0, 2}));
  auto ids = (*tok)->encode("A man riding a bicycle on the street", 6);
  ASSERT_EQ(ids.size(), 6u);
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids.back(), 2);
  EXPECT_EQ((*tok)->encode("abc", 0), (std::vector<int32_t>{0, 2}));
  // Pieces and ids agree one for one.
  auto pieces = (*tok)->tokenize("北京故宫的红墙");
  EXPECT_EQ(pieces.size() + 2, (*tok)->encode("北京故宫的红墙", 1000).size());
  EXPECT_GT((*tok)->vocab_size(), 4);
}

TEST(SentencePiece, BadModels) {
  auto missing = SentencePieceTokenizer::load(kData + "/no/such/sentencepiece.bpe.model");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto garbage = SentencePieceTokenizer::from_bytes("this is not a protobuf \xff\xff\xff");
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), StatusCode::kCorruption);
  auto empty = SentencePieceTokenizer::from_bytes("");
  EXPECT_FALSE(empty.ok());
  // A model file cut short is rejected, not half-loaded.
  auto bytes = read_file(kData + "/text/tiny-xlmr-cls/sentencepiece.bpe.model");
  ASSERT_TRUE(bytes.ok());
  auto cut = SentencePieceTokenizer::from_bytes(std::string_view(*bytes).substr(0, bytes->size() / 2));
  EXPECT_FALSE(cut.ok());
}

}  // namespace
}  // namespace sa
