#include "search/duplicates.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
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
  // Links kept as (a, b, sim) so each group's weakest link can be reported.
  // (Several links may join the same pair of components; all are >= threshold.)
  struct Link {
    int32_t a, b;
    float sim;
  };
  std::vector<Link> links;
  try {
    faiss::IndexFlatIP quantizer(dim);  // outlives the IVF index that uses it
    std::unique_ptr<faiss::Index> index;
    if (n <= opt.exact_limit) {
      index = std::make_unique<faiss::IndexFlatIP>(dim);
    } else {
      const int64_t nlist = std::max<int64_t>(
          16, static_cast<int64_t>(4.0 * std::sqrt(static_cast<double>(n))));
      auto ivf = std::make_unique<faiss::IndexIVFFlat>(&quantizer, dim, nlist,
                                                       faiss::METRIC_INNER_PRODUCT);
      // k-means on a sample: 39 points per centroid is FAISS's own minimum.
      const int64_t n_train = std::min<int64_t>(n, nlist * 39);
      ivf->train(n_train, vectors.data());
      ivf->nprobe = static_cast<size_t>(std::min<int64_t>(opt.nprobe, nlist));
      index = std::move(ivf);
    }
    index->add(n, vectors.data());  // ids are row numbers
    constexpr int64_t kChunk = 4096;
    const float radius = std::nextafter(opt.threshold, 0.0f);  // FAISS keeps score > radius
    for (int64_t start = 0; start < n; start += kChunk) {
      const int64_t m = std::min(kChunk, n - start);
      faiss::RangeSearchResult res(m);
      index->range_search(m, vectors.data() + start * dim, radius, &res);
      for (int64_t q = 0; q < m; ++q) {
        const int32_t a = static_cast<int32_t>(start + q);
        for (size_t k = res.lims[q]; k < res.lims[q + 1]; ++k) {
          const int32_t b = static_cast<int32_t>(res.labels[k]);
          if (b <= a || res.distances[k] < opt.threshold) continue;  // each pair once
          links.push_back({a, b, res.distances[k]});
          uf.unite(a, b);
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
