#include "search/searcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "search/date_filter.h"
#include "search/match_explain.h"
#include "search/relevance.h"
#include "store/keyword_score.h"

namespace sa {
namespace {

constexpr int kMaxLimit = 1000;
constexpr int kMaxOffset = 100'000;

float dot(std::span<const float> a, std::span<const float> b) {
  float s = 0;
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

Status validate(const std::string& query, const SearchOptions& opt) {
  if (blank(query)) return Status::InvalidArgument("empty query");
  if (opt.limit < 1 || opt.limit > kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and " + std::to_string(kMaxLimit));
  }
  if (opt.offset < 0 || opt.offset > kMaxOffset) {
    return Status::InvalidArgument("offset must be between 0 and " + std::to_string(kMaxOffset));
  }
  return check_date_range(opt.date_from, opt.date_to);
}

Status no_model() {
  return Status::Unavailable("no CLIP model loaded: start with --model PATH (or a name from `smart-album models list`)");
}

}  // namespace

bool passes_date_filter(const PhotoInfo& p, const SearchOptions& opt) {
  if (!opt.folder.empty() && p.folder != opt.folder &&
      !(p.folder.size() > opt.folder.size() && p.folder.compare(0, opt.folder.size(), opt.folder) == 0 &&
        p.folder[opt.folder.size()] == '/')) {
    return false;
  }
  if (opt.date_from.empty() && opt.date_to.empty()) return true;
  if (p.taken_at.empty()) return false;
  if (!opt.date_from.empty() && p.taken_at.compare(0, opt.date_from.size(), opt.date_from) < 0) return false;
  if (!opt.date_to.empty() && p.taken_at.compare(0, opt.date_to.size(), opt.date_to) > 0) return false;
  return true;
}

Result<IdFilter> Searcher::owner_filter(const OwnerScope& scope) const {
  if (scope.everyone()) return IdFilter{};
  SA_ASSIGN_OR_RETURN(bool others, d_.store->has_photos_not_of(scope.owner_id));
  if (!others) return IdFilter{};
  SA_ASSIGN_OR_RETURN(std::vector<int64_t> ids, d_.store->photo_ids_of_owner(scope.owner_id));
  auto mine = std::make_shared<const std::vector<int64_t>>(std::move(ids));  // ascending
  return IdFilter([mine](int64_t id) { return std::binary_search(mine->begin(), mine->end(), id); });
}

Result<std::vector<float>> Searcher::encode_query(const std::string& query) const {
  if (!d_.clip) return no_model();
  if (auto hit = clip_cache_.get(query)) return std::move(*hit);
  std::vector<std::vector<int32_t>> ids = {d_.clip->tokenize(query)};
  std::vector<float> q(static_cast<size_t>(d_.clip->embed_dim()));
  SA_RETURN_IF_ERROR(d_.clip->encode_texts(ids, q.data()));
  l2_normalize_rows(q.data(), 1, d_.clip->embed_dim());
  clip_cache_.put(query, q);
  return q;
}

std::vector<float> Searcher::encode_description_query(const std::string& query) const {
  if (auto hit = desc_cache_.get(query)) return std::move(*hit);
  std::vector<float> dq;
  Status st = d_.text_encoder({query}, &dq);
  if (!st.ok() || dq.size() != static_cast<size_t>(d_.desc_index->dim())) {
    spdlog::warn("description query embedding failed: {}",
                 st.ok() ? "wrong dimension" : st.to_string());
    return {};
  }
  desc_cache_.put(query, dq);
  return dq;
}

Result<std::vector<SearchHit>> Searcher::search(const std::string& query, const SearchOptions& opt) const {
  SA_RETURN_IF_ERROR(validate(query, opt));
  if (!d_.clip || !d_.clip_index) return no_model();
  SA_ASSIGN_OR_RETURN(std::vector<float> q, encode_query(query));
  if (opt.mode == SearchMode::kHybrid) return search_hybrid(query, q, opt);
  return search_clip(q, opt);
}

Result<Searcher::PhotoSetFilter> Searcher::photo_set_filter(const SearchOptions& opt) const {
  PhotoSetFilter f;
  f.favorite_only = opt.favorite_only;
  if (opt.album_id > 0) {
    SA_ASSIGN_OR_RETURN(std::vector<int64_t> ids, d_.store->album_photo_ids(opt.album_id, opt.scope));
    f.album = std::unordered_set<int64_t>(ids.begin(), ids.end());
  }
  return f;
}

bool Searcher::PhotoSetFilter::passes(const PhotoInfo& p) const {
  if (favorite_only && !p.favorite) return false;
  return !album || album->count(p.id) > 0;
}

Result<std::vector<SearchResult>> Searcher::Candidates::search(const VectorIndex& index, std::span<const float> q,
                                                               int k) const {
  if (ids) return index.search_among(q, k, *ids);
  return index.search(q, k);
}

Result<Searcher::Candidates> Searcher::candidates(const SearchOptions& opt, const PhotoSetFilter& set) const {
  Candidates c;
  if (set.album) {
    auto ids = std::make_shared<std::vector<int64_t>>(set.album->begin(), set.album->end());
    std::sort(ids->begin(), ids->end());
    c.ids = std::move(ids);
  } else if (!opt.scope.everyone()) {
    SA_ASSIGN_OR_RETURN(bool others, d_.store->has_photos_not_of(opt.scope.owner_id));
    if (others) {
      SA_ASSIGN_OR_RETURN(std::vector<int64_t> ids, d_.store->photo_ids_of_owner(opt.scope.owner_id));
      c.ids = std::make_shared<const std::vector<int64_t>>(std::move(ids));
    }
  }
  const bool narrowed = !opt.date_from.empty() || !opt.date_to.empty() || !opt.folder.empty() || set.favorite_only;
  if (narrowed && d_.clip_index && d_.clip_index->approximate()) {
    const int64_t limit = std::max<int64_t>(1000, d_.clip_index->size() / VectorIndex::kAmongDivisor);
    PhotoFilter f;
    f.favorite_only = set.favorite_only;
    f.scope = set.album ? OwnerScope{} : opt.scope;
    SA_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                        d_.store->photo_ids_matching(f, opt.date_from, opt.date_to, opt.folder, limit));
    if (static_cast<int64_t>(ids.size()) <= limit) {
      if (c.ids) {
        std::vector<int64_t> both;
        std::set_intersection(ids.begin(), ids.end(), c.ids->begin(), c.ids->end(), std::back_inserter(both));
        ids = std::move(both);
      }
      c.ids = std::make_shared<const std::vector<int64_t>>(std::move(ids));
    }
  }
  return c;
}

Result<std::vector<SearchHit>> Searcher::search_clip(const std::vector<float>& q,
                                                     const SearchOptions& opt) const {
  const int need = opt.offset + opt.limit;
  SA_ASSIGN_OR_RETURN(PhotoSetFilter set_filter, photo_set_filter(opt));
  const bool filtering = opt.min_score.has_value() || !opt.date_from.empty() ||
                         !opt.date_to.empty() || !opt.folder.empty() || set_filter.active();
  int k = filtering ? need * 4 + 50 : need;
  SA_ASSIGN_OR_RETURN(Candidates mine, candidates(opt, set_filter));
  // Within an album, its photos are the user's to see whoever owns them.
  const bool any_owner = set_filter.album.has_value();
  std::vector<SearchHit> hits;
  while (true) {
    SA_ASSIGN_OR_RETURN(std::vector<SearchResult> res, mine.search(*d_.clip_index, q, k));
    std::vector<int64_t> ids;
    std::unordered_map<int64_t, float> score;
    bool below_min = false;
    for (const auto& r : res) {
      // Relevance rises with the cosine: below the cut here, nothing further passes.
      if (opt.min_score && clip_relevance(r.score, opt.calibration) < *opt.min_score) {
        below_min = true;
        break;
      }
      ids.push_back(r.id);
      score[r.id] = r.score;
    }
    SA_ASSIGN_OR_RETURN(std::vector<PhotoInfo> photos, d_.store->get_photos(ids));
    hits.clear();
    for (auto& p : photos) {
      if (!(any_owner || opt.scope.sees(p.owner_id)) || !passes_date_filter(p, opt) || !set_filter.passes(p)) {
        continue;
      }
      SearchHit h;
      h.clip_score = score[p.id];
      h.score = clip_relevance(h.clip_score, opt.calibration);
      h.photo = std::move(p);
      hits.push_back(std::move(h));
    }
    bool exhausted = static_cast<int64_t>(res.size()) < k || k >= d_.clip_index->size();
    if (static_cast<int>(hits.size()) >= need || exhausted || below_min) break;
    k = static_cast<int>(std::min<int64_t>(int64_t{k} * 4, d_.clip_index->size()));
  }
  if (static_cast<int>(hits.size()) <= opt.offset) return std::vector<SearchHit>{};
  std::vector<SearchHit> page(std::make_move_iterator(hits.begin() + opt.offset),
                              std::make_move_iterator(hits.begin() + std::min<size_t>(hits.size(), need)));
  return page;
}

Result<std::vector<SearchHit>> Searcher::search_hybrid(const std::string& query,
                                                       const std::vector<float>& q,
                                                       const SearchOptions& opt) const {
  const int need = opt.offset + opt.limit;
  // Like search_clip: with a date filter, widen the candidate pool until enough
  // candidates pass it or the pool holds every indexed photo (a date range
  // that matches only photos ranked past the first pool found nothing). Not
  // for min_score: fused scores fall along the ranking, so photos further down
  // would not pass it.
  SA_ASSIGN_OR_RETURN(PhotoSetFilter set_filter, photo_set_filter(opt));
  const bool filtering = !opt.date_from.empty() || !opt.date_to.empty() || !opt.folder.empty() ||
                         set_filter.active();
  int pool = std::max(d_.hybrid_pool, need * 2);
  if (filtering) pool = std::max(pool, need * 4 + 50);
  const int64_t indexed = std::max<int64_t>(d_.clip_index->size(),
                                            d_.desc_index ? d_.desc_index->size() : 0);
  while (true) {
    SA_ASSIGN_OR_RETURN(HybridPage page, hybrid_pass(query, q, opt, set_filter, pool));
    if (!filtering || static_cast<int>(page.hits.size()) >= need || pool >= indexed ||
        !page.pool_full) {
      if (static_cast<int>(page.hits.size()) <= opt.offset) return std::vector<SearchHit>{};
      page.hits.erase(page.hits.begin(), page.hits.begin() + opt.offset);
      return std::move(page.hits);
    }
    pool = static_cast<int>(std::min<int64_t>(int64_t{pool} * 4, indexed));
  }
}

Result<Searcher::HybridPage> Searcher::hybrid_pass(const std::string& query,
                                                   const std::vector<float>& q,
                                                   const SearchOptions& opt,
                                                   const PhotoSetFilter& set_filter, int pool) const {
  const int need = opt.offset + opt.limit;
  HybridPage out;

  // Candidate sources. Each known component score is remembered; the others are
  // computed from the stored vectors below, so every candidate is scored on all.
  std::unordered_map<int64_t, float> clip_s, desc_s;
  std::vector<int64_t> order;
  std::unordered_set<int64_t> seen;
  auto note = [&](int64_t id) {
    if (seen.insert(id).second) order.push_back(id);
  };
  SA_ASSIGN_OR_RETURN(Candidates mine, candidates(opt, set_filter));
  const bool any_owner = set_filter.album.has_value();
  SA_ASSIGN_OR_RETURN(std::vector<SearchResult> clip_res, mine.search(*d_.clip_index, q, pool));
  out.pool_full = static_cast<int>(clip_res.size()) >= pool;
  for (const auto& r : clip_res) {
    note(r.id);
    clip_s[r.id] = r.score;
  }
  std::vector<float> dq;
  if (d_.text_encoder && d_.desc_index && d_.desc_index->size() > 0) {
    dq = encode_description_query(query);
    if (!dq.empty()) {
      SA_ASSIGN_OR_RETURN(std::vector<SearchResult> desc_res, mine.search(*d_.desc_index, dq, pool));
      out.pool_full = out.pool_full || static_cast<int>(desc_res.size()) >= pool;
      for (const auto& r : desc_res) {
        note(r.id);
        desc_s[r.id] = r.score;
      }
    }
  }
  std::unordered_map<int64_t, float> kw_s;  // the store's keyword score (the same scorer)
  // In an album: every owner's keyword matches, then only the album's pass.
  auto text_hits = d_.store->search_text(query, pool, any_owner ? OwnerScope{} : opt.scope);
  if (text_hits.ok()) {
    out.pool_full = out.pool_full || static_cast<int>(text_hits->size()) >= pool;
    for (const auto& t : *text_hits) {
      note(t.photo_id);
      kw_s[t.photo_id] = t.score;
    }
  } else {
    spdlog::warn("keyword search failed: {}", text_hits.status().to_string());
  }

  SA_ASSIGN_OR_RETURN(std::vector<PhotoInfo> photos, d_.store->get_photos(order));
  std::erase_if(photos, [&](const PhotoInfo& p) {
    return any_owner ? !set_filter.passes(p) : !opt.scope.sees(p.owner_id);
  });
  // The stored vectors of the candidates one source did not score, in one batch
  // per kind (a missing or unreadable one leaves that component unknown).
  auto stored = [&](const std::unordered_map<int64_t, float>& known, const char* kind)
      -> std::unordered_map<int64_t, StoredVector> {
    std::vector<int64_t> ids;
    for (const auto& p : photos)
      if (!known.count(p.id)) ids.push_back(p.id);
    if (ids.empty()) return {};
    auto v = d_.store->get_vectors(ids, kind);
    if (!v.ok()) {
      spdlog::warn("reading '{}' vectors failed: {}", kind, v.status().to_string());
      return {};
    }
    return std::move(v).value();
  };
  const std::unordered_map<int64_t, StoredVector> clip_v = stored(clip_s, "clip");
  const std::unordered_map<int64_t, StoredVector> desc_v =
      dq.empty() ? std::unordered_map<int64_t, StoredVector>{} : stored(desc_s, "desc");
  std::vector<FusionCandidate> cands;
  std::vector<bool> has_clip;
  cands.reserve(photos.size());
  float clip_min = 1.0f;
  for (const auto& p : photos) {
    FusionCandidate c;
    c.id = p.id;
    bool known = false;
    if (auto it = clip_s.find(p.id); it != clip_s.end()) {
      c.clip = it->second;
      known = true;
    } else if (auto v = clip_v.find(p.id);
               v != clip_v.end() && v->second.model == d_.clip_model && v->second.data.size() == q.size()) {
      c.clip = dot(q, v->second.data);
      known = true;
    }
    if (known) clip_min = std::min(clip_min, c.clip);
    if (!dq.empty()) {
      if (auto it = desc_s.find(p.id); it != desc_s.end()) {
        c.desc = it->second;
      } else if (auto v = desc_v.find(p.id); v != desc_v.end() && v->second.model == d_.text_model &&
                                              v->second.data.size() == dq.size()) {
        c.desc = dot(dq, v->second.data);
      }
    }
    auto kw = kw_s.find(p.id);
    c.keyword = kw != kw_s.end() ? kw->second : keyword_score(query, keyword_text(p));
    cands.push_back(c);
    has_clip.push_back(known);
  }
  // A photo not embedded yet (found by keywords only) gets the weakest CLIP score.
  for (size_t i = 0; i < cands.size(); ++i) {
    if (!has_clip[i]) cands[i].clip = clip_min;
  }
  std::vector<FusedScore> fused = fuse_scores(cands, d_.weights);

  std::unordered_map<int64_t, size_t> pos;
  for (size_t i = 0; i < photos.size(); ++i) pos[photos[i].id] = i;
  std::unordered_map<int64_t, bool> known_clip;
  for (size_t i = 0; i < cands.size(); ++i) known_clip[cands[i].id] = has_clip[i];
  for (const auto& f : fused) {
    const PhotoInfo& p = photos[pos[f.id]];
    // Ranked by the fused score; the reported score (and the cut) is the
    // calibrated relevance, on the same scale as CLIP mode's.
    const float relevance = hybrid_relevance(f.clip, f.desc, f.keyword, opt.calibration);
    if (opt.min_score && relevance < *opt.min_score) continue;
    if (!passes_date_filter(p, opt) || !set_filter.passes(p)) continue;
    if (static_cast<int>(out.hits.size()) >= need) break;
    SearchHit h;
    h.photo = p;
    h.score = relevance;
    h.clip_score = known_clip[f.id] ? f.clip : 0.0f;
    h.desc_score = f.desc;
    h.keyword_score = f.keyword;
    MatchExplanation why = explain_match(query, p.keywords, p.description, p.photo_text);
    h.matched_keywords = std::move(why.keywords);
    h.matched_description = std::move(why.description);
    h.matched_text = std::move(why.text);
    out.hits.push_back(std::move(h));
  }
  return out;
}

Result<std::vector<SearchHit>> Searcher::similar(int64_t id, int limit, const OwnerScope& scope) const {
  if (limit < 1 || limit > kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and " + std::to_string(kMaxLimit));
  }
  if (!d_.clip || !d_.clip_index) return no_model();
  SA_ASSIGN_OR_RETURN(PhotoInfo self, d_.store->get_photo(id));
  // Another user's photo does not exist for this one (404, never 403).
  if (!scope.sees(self.owner_id)) return Status::NotFound("photo " + std::to_string(id) + " not found");
  auto v = d_.store->get_vector(id, "clip");
  if (!v.ok() || v->model != d_.clip_model || static_cast<int>(v->data.size()) != d_.clip_index->dim()) {
    if (v.ok() || v.status().code() == StatusCode::kNotFound) {
      return Status::Unavailable("photo " + std::to_string(id) + " has no embedding yet (status " +
                                 std::string(to_string(self.status)) + ")");
    }
    return v.status();
  }
  SA_ASSIGN_OR_RETURN(IdFilter mine, owner_filter(scope));
  SA_ASSIGN_OR_RETURN(std::vector<SearchResult> res, d_.clip_index->search(v->data, limit + 1, mine));
  std::vector<int64_t> ids;
  std::unordered_map<int64_t, float> score;
  for (const auto& r : res) {
    if (r.id == id) continue;
    ids.push_back(r.id);
    score[r.id] = r.score;
  }
  if (static_cast<int>(ids.size()) > limit) ids.resize(limit);
  SA_ASSIGN_OR_RETURN(std::vector<PhotoInfo> photos, d_.store->get_photos(ids));
  std::vector<SearchHit> hits;
  for (auto& p : photos) {
    if (!scope.sees(p.owner_id)) continue;
    SearchHit h;
    h.score = h.clip_score = score[p.id];
    h.photo = std::move(p);
    hits.push_back(std::move(h));
  }
  return hits;
}

}  // namespace sa
