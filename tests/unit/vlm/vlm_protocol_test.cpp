#include "vlm/vlm_protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sa {
namespace {

using json = nlohmann::json;
using ::testing::Test;

TEST(Base64, MatchesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\xff\xd8\xff\x00", 4)), "/9j/AA==");
}

TEST(Base64, LongInputCrossesChunkBoundary) {
  // Chunks are 3 MiB; a 3 MiB + 2 byte input must encode as one stream.
  std::string in(3 * (1u << 20) + 2, '\0');
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<char>(i * 7 + 3);
  std::string out = base64_encode(in);
  ASSERT_EQ(out.size(), 4 * ((in.size() + 2) / 3));
  EXPECT_EQ(out.substr(out.size() - 4, 4).back(), '=');
  EXPECT_EQ(out.find('='), out.size() - 1);  // padding only at the very end
}

TEST(BuildRequest, HasModelImageDataUrlAndPrompt) {
  std::string body = build_request_json("qwen-vl-plus", "foo", "描述这张照片");
  json j = json::parse(body);
  EXPECT_EQ(j["model"], "qwen-vl-plus");
  ASSERT_EQ(j["messages"].size(), 1u);
  const json& msg = j["messages"][0];
  EXPECT_EQ(msg["role"], "user");
  ASSERT_EQ(msg["content"].size(), 2u);
  EXPECT_EQ(msg["content"][0]["type"], "image_url");
  EXPECT_EQ(msg["content"][0]["image_url"]["url"], "data:image/jpeg;base64,Zm9v");
  EXPECT_EQ(msg["content"][1]["type"], "text");
  EXPECT_EQ(msg["content"][1]["text"], "描述这张照片");
}

TEST(BuildRequest, InvalidUtf8InConfigDoesNotThrow) {
  std::string body = build_request_json("bad\xff model", "x", "p\xc3");
  json j;
  EXPECT_NO_THROW(j = json::parse(body));
  EXPECT_TRUE(j.is_object());
}

TEST(DefaultPrompt, AsksForJsonWithDescriptionAndKeywords) {
  const std::string& p = default_vlm_prompt();
  EXPECT_NE(p.find("\"description\""), std::string::npos);
  EXPECT_NE(p.find("\"keywords\""), std::string::npos);
  EXPECT_NE(p.find("JSON"), std::string::npos);
}

TEST(ParseDescription, PlainJson) {
  VlmResult r = parse_description_text(R"({"description": "海边的日落", "keywords": ["海边", "日落", "晚霞"]})");
  EXPECT_EQ(r.description, "海边的日落");
  EXPECT_EQ(r.keywords, (std::vector<std::string>{"海边", "日落", "晚霞"}));
}

TEST(ParseDescription, JsonFence) {
  VlmResult r = parse_description_text(
      "好的，以下是结果：\n```json\n{\"description\": \"一只猫在沙发上睡觉\", \"keywords\": [\"猫\", \"沙发\"]}\n```\n希望有帮助。");
  EXPECT_EQ(r.description, "一只猫在沙发上睡觉");
  EXPECT_EQ(r.keywords, (std::vector<std::string>{"猫", "沙发"}));
}

TEST(ParseDescription, BareFenceWithoutLanguage) {
  VlmResult r = parse_description_text("```\n{\"description\": \"雪山\", \"keywords\": \"雪, 山\"}\n```");
  EXPECT_EQ(r.description, "雪山");
  EXPECT_EQ(r.keywords, (std::vector<std::string>{"雪", "山"}));
}

TEST(ParseDescription, FirstFenceNotJsonSecondIs) {
  VlmResult r = parse_description_text(
      "```text\n这不是JSON\n```\n```json\n{\"description\": \"街道夜景\", \"keywords\": []}\n```");
  EXPECT_EQ(r.description, "街道夜景");
  EXPECT_TRUE(r.keywords.empty());
}

TEST(ParseDescription, UnterminatedFence) {
  VlmResult r = parse_description_text("```json\n{\"description\": \"花园\", \"keywords\": [\"花\"]}");
  EXPECT_EQ(r.description, "花园");
  EXPECT_EQ(r.keywords, (std::vector<std::string>{"花"}));
}

TEST(ParseDescription, JsonEmbeddedInProse) {
  VlmResult r = parse_description_text(
      "这张图片的分析如下 {\"description\": \"两个孩子在公园放风筝 {开心}\", \"keywords\": [\"孩子\", \"风筝\"]} 以上。");
  EXPECT_EQ(r.description, "两个孩子在公园放风筝 {开心}");
  EXPECT_EQ(r.keywords, (std::vector<std::string>{"孩子", "风筝"}));
}

TEST(ParseDescription, SkipsBracesThatAreNotOurObject) {
  VlmResult r = parse_description_text(
      "格式 {x} 说明，结果：{\"other\": 1} 然后 {\"description\": \"桌上的咖啡\", \"keywords\": [\"咖啡\"]}");
  EXPECT_EQ(r.description, "桌上的咖啡");
}

TEST(ParseDescription, ProseIsTheDescription) {
  VlmResult r = parse_description_text("  一位老人在公园里打太极拳。\n");
  EXPECT_EQ(r.description, "一位老人在公园里打太极拳。");
  EXPECT_TRUE(r.keywords.empty());
}

TEST(ParseDescription, KeywordsAsSeparatedString) {
  VlmResult r = parse_description_text(
      R"({"description": "家庭聚餐", "keywords": "春节、全家福，饺子; 红灯笼, 春节"})");
  EXPECT_EQ(r.keywords, (std::vector<std::string>{"春节", "全家福", "饺子", "红灯笼"}));
}

TEST(ParseDescription, ChineseKeysAndCleanup) {
  VlmResult r = parse_description_text(R"({"描述": " 海滩 ", "关键词": ["#海", " ", "沙滩", "沙滩", 2023]})");
  EXPECT_EQ(r.description, "海滩");
  EXPECT_EQ(r.keywords, (std::vector<std::string>{"海", "沙滩", "2023"}));
}

TEST(ParseDescription, EmptyAndWhitespace) {
  EXPECT_TRUE(parse_description_text("").description.empty());
  EXPECT_TRUE(parse_description_text(" \n\t\xE3\x80\x80").description.empty());
}

TEST(ParseDescription, TruncatedJsonFallsBackToProse) {
  VlmResult r = parse_description_text("{\"description\": \"一只狗");
  EXPECT_EQ(r.description, "{\"description\": \"一只狗");
  EXPECT_TRUE(r.keywords.empty());
}

std::string chat_body(const std::string& content) {
  json j = {{"id", "x"}, {"model", "qwen-vl-plus-2025"},
            {"choices", json::array({{{"index", 0}, {"message", {{"role", "assistant"}, {"content", content}}}}})}};
  return j.dump();
}

TEST(ParseChat, ExtractsContentAndModel) {
  auto r = parse_chat_response(chat_body(R"({"description": "日出", "keywords": ["日出"]})"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->description, "日出");
  EXPECT_EQ(r->keywords, (std::vector<std::string>{"日出"}));
  EXPECT_EQ(r->model, "qwen-vl-plus-2025");
}

TEST(ParseChat, ContentAsParts) {
  json j = {{"choices", json::array({{{"message", {{"content", json::array({{{"type", "text"}, {"text", "一座桥"}}})}}}}})}};
  auto r = parse_chat_response(j.dump());
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->description, "一座桥");
  EXPECT_EQ(r->model, "");
}

TEST(ParseChat, GarbageGivesCorruption) {
  const char* bodies[] = {
      "",
      "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
      "not json at all",
      "[1,2,3]",
      R"({"choices": []})",
      R"({"choices": "x"})",
      R"({"choices": [1]})",
      R"({"choices": [{"message": "x"}]})",
      R"({"choices": [{"message": {"content": null}}]})",
      R"({"choices": [{"message": {"content": "   "}}]})",
      R"({"object": "chat.completion"})",
      "{\"choices\": [{\"message\": {\"content\": \"abc",
  };
  for (const char* b : bodies) {
    auto r = parse_chat_response(b);
    ASSERT_FALSE(r.ok()) << b;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << b << " -> " << r.status().to_string();
  }
}

TEST(ParseChat, HtmlErrorMentionsBody) {
  auto r = parse_chat_response("<html><title>502 Bad Gateway</title></html>");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("502 Bad Gateway"), std::string::npos);
}

TEST(ParseChat, ErrorObjectIsUnavailable) {
  auto r = parse_chat_response(R"({"error": {"message": "model overloaded", "type": "server_error"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("model overloaded"), std::string::npos);
}

TEST(ParseChat, RefusalIsReported) {
  auto r = parse_chat_response(R"({"choices": [{"message": {"content": null, "refusal": "cannot help"}}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("cannot help"), std::string::npos);
}

}  // namespace
}  // namespace sa

namespace sa {
namespace {

// Text in photos: the prompt asks for it, and "text" (or 文字, or an array of
// lines) is read beside the description and keywords.
TEST(VisibleText, PromptAsksForItAndItIsParsed) {
  EXPECT_NE(default_vlm_prompt().find("\"text\""), std::string::npos);
  VlmResult r = parse_description_text(
      R"({"description": "一张餐厅发票", "keywords": ["发票"], "text": "  增值税普通发票\n星巴克 拿铁 32.00 "})");
  EXPECT_EQ(r.description, "一张餐厅发票");
  EXPECT_EQ(r.text, "增值税普通发票\n星巴克 拿铁 32.00");
  r = parse_description_text(R"({"description": "菜单", "文字": ["宫保鸡丁 38", "麻婆豆腐 22"]})");
  EXPECT_EQ(r.text, "宫保鸡丁 38\n麻婆豆腐 22");
  r = parse_description_text(R"({"description": "海边", "keywords": ["海"]})");
  EXPECT_TRUE(r.text.empty());
}

// Issue 11, item 10: a provider echoing the key, whole or masked, must not leak it.
TEST(RedactSecrets, KeysMaskedKeysAndBearerTokensAreRedacted) {
  const std::string key = "sk-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
  EXPECT_EQ(redact_secrets("Incorrect API key provided: " + key + ".", key),
            "Incorrect API key provided: [REDACTED].");
  std::string masked = redact_secrets("Incorrect API key provided: sk-AB****yz. See docs", key);
  EXPECT_EQ(masked.find("sk-AB"), std::string::npos) << masked;
  EXPECT_EQ(masked.find("****yz"), std::string::npos) << masked;
  EXPECT_NE(masked.find("[REDACTED]"), std::string::npos) << masked;
  // Another key than ours (a proxy's), and an underscore form.
  EXPECT_EQ(redact_secrets("{\"error\":\"bad key sk_live_9f8e7d6c\"}", key),
            "{\"error\":\"bad key [REDACTED]\"}");
  std::string bearer = redact_secrets("header was Authorization: Bearer abc.def-123, rejected", "");
  EXPECT_EQ(bearer, "header was Authorization: Bearer [REDACTED], rejected");
  // Ordinary text stays: "desk-top", "task", "sk-" alone.
  EXPECT_EQ(redact_secrets("a desk-top ask-me sk- task", key), "a desk-top ask-me sk- task");
}

}  // namespace
}  // namespace sa
