// Pure request/response mapping for the OpenAI-compatible chat API.
#include "vlm/vlm_protocol.h"

#include <regex>

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace sa {
namespace {

using json = nlohmann::json;

constexpr size_t kSnippetChars = 200;

// ASCII whitespace plus the ideographic space (U+3000) and NBSP (U+00A0),
// which Chinese model output uses as padding.
std::string_view trim(std::string_view s) {
  for (;;) {
    if (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' ||
                       s.front() == '\r' || s.front() == '\f' || s.front() == '\v')) {
      s.remove_prefix(1);
    } else if (s.substr(0, 3) == "\xE3\x80\x80") {
      s.remove_prefix(3);
    } else if (s.substr(0, 2) == "\xC2\xA0") {
      s.remove_prefix(2);
    } else {
      break;
    }
  }
  for (;;) {
    if (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' ||
                       s.back() == '\r' || s.back() == '\f' || s.back() == '\v')) {
      s.remove_suffix(1);
    } else if (s.size() >= 3 && s.substr(s.size() - 3) == "\xE3\x80\x80") {
      s.remove_suffix(3);
    } else if (s.size() >= 2 && s.substr(s.size() - 2) == "\xC2\xA0") {
      s.remove_suffix(2);
    } else {
      break;
    }
  }
  return s;
}

// A short, printable excerpt of an unexpected body for error messages; cut on a
// UTF-8 boundary so the message itself stays valid UTF-8.
std::string snippet(std::string_view body) {
  std::string_view t = trim(body);
  if (t.size() <= kSnippetChars) return std::string(t);
  size_t n = kSnippetChars;
  while (n > 0 && (static_cast<unsigned char>(t[n]) & 0xC0) == 0x80) --n;
  return std::string(t.substr(0, n)) + "...";
}

// Splits "a, b、c；d" into keywords. Separators: , ， 、 ; ； | and newlines.
std::vector<std::string> split_keywords(std::string_view s) {
  static const char* const kSeps[] = {",", "\xEF\xBC\x8C" /* ， */, "\xE3\x80\x81" /* 、 */,
                                      ";", "\xEF\xBC\x9B" /* ； */, "|", "\n"};
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i <= s.size()) {
    size_t sep_len = 0;
    if (i < s.size()) {
      for (const char* sep : kSeps) {
        std::string_view sv(sep);
        if (s.substr(i, sv.size()) == sv) {
          sep_len = sv.size();
          break;
        }
      }
    }
    if (i == s.size() || sep_len > 0) {
      out.emplace_back(s.substr(start, i - start));
      if (i == s.size()) break;
      i += sep_len;
      start = i;
    } else {
      ++i;
    }
  }
  return out;
}

// Trims, strips list decorations ("#tag", "- tag", quotes), drops empties and
// duplicates, keeping the model's order.
std::vector<std::string> clean_keywords(const std::vector<std::string>& raw) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const std::string& k : raw) {
    std::string_view t = trim(k);
    while (!t.empty() && (t.front() == '#' || t.front() == '-' || t.front() == '*' ||
                          t.front() == '"' || t.front() == '\'')) {
      t.remove_prefix(1);
    }
    while (!t.empty() && (t.back() == '"' || t.back() == '\'' || t.back() == '.')) t.remove_suffix(1);
    t = trim(t);
    if (t.empty()) continue;
    std::string key(t);
    if (seen.insert(key).second) out.push_back(std::move(key));
  }
  return out;
}

