// The IVF layout of VectorIndex (issue 16): training, assignment, the move into
// list order, and the search that skips lists by their cap bound.
//
// The search probes lists nearest centroid first and stops at whichever comes
// first: the cap bound proving that no remaining list can reach the candidate
// window (exact), or the probe budget (a share of the library's qualifying
// vectors seen: approximate, recall measured in ivf_test and bench_index;
// docs/scaling.md). Without a budget it is the exact search of before.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <queue>
#include <random>

#include "index/index_impl.h"
#include "model/ops.h"

namespace sa {

using index_internal::Chunk;
using index_internal::chunk_used_bytes;
using index_internal::Ivf;
using index_internal::IvfList;
using index_internal::kHole;
using index_internal::kPanel;

namespace {

int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

void normalise(float* v, int dim) {
  double ss = 0;
  for (int j = 0; j < dim; ++j) ss += static_cast<double>(v[j]) * v[j];
  if (ss <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(ss));
  for (int j = 0; j < dim; ++j) v[j] *= inv;
}

// Index of the best of n scores.
int argmax(const float* y, int n) {
  return static_cast<int>(std::max_element(y, y + n) - y);
}

// Assigns `rows` (m x dim, m <= 32: the few-row kernel, no BLAS pool woken) to
// their nearest centroid.
void nearest(const float* rows, int m, const std::vector<float>& centroids, int lists, int dim,
             std::vector<float>& scratch, int32_t* out) {
  scratch.resize(static_cast<size_t>(m) * lists);
  matmul_xwt(rows, m, centroids.data(), lists, dim, scratch.data());
  for (int r = 0; r < m; ++r) out[r] = argmax(scratch.data() + static_cast<size_t>(r) * lists, lists);
}

constexpr int kRowBatch = 32;

}  // namespace

void VectorIndex::Impl::decode(int64_t p, int dim, float* out) const {
  const int8_t* col = column(p, dim);
  const float scale = scales[static_cast<size_t>(p)];
  for (int j = 0; j < dim; ++j) out[j] = scale * static_cast<float>(col[static_cast<size_t>(j) * kPanel]);
}

void VectorIndex::Impl::score_range(const float* q, int dim, int64_t begin, int64_t end, float* y) const {
  int64_t p = begin;
  while (p < end) {
    const int64_t ci = p / kChunkVectors, l = p % kChunkVectors;
    const int64_t cnt = std::min(end - p, kChunkVectors - l);
    const int8_t* panel = chunks[static_cast<size_t>(ci)].data() + static_cast<size_t>(l / kPanel) * kPanel * dim;
    score_i8_panels(q, panel, scales.data() + p, cnt, dim, y + (p - begin));
    p += cnt;
  }
}

void VectorIndex::Impl::score_ranges(const float* q, int dim, const std::vector<std::pair<int64_t, int64_t>>& ranges,
                                     float* y) const {
  std::vector<I8Segment> segs;
  for (const auto& [begin, end] : ranges) {
    for (int64_t p = begin; p < end;) {
      const int64_t ci = p / kChunkVectors, l = p % kChunkVectors;
      const int64_t cnt = std::min(end - p, kChunkVectors - l);
      segs.push_back({chunks[static_cast<size_t>(ci)].data() + static_cast<size_t>(l / kPanel) * kPanel * dim,
                      scales.data() + p, cnt, y});
      y += cnt;
      p += cnt;
    }
  }
  score_i8_segments(q, segs.data(), static_cast<int>(segs.size()), dim);
}

namespace index_internal {

size_t search_ivf(const VectorIndex::Impl& m, int dim, const float* q, int k, const IdFilter& filter,
                  float window, const ProbeOptions& probe, std::vector<Cand>* cands, SearchStats* stats) {
  const Ivf& ivf = *m.ivf;
  const int L = static_cast<int>(ivf.lists.size());
  // Each list's bound: the largest q.v over its cap. With phi the angle from q
  // to the centroid and theta the cap's half-angle, the closest direction in
  // the cap is at max(0, phi - theta) from q; |v| <= norm_max scales it. The
  // slack covers the fp32 sums of the kernel and of acos/cos here.
  std::vector<float> cq(static_cast<size_t>(std::max(L, 1)));
  if (L > 0) matmul_xwt(q, 1, ivf.centroids.data(), L, dim, cq.data());
  struct Probe {
    float centroid;  // q . c: the probe order
    float bound;     // no member scores above it
    int list;
  };
  std::vector<Probe> order;
  order.reserve(static_cast<size_t>(L));
  for (int l = 0; l < L; ++l) {
    const IvfList& li = ivf.lists[static_cast<size_t>(l)];
    if (li.end <= li.begin) continue;
    const double phi = std::acos(std::clamp(static_cast<double>(cq[static_cast<size_t>(l)]), -1.0, 1.0));
    const double theta = std::acos(std::clamp(static_cast<double>(li.cos_min), -1.0, 1.0));
    const double bound = li.norm_max * std::cos(std::max(0.0, phi - theta)) + 1e-4;
    order.push_back({cq[static_cast<size_t>(l)], static_cast<float>(bound), l});
  }
  // Centroid order (nearest centroid first): where the approximate search
  // finds the query's neighbours soonest. suffix[i]: the best bound of the
  // lists from order[i] on, so the exact stop is one comparison.
  std::sort(order.begin(), order.end(), [](const Probe& a, const Probe& b) {
    return a.centroid > b.centroid || (a.centroid == b.centroid && a.list < b.list);
  });
  std::vector<float> suffix(order.size() + 1, -std::numeric_limits<float>::infinity());
  for (size_t i = order.size(); i-- > 0;) suffix[i] = std::max(suffix[i + 1], order[i].bound);
  // The probe budget counts qualifying vectors seen (not positions), so a
  // filter that admits a share s of the library reads ~1/s as many lists and
  // sees as many candidates as the unfiltered search: its recall does not
  // drop, and a filter admitting fewer than the budget scans everything.
  const int64_t live = m.live();
  const int64_t budget =
      probe.fraction > 0 && probe.fraction < 1
          ? std::max<int64_t>(k, static_cast<int64_t>(std::ceil(probe.fraction * static_cast<double>(live))))
          : std::numeric_limits<int64_t>::max();
  const bool model = probe.expected_misses > 0 && ivf.stats.size() == ivf.lists.size();

  // Min-heap of the best k qualifying int8 scores seen so far; its top minus
  // the window is a floor that only rises.
  std::priority_queue<float, std::vector<float>, std::greater<float>> heap;
  const size_t kk = static_cast<size_t>(k);
  float floor = -std::numeric_limits<float>::infinity();
  std::vector<float> y;
  int64_t scanned = 0, seen = 0;
  // The hard budget counts every qualifying vector; the expected-miss stop
  // needs only the filter's share, estimated on every 8th position (the
  // filter is a lookup per call: at 1M, calling it on every vector would
  // cost more than the scan saves).
  const bool counting = budget != std::numeric_limits<int64_t>::max();
  const bool sampling = model && filter && !counting;
  int64_t sampled = 0, sampled_ok = 0;
  int lists_scanned = 0;
  // The scores ys of positions [begin, end) into the candidates.
  auto consume = [&](int64_t begin, int64_t end, const float* ys) {
    scanned += end - begin;
    for (int64_t p = begin; p < end; ++p) {
      const int64_t id = m.ids[static_cast<size_t>(p)];
      if (id == kHole) continue;
      const float s = ys[p - begin];
      int ok = -1;  // unknown
      if (sampling && (p & 7) == 0) {
        ok = filter(id) ? 1 : 0;
        ++sampled;
        sampled_ok += ok;
      }
      if (counting) {  // the budget needs every qualifying vector counted
        if (filter && !filter(id)) continue;
        ++seen;
        if (s < floor) continue;
      } else if (s < floor || (filter && (ok >= 0 ? ok == 0 : !filter(id)))) {
        continue;
      }
      cands->push_back({id, s});
      if (heap.size() < kk) {
        heap.push(s);
      } else if (s > heap.top()) {
        heap.pop();
        heap.push(s);
      } else {
        continue;
      }
      if (heap.size() == kk) floor = heap.top() - window;
    }
  };
  auto scan = [&](int64_t begin, int64_t end) {
    if (end <= begin) return;
    y.resize(static_cast<size_t>(end - begin));
    m.score_range(q, dim, begin, end, y.data());
    consume(begin, end, y.data());
  };
  scan(ivf.tail_begin, static_cast<int64_t>(m.ids.size()));
  std::vector<std::pair<int64_t, int64_t>> ranges;
  // Lists in centroid order, a batch at a time: the batch's lists that can
  // still reach the window are scanned in position order, adjacent ones in one
  // kernel call (one call per list cost a hand-over to the kernel's helper
  // thread each: slower than the flat scan when most lists are read).
  constexpr size_t kBatch = 16;
  constexpr int64_t kMergeGap = 1024;  // positions (1 MiB of 512-d vectors)
  std::vector<int> picked;
  std::vector<char> done(static_cast<size_t>(L), 0);
  size_t next = 0;
  bool budget_stop = false;
  // The expected number of qualifying vectors above `floor` in the lists
  // from order[from] on (IvfListStats), or `limit` as soon as the sum passes
  // it: while it is large (no structure, or neighbours left) this costs a few
  // lists, and the full sum is taken only when it is about to stop.
  auto expected_above = [&](size_t from, double limit) {
    const double share = !filter ? 1.0
                         : counting ? (scanned > 0 ? static_cast<double>(seen) / static_cast<double>(scanned) : 1.0)
                                    : static_cast<double>(sampled_ok + 1) / static_cast<double>(sampled + 1);  // never 0
    double sum = 0;
    for (size_t i = from; i < order.size(); ++i) {
      const Probe& pr = order[i];
      if (pr.bound < floor || done[static_cast<size_t>(pr.list)]) continue;  // nothing there / read
      const index_internal::IvfListStats& st = ivf.stats[static_cast<size_t>(pr.list)];
      const double a = pr.centroid;
      const double mean = a * st.mean;
      const double var = a * a * st.var_along + (1 - a * a) * st.var_across;
      if (!(var > 0)) {
        if (mean >= floor) sum += static_cast<double>(st.members) * share;
      } else {
        const double z = (static_cast<double>(floor) - mean) / std::sqrt(var);
        sum += static_cast<double>(st.members) * share * 0.5 * std::erfc(z / std::sqrt(2.0));
      }
      if (sum >= limit) return sum;
    }
    return sum;
  };
  while (next < order.size()) {
    if (heap.size() == kk) {
      if (suffix[next] < floor) break;  // exact: no later list can reach the window
      if (seen >= budget) {             // approximate: the probe budget is spent
        budget_stop = true;
        break;
      }
      if (model && expected_above(next, probe.expected_misses) < probe.expected_misses) {
        budget_stop = true;  // approximate: nothing is expected above the window any more
        break;
      }
    }
    // Until k qualifying vectors are seen there is no floor: one list at a
    // time; with a budget, batches no larger than what is left of it.
    // Batches grow with the lists read (a long probe -- data without
    // structure -- reads ranges as long as the flat scan's).
    size_t batch = heap.size() == kk ? std::max<size_t>(kBatch, static_cast<size_t>(lists_scanned) / 2) : 1;
    int64_t planned = 0;
    // Share of the scanned positions that qualified so far (the filter's
    // selectivity), to tell how much of the budget a list will use.
    const double share = scanned > 0 ? static_cast<double>(seen) / static_cast<double>(scanned) : 1.0;
    picked.clear();
    size_t i = next;
    for (; i < order.size() && picked.size() < batch; ++i) {
      const int l = order[i].list;
      if (done[static_cast<size_t>(l)]) continue;  // read with a neighbour's range
      const IvfList& li = ivf.lists[static_cast<size_t>(l)];
      if (heap.size() == kk && order[i].bound < floor) continue;  // provably outside the window
      if (!picked.empty() && counting &&
          static_cast<double>(seen) + static_cast<double>(planned) * share >= static_cast<double>(budget))
        break;
      picked.push_back(l);
      done[static_cast<size_t>(l)] = 1;
      planned += li.end - li.begin;
      ++lists_scanned;
    }
    next = i;
    // The lists lie in index order (relayout_locked), so sorting by index
    // sorts by position. Lists a short gap apart are read as one range, the
    // lists in the gap with them (more candidates never hurt, and one kernel
    // call per list is slow when many are read).
    std::sort(picked.begin(), picked.end());
    ranges.clear();
    size_t r = 0;
    while (r < picked.size()) {
      const IvfList& first = ivf.lists[static_cast<size_t>(picked[r])];
      int64_t b = first.begin, e = first.end;
      while (r + 1 < picked.size()) {
        const int from = picked[r] + 1, to = picked[r + 1];
        const int64_t gap = ivf.lists[static_cast<size_t>(to)].begin - round_up(e, kPanel);
        bool free = gap <= kMergeGap;
        for (int g = from; free && g < to; ++g) free = !done[static_cast<size_t>(g)];
        if (!free) break;
        for (int g = from; g < to; ++g) {
          done[static_cast<size_t>(g)] = 1;
          ++lists_scanned;
        }
        e = ivf.lists[static_cast<size_t>(to)].end;
        ++r;
      }
      ranges.emplace_back(b, e);
      ++r;
    }
    // All of the batch's ranges in one kernel call: a list is ~500 vectors,
    // too few to split over two threads on its own.
    size_t total = 0;
    for (const auto& [b, e] : ranges) total += static_cast<size_t>(e - b);
    y.resize(total);
    m.score_ranges(q, dim, ranges, y.data());
    size_t at = 0;
    for (const auto& [b, e] : ranges) {
      consume(b, e, y.data() + at);
      at += static_cast<size_t>(e - b);
    }
  }
  if (stats) {
    stats->scanned = scanned;
    stats->lists = L;
    stats->lists_scanned = lists_scanned;
    stats->budget_stop = budget_stop;
  }
  // Drop what fell below the final floor.
  cands->erase(std::remove_if(cands->begin(), cands->end(), [&](const Cand& c) { return c.score < floor; }),
               cands->end());
  return std::min(kk, heap.size());
}

void list_stats(VectorIndex::Impl& m, int dim) {
  Ivf& ivf = *m.ivf;
  ivf.stats.assign(ivf.lists.size(), {});
  std::vector<float> y;
  for (size_t l = 0; l < ivf.lists.size(); ++l) {
    const IvfList& li = ivf.lists[l];
    if (li.end <= li.begin) continue;
    // Every member against its own centroid: one kernel call per list.
    y.resize(static_cast<size_t>(li.end - li.begin));
    m.score_range(ivf.centroids.data() + l * static_cast<size_t>(dim), dim, li.begin, li.end, y.data());
    double s1 = 0, s2 = 0;
    int64_t n = 0;
    for (int64_t p = li.begin; p < li.end; ++p) {
      if (m.ids[static_cast<size_t>(p)] == kHole) continue;
      const double d = y[static_cast<size_t>(p - li.begin)];
      s1 += d;
      s2 += d * d;
      ++n;
    }
    if (n == 0) continue;
    index_internal::IvfListStats& st = ivf.stats[l];
    st.members = n;
    st.mean = static_cast<float>(s1 / n);
    st.var_along = static_cast<float>(std::max(0.0, s2 / n - (s1 / n) * (s1 / n)));
    // Stored vectors are unit (normalised on add): |r|^2 = 1 - (v.c)^2.
    st.var_across = static_cast<float>(std::max(0.0, 1 - s2 / n) / std::max(1, dim - 1));
  }
}

}  // namespace index_internal

Status VectorIndex::build_ivf(const IvfOptions& opt, const std::atomic<bool>* cancel) {
  auto cancelled = [&] { return cancel && cancel->load(); };
  IvfPlan plan;
  std::vector<float> sample;
  int64_t n_sample = 0;
  std::mt19937 rng(opt.seed);
  {
    std::shared_lock lock(mu_);
    if (standby_) return Status::Unavailable("index still loading");
    const Impl& m = *impl_;
    const int64_t n = m.live();
    if (n == 0) {
      lock.unlock();
      drop_ivf();
      return Status::OK();
    }
    // Default: 2 sqrt(n) lists (~500 vectors each at 1M). More lists give
    // tighter caps (more skipped) but cost n * lists * dim to assign.
    int lists = opt.lists > 0 ? opt.lists
                              : static_cast<int>(std::clamp<double>(2 * std::sqrt(static_cast<double>(n)), 16, 8192));
    plan.lists = static_cast<int>(std::min<int64_t>(lists, n));
    // A sample spread over the positions (holes skipped).
    n_sample = std::min<int64_t>(n, static_cast<int64_t>(plan.lists) * std::max(1, opt.train_per_list));
    const int64_t total = static_cast<int64_t>(m.ids.size());
    sample.resize(static_cast<size_t>(n_sample) * dim_);
    int64_t got = 0, p = 0;
    for (int64_t i = 0; i < n_sample && p < total; ++i) {
      p = std::max(p, i * total / n_sample);
      while (p < total && m.ids[static_cast<size_t>(p)] == kHole) ++p;
      if (p >= total) break;
      m.decode(p++, dim_, sample.data() + static_cast<size_t>(got) * dim_);
      normalise(sample.data() + static_cast<size_t>(got) * dim_, dim_);
      ++got;
    }
    n_sample = got;
    plan.lists = static_cast<int>(std::min<int64_t>(plan.lists, n_sample));
  }
  if (plan.lists <= 0) return Status::OK();
  const int L = plan.lists;
  // Spherical k-means on the sample, seeded with distinct sample rows.
  std::vector<int64_t> perm(static_cast<size_t>(n_sample));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  plan.centroids.resize(static_cast<size_t>(L) * dim_);
  for (int l = 0; l < L; ++l)
    std::memcpy(plan.centroids.data() + static_cast<size_t>(l) * dim_,
                sample.data() + static_cast<size_t>(perm[static_cast<size_t>(l)]) * dim_, sizeof(float) * dim_);
  std::vector<int32_t> label(static_cast<size_t>(n_sample));
  std::vector<float> scratch, sums;
  std::vector<int64_t> counts;
  for (int it = 0; it < opt.train_iterations; ++it) {
    if (cancelled()) return Status::Unavailable("IVF build cancelled");
    for (int64_t r = 0; r < n_sample; r += kRowBatch) {
      const int mrows = static_cast<int>(std::min<int64_t>(kRowBatch, n_sample - r));
      nearest(sample.data() + static_cast<size_t>(r) * dim_, mrows, plan.centroids, L, dim_, scratch,
              label.data() + r);
    }
    sums.assign(static_cast<size_t>(L) * dim_, 0.0f);
    counts.assign(static_cast<size_t>(L), 0);
    for (int64_t r = 0; r < n_sample; ++r) {
      float* s = sums.data() + static_cast<size_t>(label[static_cast<size_t>(r)]) * dim_;
      const float* x = sample.data() + static_cast<size_t>(r) * dim_;
      for (int j = 0; j < dim_; ++j) s[j] += x[j];
      ++counts[static_cast<size_t>(label[static_cast<size_t>(r)])];
    }
    std::uniform_int_distribution<int64_t> pick(0, n_sample - 1);
    for (int l = 0; l < L; ++l) {
      float* c = plan.centroids.data() + static_cast<size_t>(l) * dim_;
      if (counts[static_cast<size_t>(l)] == 0) {  // empty: reseed on a random sample row
        std::memcpy(c, sample.data() + static_cast<size_t>(pick(rng)) * dim_, sizeof(float) * dim_);
      } else {
        std::memcpy(c, sums.data() + static_cast<size_t>(l) * dim_, sizeof(float) * dim_);
        normalise(c, dim_);
      }
    }
  }
  sample.clear();
  sample.shrink_to_fit();

  // Every vector to its nearest centroid, a chunk at a time under the shared
  // lock (writers wait for one chunk at most).
  std::vector<float> rows(static_cast<size_t>(kRowBatch) * dim_);
  std::vector<int64_t> row_ids;
  std::vector<int32_t> row_lists(kRowBatch);
  for (size_t c = 0;; ++c) {
    if (cancelled()) return Status::Unavailable("IVF build cancelled");
    std::shared_lock lock(mu_);
    if (standby_) return Status::Unavailable("index still loading");
    const Impl& m = *impl_;
    const int64_t total = static_cast<int64_t>(m.ids.size());
    const int64_t begin = static_cast<int64_t>(c) * kChunkVectors;
    if (begin >= total) break;
    const int64_t end = std::min(total, begin + kChunkVectors);
    for (int64_t p = begin; p < end;) {
      row_ids.clear();
      for (; p < end && static_cast<int>(row_ids.size()) < kRowBatch; ++p) {
        const int64_t id = m.ids[static_cast<size_t>(p)];
        if (id == kHole) continue;
        m.decode(p, dim_, rows.data() + row_ids.size() * dim_);
        row_ids.push_back(id);
      }
      if (row_ids.empty()) continue;
      nearest(rows.data(), static_cast<int>(row_ids.size()), plan.centroids, L, dim_, scratch, row_lists.data());
      for (size_t r = 0; r < row_ids.size(); ++r) plan.assign.emplace_back(row_ids[r], row_lists[r]);
    }
  }
  std::sort(plan.assign.begin(), plan.assign.end());
  if (cancelled()) return Status::Unavailable("IVF build cancelled");
  std::unique_lock lock(mu_);
  if (standby_) return Status::Unavailable("index still loading");
  return relayout_locked(&plan, opt.spill_dir);
}

void VectorIndex::drop_ivf() {
  std::unique_lock lock(mu_);
  if (standby_ || (!impl_->ivf && impl_->holes == 0)) return;
  Status st = relayout_locked(nullptr);  // in memory: cannot fail
  if (!st.ok()) spdlog::error("index: drop of the IVF layout: {}", st.to_string());
}

IvfInfo VectorIndex::ivf_info() const {
  std::shared_lock lock(mu_);
  IvfInfo info;
  const Impl& m = *impl_;
  info.holes = m.holes;
  if (m.ivf) {
    info.active = true;
    info.lists = static_cast<int>(m.ivf->lists.size());
    for (int64_t p = m.ivf->tail_begin; p < static_cast<int64_t>(m.ids.size()); ++p)
      if (m.ids[static_cast<size_t>(p)] != kHole) ++info.tail;
  }
  return info;
}

namespace {

bool write_all(int fd, const void* src, size_t n) {
  const char* p = static_cast<const char*>(src);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_all(int fd, void* dst, size_t n) {
  char* p = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// An unlinked scratch file in `dir` (-1 if none can be made).
int scratch_file(const std::string& dir) {
  std::string path = dir + "/.relayout-XXXXXX";
  const int fd = ::mkstemp(path.data());
  if (fd >= 0) ::unlink(path.c_str());
  return fd;
}

}  // namespace

Status VectorIndex::relayout_locked(const IvfPlan* plan, const std::string& spill_dir) {
  Impl& old = *impl_;
  const int L = plan ? plan->lists : 0;
  std::vector<std::vector<int64_t>> members(static_cast<size_t>(L));
  std::vector<int64_t> tail;
  for (int64_t p = 0; p < static_cast<int64_t>(old.ids.size()); ++p) {
    const int64_t id = old.ids[static_cast<size_t>(p)];
    if (id == kHole) continue;
    if (plan) {
      auto it = std::lower_bound(plan->assign.begin(), plan->assign.end(), std::make_pair(id, int32_t{-1}));
      if (it != plan->assign.end() && it->first == id) {
        members[static_cast<size_t>(it->second)].push_back(p);
        continue;
      }
    }
    tail.push_back(p);
  }
  auto nm = std::make_unique<Impl>();
  std::unique_ptr<Ivf> ivf;
  int64_t cur = 0;
  if (plan) {
    ivf = std::make_unique<Ivf>();
    ivf->centroids = plan->centroids;
    ivf->lists.resize(static_cast<size_t>(L));
    for (int l = 0; l < L; ++l) {
      IvfList& li = ivf->lists[static_cast<size_t>(l)];
      li.begin = cur;
      li.end = cur + static_cast<int64_t>(members[static_cast<size_t>(l)].size());
      cur = round_up(li.end, kPanel);
    }
    ivf->tail_begin = cur;
  }
  const int64_t total = cur + static_cast<int64_t>(tail.size());
  // Where each new position's vector comes from (-1: a hole).
  std::vector<int64_t> src(static_cast<size_t>(total), -1);
  nm->ids.assign(static_cast<size_t>(total), kHole);
  nm->pos.reserve(static_cast<size_t>(old.live()));
  auto place = [&](int64_t from, int64_t to) {
    src[static_cast<size_t>(to)] = from;
    const int64_t id = old.ids[static_cast<size_t>(from)];
    nm->ids[static_cast<size_t>(to)] = id;
    nm->pos.emplace(id, to);
  };
  std::vector<float> v(static_cast<size_t>(dim_));
  for (int l = 0; l < L; ++l) {
    IvfList& li = ivf->lists[static_cast<size_t>(l)];
    const float* c = ivf->centroids.data() + static_cast<size_t>(l) * dim_;
    double cos_min = 1, norm_max = 0;
    int64_t to = li.begin;
    for (int64_t from : members[static_cast<size_t>(l)]) {
      place(from, to++);
      // The cap is measured on the stored int8 values, so it holds for the
      // scores the kernel computes from them.
      old.decode(from, dim_, v.data());
      double dot = 0, ss = 0;
      for (int j = 0; j < dim_; ++j) {
        dot += static_cast<double>(v[static_cast<size_t>(j)]) * c[j];
        ss += static_cast<double>(v[static_cast<size_t>(j)]) * v[static_cast<size_t>(j)];
      }
      const double norm = std::sqrt(ss);
      if (norm > 0) cos_min = std::min(cos_min, dot / norm);
      norm_max = std::max(norm_max, norm);
    }
    // Rounded outwards: the bound may only be loose, never tight.
    li.cos_min = std::nextafter(static_cast<float>(cos_min), -2.0f);
    li.norm_max = std::nextafter(static_cast<float>(norm_max), 2.0f);
  }
  {
    int64_t to = cur;
    for (int64_t from : tail) place(from, to++);
  }
  // The new chunks, each filled from the old columns.
  nm->scales.assign(static_cast<size_t>(total), 0.0f);
  for (int64_t to = 0; to < total; ++to)
    if (src[static_cast<size_t>(to)] >= 0) nm->scales[static_cast<size_t>(to)] = old.scales[static_cast<size_t>(src[static_cast<size_t>(to)])];
  nm->quant_error = old.quant_error;
  auto fill = [&](int64_t base, Chunk& c) {
    const int64_t cnt = std::min(kChunkVectors, total - base);
    c.assign(chunk_used_bytes(cnt, dim_), 0);
    for (int64_t l = 0; l < cnt; ++l) {
      const int64_t from = src[static_cast<size_t>(base + l)];
      if (from < 0) continue;
      const int8_t* s = old.column(from, dim_);
      int8_t* d = c.data() + static_cast<size_t>(l / kPanel) * kPanel * dim_ + l % kPanel;
      for (int j = 0; j < dim_; ++j) d[static_cast<size_t>(j) * kPanel] = s[static_cast<size_t>(j) * kPanel];
    }
  };
  // With a scratch directory the new chunks go through a file, so that the
  // old and the new vectors are never in memory together (+512 bytes per 512-d
  // vector otherwise: 0.5 GB at a million): all new chunks are written, then
  // each old chunk is freed as a new one is read back.
  const int fd = spill_dir.empty() ? -1 : scratch_file(spill_dir);
  bool spilled = fd >= 0;
  if (spilled) {
    Chunk c;
    for (int64_t base = 0; spilled && base < total; base += kChunkVectors) {
      fill(base, c);
      spilled = write_all(fd, c.data(), c.size());
    }
    if (!spilled) spdlog::warn("index: IVF layout: scratch file in {} failed, built in memory", spill_dir);
  }
  if (spilled) {
    if (::lseek(fd, 0, SEEK_SET) != 0) {
      ::close(fd);
      return Status::IOError("IVF layout: scratch file seek failed");
    }
    size_t next_old = 0;
    for (int64_t base = 0; base < total; base += kChunkVectors) {
      // Free as much of the old as the new takes.
      for (; next_old < old.chunks.size() && next_old <= static_cast<size_t>(base / kChunkVectors); ++next_old)
        Chunk().swap(old.chunks[next_old]);
      Chunk c;
      c.resize(chunk_used_bytes(std::min(kChunkVectors, total - base), dim_));
      if (!read_all(fd, c.data(), c.size())) {
        // The old vectors are partly gone: an empty index, which the caller
        // refills from the store (VectorSet::sync_from_store).
        ::close(fd);
        impl_ = std::make_unique<Impl>();
        return Status::IOError("IVF layout: scratch file read failed; the index is empty");
      }
      nm->chunks.push_back(std::move(c));
    }
    ::close(fd);
  } else {
    if (fd >= 0) ::close(fd);
    for (int64_t base = 0; base < total; base += kChunkVectors) {
      Chunk c;
      fill(base, c);
      nm->chunks.push_back(std::move(c));
    }
  }
  nm->holes = total - static_cast<int64_t>(nm->pos.size());
  nm->ivf = std::move(ivf);
  if (nm->ivf) index_internal::list_stats(*nm, dim_);
  impl_ = std::move(nm);
  return Status::OK();
}

}  // namespace sa
