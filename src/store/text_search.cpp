// Store: keyword / full-text search over filename, folder, description, keywords
// and the visible text in the photo (photo_text).
//
// Two query paths with one scoring rule (store.h, TextHit):
//  - every term has 3+ characters: FTS5 MATCH on the trigram index;
//  - otherwise LIKE '%term%' on the same columns: trigram cannot match a
//    1-2 character term, and short Chinese words ("日落", "猫") are common.
// Candidates from either path are re-scored with keyword_score() (the scorer
// hybrid search uses too, store/keyword_score.h), so the score does not depend
// on bm25's corpus statistics (whose IDF is ~0 in a small album) and means the
// same thing on both paths.
#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "core/text_util.h"
#include "store/keyword_score.h"
#include "store/store.h"

namespace sa {

namespace {

// Bounds on the candidates re-scored per query (4x the limit in between).
constexpr int64_t kMinCandidates = 200;
constexpr int64_t kMaxCandidates = 5000;

// The query's distinct terms (core/text_util.h splits them).
std::vector<std::string> split_terms(std::string_view q) {
  std::vector<std::string> terms = split_query_terms(q);
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  return terms;
}

// "term" with embedded quotes doubled: FTS5 then treats it as one literal string.
std::string fts_quote(std::string_view term) {
  std::string out = "\"";
  for (char c : term) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string like_pattern(std::string_view term) {
  std::string out = "%";
  for (char c : term) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

// Whether every term occurs in some field (ASCII case-folded). The LIKE path
// needs this check: it saw keywords as JSON text, so a term like '"' matched
// their quoting, not a keyword.
bool every_term_occurs(const PhotoInfo& c, const std::vector<std::string>& terms_lower) {
  std::vector<std::string> fields = {ascii_lower(c.filename), ascii_lower(c.folder),
                                     ascii_lower(c.description), ascii_lower(c.photo_text)};
  for (const auto& k : c.keywords) fields.push_back(ascii_lower(k));
  for (const auto& t : terms_lower) {
    bool found = false;
    for (const auto& f : fields) found = found || f.find(t) != std::string::npos;
    if (!found) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<TextHit>> Store::search_text(std::string_view query, int limit, const OwnerScope& scope) {
  std::vector<TextHit> hits;
  std::vector<std::string> terms = split_terms(query);
  if (terms.empty() || limit <= 0) return hits;
  bool use_fts = std::all_of(terms.begin(), terms.end(),
                             [](const std::string& t) { return utf8_length(t) >= 3; });

  // Candidates considered before re-scoring: bm25 (FTS) or recency (LIKE)
  // order decides which ones when there are more.
  const int64_t n_candidates = std::clamp<int64_t>(int64_t{limit} * 4, kMinCandidates, kMaxCandidates);
  std::string sql;
  // Another owner's photo is never a candidate: filtered in SQL, before the
  // candidate limit, so it cannot take a place of the user's own.
  const std::string mine = scope.everyone()
      ? std::string()
      : std::string(use_fts ? " AND p.owner_id = " : " AND owner_id = ") + std::to_string(scope.owner_id);
  if (use_fts) {
    // Column weights follow the re-scoring order: keywords > description > names.
    sql = "SELECT p.id, p.filename, p.folder, p.description, p.keywords, p.photo_text FROM photos_fts f "
          "JOIN photos p ON p.id = f.rowid WHERE photos_fts MATCH ?1 AND p.trashed_at IS NULL" + mine +
          " ORDER BY bm25(photos_fts, 0.4, 0.4, 0.6, 1.0, 0.6) LIMIT ?2";
  } else {
    // Scans photos itself (cheaper than a scan of the FTS table), newest first,
    // stopping at the limit. keywords is JSON text here; a substring match on
    // it is a substring match on some keyword for any term without '"' or '\'.
    sql = "SELECT id, filename, folder, description, keywords, photo_text FROM photos "
          "WHERE trashed_at IS NULL";
    for (size_t i = 0; i < terms.size(); ++i) {
      std::string p = "?";
      p += std::to_string(i + 2);
      p += " ESCAPE '\\'";
      sql += " AND (filename LIKE " + p + " OR folder LIKE " + p + " OR description LIKE " + p +
             " OR keywords LIKE " + p + " OR photo_text LIKE " + p + ")";
    }
    sql += mine + " ORDER BY id DESC LIMIT ?1";
  }

  std::vector<PhotoInfo> cands;  // id, filename, folder, description, keywords
  {
    std::lock_guard lock(mu_);
    SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(sql));
    if (use_fts) {
      std::string match;
      for (const auto& t : terms) {
        if (!match.empty()) match += ' ';
        match += fts_quote(t);
      }
      st.bind(1, match).bind(2, n_candidates);
    } else {
      st.bind(1, n_candidates);
      for (size_t i = 0; i < terms.size(); ++i) st.bind(static_cast<int>(i + 2), like_pattern(terms[i]));
    }
    while (true) {
      SA_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      PhotoInfo c;
      c.id = st.column_int64(0);
      c.filename = st.column_text(1);
      c.folder = st.column_text(2);
      c.description = st.column_text(3);
      c.photo_text = st.column_text(5);
      nlohmann::json j = nlohmann::json::parse(st.column_text(4), nullptr, false);
      if (j.is_array())
        for (const auto& k : j)
          if (k.is_string()) c.keywords.push_back(k.get<std::string>());
      cands.push_back(std::move(c));
    }
  }

  std::vector<std::string> terms_lower;
  for (const auto& t : terms) terms_lower.push_back(ascii_lower(t));
  hits.reserve(cands.size());
  for (const auto& c : cands) {
    if (!use_fts && !every_term_occurs(c, terms_lower)) continue;
    hits.push_back({c.id, keyword_score(query, keyword_text(c))});
  }
  std::stable_sort(hits.begin(), hits.end(),
                   [](const TextHit& a, const TextHit& b) { return a.score > b.score; });
  if (hits.size() > static_cast<size_t>(limit)) hits.resize(static_cast<size_t>(limit));
  return hits;
}

}  // namespace sa
