#include "core/text_util.h"

#include <cctype>

namespace sa {

std::vector<std::string> split_query_terms(std::string_view q) {
  std::vector<std::string> terms;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) terms.push_back(std::move(cur));
    cur.clear();
  };
  for (size_t i = 0; i < q.size();) {
    if (q.compare(i, 3, "\xE3\x80\x80") == 0) {  // U+3000
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

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace sa
