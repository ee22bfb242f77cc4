#include "search/match_explain.h"

#include <algorithm>
#include <cctype>

namespace sa {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Byte offsets of the UTF-8 character starts of s, plus s.size().
std::vector<size_t> char_starts(std::string_view s) {
  std::vector<size_t> at;
  for (size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) at.push_back(i);
  at.push_back(s.size());
  return at;
}

std::vector<std::string> split_terms(std::string_view q) {
  std::vector<std::string> terms;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) terms.push_back(std::move(cur));
    cur.clear();
  };
  for (size_t i = 0; i < q.size();) {
    if (q.compare(i, 3, "\xE3\x80\x80") == 0) {
      flush();
      i += 3;
    } else if (std::isspace(static_cast<unsigned char>(q[i]))) {
      flush();
      ++i;
    } else {
      cur += q[i++];
    }
  }
  flush();
  return terms;
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
  const std::string desc = lower(description), txt = lower(text);
  for (const std::string& raw : split_terms(query)) {
    const std::string t = lower(raw);
    for (const std::string& k : keywords) {
      const std::string kl = lower(k);
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
