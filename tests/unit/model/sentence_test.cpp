// Sentence embedder against sentence-transformers' outputs (goldens), and the
// ways a model directory can be broken.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "model/sentence_embedder.h"

namespace sa {
namespace {

namespace fs = std::filesystem;
const std::string kData = SA_TEST_DATA;

nlohmann::json load_json(const std::string& path) {
  auto text = read_file(path);
  EXPECT_TRUE(text.ok()) << text.status().to_string();
  return text.ok() ? nlohmann::json::parse(*text) : nlohmann::json();
}

// Every text of golden.json: exact ids, then embedding within the tolerance of
// testdata/README.md (cosine >= 0.99999, max|diff| <= 1e-3 * max|golden|).
void check_goldens(const std::string& name, SentencePooling want_pooling) {
  const std::string dir = kData + "/text/" + name;
  auto emb = SentenceEmbedder::load(dir);
  ASSERT_TRUE(emb.ok()) << emb.status().to_string();
  const auto& e = **emb;
  auto g = load_json(dir + "/golden.json");
  EXPECT_EQ(e.pooling(), want_pooling);
  EXPECT_EQ(e.max_seq_length(), g.at("max_seq_length").get<int>());

  std::vector<std::string> texts;
  for (const auto& t : g.at("texts")) texts.push_back(t.at("text"));
  ASSERT_GE(texts.size(), 10u);
  const int d = e.dim();
  std::vector<float> out(texts.size() * d, NAN);
  ASSERT_TRUE(e.embed(texts, out.data()).ok());

  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& t = g["texts"][i];
    EXPECT_EQ(e.tokenize(texts[i]), t.at("ids").get<std::vector<int32_t>>()) << texts[i];
    auto want = t.at("embedding").get<std::vector<float>>();
    ASSERT_EQ(want.size(), static_cast<size_t>(d));
    double dot = 0, na = 0, nb = 0, max_diff = 0, max_abs = 0;
    for (int j = 0; j < d; ++j) {
      const double a = out[i * d + j], b = want[j];
      dot += a * b;
      na += a * a;
      nb += b * b;
      max_diff = std::max(max_diff, std::abs(a - b));
      max_abs = std::max(max_abs, std::abs(b));
    }
    const double cosine = dot / std::sqrt(na * nb);
    EXPECT_GE(cosine, 0.99999) << name << " text " << i << ": " << texts[i];
    EXPECT_LE(max_diff, 1e-3 * max_abs) << name << " text " << i << ": " << texts[i];
    EXPECT_NEAR(na, 1.0, 1e-5);  // normalised
  }

  // Batching does not change results: one text alone == the same text in the batch.
  std::vector<float> one(d);
  ASSERT_TRUE(e.embed({texts[2]}, one.data()).ok());
  for (int j = 0; j < d; ++j) EXPECT_NEAR(one[j], out[2 * d + j], 1e-5);
}

TEST(SentenceEmbedder, BertMeanPoolingMatchesGoldens) {
  check_goldens("tiny-bert-mean", SentencePooling::kMean);
}

TEST(SentenceEmbedder, XlmrClsPoolingMatchesGoldens) {
  check_goldens("tiny-xlmr-cls", SentencePooling::kCls);
}

TEST(SentenceEmbedder, EmptyBatchIsFine) {
  auto emb = SentenceEmbedder::load(kData + "/text/tiny-bert-mean");
  ASSERT_TRUE(emb.ok()) << emb.status().to_string();
  EXPECT_TRUE((*emb)->embed({}, nullptr).ok());
  EXPECT_EQ((*emb)->dim(), 96);
}

TEST(SentenceEmbedder, LargeBatchSplitsIntoChunks) {
  // More tokens than one forward batch holds; every row must still be right.
  auto emb = SentenceEmbedder::load(kData + "/text/tiny-xlmr-cls");
  ASSERT_TRUE(emb.ok()) << emb.status().to_string();
  const auto& e = **emb;
  std::string long_text;
  for (int i = 0; i < 40; ++i) long_text += "风景";
  std::vector<std::string> texts(60, long_text);
  texts[37] = "北京故宫的红墙";
  const int d = e.dim();
  std::vector<float> all(texts.size() * d), one(d), ref(d);
  ASSERT_TRUE(e.embed(texts, all.data()).ok());
  ASSERT_TRUE(e.embed({texts[37]}, one.data()).ok());
  ASSERT_TRUE(e.embed({long_text}, ref.data()).ok());
  for (int j = 0; j < d; ++j) {
    EXPECT_NEAR(all[37 * d + j], one[j], 1e-5);
    EXPECT_NEAR(all[59 * d + j], ref[j], 1e-5);
  }
}

// A scratch copy of a model directory that a test can break.
class BrokenModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sa_sentence_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::copy(kData + "/text/tiny-bert-mean", dir_, fs::copy_options::recursive);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& rel, const std::string& text) {
    ASSERT_TRUE(write_file_atomic((dir_ / rel).string(), text).ok());
  }
  Status load() {
    auto r = SentenceEmbedder::load(dir_.string());
    return r.ok() ? Status::OK() : r.status();
  }
  fs::path dir_;
};

