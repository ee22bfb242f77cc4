// The keyword scorer: how strongly a query matches a photo's text. One rule,
// used by both Store::search_text (to rank keyword candidates) and hybrid
// search (the `kw` component of the fused score, docs/search.md), so a photo's
// keyword score is the same number wherever it is computed.
#pragma once

#include <string>
#include <string_view>

#include "store/types.h"

namespace sa {

// The text a query is matched against: description, each keyword, file name,
// folder and the visible text in the photo, joined by a separator that is not whitespace (a phrase never matches
// across two fields).
std::string keyword_text(const PhotoInfo& p);

// Match strength in [0,1] of `query` against keyword_text(): 1 when the whole
// query (whitespace removed, ASCII case-folded) occurs in the text; otherwise
// 0.5 x the fraction of the query's whitespace-separated terms that occur (a
// partial match is worth at most half a full one; a one-term query that does not
// occur scores 0). Empty query or text: 0.
float keyword_score(std::string_view query, std::string_view text);

}  // namespace sa
