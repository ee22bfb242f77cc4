// "Why it matched" for enhanced (hybrid) search: which of a photo's keywords,
// and which words of its description and visible text, the query hit. Pure.
//
// The query is split on whitespace (ASCII and U+3000) into terms. A keyword
// matches when it contains a term or a term contains it (case-insensitive for
// ASCII; a keyword inside a term needs at least 2 characters). In the
// description and the text, each term is covered greedily by its longest
// pieces of at least 2 characters (or the whole term when it is shorter) that
// occur there: "海边的日落" against "夕阳下的海边，日落时分" gives "海边", "日落".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sa {

struct MatchExplanation {
  std::vector<std::string> keywords;     // the photo's keywords, as stored
  std::vector<std::string> description;  // pieces of the query found in the description
  std::vector<std::string> text;         // ... in the visible text
  bool empty() const { return keywords.empty() && description.empty() && text.empty(); }
};

MatchExplanation explain_match(std::string_view query, const std::vector<std::string>& keywords,
                               std::string_view description, std::string_view text);

}  // namespace sa