TEST_F(BrokenModel, IntactCopyLoads) { EXPECT_TRUE(load().ok()) << load().to_string(); }

TEST_F(BrokenModel, MissingDirectory) {
  auto r = SentenceEmbedder::load((dir_ / "nope").string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(BrokenModel, MissingConfig) {
  fs::remove(dir_ / "config.json");
  Status s = load();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("config.json"), std::string::npos) << s.to_string();
}

TEST_F(BrokenModel, UnparsableConfig) {
  write("config.json", "{\"hidden_size\": 96,");
  EXPECT_EQ(load().code(), StatusCode::kCorruption);
}

TEST_F(BrokenModel, MissingVocab) {
  fs::remove(dir_ / "vocab.txt");
  Status s = load();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("vocab.txt"), std::string::npos) << s.to_string();
}

TEST_F(BrokenModel, XlmrWithoutSentencepieceModel) {
  fs::remove_all(dir_);
  fs::copy(kData + "/text/tiny-xlmr-cls", dir_, fs::copy_options::recursive);
  ASSERT_TRUE(load().ok());
  fs::remove(dir_ / "sentencepiece.bpe.model");
  Status s = load();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("sentencepiece.bpe.model"), std::string::npos) << s.to_string();
}

TEST_F(BrokenModel, UnknownModelType) {
  auto cfg = load_json((dir_ / "config.json").string());
  cfg["model_type"] = "gpt2";
  write("config.json", cfg.dump());
  EXPECT_EQ(load().code(), StatusCode::kUnimplemented);
}

TEST_F(BrokenModel, PoolingConfigs) {
  write("1_Pooling/config.json", "not json");
  EXPECT_EQ(load().code(), StatusCode::kCorruption);
  write("1_Pooling/config.json",
        R"({"pooling_mode_cls_token": false, "pooling_mode_mean_tokens": false})");
  EXPECT_EQ(load().code(), StatusCode::kInvalidArgument);
  write("1_Pooling/config.json",
        R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true})");
  EXPECT_EQ(load().code(), StatusCode::kInvalidArgument);
  write("1_Pooling/config.json", R"({"pooling_mode_max_tokens": true})");
  EXPECT_EQ(load().code(), StatusCode::kUnimplemented);
  write("1_Pooling/config.json", R"({"pooling_mode_cls_token": "yes"})");
  EXPECT_EQ(load().code(), StatusCode::kInvalidArgument);
  write("1_Pooling/config.json",
        R"({"pooling_mode_cls_token": true, "word_embedding_dimension": 768})");
  EXPECT_EQ(load().code(), StatusCode::kInvalidArgument);
  write("1_Pooling/config.json", R"({"pooling_mode_cls_token": true})");
  ASSERT_TRUE(load().ok());
  auto e = SentenceEmbedder::load(dir_.string());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->pooling(), SentencePooling::kCls);
}

