#include "search/match_explain.h"

#include <algorithm>
#include <cctype>

#include "core/text_util.h"

namespace sa {
namespace {

// Byte offsets of the UTF-8 character starts of s, plus s.size().
std::vector<size_t> char_starts(std::string_view s) {
  std::vector<size_t> at;
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) at.push_back(i);
  at.push_back(s.size());
  return at;
}

void add_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

// Longest pieces of `term` (lower-cased) found in `field` (lower-cased).
void cover(const std::string& term, const std::string& field, std::vector<std::string>& out) {
  if (field.empty()) return;
  const std::vector<size_t> at = char_starts(term);
  const size_t n = at.size() - 1;  // characters
  const size_t min_chars = std::min<size_t>(2, n);
  size_t i = 0;
  while (i + min_chars <= n) {
    size_t best = 0;
    for (size_t j = n; j >= i + min_chars && best == 0; --j) {
      if (field.find(std::string_view(term).substr(at[i], at[j] - at[i])) != std::string::npos) best = j;
      if (j == 0) break;
    }
    if (best > 0) {
      add_unique(out, term.substr(at[i], at[best] - at[i]));
      i = best;
    } else {
      ++i;
    }
  }
}

}  // namespace

MatchExplanation explain_match(std::string_view query, const std::vector<std::string>& keywords,
                               std::string_view description, std::string_view text) {
  MatchExplanation m;
  const std::string desc = ascii_lower(description), txt = ascii_lower(text);
  for (const std::string& raw : split_query_terms(query)) {
    const std::string t = ascii_lower(raw);
    for (const std::string& k : keywords) {
      const std::string kl = ascii_lower(k);
      if (kl.empty()) continue;
      const bool k_in_t = char_starts(kl).size() - 1 >= 2 && t.find(kl) != std::string::npos;
      if (kl.find(t) != std::string::npos || k_in_t) add_unique(m.keywords, k);
    }
    cover(t, desc, m.description);
    cover(t, txt, m.text);
  }
  return m;
}

}  // namespace sa