const json* find_key(const json& obj, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = obj.find(n);
    if (it != obj.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

// Extracts {description, keywords} from a parsed object; false if it has neither.
bool from_object(const json& obj, VlmResult* out) {
  if (!obj.is_object()) return false;
  const json* desc = find_key(obj, {"description", "描述", "caption", "desc"});
  const json* kw = find_key(obj, {"keywords", "关键词", "tags", "keyword"});
  const json* txt = find_key(obj, {"text", "文字", "ocr", "visible_text"});
  if (desc == nullptr && kw == nullptr) return false;
  VlmResult r;
  if (txt != nullptr) {
    if (txt->is_string()) {
      r.text = std::string(trim(txt->get<std::string>()));
    } else if (txt->is_array()) {  // lines as an array
      for (const json& e : *txt) {
        if (!e.is_string()) continue;
        if (!r.text.empty()) r.text += '\n';
        r.text += std::string(trim(e.get<std::string>()));
      }
    }
  }
  if (desc != nullptr) {
    r.description = desc->is_string() ? std::string(trim(desc->get<std::string>()))
                                      : desc->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (kw != nullptr) {
    std::vector<std::string> raw;
    if (kw->is_array()) {
      for (const json& e : *kw) {
        if (e.is_string()) {
          // An element may itself be "a、b" when a model mixes styles.
          for (auto& part : split_keywords(e.get<std::string>())) raw.push_back(std::move(part));
        } else if (e.is_number() || e.is_boolean()) {
          raw.push_back(e.dump());
        }
      }
    } else if (kw->is_string()) {
      raw = split_keywords(kw->get<std::string>());
    }
    r.keywords = clean_keywords(raw);
  }
  *out = std::move(r);
  return true;
}

bool try_parse_object(std::string_view text, VlmResult* out) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return false;
  return from_object(j, out);
}

// The end (one past '}') of the balanced object starting at s[start] == '{',
// skipping braces inside JSON strings; npos if unbalanced.
size_t match_brace(std::string_view s, size_t start) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (size_t i = start; i < s.size(); ++i) {
    char c = s[i];
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '{') ++depth;
    else if (c == '}' && --depth == 0) return i + 1;
  }
  return std::string_view::npos;
}

}  // namespace

const std::string& default_vlm_prompt() {
  static const std::string kPrompt =
      "请仔细观察这张照片，用中文写一段简洁准确的描述（1到3句话），说明画面中的主要人物或物体、"
      "场景与地点、正在发生的动作，以及时间、天气、季节或节日等可见信息；再给出5到10个便于搜索的"
      "中文关键词；并把照片中能看清的文字（招牌、菜单、票据、截图、文件等）按原样抄录在 text 中，"
      "没有文字时 text 为空字符串。只输出一个JSON对象，不要输出任何其他文字，格式如下：\n"
      "{\"description\": \"照片描述\", \"keywords\": [\"关键词1\", \"关键词2\"], \"text\": \"照片中的文字\"}";
  return kPrompt;
}

std::string base64_encode(std::string_view bytes) {
  // EVP_EncodeBlock takes an int length: encode in chunks that are multiples of
  // 3 bytes so the concatenation equals one encoding of the whole input.
  constexpr size_t kChunk = 3 * (1u << 20);
  std::string out;
  out.reserve(4 * ((bytes.size() + 2) / 3));
  std::string buf(4 * (kChunk / 3) + 1, '\0');
  for (size_t off = 0; off < bytes.size(); off += kChunk) {
    size_t n = std::min(kChunk, bytes.size() - off);
    int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(buf.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data() + off),
                                  static_cast<int>(n));
    out.append(buf.data(), static_cast<size_t>(written));
  }
  return out;
}

std::string build_request_json(std::string_view model, std::string_view jpeg_bytes,
                               std::string_view prompt) {
  std::string url = "data:image/jpeg;base64," + base64_encode(jpeg_bytes);
  json req = {
      {"model", std::string(model)},
      {"messages",
       json::array({{{"role", "user"},
                     {"content",
                      json::array({{{"type", "image_url"}, {"image_url", {{"url", std::move(url)}}}},
                                   {{"type", "text"}, {"text", std::string(prompt)}}})}}})},
  };
  // Config strings may hold invalid UTF-8; replace rather than throw.
  return req.dump(-1, ' ', false, json::error_handler_t::replace);
}

