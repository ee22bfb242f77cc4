// Searcher: query -> candidates -> filters -> ranked hits.
//
//   mode "clip":   text -> CLIP text tower -> L2-normalise -> FAISS top-k over
//                  the image vectors (k grows while filters reject hits) -> filters.
//   mode "hybrid": the union of CLIP top-N, description top-N (sentence model)
//                  and keyword (FTS5) matches, every candidate scored on all three
//                  components and fused (fusion.h, docs/search.md).
// Filters: min_score (on the ranking score), date_from/date_to (inclusive prefix
// comparison on taken_at; photos without a date are excluded by a date filter).
//
// Thread safety: all methods may be called concurrently; the referenced objects
// must outlive the Searcher.
#pragma once

#include <memory>
#include <optional>
#include <unordered_set>
#include <string>
#include <vector>

#include "core/status.h"
#include "index/vector_index.h"
#include "model/chinese_clip.h"
#include "model/text_encoder.h"
#include "search/fusion.h"
#include "search/query_cache.h"
#include "search/types.h"
#include "store/store.h"

namespace sa {

struct SearcherDeps {
  Store* store = nullptr;
  const ChineseClip* clip = nullptr;       // null: search/similar are Unavailable
  const VectorIndex* clip_index = nullptr; // image vectors of `clip_model`
  std::string clip_model;                  // model name the stored 'clip' vectors carry
  TextEncoder text_encoder;                // empty: no description similarity
  const VectorIndex* desc_index = nullptr; // description vectors of `text_model`
  std::string text_model;
  FusionWeights weights;
  int hybrid_pool = 100;                   // N of each candidate source (at least offset+limit)
  size_t query_cache_entries = 256;        // recent query embeddings kept (each model); 0: none
};

class Searcher {
 public:
  explicit Searcher(SearcherDeps deps)
      : d_(std::move(deps)),
        clip_cache_(d_.query_cache_entries),
        desc_cache_(d_.query_cache_entries) {}

  // InvalidArgument for an empty query, limit outside [1, 1000], negative offset,
  // an unknown mode or a malformed date; Unavailable without a CLIP model.
  Result<std::vector<SearchHit>> search(const std::string& query, const SearchOptions& opt) const;
  // Photos most similar to photo `id` (its stored CLIP vector), itself excluded,
  // among the photos of `scope`. NotFound for an unknown photo or one outside
  // the scope; Unavailable if it has no embedding yet.
  Result<std::vector<SearchHit>> similar(int64_t id, int limit, const OwnerScope& scope = {}) const;

  // The vector-index filter that keeps a search inside `scope`: empty (no
  // filtering) for everyone's scope, or when the owner has every photo;
  // otherwise a lookup in the owner's sorted photo ids, read per search.
  Result<IdFilter> owner_filter(const OwnerScope& scope) const;

  // The CLIP text embedding of a query, L2-normalised; repeated queries come
  // from a cache (the vectors are the same either way).
  Result<std::vector<float>> encode_query(const std::string& query) const;

  // The cache of CLIP query embeddings (hits/misses for tests and logs).
  const QueryCache& clip_query_cache() const { return clip_cache_; }

 private:
  Result<std::vector<SearchHit>> search_clip(const std::vector<float>& q, const SearchOptions& opt) const;
  Result<std::vector<SearchHit>> search_hybrid(const std::string& query, const std::vector<float>& q,
                                               const SearchOptions& opt) const;
  // One hybrid pass over `pool` candidates from each source: the first
  // offset + limit fused hits that pass the filters, and whether any source
  // filled its pool (so a wider pool could find more).
  struct HybridPage {
    std::vector<SearchHit> hits;
    bool pool_full = false;
  };
  // The favourite / album filters of SearchOptions (NotFound for an unknown album).
  struct PhotoSetFilter {
    bool favorite_only = false;
    std::optional<std::unordered_set<int64_t>> album;
    bool active() const { return favorite_only || album.has_value(); }
    bool passes(const PhotoInfo& p) const;
  };
  Result<PhotoSetFilter> photo_set_filter(const SearchOptions& opt) const;
  // The photos a search may return, as the vector indexes take them (issue
  // 16): every photo, or known ids searched with VectorIndex::search_among
  // (exact when they are few): one album's photos, whoever owns them
  // (?album=ID: an album of the user's or shared with them), else the user's
  // own photos when others exist; under the approximate index, so do the date / favourite / folder
  // filters when they admit few enough photos to list, so that no qualifying
  // photo depends on the approximation.
  struct Candidates {
    std::shared_ptr<const std::vector<int64_t>> ids;  // ascending; null: every photo
    Result<std::vector<SearchResult>> search(const VectorIndex& index, std::span<const float> q, int k) const;
  };
  Result<Candidates> candidates(const SearchOptions& opt, const PhotoSetFilter& set) const;
  Result<HybridPage> hybrid_pass(const std::string& query, const std::vector<float>& q,
                                 const SearchOptions& opt, const PhotoSetFilter& set_filter,
                                 int pool) const;

  // The sentence-model embedding of a query (hybrid mode); empty if it fails.
  std::vector<float> encode_description_query(const std::string& query) const;

  SearcherDeps d_;
  mutable QueryCache clip_cache_;
  mutable QueryCache desc_cache_;
};

// True if the photo passes the date filters of `opt`.
bool passes_date_filter(const PhotoInfo& p, const SearchOptions& opt);

}  // namespace sa
