#include "index/vector_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <queue>
#include <unordered_set>

#include "index/index_impl.h"
#include "model/huge_pages.h"
#include "model/ops.h"

namespace sa {

namespace {

// Normalises rows in place; false if a row is zero or not finite.
bool normalise_rows(std::span<float> data, int dim, size_t* bad_row) {
  size_t n = data.size() / static_cast<size_t>(dim);
  for (size_t i = 0; i < n; ++i) {
    float* row = data.data() + i * static_cast<size_t>(dim);
    double ss = 0;
    for (int j = 0; j < dim; ++j) ss += static_cast<double>(row[j]) * row[j];
    if (!std::isfinite(ss) || ss <= 0) {
      if (bad_row) *bad_row = i;
      return false;
    }
    float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (int j = 0; j < dim; ++j) row[j] *= inv;
  }
  return true;
}

// The sign flipped by rotate() on component j: a fixed bit pattern (a 64-bit
// mix of j), the same in every process and every file.
bool flips(int j) {
  uint64_t z = (static_cast<uint64_t>(j) + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return ((z ^ (z >> 31)) & 1) != 0;
}

// In-place normalised Walsh-Hadamard transform of n (a power of two) values.
void hadamard(float* x, int n) {
  for (int h = 1; h < n; h *= 2)
    for (int i = 0; i < n; i += 2 * h)
      for (int j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
  const float s = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  for (int j = 0; j < n; ++j) x[j] *= s;
}

// Slack of the scan's fp32 arithmetic (the rotation's sums, the kernel's
// sums over dim terms of a unit query and a vector of norm <= 1 + quant
// error, the scale product) and of the re-normalisation of the stored vector.
float arithmetic_slack(int dim) { return static_cast<float>(dim * std::ldexp(1.0, -22) + 1e-4); }

}  // namespace

using index_internal::Cand;
using index_internal::Chunk;
using index_internal::chunk_used_bytes;
using index_internal::kHole;
using index_internal::kPanel;


namespace index_internal {

void rotate(float* v, int dim) {
  for (int j = 0; j < dim; ++j)
    if (flips(j)) v[j] = -v[j];
  for (int off = 0; off < dim;) {
    int b = 1;
    while (b * 2 <= dim - off) b *= 2;
    hadamard(v + off, b);
    off += b;
  }
}

}  // namespace index_internal

const char* index_load_outcome_name(IndexLoadOutcome o) {
  switch (o) {
    case IndexLoadOutcome::kLoaded: return "loaded";
    case IndexLoadOutcome::kRebuiltMissing: return "rebuilt_missing";
    case IndexLoadOutcome::kRebuiltCorrupt: return "rebuilt_corrupt";
    case IndexLoadOutcome::kRebuiltStale: return "rebuilt_stale";
  }
  return "unknown";
}

VectorIndex::VectorIndex(int dim) : dim_(dim > 0 ? dim : 1), impl_(std::make_unique<Impl>()) {}

VectorIndex::~VectorIndex() = default;

int64_t VectorIndex::size() const {
  std::shared_lock lock(mu_);
  if (standby_) return standby_size_;
  return impl_->live();
}

void VectorIndex::set_standby(StandbySearch standby, int64_t expected_size) {
  std::unique_lock lock(mu_);
  standby_ = std::move(standby);
  standby_size_ = expected_size;
}

void VectorIndex::replace_contents(VectorIndex&& loaded) {
  if (&loaded == this) return;
  std::unique_lock lock(mu_);
  std::unique_lock other(loaded.mu_);
  if (loaded.dim_ == dim_) std::swap(impl_, loaded.impl_);
  standby_ = nullptr;
  standby_size_ = 0;
}

bool VectorIndex::ready() const {
  std::shared_lock lock(mu_);
  return !standby_;
}

bool VectorIndex::contains(int64_t id) const {
  std::shared_lock lock(mu_);
  return impl_->pos.count(id) > 0;
}

std::vector<int64_t> VectorIndex::ids() const {
  std::shared_lock lock(mu_);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(impl_->live()));
  for (int64_t id : impl_->ids)
    if (id != kHole) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

float VectorIndex::error_bound() const {
  std::shared_lock lock(mu_);
  return impl_->quant_error + arithmetic_slack(dim_);
}

size_t VectorIndex::memory_bytes() const {
  std::shared_lock lock(mu_);
  size_t b = impl_->ids.capacity() * sizeof(int64_t);
  b += impl_->pos.size() * 32 + impl_->pos.bucket_count() * sizeof(void*);
  b += impl_->scales.capacity() * sizeof(float);
  for (const auto& c : impl_->chunks) b += c.capacity();
  return b;
}

void VectorIndex::set_exact_lookup(ExactLookup lookup) {
  if (!lookup) return set_exact_batch_lookup(nullptr);
  const int dim = dim_;
  set_exact_batch_lookup([one = std::move(lookup), dim](std::span<const int64_t> ids, std::span<float> out,
                                                        std::vector<bool>* found) {
    for (size_t i = 0; i < ids.size(); ++i)
      (*found)[i] = one(ids[i], out.subspan(i * static_cast<size_t>(dim), static_cast<size_t>(dim)));
  });
}

void VectorIndex::set_exact_batch_lookup(ExactBatchLookup lookup) {
  std::unique_lock lock(mu_);
  lookup_ = std::move(lookup);
}

ExactBatchLookup VectorIndex::store_lookup(Store& store, std::string kind, std::string model) {
  return [&store, kind = std::move(kind), model = std::move(model)](std::span<const int64_t> ids,
                                                                    std::span<float> out,
                                                                    std::vector<bool>* found) {
    const size_t dim = ids.empty() ? 0 : out.size() / ids.size();
    auto got = store.get_vectors(ids, kind);
    for (size_t i = 0; i < ids.size(); ++i) {
      (*found)[i] = false;
      if (!got.ok()) continue;
      auto it = got->find(ids[i]);
      if (it == got->end() || it->second.model != model || it->second.data.size() != dim) continue;
      std::copy(it->second.data.begin(), it->second.data.end(), out.begin() + static_cast<ptrdiff_t>(i * dim));
      (*found)[i] = true;
    }
  };
}

void VectorIndex::reserve_locked(int64_t n) {
  if (n <= 0) return;
  impl_->ids.reserve(static_cast<size_t>(n));
  impl_->pos.reserve(static_cast<size_t>(n));
}

Status VectorIndex::add(std::span<const int64_t> ids, std::span<const float> vectors) {
  std::unique_lock lock(mu_);
  return add_locked(ids, vectors);
}

Status VectorIndex::add_locked(std::span<const int64_t> ids, std::span<const float> vectors) {
  if (vectors.size() != ids.size() * static_cast<size_t>(dim_))
    return Status::InvalidArgument("index add: " + std::to_string(vectors.size()) + " floats for " +
                                   std::to_string(ids.size()) + " ids of dim " + std::to_string(dim_));
  if (ids.empty()) return Status::OK();
  std::unordered_set<int64_t> seen;
  for (int64_t id : ids) {
    if (!seen.insert(id).second)
      return Status::InvalidArgument("index add: id " + std::to_string(id) + " twice in one batch");
  }
  std::vector<float> data(vectors.begin(), vectors.end());
  size_t bad = 0;
  if (!normalise_rows(data, dim_, &bad))
    return Status::InvalidArgument("index add: vector for id " + std::to_string(ids[bad]) +
                                   " is zero or not finite");
  Impl& m = *impl_;
  std::vector<float> rot(static_cast<size_t>(dim_));
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t p;
    auto it = m.pos.find(ids[i]);
    if (it != m.pos.end() && m.ivf && it->second < m.ivf->tail_begin) {
      // In a list: its cap may not hold the new vector. Leave a hole there and
      // write the vector to the tail.
      hole_locked(it->second);
      m.pos.erase(it);
      it = m.pos.end();
    }
    if (it != m.pos.end()) {
      p = it->second;  // replace, never duplicate: a re-embedded photo appears once
    } else {
      p = static_cast<int64_t>(m.ids.size());
      m.grow_to(p, dim_);
      m.ids.push_back(ids[i]);
      m.pos.emplace(ids[i], p);
    }
    // Rotated, then to int8 with this vector's scale (largest component ->
    // 127); the error of the rounding is what bounds every score of it.
    std::copy_n(data.data() + i * static_cast<size_t>(dim_), dim_, rot.begin());
    index_internal::rotate(rot.data(), dim_);
    float big = 0;
    for (float v : rot) big = std::max(big, std::fabs(v));
    const float scale = big / 127.0f, inv = 127.0f / big;
    int8_t* col = m.column(p, dim_);
    double err = 0;
    for (int j = 0; j < dim_; ++j) {
      // Round half away from zero (no libm call: this runs for every component
      // of every vector of a rebuild).
      const float x = rot[static_cast<size_t>(j)] * inv;
      const int r = std::clamp(static_cast<int>(x + (x >= 0 ? 0.5f : -0.5f)), -127, 127);
      col[static_cast<size_t>(j) * kPanel] = static_cast<int8_t>(r);
      const double d = static_cast<double>(rot[static_cast<size_t>(j)]) - static_cast<double>(scale) * r;
      err += d * d;
    }
    m.scales[static_cast<size_t>(p)] = scale;
    m.quant_error = std::max(m.quant_error, std::nextafter(static_cast<float>(std::sqrt(err)), 2.0f));
  }
  return Status::OK();
}

Result<int64_t> VectorIndex::remove(std::span<const int64_t> ids) {
  std::unique_lock lock(mu_);
  Impl& m = *impl_;
  int64_t removed = 0;
  for (int64_t id : ids) {
    auto it = m.pos.find(id);
    if (it == m.pos.end()) continue;
    const int64_t p = it->second;
    if (m.ivf) {  // the lists keep their positions: a hole
      hole_locked(p);
      m.pos.erase(it);
      ++removed;
      continue;
    }
    const int64_t last = static_cast<int64_t>(m.ids.size()) - 1;
    m.pos.erase(it);
    int8_t* dst = m.column(p, dim_);
    int8_t* src = m.column(last, dim_);
    if (p != last) {
      // The last vector moves into the hole.
      for (int j = 0; j < dim_; ++j) dst[static_cast<size_t>(j) * kPanel] = src[static_cast<size_t>(j) * kPanel];
      m.ids[static_cast<size_t>(p)] = m.ids[static_cast<size_t>(last)];
      m.scales[static_cast<size_t>(p)] = m.scales[static_cast<size_t>(last)];
      m.pos[m.ids[static_cast<size_t>(p)]] = p;
    }
    for (int j = 0; j < dim_; ++j) src[static_cast<size_t>(j) * kPanel] = 0;
    m.ids.pop_back();
    m.scales.pop_back();
    if (last % kChunkVectors == 0) m.chunks.pop_back();  // its only vector left
    ++removed;
  }
  return removed;
}

void VectorIndex::clear() {
  std::unique_lock lock(mu_);
  impl_ = std::make_unique<Impl>();
}

void VectorIndex::hole_locked(int64_t p) {
  Impl& m = *impl_;
  int8_t* col = m.column(p, dim_);
  for (int j = 0; j < dim_; ++j) col[static_cast<size_t>(j) * kPanel] = 0;
  m.scales[static_cast<size_t>(p)] = 0;
  m.ids[static_cast<size_t>(p)] = kHole;
  ++m.holes;
}

namespace {

// The query as a unit vector (a copy), or why it cannot be one: the wrong
// number of components, zero, or not finite. Every search starts here.
Result<std::vector<float>> unit_query(std::span<const float> query, int dim) {
  if (query.size() != static_cast<size_t>(dim))
    return Status::InvalidArgument("query has " + std::to_string(query.size()) +
                                   " components, index dim is " + std::to_string(dim));
  std::vector<float> q(query.begin(), query.end());
  if (!normalise_rows(q, dim, nullptr)) return Status::InvalidArgument("query vector is zero or not finite");
  return q;
}

// The end of every search: the exact re-rank of the candidates (int8 scores
// within the window of the kk-th) on their fp32 vectors, outside the index
// lock (the lookup reads the store), then the best kk, best first, ties by id.
std::vector<SearchResult> finish_search(std::span<const float> query, size_t kk, std::vector<Cand> cands,
                                        const ExactBatchLookup& lookup) {
  const int dim = static_cast<int>(query.size());
  constexpr size_t kMaxRerank = VectorIndex::kMaxRerank;
  std::vector<SearchResult> out;
  // In double, from the query as given: candidates a few ulps apart in fp32
  // (near duplicates) are still ordered as the exact scan orders them.
  if (lookup && cands.size() <= kMaxRerank) {
    double qn = 0;
    for (float x : query) qn += static_cast<double>(x) * x;
    qn = std::sqrt(qn);
    std::vector<int64_t> ids(cands.size());
    for (size_t i = 0; i < cands.size(); ++i) ids[i] = cands[i].id;
    std::vector<float> vs(cands.size() * static_cast<size_t>(dim));
    std::vector<bool> found(cands.size(), false);
    lookup(ids, vs, &found);
    for (size_t i = 0; i < cands.size(); ++i) {
      if (!found[i]) continue;
      const float* v = vs.data() + i * static_cast<size_t>(dim);
      double dot = 0, ss = 0;
      for (int j = 0; j < dim; ++j) {
        dot += static_cast<double>(query[static_cast<size_t>(j)]) * v[j];
        ss += static_cast<double>(v[j]) * v[j];
      }
      if (ss > 0 && std::isfinite(ss)) cands[i].score = dot / (std::sqrt(ss) * qn);
    }
  }
  auto better = [](const Cand& a, const Cand& b) { return a.score > b.score || (a.score == b.score && a.id < b.id); };
  if (cands.size() > kk) {
    std::partial_sort(cands.begin(), cands.begin() + static_cast<int64_t>(kk), cands.end(), better);
    cands.resize(kk);
  } else {
    std::sort(cands.begin(), cands.end(), better);
  }
  out.reserve(cands.size());
  for (const Cand& c : cands) out.push_back({c.id, static_cast<float>(c.score)});
  return out;
}

}  // namespace

Result<std::vector<SearchResult>> VectorIndex::search(std::span<const float> query, int k,
                                                      const IdFilter& filter, SearchStats* stats) const {
  auto unit = unit_query(query, dim_);
  if (!unit.ok()) return unit.status();
  std::vector<float> q = std::move(*unit);
  std::vector<SearchResult> out;
  if (k <= 0) return out;
  // The stored vectors are rotated (index_internal::rotate): so is the query
  // they are scored against (the standby and the re-rank take it as given).
  std::vector<float> qr(q);
  index_internal::rotate(qr.data(), dim_);

  std::vector<Cand> cands;
  ExactBatchLookup lookup;
  size_t kk = 0;
  {
    std::shared_lock lock(mu_);
    if (standby_) {
      StandbySearch standby = standby_;
      lock.unlock();
      return standby(q, k, filter);
    }
    const Impl& m = *impl_;
    const int64_t n = static_cast<int64_t>(m.ids.size());
    if (n == 0) return out;
    if (m.ivf) {
      kk = index_internal::search_ivf(m, dim_, qr.data(), k, filter, 2 * (m.quant_error + arithmetic_slack(dim_)),
                                      probe(), &cands, stats);
      if (kk == 0) return out;
      lookup = lookup_;
    } else {
    if (stats) *stats = SearchStats{n, 0, 0};
    // One query against every stored vector: the engine's int8 panel kernel
    // on both cores (model/i8_scan.h), a chunk at a time into a buffer of one
    // chunk, each score then kept if it is within the window of the best kk
    // seen so far (a floor that only rises); the final floor prunes the rest.
    // One pass, and no score array of the library's size per query.
    const float window = 2 * (m.quant_error + arithmetic_slack(dim_));
    const size_t kq = static_cast<size_t>(k);
    std::priority_queue<float, std::vector<float>, std::greater<float>> heap;
    float floor = -std::numeric_limits<float>::infinity();
    int64_t allowed = 0;
    std::vector<float> y(static_cast<size_t>(std::min(n, kChunkVectors)));
    for (int64_t base = 0; base < n; base += kChunkVectors) {
      const int64_t cnt = std::min(kChunkVectors, n - base);
      m.score_range(qr.data(), dim_, base, base + cnt, y.data());
      for (int64_t i = 0; i < cnt; ++i) {
        const int64_t id = m.ids[static_cast<size_t>(base + i)];
        if (filter && !filter(id)) continue;
        ++allowed;
        const float sc = y[static_cast<size_t>(i)];
        if (sc < floor) continue;
        cands.push_back({id, sc});
        if (heap.size() < kq) {
          heap.push(sc);
        } else if (sc > heap.top()) {
          heap.pop();
          heap.push(sc);
        } else {
          continue;
        }
        // The kk-th best int8 score less twice the error bound: the fp32
        // top kk is above it (header comment).
        if (heap.size() == kq) floor = heap.top() - window;
      }
    }
    kk = static_cast<size_t>(std::min<int64_t>(k, allowed));
    if (kk == 0) return out;
    cands.erase(std::remove_if(cands.begin(), cands.end(), [floor](const Cand& c) { return c.score < floor; }),
                cands.end());
    lookup = lookup_;
    }
  }
  return finish_search(query, kk, std::move(cands), lookup);
}

void VectorIndex::set_probe(const ProbeOptions& probe) {
  probe_misses_.store(probe.expected_misses);
  probe_fraction_.store(probe.fraction);
}

ProbeOptions VectorIndex::probe() const { return {probe_misses_.load(), probe_fraction_.load()}; }

bool VectorIndex::approximate() const {
  if (!probe().approximate()) return false;
  std::shared_lock lock(mu_);
  return !standby_ && impl_->ivf != nullptr;
}

Result<std::vector<SearchResult>> VectorIndex::search_among(std::span<const float> query, int k,
                                                            std::span<const int64_t> ids,
                                                            SearchStats* stats) const {
  auto unit = unit_query(query, dim_);
  if (!unit.ok()) return unit.status();
  std::vector<float> q = std::move(*unit);
  std::vector<SearchResult> out;
  if (k <= 0) return out;
  index_internal::rotate(q.data(), dim_);  // scored against rotated vectors only
  auto admitted = [ids](int64_t id) { return std::binary_search(ids.begin(), ids.end(), id); };
  std::vector<Cand> cands;
  ExactBatchLookup lookup;
  size_t kk = 0;
  {
    std::shared_lock lock(mu_);
    const Impl& m = *impl_;
    if (standby_ || static_cast<int64_t>(ids.size()) > m.live() / kAmongDivisor) {
      lock.unlock();
      return search(query, k, admitted, stats);
    }
    // The positions of the ids, in storage order; each panel (16 vectors)
    // that holds one is scored once by the scan kernel.
    std::vector<int64_t> pos;
    pos.reserve(ids.size());
    for (int64_t id : ids) {
      auto it = m.pos.find(id);
      if (it != m.pos.end()) pos.push_back(it->second);
    }
    std::sort(pos.begin(), pos.end());
    kk = std::min(static_cast<size_t>(k), pos.size());
    if (stats) *stats = SearchStats{};
    if (kk == 0) return out;
    std::vector<float> y(kPanel), score(pos.size());
    const int64_t n = static_cast<int64_t>(m.ids.size());
    int64_t panel = -1;
    for (size_t i = 0; i < pos.size(); ++i) {
      const int64_t p = pos[i];
      if (p / kPanel != panel) {
        panel = p / kPanel;
        const int64_t begin = panel * kPanel;
        // A panel never straddles a chunk (kChunkVectors is a multiple of kPanel).
        m.score_range(q.data(), dim_, begin, std::min(n, begin + kPanel), y.data());
        if (stats) stats->scanned += std::min(n, begin + kPanel) - begin;
      }
      score[i] = y[static_cast<size_t>(p % kPanel)];
    }
    std::vector<float> top(score);
    std::nth_element(top.begin(), top.begin() + static_cast<int64_t>(kk) - 1, top.end(), std::greater<float>());
    const float floor = top[kk - 1] - 2 * (m.quant_error + arithmetic_slack(dim_));
    for (size_t i = 0; i < pos.size(); ++i)
      if (score[i] >= floor) cands.push_back({m.ids[static_cast<size_t>(pos[i])], score[i]});
    if (stats) stats->among = true;
    lookup = lookup_;
  }
  return finish_search(query, kk, std::move(cands), lookup);
}

}  // namespace sa
