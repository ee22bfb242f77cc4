#include "index/vector_index.h"

#include <fcntl.h>
#ifdef __F16C__
#include <immintrin.h>
#endif
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/file_util.h"
#include "index/index_impl.h"
#include "model/huge_pages.h"
#include "model/ops.h"

namespace sa {

namespace {

constexpr char kMagic[8] = {'S', 'A', 'I', 'D', 'X', '0', '0', '2'};
constexpr char kOldMagic[8] = {'S', 'A', 'I', 'D', 'X', '0', '0', '1'};
constexpr int kFormatVersion = 2;
// A header is a few hundred bytes; anything larger is not ours.
constexpr uint32_t kMaxHeaderBytes = 1 << 16;

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

// IEEE 754 binary16, round to nearest even (|x| <= 1 here, but any finite x
// converts; overflow gives infinity).
uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint32_t sign = (x >> 16) & 0x8000u;
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (x > 0x7f800000u ? 0x200u : 0));
  if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (x < 0x38800000u) {  // below 2^-14: subnormal half (or zero)
    if (x < 0x33000000u) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
    const uint32_t e = x >> 23;
    const uint32_t m = (x & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14 + 113 - e - 1 ... value = m * 2^(e-150), unit 2^-24
    uint32_t h = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = ((x >> 13) - (112u << 10));
  const uint32_t rem = x & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

// A 64-bit multiply-xor hash of bytes, fed in pieces (sizes need not be
// multiples of 8). Not cryptographic: it detects damage, fast.
class PayloadHash {
 public:
  void update(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    while (n > 0 && fill_ != 0) {
      push_byte(*p++);
      --n;
    }
    while (n >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      mix(w);
      p += 8;
      n -= 8;
    }
    while (n > 0) {
      push_byte(*p++);
      --n;
    }
  }
  std::string hex() {
    uint64_t h = h_;
    if (fill_ != 0) h = (h ^ pending_ ^ (uint64_t{fill_} << 56)) * kMul;
    h ^= h >> 29;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }

 private:
  static constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  void mix(uint64_t w) { h_ = ((h_ ^ w) * kMul) ^ (h_ >> 31); }
  void push_byte(uint8_t b) {
    pending_ |= uint64_t{b} << (8 * fill_);
    if (++fill_ == 8) {
      mix(pending_);
      pending_ = 0;
      fill_ = 0;
    }
  }
  uint64_t h_ = 0x6A09E667F3BCC908ull;
  uint64_t pending_ = 0;
  unsigned fill_ = 0;
};

}  // namespace

using index_internal::Cand;
using index_internal::Chunk;
using index_internal::chunk_used_halves;
using index_internal::kHole;
using index_internal::kPanel;


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

float VectorIndex::fp16_error_bound() const {
  // Per component |x - half(x)| <= 2^-11 |x| (normal range) or 2^-25 (subnormal),
  // so ||v - half(v)|| <= 2^-11 + sqrt(dim) 2^-25 for a unit v; by Cauchy-Schwarz
  // the score of a unit query moves at most that. 1e-4 covers fp32 rounding in
  // both sums and the re-normalisation of the stored vector.
  return static_cast<float>(std::ldexp(1.0, -11) + std::sqrt(static_cast<double>(dim_)) * std::ldexp(1.0, -25) + 1e-4);
}

size_t VectorIndex::memory_bytes() const {
  std::shared_lock lock(mu_);
  size_t b = impl_->ids.capacity() * sizeof(int64_t);
  b += impl_->pos.size() * 32 + impl_->pos.bucket_count() * sizeof(void*);
  for (const auto& c : impl_->chunks) b += c.capacity() * sizeof(uint16_t);
  return b;
}

void VectorIndex::set_exact_lookup(ExactLookup lookup) {
  std::unique_lock lock(mu_);
  lookup_ = std::move(lookup);
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
    uint16_t* col = m.column(p, dim_);
    const float* row = data.data() + i * static_cast<size_t>(dim_);
    int j = 0;
#ifdef __F16C__
    // The same rounding (to nearest even) eight at a time.
    alignas(16) uint16_t h8[8];
    for (; j + 8 <= dim_; j += 8) {
      _mm_store_si128(reinterpret_cast<__m128i*>(h8), _mm256_cvtps_ph(_mm256_loadu_ps(row + j), _MM_FROUND_TO_NEAREST_INT));
      for (int t = 0; t < 8; ++t) col[static_cast<size_t>(j + t) * kPanel] = h8[t];
    }
#endif
    for (; j < dim_; ++j) col[static_cast<size_t>(j) * kPanel] = float_to_half(row[j]);
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
    uint16_t* dst = m.column(p, dim_);
    uint16_t* src = m.column(last, dim_);
    if (p != last) {
      // The last vector moves into the hole.
      for (int j = 0; j < dim_; ++j) dst[static_cast<size_t>(j) * kPanel] = src[static_cast<size_t>(j) * kPanel];
      m.ids[static_cast<size_t>(p)] = m.ids[static_cast<size_t>(last)];
      m.pos[m.ids[static_cast<size_t>(p)]] = p;
    }
    for (int j = 0; j < dim_; ++j) src[static_cast<size_t>(j) * kPanel] = 0;
    m.ids.pop_back();
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
  uint16_t* col = m.column(p, dim_);
  for (int j = 0; j < dim_; ++j) col[static_cast<size_t>(j) * kPanel] = 0;
  m.ids[static_cast<size_t>(p)] = kHole;
  ++m.holes;
}

namespace {

// The end of every search: the exact re-rank of the candidates (fp16 scores
// within the window of the kk-th) on their fp32 vectors, outside the index
// lock (the lookup reads the store), then the best kk, best first, ties by id.
std::vector<SearchResult> finish_search(std::span<const float> query, size_t kk, std::vector<Cand> cands,
                                        const ExactLookup& lookup) {
  const int dim = static_cast<int>(query.size());
  constexpr size_t kMaxRerank = VectorIndex::kMaxRerank;
  std::vector<SearchResult> out;
  // In double, from the query as given: candidates a few ulps apart in fp32
  // (near duplicates) are still ordered as the exact scan orders them.
  if (lookup && cands.size() <= kMaxRerank) {
    double qn = 0;
    for (float x : query) qn += static_cast<double>(x) * x;
    qn = std::sqrt(qn);
    std::vector<float> v(static_cast<size_t>(dim));
    for (Cand& c : cands) {
      if (!lookup(c.id, v)) continue;
      double dot = 0, ss = 0;
      for (int j = 0; j < dim; ++j) {
        dot += static_cast<double>(query[static_cast<size_t>(j)]) * v[static_cast<size_t>(j)];
        ss += static_cast<double>(v[static_cast<size_t>(j)]) * v[static_cast<size_t>(j)];
      }
      if (ss > 0 && std::isfinite(ss)) c.score = dot / (std::sqrt(ss) * qn);
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
  if (query.size() != static_cast<size_t>(dim_))
    return Status::InvalidArgument("query has " + std::to_string(query.size()) +
                                   " components, index dim is " + std::to_string(dim_));
  std::vector<SearchResult> out;
  if (k <= 0) return out;
  std::vector<float> q(query.begin(), query.end());
  if (!normalise_rows(q, dim_, nullptr)) return Status::InvalidArgument("query vector is zero or not finite");

  std::vector<Cand> cands;
  ExactLookup lookup;
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
      kk = index_internal::search_ivf(m, dim_, q.data(), k, filter, 2 * fp16_error_bound(), probe(), &cands, stats);
      if (kk == 0) return out;
      lookup = lookup_;
    } else {
    if (stats) *stats = SearchStats{n, 0, 0};
    // One query against every stored vector: the engine's fp16 panel kernel on
    // both cores (the same kernel as the text tower's projections), a chunk at
    // a time.
    std::vector<float> scores(static_cast<size_t>(n));
    for (size_t c = 0; c < m.chunks.size(); ++c) {
      const int64_t base = static_cast<int64_t>(c) * kChunkVectors;
      const int64_t cnt = std::min(kChunkVectors, n - base);
      matmul_xwt_fp16_panels(q.data(), 1, m.chunks[c].data(), static_cast<int>(cnt), dim_,
                             scores.data() + base);
    }
    constexpr float kOut = -std::numeric_limits<float>::infinity();
    int64_t allowed = n;
    if (filter) {
      allowed = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (filter(m.ids[static_cast<size_t>(i)])) {
          ++allowed;
        } else {
          scores[static_cast<size_t>(i)] = kOut;
        }
      }
    }
    kk = static_cast<size_t>(std::min<int64_t>(k, allowed));
    if (kk == 0) return out;
    // The kk-th best fp16 score, then every vector within twice the error bound
    // of it: the fp32 top kk is among them (header comment).
    float kth;
    if (kk <= 4096) {
      std::priority_queue<float, std::vector<float>, std::greater<float>> heap;
      for (float s : scores) {
        if (s == kOut) continue;
        if (heap.size() < kk) {
          heap.push(s);
        } else if (s > heap.top()) {
          heap.pop();
          heap.push(s);
        }
      }
      kth = heap.top();
    } else {
      std::vector<float> tmp;
      tmp.reserve(static_cast<size_t>(allowed));
      for (float s : scores)
        if (s != kOut) tmp.push_back(s);
      std::nth_element(tmp.begin(), tmp.begin() + static_cast<int64_t>(kk) - 1, tmp.end(), std::greater<float>());
      kth = tmp[kk - 1];
    }
    const float floor = kth - 2 * fp16_error_bound();
    for (int64_t i = 0; i < n; ++i) {
      const float s = scores[static_cast<size_t>(i)];
      if (s != kOut && s >= floor) cands.push_back({m.ids[static_cast<size_t>(i)], s});
    }
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
  if (query.size() != static_cast<size_t>(dim_))
    return Status::InvalidArgument("query has " + std::to_string(query.size()) +
                                   " components, index dim is " + std::to_string(dim_));
  std::vector<SearchResult> out;
  if (k <= 0) return out;
  auto admitted = [ids](int64_t id) { return std::binary_search(ids.begin(), ids.end(), id); };
  std::vector<float> q(query.begin(), query.end());
  if (!normalise_rows(q, dim_, nullptr)) return Status::InvalidArgument("query vector is zero or not finite");
  std::vector<Cand> cands;
  ExactLookup lookup;
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
    const float floor = top[kk - 1] - 2 * fp16_error_bound();
    for (size_t i = 0; i < pos.size(); ++i)
      if (score[i] >= floor) cands.push_back({m.ids[static_cast<size_t>(pos[i])], score[i]});
    if (stats) stats->among = true;
    lookup = lookup_;
  }
  return finish_search(query, kk, std::move(cands), lookup);
}

Status VectorIndex::save(const std::string& path, const IndexMeta& meta) const {
  if (meta.dim != dim_)
    return Status::InvalidArgument("index save: meta dim " + std::to_string(meta.dim) +
                                   " != index dim " + std::to_string(dim_));
  // The payload is written straight from the index's own arrays: no copy of a
  // possibly gigabyte-sized index (the FAISS writer made two).
  std::shared_lock lock(mu_);
  const Impl& m = *impl_;
  const int64_t n = static_cast<int64_t>(m.ids.size());
  std::vector<std::string_view> parts;
  parts.emplace_back(reinterpret_cast<const char*>(m.ids.data()), m.ids.size() * sizeof(int64_t));
  for (size_t c = 0; c < m.chunks.size(); ++c) {
    const int64_t cnt = std::min(kChunkVectors, n - static_cast<int64_t>(c) * kChunkVectors);
    parts.emplace_back(reinterpret_cast<const char*>(m.chunks[c].data()),
                       chunk_used_halves(cnt, dim_) * sizeof(uint16_t));
  }
  static_assert(sizeof(index_internal::IvfList) == 24, "IvfList is written as is");
  const int ivf_lists = m.ivf ? static_cast<int>(m.ivf->lists.size()) : 0;
  if (m.ivf) {
    parts.emplace_back(reinterpret_cast<const char*>(m.ivf->lists.data()),
                       m.ivf->lists.size() * sizeof(index_internal::IvfList));
    parts.emplace_back(reinterpret_cast<const char*>(m.ivf->centroids.data()),
                       m.ivf->centroids.size() * sizeof(float));
  }
  PayloadHash hash;
  size_t payload_bytes = 0;
  for (std::string_view p : parts) {
    hash.update(p.data(), p.size());
    payload_bytes += p.size();
  }
  nlohmann::json h = {
      {"version", kFormatVersion},
      {"model", meta.model},
      {"dim", meta.dim},
      {"count", meta.fingerprint.count},
      {"max_id", meta.fingerprint.max_id},
      {"id_sum", meta.fingerprint.id_sum},
      {"generation", meta.fingerprint.generation},
      {"vectors", n},
      {"chunk_vectors", kChunkVectors},
      {"holes", m.holes},
      {"ivf_lists", ivf_lists},
      {"ivf_tail", m.ivf ? m.ivf->tail_begin : 0},
      {"payload_bytes", payload_bytes},
      {"payload_hash", hash.hex()},
  };
  std::string header = h.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string head(kMagic, sizeof(kMagic));
  uint32_t hlen = static_cast<uint32_t>(header.size());
  for (int i = 0; i < 4; ++i) head.push_back(static_cast<char>((hlen >> (8 * i)) & 0xff));
  head += header;
  parts.insert(parts.begin(), head);
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (!parent.empty()) SA_RETURN_IF_ERROR(make_dirs(parent));
  return write_file_atomic(path, parts).with_context("saving index '" + path + "'");
}

Status VectorIndex::save(const std::string& path, Store& store, const std::string& kind,
                         const std::string& model) const {
  SA_ASSIGN_OR_RETURN(VectorFingerprint fp, store.vector_fingerprint(kind, model));
  return save(path, IndexMeta{model, dim_, fp});
}

namespace {

// Reads exactly n bytes (false on a short file or an error).
bool read_exact(int fd, void* dst, size_t n) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t r = ::read(fd, p, std::min<size_t>(n, size_t{1} << 28));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::pair<std::unique_ptr<VectorIndex>, IndexMeta>> VectorIndex::load(const std::string& path) {
  // read(), not mmap: the file's pages stay in the page cache instead of being
  // counted a second time in the process's resident memory.
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no index file '" + path + "'");
    return Status::IOError("cannot open index file '" + path + "': " + std::strerror(errno));
  }
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption("index file '" + path + "': " + why);
  };
  const off_t file_size = ::lseek(f.fd, 0, SEEK_END);
  if (file_size < 0 || ::lseek(f.fd, 0, SEEK_SET) != 0) return corrupt("cannot seek");
  const size_t size = static_cast<size_t>(file_size);
  uint8_t pre[sizeof(kMagic) + 4];
  if (size < sizeof pre || !read_exact(f.fd, pre, sizeof pre)) return corrupt("too short");
  if (std::memcmp(pre, kOldMagic, sizeof(kMagic)) == 0)
    return corrupt("older format (FAISS flat index, before fp16 storage)");
  if (std::memcmp(pre, kMagic, sizeof(kMagic)) != 0) return corrupt("bad magic (not a smart-album index)");
  uint32_t hlen = 0;
  for (int i = 0; i < 4; ++i) hlen |= static_cast<uint32_t>(pre[sizeof(kMagic) + i]) << (8 * i);
  const size_t hstart = sizeof pre;
  if (hlen == 0 || hlen > kMaxHeaderBytes || hlen > size - hstart) return corrupt("bad header length");
  std::string hbytes(hlen, '\0');
  if (!read_exact(f.fd, hbytes.data(), hlen)) return corrupt("truncated header");
  nlohmann::json h = nlohmann::json::parse(hbytes, nullptr, false);
  if (!h.is_object()) return corrupt("header is not JSON");

  IndexMeta meta;
  size_t payload_bytes = 0;
  int64_t n = 0, chunk_vectors = 0, holes = 0, ivf_lists = 0, ivf_tail = 0;
  std::string want_hash;
  try {
    if (h.at("version").get<int>() != kFormatVersion) return corrupt("unsupported version");
    meta.model = h.at("model").get<std::string>();
    meta.dim = h.at("dim").get<int>();
    meta.fingerprint.count = h.at("count").get<int64_t>();
    meta.fingerprint.max_id = h.at("max_id").get<int64_t>();
    meta.fingerprint.id_sum = h.at("id_sum").get<int64_t>();
    meta.fingerprint.generation = h.at("generation").get<int64_t>();
    n = h.at("vectors").get<int64_t>();
    chunk_vectors = h.at("chunk_vectors").get<int64_t>();
    holes = h.value("holes", int64_t{0});
    ivf_lists = h.value("ivf_lists", int64_t{0});
    ivf_tail = h.value("ivf_tail", int64_t{0});
    payload_bytes = h.at("payload_bytes").get<size_t>();
    want_hash = h.at("payload_hash").get<std::string>();
  } catch (const std::exception& e) {
    return corrupt(std::string("bad header: ") + e.what());
  }
  if (meta.dim <= 0 || meta.dim > (1 << 16)) return corrupt("bad dim");
  if (chunk_vectors != kChunkVectors) return corrupt("other chunk size");
  const size_t have = size - hstart - hlen;
  if (have != payload_bytes)
    return corrupt("payload is " + std::to_string(have) + " bytes, header says " +
                   std::to_string(payload_bytes) + " (truncated?)");
  // The sizes below come from the header: check them against the file before
  // allocating anything.
  if (n < 0 || static_cast<uint64_t>(n) > have / sizeof(int64_t)) return corrupt("bad vector count");
  size_t expect = static_cast<size_t>(n) * sizeof(int64_t);
  for (int64_t base = 0; base < n; base += kChunkVectors)
    expect += chunk_used_halves(std::min(kChunkVectors, n - base), meta.dim) * sizeof(uint16_t);
  if (ivf_lists < 0 || ivf_lists > n || holes < 0 || holes > n || ivf_tail < 0 || ivf_tail > n ||
      (ivf_lists == 0 && holes != 0))
    return corrupt("bad IVF header");
  expect += static_cast<size_t>(ivf_lists) * (sizeof(index_internal::IvfList) + sizeof(float) * meta.dim);
  if (expect != have) return corrupt("payload size does not match " + std::to_string(n) + " vectors");

  auto index = std::make_unique<VectorIndex>(meta.dim);
  Impl& m = *index->impl_;
  PayloadHash hash;
  m.ids.resize(static_cast<size_t>(n));
  if (!read_exact(f.fd, m.ids.data(), m.ids.size() * sizeof(int64_t))) return corrupt("truncated ids");
  hash.update(m.ids.data(), m.ids.size() * sizeof(int64_t));
  for (int64_t base = 0; base < n; base += kChunkVectors) {
    const size_t halves = chunk_used_halves(std::min(kChunkVectors, n - base), meta.dim);
    Chunk c;
    c.resize(halves);
    if (!read_exact(f.fd, c.data(), halves * sizeof(uint16_t))) return corrupt("truncated vectors");
    hash.update(c.data(), halves * sizeof(uint16_t));
    m.chunks.push_back(std::move(c));
  }
  if (ivf_lists > 0) {
    auto ivf = std::make_unique<index_internal::Ivf>();
    ivf->lists.resize(static_cast<size_t>(ivf_lists));
    ivf->centroids.resize(static_cast<size_t>(ivf_lists) * meta.dim);
    if (!read_exact(f.fd, ivf->lists.data(), ivf->lists.size() * sizeof(index_internal::IvfList)) ||
        !read_exact(f.fd, ivf->centroids.data(), ivf->centroids.size() * sizeof(float)))
      return corrupt("truncated IVF lists");
    hash.update(ivf->lists.data(), ivf->lists.size() * sizeof(index_internal::IvfList));
    hash.update(ivf->centroids.data(), ivf->centroids.size() * sizeof(float));
    ivf->tail_begin = ivf_tail;
    int64_t prev_end = 0;
    for (const auto& li : ivf->lists) {
      if (li.begin < prev_end || li.begin % kPanel != 0 || li.end < li.begin || li.end > ivf_tail)
        return corrupt("bad IVF list");
      prev_end = li.end;
    }
    if (ivf_tail % kPanel != 0) return corrupt("bad IVF tail");
    m.ivf = std::move(ivf);
  }
  if (hash.hex() != want_hash) return corrupt("payload checksum mismatch");
  m.pos.reserve(static_cast<size_t>(n - holes));
  for (int64_t i = 0; i < n; ++i) {
    if (m.ids[static_cast<size_t>(i)] == kHole) {
      ++m.holes;
      continue;
    }
    if (!m.pos.emplace(m.ids[static_cast<size_t>(i)], i).second) return corrupt("duplicate id");
  }
  if (m.holes != holes) return corrupt("hole count does not match the header");
  if (m.ivf) index_internal::list_stats(m, meta.dim);  // derived, not saved
  return std::make_pair(std::move(index), std::move(meta));
}

Result<std::unique_ptr<VectorIndex>> VectorIndex::load_or_rebuild(
    const std::string& path, Store& store, const std::string& kind, const std::string& model, int dim,
    IndexLoadOutcome* outcome, const IndexLoadControl* control) {
  if (dim <= 0) return Status::InvalidArgument("index dim must be positive");
  // Read before rebuilding: if vectors change during the rebuild, the saved
  // fingerprint is older than the content and the next start rebuilds again --
  // the safe direction.
  SA_ASSIGN_OR_RETURN(VectorFingerprint fp, store.vector_fingerprint(kind, model));

  IndexLoadOutcome result;
  std::string why;
  if (!file_exists(path)) {
    result = IndexLoadOutcome::kRebuiltMissing;
    why = "no index file";
  } else {
    auto loaded = load(path);
    if (!loaded.ok()) {
      result = IndexLoadOutcome::kRebuiltCorrupt;
      why = loaded.status().to_string();
    } else {
      auto& [index, meta] = *loaded;
      if (meta.model != model || meta.dim != dim) {
        result = IndexLoadOutcome::kRebuiltStale;
        why = "file is for model '" + meta.model + "' dim " + std::to_string(meta.dim);
      } else if (meta.fingerprint != fp || index->size() != fp.count) {
        result = IndexLoadOutcome::kRebuiltStale;
        why = "database changed since the index was saved (file: " +
              std::to_string(meta.fingerprint.count) + " vectors, generation " +
              std::to_string(meta.fingerprint.generation) + "; database: " + std::to_string(fp.count) +
              " vectors, generation " + std::to_string(fp.generation) + ")";
      } else {
        spdlog::info("index {}: loaded {} '{}' vectors from {}", kind, index->size(), model, path);
        if (outcome) *outcome = IndexLoadOutcome::kLoaded;
        return std::move(index);
      }
    }
  }

  spdlog::warn("index {}: rebuilding from the database ({}): {}", kind, index_load_outcome_name(result), why);
  auto index = std::make_unique<VectorIndex>(dim);
  {
    std::unique_lock lock(index->mu_);
    index->reserve_locked(fp.count);
  }
  if (control && control->total) *control->total = fp.count;
  int64_t skipped = 0, next_log = fp.count / 10;
  // Batches by photo id, the store's lock taken per batch: requests served
  // meanwhile wait for one batch at most, not for the whole walk.
  Status s;
  std::vector<int64_t> ids;
  std::vector<float> data;
  int64_t after = 0;
  while (true) {
    if (control && control->cancel && control->cancel->load()) {
      s = Status::Unavailable("index rebuild cancelled");
      break;
    }
    ids.clear();
    data.clear();
    auto got = store.read_vectors(kind, model, dim, after, 4096, &ids, &data);
    if (!got.ok()) {
      s = got.status();
      break;
    }
    if (ids.empty()) break;
    after = ids.back();
    std::unique_lock lock(index->mu_);
    if (!index->add_locked(ids, data).ok()) {
      // A zero vector in one row must not cost the whole index: add row by row.
      for (size_t i = 0; i < ids.size(); ++i) {
        auto row = std::span<const float>(data).subspan(i * static_cast<size_t>(dim), static_cast<size_t>(dim));
        if (!index->add_locked(std::span<const int64_t>(ids).subspan(i, 1), row).ok()) ++skipped;
      }
    }
    const int64_t done = static_cast<int64_t>(index->impl_->ids.size());
    lock.unlock();
    if (control && control->done) *control->done = done;
    if (fp.count >= 100000 && done >= next_log) {
      spdlog::info("index {}: rebuilding, {} of {} vectors", kind, done, fp.count);
      next_log += fp.count / 10;
    }
  }
  SA_RETURN_IF_ERROR(s.with_context("rebuilding index " + kind));
  if (skipped > 0) spdlog::warn("index {}: skipped {} unusable vector(s)", kind, skipped);
  spdlog::info("index {}: rebuilt with {} '{}' vectors", kind, index->size(), model);

  Status saved = index->save(path, IndexMeta{model, dim, fp});
  if (!saved.ok()) spdlog::warn("index {}: could not save: {}", kind, saved.to_string());
  if (outcome) *outcome = result;
  return index;
}

}  // namespace sa