VlmResult parse_description_text(std::string_view content) {
  std::string_view text = trim(content);
  VlmResult r;
  if (text.empty()) return r;

  if (try_parse_object(text, &r)) return r;

  // ```json ... ``` or any ``` fence: try each fenced block in order.
  size_t pos = 0;
  while ((pos = text.find("```", pos)) != std::string_view::npos) {
    size_t body = text.find('\n', pos + 3);
    size_t inline_start = pos + 3;
    size_t close = text.find("```", inline_start);
    if (close == std::string_view::npos) {
      // An unterminated fence (output cut off): take the rest.
      close = text.size();
    }
    // The info string ("json") runs to the end of the line, if the line ends
    // before the closing fence; otherwise the fence is inline: ```{...}```.
    size_t start = (body != std::string_view::npos && body < close) ? body + 1 : inline_start;
    if (try_parse_object(text.substr(start, close - start), &r)) return r;
    if (close == text.size()) break;
    pos = close + 3;
  }

  // JSON embedded in prose: the first balanced {...} that parses and has a field we know.
  for (size_t i = text.find('{'); i != std::string_view::npos; i = text.find('{', i + 1)) {
    size_t end = match_brace(text, i);
    if (end == std::string_view::npos) break;
    if (try_parse_object(text.substr(i, end - i), &r)) return r;
  }

  // Plain prose: the text is the description.
  r = VlmResult{};
  r.description = std::string(text);
  return r;
}

Result<VlmResult> parse_chat_response(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    if (trim(body).empty()) return Status::Corruption("VLM response body is empty");
    return Status::Corruption("VLM response is not JSON: " + snippet(body));
  }
  if (!j.is_object()) return Status::Corruption("VLM response is not a JSON object: " + snippet(body));

  if (auto it = j.find("error"); it != j.end() && !it->is_null()) {
    std::string msg;
    if (it->is_object() && it->contains("message") && (*it)["message"].is_string()) {
      msg = (*it)["message"].get<std::string>();
    } else if (it->is_string()) {
      msg = it->get<std::string>();
    } else {
      msg = it->dump(-1, ' ', false, json::error_handler_t::replace);
    }
    return Status::Unavailable("VLM server returned an error: " + snippet(msg));
  }

  auto choices = j.find("choices");
  if (choices == j.end() || !choices->is_array() || choices->empty()) {
    return Status::Corruption("VLM response has no choices: " + snippet(body));
  }
  const json& choice = (*choices)[0];
  if (!choice.is_object()) return Status::Corruption("VLM response choice is not an object");
  auto msg = choice.find("message");
  if (msg == choice.end() || !msg->is_object()) {
    return Status::Corruption("VLM response choice has no message");
  }
  std::string content;
  auto c = msg->find("content");
  if (c != msg->end() && c->is_string()) {
    content = c->get<std::string>();
  } else if (c != msg->end() && c->is_array()) {
    // Some servers return content as parts: [{"type":"text","text":"..."}].
    for (const json& part : *c) {
      if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        content += part["text"].get<std::string>();
      } else if (part.is_string()) {
        content += part.get<std::string>();
      }
    }
  } else {
    std::string why = "no text content";
    if (auto ref = msg->find("refusal"); ref != msg->end() && ref->is_string()) {
      why = "refused: " + snippet(ref->get<std::string>());
    }
    return Status::Corruption("VLM response message has " + why);
  }

  VlmResult r = parse_description_text(content);
  if (r.description.empty() && r.keywords.empty()) {
    return Status::Corruption("VLM returned an empty description");
  }
  if (auto m = j.find("model"); m != j.end() && m->is_string()) r.model = m->get<std::string>();
  return r;
}

std::string redact_secrets(std::string s, std::string_view key) {
  if (!key.empty()) {
    for (size_t at = s.find(key); at != std::string::npos; at = s.find(key, at + 10)) {
      s.replace(at, key.size(), "[REDACTED]");
    }
  }
  static const std::regex kKey(R"((^|[^A-Za-z0-9])sk[-_][A-Za-z0-9_\-\*\.]{4,})");
  static const std::regex kBearer(R"((Bearer|bearer|BEARER)\s+[^\s"',;]+)");
  s = std::regex_replace(s, kKey, "$1[REDACTED]");
  s = std::regex_replace(s, kBearer, "$1 [REDACTED]");
  return s;
}

}  // namespace sa
