// Internals of VectorIndex shared by vector_index.cpp (storage, search, file)
// and ivf.cpp (the list layout for large libraries). Not part of the module's
// interface: include only from src/index/.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "index/vector_index.h"
#include "model/huge_pages.h"

namespace sa::index_internal {

// Columns per panel of matmul_xwt_fp16_panels's layout (ops.h).
constexpr int64_t kPanel = 16;
static_assert(VectorIndex::kChunkVectors % kPanel == 0);
// ids[p] of a slot that holds no vector: the padding that starts every list on
// a panel, or a vector removed while the lists are in use (a "hole"; its
// column is zero). Only the IVF layout has holes.
constexpr int64_t kHole = -1;

using Chunk = std::vector<uint16_t, HugePageAllocator<uint16_t>>;

inline size_t chunk_used_halves(int64_t vectors_in_chunk, int dim) {
  return static_cast<size_t>((vectors_in_chunk + kPanel - 1) / kPanel) * kPanel * static_cast<size_t>(dim);
}

// One list of the IVF layout: positions [begin, end) (begin a multiple of
// kPanel), the unit direction of its centroid, and the spherical cap that holds
// every fp16 vector stored in it when the layout was made: each member v has
// (v . c) / |v| >= cos_min and |v| <= norm_max. Later writes never enter a
// list (they go to the tail), so the cap stays valid.
struct IvfList {
  int64_t begin = 0, end = 0;
  float cos_min = 1;
  float norm_max = 0;
};

// How the scores of a list's members spread (for the approximate search's
// stopping rule; computed from the stored vectors, never saved). A member
// v = (v.c) c + r; for a unit query at q.c = a its score is a (v.c) + q'.r,
// with |q'|^2 = 1 - a^2 and, if r points anywhere in the other dim - 1
// directions, var(q'.r) = (1 - a^2) |r|^2 / (dim - 1). Over the list:
// score ~ N(a * mean, a^2 * var_along + (1 - a^2) * var_across).
struct IvfListStats {
  float mean = 0;        // mean v.c
  float var_along = 0;   // variance of v.c
  float var_across = 0;  // mean |r|^2 / (dim - 1)
  int64_t members = 0;   // live members
};

struct Ivf {
  std::vector<IvfList> lists;
  std::vector<float> centroids;  // [lists x dim], unit rows
  int64_t tail_begin = 0;        // positions >= tail_begin: written after the layout, always scanned
  std::vector<IvfListStats> stats;  // one per list (list_stats)
};

}  // namespace sa::index_internal

namespace sa {

struct VectorIndex::Impl {
  std::vector<int64_t> ids;                   // position -> id (kHole for none)
  std::unordered_map<int64_t, int64_t> pos;   // id -> position
  std::vector<index_internal::Chunk> chunks;  // position p in chunks[p / kChunkVectors]
  int64_t holes = 0;                          // positions whose id is kHole
  std::unique_ptr<index_internal::Ivf> ivf;   // set: the IVF layout is in use

  int64_t live() const { return static_cast<int64_t>(ids.size()) - holes; }
  uint16_t* column(int64_t p, int dim) {
    using index_internal::kPanel;
    index_internal::Chunk& c = chunks[static_cast<size_t>(p / kChunkVectors)];
    const int64_t l = p % kChunkVectors;
    return c.data() + static_cast<size_t>(l / kPanel) * kPanel * dim + l % kPanel;
  }
  const uint16_t* column(int64_t p, int dim) const { return const_cast<Impl*>(this)->column(p, dim); }
  // Makes position p (the next one) writable.
  void grow_to(int64_t p, int dim) {
    using index_internal::chunk_used_halves;
    const size_t ci = static_cast<size_t>(p / kChunkVectors);
    if (chunks.size() <= ci) chunks.emplace_back();
    index_internal::Chunk& c = chunks[ci];
    const size_t need = chunk_used_halves(p % kChunkVectors + 1, dim);
    if (c.size() < need) {
      if (c.capacity() < need) {
        // Grow by doubling within the chunk, never past a whole chunk.
        size_t cap = std::max(need, std::min(c.capacity() * 2, chunk_used_halves(kChunkVectors, dim)));
        c.reserve(cap);
      }
      c.resize(need, 0);
    }
  }
  // Scores the query against positions [begin, end) (begin a multiple of
  // kPanel) into y[0 .. end - begin).
  void score_range(const float* q, int dim, int64_t begin, int64_t end, float* y) const;
  // The fp32 value of the stored fp16 vector at p.
  void decode(int64_t p, int dim, float* out) const;
};

// What build_ivf() decided before moving anything: the centroids and, sorted
// by id, the list of every id present when it assigned them.
struct VectorIndex::IvfPlan {
  int lists = 0;
  std::vector<float> centroids;                      // [lists x dim], unit rows
  std::vector<std::pair<int64_t, int32_t>> assign;   // (id, list), ascending id
};

namespace index_internal {

struct Cand {
  int64_t id;
  double score;  // fp16 score, then the exact one
};

// The IVF part of VectorIndex::search (ivf.cpp): appends to `cands` every
// qualifying vector whose fp16 score is within `window` of the k-th best
// qualifying one seen (without a budget: the same set the flat scan would
// collect) and returns min(k, qualifying vectors scanned). q: unit query;
// m.ivf set; lock held. probe: when the search may stop before the cap bound
// proves the rest out of reach (VectorIndex::set_probe).
size_t search_ivf(const VectorIndex::Impl& m, int dim, const float* q, int k, const IdFilter& filter,
                  float window, const ProbeOptions& probe, std::vector<Cand>* cands, SearchStats* stats);

// Fills m.ivf->stats from the stored vectors (after a layout is made or loaded).
void list_stats(VectorIndex::Impl& m, int dim);

}  // namespace index_internal
}  // namespace sa
