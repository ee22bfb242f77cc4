// Near-duplicate grouping over L2-normalised vectors (GET /api/duplicates).
//
// Two photos are linked when the cosine similarity of their CLIP vectors is
// >= threshold; a group is a connected component of these links (union-find),
// so a burst A~B~C is one group even when A and C are a little further apart.
// Links come from FAISS, never from all pairs in SQL:
//  - up to exact_limit vectors: exact, a range search over an IndexFlatIP
//    (BLAS, O(n^2 d): a few ms at 2,000, about a second of one core at 10,000);
//  - above: locality-sensitive hashing, the sign bits of random projections
//    (faiss::IndexLSH) cut into 16-bit bands; vectors sharing a band are
//    checked with their exact cosine. Linear in n; a pair at the threshold is
//    found with ~98 % probability per pair (more when the group has other
//    links), pairs above it more surely. Timing in docs/organise.md.
// Pure compute: no store, no I/O. FAISS exceptions become Status.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"

namespace sa {

struct NearDuplicateGroup {
  std::vector<int64_t> ids;    // ascending
  float min_similarity = 1.0f; // the weakest of the links that joined the group
};

// The default of GET /api/duplicates?threshold=: measured on re-encodes,
// resizes and crops of the test photos against different photos (the midpoint
// of the gap between the two; docs/organise.md).
inline constexpr float kDefaultDuplicateThreshold = 0.956f;

struct DuplicateSearchOptions {
  float threshold = kDefaultDuplicateThreshold;
  // Flat (exact) range search up to this many vectors: all pairs cost n^2 * dim
  // multiply-adds, ~1 s of one core at 10k (bench_duplicates), LSH ~0.1 s.
  int64_t exact_limit = 2000;
  int lsh_bands = 20;           // 16-bit LSH bands above it
};

// ids.size() vectors, row-major [n x dim]. Groups of two or more, the largest
// first (then by smallest id). InvalidArgument for mismatched sizes or a
// threshold outside (0, 1].
Result<std::vector<NearDuplicateGroup>> group_near_duplicates(
    std::span<const int64_t> ids, std::span<const float> vectors, int dim,
    const DuplicateSearchOptions& opt = {});

}  // namespace sa
