// Small text helpers shared by the keyword search (store/text_search.cpp) and
// "why it matched" (search/match_explain.cpp), so both read a query the same way.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sa {

// The whitespace-separated terms of a query: ASCII whitespace and U+3000 (the
// ideographic space Chinese input methods type) separate; order kept,
// duplicates kept.
std::vector<std::string> split_query_terms(std::string_view q);

// Lower-cases ASCII letters only (UTF-8 multi-byte sequences pass unchanged).
std::string ascii_lower(std::string_view s);

// Number of UTF-8 characters (code points) in s.
size_t utf8_length(std::string_view s);

}  // namespace sa