TEST_F(BrokenModel, PoolingListedButMissing) {
  fs::remove_all(dir_ / "1_Pooling");
  Status s = load();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("1_Pooling"), std::string::npos) << s.to_string();
  // Without modules.json either, sentence-transformers' default applies: mean.
  fs::remove(dir_ / "modules.json");
  auto e = SentenceEmbedder::load(dir_.string());
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ((*e)->pooling(), SentencePooling::kMean);
}

TEST_F(BrokenModel, UnsupportedModule) {
  auto modules = load_json((dir_ / "modules.json").string());
  modules.push_back({{"idx", 2}, {"name", "2"}, {"path", "2_Dense"},
                     {"type", "sentence_transformers.models.Dense"}});
  write("modules.json", modules.dump());
  Status s = load();
  EXPECT_EQ(s.code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.message().find("Dense"), std::string::npos) << s.to_string();
  write("modules.json", R"({"not": "a list"})");
  EXPECT_EQ(load().code(), StatusCode::kCorruption);
}

TEST_F(BrokenModel, SentenceConfigLimits) {
  write("sentence_bert_config.json", R"({"max_seq_length": 8})");
  auto e = SentenceEmbedder::load(dir_.string());
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ((*e)->max_seq_length(), 8);
  EXPECT_EQ((*e)->tokenize("一二三四五六七八九十").size(), 8u);
  // Longer than the position table: capped to it.
  write("sentence_bert_config.json", R"({"max_seq_length": 100000})");
  e = SentenceEmbedder::load(dir_.string());
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->max_seq_length(), 512);
  write("sentence_bert_config.json", R"({"max_seq_length": 1})");
  EXPECT_EQ(load().code(), StatusCode::kInvalidArgument);
  write("sentence_bert_config.json", R"({"max_seq_length": "long"})");
  EXPECT_EQ(load().code(), StatusCode::kInvalidArgument);
}

TEST_F(BrokenModel, LowerCaseSettings) {
  // tokenizer_config.json do_lower_case=false keeps case (the vocab then only
  // knows lower-case pieces, so "A" is [UNK]) ...
  write("tokenizer_config.json", R"({"do_lower_case": false})");
  auto e = SentenceEmbedder::load(dir_.string());
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ((*e)->tokenize("A"), (std::vector<int32_t>{101, 100, 102}));
  EXPECT_EQ((*e)->tokenize("a"), (std::vector<int32_t>{101, 143, 102}));
  // ... unless sentence-transformers lower-cases the input first.
  write("sentence_bert_config.json", R"({"max_seq_length": 64, "do_lower_case": true})");
  e = SentenceEmbedder::load(dir_.string());
  ASSERT_TRUE(e.ok()) << e.status().to_string();
  EXPECT_EQ((*e)->tokenize("A"), (std::vector<int32_t>{101, 143, 102}));
  write("tokenizer_config.json", R"({"do_lower_case": "no"})");
  EXPECT_EQ(load().code(), StatusCode::kInvalidArgument);
}

TEST_F(BrokenModel, VocabLargerThanEmbeddingTable) {
  // A tokenizer that can emit ids past the embedding table is refused at load,
  // not at the first unlucky query.
  auto vocab = read_file((dir_ / "vocab.txt").string());
  ASSERT_TRUE(vocab.ok());
  write("vocab.txt", *vocab + "extra-token-1\nextra-token-2\n");
  Status s = load();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("21130"), std::string::npos) << s.to_string();
  // A config that contradicts the weights is refused by the weight loader.
  write("vocab.txt", *vocab);
  auto cfg = load_json((dir_ / "config.json").string());
  cfg["vocab_size"] = 100;
  write("config.json", cfg.dump());
  EXPECT_EQ(load().code(), StatusCode::kInvalidArgument);
}

TEST_F(BrokenModel, MissingWeights) {
  fs::remove(dir_ / "model.safetensors");
  EXPECT_EQ(load().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace sa
