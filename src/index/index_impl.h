// Internals of VectorIndex shared by vector_index.cpp (storage, search, file)
// and ivf.cpp (the list layout for large libraries). Not part of the module's
// interface: include only from src/index/.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "index/vector_index.h"
#include "model/huge_pages.h"
#include "model/i8_scan.h"

namespace sa::index_internal {

// Vectors per panel of score_i8_panels's layout (model/i8_scan.h).
constexpr int64_t kPanel = kScanPanelCols;
static_assert(VectorIndex::kChunkVectors % kPanel == 0);
// ids[p] of a slot that holds no vector: the padding that starts every list on
// a panel, or a vector removed while the lists are in use (a "hole"; its
// column is zero). Only the IVF layout has holes.
constexpr int64_t kHole = -1;

using Chunk = std::vector<int8_t, HugePageAllocator<int8_t>>;

// Bytes of a chunk holding this many vectors (whole panels).
inline size_t chunk_used_bytes(int64_t vectors_in_chunk, int dim) {
  return static_cast<size_t>((vectors_in_chunk + kPanel - 1) / kPanel) * kPanel * static_cast<size_t>(dim);
}

// One list of the IVF layout: positions [begin, end) (begin a multiple of
// kPanel), the unit direction of its centroid, and the spherical cap that holds
// every int8 vector stored in it when the layout was made: each member v has
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
  std::vector<float> scales;                  // position -> the int8 vector's scale (0: a hole)
  std::unordered_map<int64_t, int64_t> pos;   // id -> position
  std::vector<index_internal::Chunk> chunks;  // position p in chunks[p / kChunkVectors]
  int64_t holes = 0;                          // positions whose id is kHole
  std::unique_ptr<index_internal::Ivf> ivf;   // set: the IVF layout is in use
  // The largest ||v - scale * int8(v)|| of any vector stored (rotated, unit v):
  // no score moves further than this by the quantisation (VectorIndex header).
  float quant_error = 0;

  int64_t live() const { return static_cast<int64_t>(ids.size()) - holes; }
  int8_t* column(int64_t p, int dim) {
    using index_internal::kPanel;
    index_internal::Chunk& c = chunks[static_cast<size_t>(p / kChunkVectors)];
    const int64_t l = p % kChunkVectors;
    return c.data() + static_cast<size_t>(l / kPanel) * kPanel * dim + l % kPanel;
  }
  const int8_t* column(int64_t p, int dim) const { return const_cast<Impl*>(this)->column(p, dim); }
  // Makes position p (the next one) writable.
  void grow_to(int64_t p, int dim) {
    using index_internal::chunk_used_bytes;
    const size_t ci = static_cast<size_t>(p / kChunkVectors);
    if (chunks.size() <= ci) chunks.emplace_back();
    index_internal::Chunk& c = chunks[ci];
    const size_t need = chunk_used_bytes(p % kChunkVectors + 1, dim);
    if (c.size() < need) {
      if (c.capacity() < need) {
        // Grow by doubling within the chunk, never past a whole chunk.
        size_t cap = std::max(need, std::min(c.capacity() * 2, chunk_used_bytes(kChunkVectors, dim)));
        c.reserve(cap);
      }
      c.resize(need, 0);
    }
    if (scales.size() <= static_cast<size_t>(p)) scales.resize(static_cast<size_t>(p) + 1, 0.0f);
  }
  // Scores the (rotated) query against positions [begin, end) (begin a
  // multiple of kPanel) into y[0 .. end - begin).
  void score_range(const float* q, int dim, int64_t begin, int64_t end, float* y) const;
  // The same for several ranges (each begin a multiple of kPanel) in one
  // kernel call, their scores one after the other in y.
  void score_ranges(const float* q, int dim, const std::vector<std::pair<int64_t, int64_t>>& ranges, float* y) const;
  // The fp32 value of the stored int8 vector at p (in the rotated space).
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
  double score;  // int8 score, then the exact one
};

// The index's fixed rotation of every vector and query (an orthogonal map, so
// scores are unchanged): a sign flip per component, then a normalised
// Walsh-Hadamard transform on each power-of-two block of the dimensions (512:
// one block; 768: 512 + 256). It spreads any large component over the whole
// block, so that a per-vector int8 scale loses little (the error shrinks with
// the largest component). In place.
void rotate(float* v, int dim);

// The IVF part of VectorIndex::search (ivf.cpp): appends to `cands` every
// qualifying vector whose int8 score is within `window` of the k-th best
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
