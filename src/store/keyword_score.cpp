#include "store/keyword_score.h"

#include <cctype>

namespace sa {
namespace {

// Field separator in keyword_text(): not whitespace, so it is never dropped.
constexpr char kFieldSep = '\x1f';
constexpr float kPartialScale = 0.5f;

std::string fold(std::string_view s, bool drop_space) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (drop_space && (u == ' ' || u == '\t' || u == '\n' || u == '\r')) continue;
    out.push_back(u < 0x80 ? static_cast<char>(std::tolower(u)) : c);
  }
  return out;
}

}  // namespace

std::string keyword_text(const PhotoInfo& p) {
  std::string t = p.description;
  for (const auto& k : p.keywords) {
    t += kFieldSep;
    t += k;
  }
  t += kFieldSep;
  t += p.filename;
  t += kFieldSep;
  t += p.folder;
  t += kFieldSep;
  t += p.photo_text;
  return t;
}

float keyword_score(std::string_view query, std::string_view text) {
  std::string q = fold(query, true);
  if (q.empty() || text.empty()) return 0.0f;
  std::string t = fold(text, true);
  if (t.find(q) != std::string::npos) return 1.0f;
  // Partial credit: whitespace-separated query terms found in the text.
  std::string terms = fold(query, false);
  int n = 0, hit = 0;
  size_t pos = 0;
  while (pos < terms.size()) {
    size_t b = terms.find_first_not_of(" \t\r\n", pos);
    if (b == std::string::npos) break;
    size_t e = terms.find_first_of(" \t\r\n", b);
    if (e == std::string::npos) e = terms.size();
    ++n;
    if (t.find(terms.substr(b, e - b)) != std::string::npos) ++hit;
    pos = e;
  }
  if (n <= 1) return 0.0f;  // a single term was already checked as the whole query
  return kPartialScale * static_cast<float>(hit) / static_cast<float>(n);
}

}  // namespace sa
