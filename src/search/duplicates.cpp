#include "search/duplicates.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexLSH.h>
#include <faiss/utils/distances.h>
#include <faiss/impl/AuxIndexStructures.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <memory>
#include <numeric>
#include <string>

namespace sa {
namespace {

struct UnionFind {
  std::vector<int32_t> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  int32_t find(int32_t x) {
    while (parent[x] != x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  }
  bool unite(int32_t a, int32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return false;
    if (a > b) std::swap(a, b);
    parent[b] = a;
    return true;
  }
};

}  // namespace

Result<std::vector<NearDuplicateGroup>> group_near_duplicates(
    std::span<const int64_t> ids, std::span<const float> vectors, int dim,
    const DuplicateSearchOptions& opt) {
  if (dim <= 0 || vectors.size() != ids.size() * static_cast<size_t>(dim)) {
    return Status::InvalidArgument("duplicates: " + std::to_string(ids.size()) + " ids but " +
                                   std::to_string(vectors.size()) + " floats of dim " +
                                   std::to_string(dim));
  }
  if (!(opt.threshold > 0.0f && opt.threshold <= 1.0f)) {
    return Status::InvalidArgument("threshold must be in (0, 1]");
  }
  const int64_t n = static_cast<int64_t>(ids.size());
  if (n < 2) return std::vector<NearDuplicateGroup>{};
  UnionFind uf(static_cast<size_t>(n));
  // The links that joined two groups, so each group's weakest link can be reported.
  struct Link {
    int32_t a, b;
    float sim;
  };
  std::vector<Link> links;
  try {
    if (n <= opt.exact_limit) {
      // Exact: a range search of every vector against all (BLAS), in chunks.
      faiss::IndexFlatIP index(dim);
      index.add(n, vectors.data());  // ids are row numbers
      constexpr int64_t kChunk = 4096;
      const float radius = std::nextafter(opt.threshold, 0.0f);  // FAISS keeps score > radius
      for (int64_t start = 0; start < n; start += kChunk) {
        const int64_t m = std::min(kChunk, n - start);
        faiss::RangeSearchResult res(m);
        index.range_search(m, vectors.data() + start * dim, radius, &res);
        for (int64_t q = 0; q < m; ++q) {
          const int32_t a = static_cast<int32_t>(start + q);
          for (size_t k = res.lims[q]; k < res.lims[q + 1]; ++k) {
            const int32_t b = static_cast<int32_t>(res.labels[k]);
            if (b <= a || res.distances[k] < opt.threshold) continue;  // each pair once
            if (uf.unite(a, b)) links.push_back({a, b, res.distances[k]});
          }
        }
      }
    } else {
      // Approximate: sign bits of random projections (faiss::IndexLSH), cut
      // into bands of kBandBits; vectors sharing a band value are candidates,
      // checked with their exact cosine. Two vectors at cosine c agree on a bit
      // with probability 1 - acos(c)/pi (0.90 at 0.95), so on a 16-bit band with
      // 0.9^16 = 0.19, and on some of 20 bands with 98 %; unrelated vectors
      // (0.5^16 per band) make few candidates. Linear in n, not quadratic.
      constexpr int kBandBits = 16;
      const int n_bits = kBandBits * opt.lsh_bands;
      faiss::IndexLSH lsh(dim, n_bits, /*rotate_data=*/true, /*train_thresholds=*/false);
      const size_t code_size = static_cast<size_t>(n_bits) / 8;
      std::vector<uint8_t> codes(static_cast<size_t>(n) * code_size);
      lsh.sa_encode(n, vectors.data(), codes.data());
      std::vector<std::pair<uint16_t, int32_t>> band(static_cast<size_t>(n));
      for (int b = 0; b < opt.lsh_bands; ++b) {
        for (int32_t i = 0; i < n; ++i) {
          const uint8_t* c = codes.data() + static_cast<size_t>(i) * code_size + 2 * b;
          band[i] = {static_cast<uint16_t>(c[0] | (c[1] << 8)), i};
        }
        std::sort(band.begin(), band.end());
        for (size_t lo = 0; lo < band.size();) {
          size_t hi = lo + 1;
          while (hi < band.size() && band[hi].first == band[lo].first) ++hi;
          for (size_t x = lo; x < hi; ++x) {
            for (size_t y = x + 1; y < hi; ++y) {
              const int32_t a = band[x].second, c = band[y].second;
              if (uf.find(a) == uf.find(c)) continue;  // already linked
              const float sim = faiss::fvec_inner_product(vectors.data() + static_cast<size_t>(a) * dim,
                                                          vectors.data() + static_cast<size_t>(c) * dim,
                                                          static_cast<size_t>(dim));
              if (sim >= opt.threshold && uf.unite(a, c)) links.push_back({std::min(a, c), std::max(a, c), sim});
            }
          }
          lo = hi;
        }
      }
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("duplicate search failed: ") + e.what());
  }

  // Components of two or more, each with its weakest link.
  std::vector<int32_t> root_group(static_cast<size_t>(n), -1);
  std::vector<NearDuplicateGroup> groups;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t r = uf.find(i);
    if (r != i) {  // the root is the smallest row of its group: seen first, added here
      if (root_group[r] < 0) {
        root_group[r] = static_cast<int32_t>(groups.size());
        groups.push_back({{ids[r]}, 1.0f});
      }
      groups[root_group[r]].ids.push_back(ids[i]);
    }
  }
  for (const Link& l : links) {
    const int32_t g = root_group[uf.find(l.a)];
    if (g >= 0) groups[g].min_similarity = std::min(groups[g].min_similarity, l.sim);
  }
  for (auto& g : groups) std::sort(g.ids.begin(), g.ids.end());
  std::sort(groups.begin(), groups.end(), [](const auto& x, const auto& y) {
    if (x.ids.size() != y.ids.size()) return x.ids.size() > y.ids.size();
    return x.ids.front() < y.ids.front();
  });
  return groups;
}

}  // namespace sa
