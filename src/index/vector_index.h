// VectorIndex: an exact inner-product index over L2-normalised vectors, keyed
// by photo id.
//
// Storage (issue 16): each vector is kept once, as int8 with a scale of its
// own, packed in the 16-vector panel layout of the engine's scan kernel
// (score_i8_panels, model/i8_scan.h), in chunks of kChunkVectors so that
// growing never copies more than one chunk: 516 bytes per 512-d vector
// instead of FAISS's 2 KiB fp32 (a quarter of the bytes to stream per query).
// Before quantising, every vector (and every query) goes through one fixed
// rotation (index_internal::rotate: sign flips and a Walsh-Hadamard
// transform), which leaves scores unchanged but spreads a large component
// over all of them, so the int8 step is small for any vector. Results are
// nevertheless those of an exact fp32 scan:
//
//   with v the rotated unit vector and v' = scale * int8(v) what is stored,
//   |q.v - q.v'| <= ||v - v'|| for a unit query (Cauchy-Schwarz). add()
//   records the largest such ||v - v'|| (quant_error; ~0.009 for 512-d
//   vectors, whatever their distribution); E = quant_error + the slack of the
//   fp32 sums. The search keeps every vector whose int8 score is within 2E of
//   the k-th best int8 score -- a set that provably holds the fp32 top k --
//   and re-ranks those candidates on their fp32 vectors from the exact lookup
//   (the store, the source of truth; set_exact_lookup). Without a lookup (or
//   for more than kMaxRerank candidates: deep pages) the int8 scores are
//   returned (within E).
//
// The index is a cache of the `vectors` table (store.h): it is saved atomically
// with a fingerprint of the rows it was built from and, at start,
// load_or_rebuild() uses the file only if that fingerprint still matches the
// database; otherwise (missing, truncated, corrupt, stale, other model or dim,
// older format) it rebuilds from the table. Losing the file never loses data.
//
// Scores: vectors are L2-normalised on add and queries on search, so a score is
// the cosine similarity in [-1, 1].
//
// Filters: search() takes an optional id predicate applied before the top k is
// chosen, so a filter never costs a qualifying vector its place (no widening).
//
// Large libraries (issue 16): build_ivf() lays the vectors out in lists (a
// coarse IVF: spherical k-means centroids, each list contiguous in the int8
// panels) and records per list the spherical cap around its centroid that
// holds all its members. A search probes the lists nearest centroid first and
// stops when no remaining list's bound max_{v in cap} q.v reaches the k-th
// best (qualifying) int8 score minus 2E -- every vector it skips is provably
// outside the candidate window above, so without a budget the results are
// exactly those of the full scan, on any data and under any filter -- or,
// when set_probe() allows it, earlier: once the unprobed lists are unlikely
// to hold anything above the window (approximate, recall@10 measured,
// docs/scaling.md). search_among() answers filters with known members.
// Writes after the layout go to an always-scanned tail; removed vectors leave
// holes. VectorSet decides when to build (a size threshold) and rebuilds when
// tail + holes grow.
//
// Thread safety: all methods may be called concurrently (std::shared_mutex:
// searches share, add/remove/save exclude; the exact lookup runs outside the
// lock).
//
// File format (docs/storage.md): "SAIDX003" magic, u32 LE header length, a JSON
// header {"version":3,"model","dim","count","max_id","id_sum","generation",
// "chunk_vectors","quant_error","payload_bytes","payload_hash"} (+ "holes",
// "ivf_lists", "ivf_tail" when the IVF layout is in use), then the payload: the
// ids of all positions (int64 LE, -1 for a hole), their scales (f32 LE, 0 for a
// hole), then each chunk's used panels (int8), then for an IVF layout ivf_lists x {begin i64, end i64, cos_min f32,
// norm_max f32} and the centroids (ivf_lists x dim f32). payload_hash is
// a 64-bit multiply-xor hash (hex) over the payload: the file is a cache, and a
// SHA-256 of 1 GB would add seconds to every start.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace sa {

// What a saved index file claims to contain.
struct IndexMeta {
  std::string model;
  int dim = 0;
  VectorFingerprint fingerprint;
};

struct SearchResult {
  int64_t id = 0;
  float score = 0;  // cosine similarity
};

// How load_or_rebuild() got its index (for logs, tests and /api/health).
enum class IndexLoadOutcome {
  kLoaded,          // file valid and matching the database
  kRebuiltMissing,  // no file
  kRebuiltCorrupt,  // unreadable: bad magic/header, checksum, truncated, FAISS error
  kRebuiltStale,    // readable but for another model/dim or a different set of vectors
};
const char* index_load_outcome_name(IndexLoadOutcome o);  // "loaded", "rebuilt_missing", ...

// Fills `out` (dim floats) with the stored fp32 vector of `id`; false if there
// is none (the candidate then keeps its int8 score).
using ExactLookup = std::function<bool(int64_t id, std::span<float> out)>;
// The same for many ids at once (one query to the store instead of one per
// candidate: a search re-ranks hundreds): row i of `out` (ids.size() x dim)
// for ids[i]; (*found)[i] false where there is none.
using ExactBatchLookup =
    std::function<void(std::span<const int64_t> ids, std::span<float> out, std::vector<bool>* found)>;
// True if `id` may be returned by a search.
using IdFilter = std::function<bool(int64_t id)>;

// An exact search done elsewhere while the index itself is not loaded yet
// (set_standby): query already L2-normalised.
using StandbySearch = std::function<Result<std::vector<SearchResult>>(std::span<const float> query, int k,
                                                                      const IdFilter& filter)>;

// The IVF layout (build_ivf).
struct IvfOptions {
  int lists = 0;              // 0: about 2 sqrt(size), at least 16, at most 8192
  int train_iterations = 8;   // spherical k-means rounds on the training sample
  int train_per_list = 32;    // sample size: lists * train_per_list vectors
  uint32_t seed = 1;
  // A directory for a scratch file through which the vectors are moved into
  // list order (never two copies in memory); "": in memory.
  std::string spill_dir;
};
struct IvfInfo {
  bool active = false;
  int lists = 0;
  int64_t tail = 0;   // vectors written since the layout (always scanned)
  int64_t holes = 0;  // empty positions (padding + removed since the layout)
};
// What one search did (benchmarks and tests).
struct SearchStats {
  int64_t scanned = 0;    // positions scored
  int lists = 0;          // lists of the IVF layout (0: flat)
  int lists_scanned = 0;  // of which scanned
  bool budget_stop = false;  // the probe budget ended it (the answer may be approximate)
  bool among = false;        // search_among scored exactly the given ids
};

// When an IVF search may stop early, i.e. answer approximately (issue 16).
// Lists are probed nearest centroid first. Exact (the cap bound) always stops
// it too; these make it stop sooner:
//  - expected_misses > 0: stop once the lists not yet probed are expected to
//    hold fewer than this many qualifying vectors scoring above the current
//    candidate window (a normal model of each list's scores around its
//    centroid, IvfListStats in index_impl.h). On data without structure this
//    keeps probing nearly everything (no list is unlikely to hold a
//    neighbour); on clustered data it stops after the query's clusters.
//  - fraction in (0, 1): a hard budget, stop once fraction * size()
//    qualifying vectors have been seen (bounds the cost; recall drops).
// Both 0: exact.
struct ProbeOptions {
  double expected_misses = 0;
  double fraction = 0;
  bool approximate() const { return expected_misses > 0 || (fraction > 0 && fraction < 1); }
};

// Optional control of a load_or_rebuild() that runs in the background.
struct IndexLoadControl {
  const std::atomic<bool>* cancel = nullptr;  // set: the rebuild stops (Unavailable)
  std::atomic<int64_t>* done = nullptr;       // vectors added so far (progress)
  std::atomic<int64_t>* total = nullptr;      // vectors to add (the database's count)
};

class VectorIndex {
 public:
  // Vectors per storage chunk (a multiple of the kernel's 16-column panels).
  static constexpr int64_t kChunkVectors = 65536;
  // Most candidates re-ranked on fp32 vectors per search.
  static constexpr size_t kMaxRerank = 4096;

  // An empty index for vectors of `dim` (> 0) components.
  explicit VectorIndex(int dim);
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  int dim() const { return dim_; }
  int64_t size() const;
  bool contains(int64_t id) const;
  // Every id in the index, ascending.
  std::vector<int64_t> ids() const;

  // Adds ids.size() vectors, row-major [n x dim] (component j of vector i is
  // vectors[i*dim + j]). An id already present is replaced, never duplicated.
  // InvalidArgument for a size mismatch, a duplicate id within the batch, a
  // zero or non-finite vector (nothing is added then).
  Status add(std::span<const int64_t> ids, std::span<const float> vectors);
  // Removes the given ids (absent ids are ignored); returns how many were removed.
  Result<int64_t> remove(std::span<const int64_t> ids);
  void clear();

  // The k best matches for one query of `dim` components, best first, ties by
  // ascending id (fewer if the index holds fewer, or fewer pass `filter`).
  // InvalidArgument for a wrong size or a zero query; k <= 0 gives an empty
  // result.
  Result<std::vector<SearchResult>> search(std::span<const float> query, int k,
                                           const IdFilter& filter = {}, SearchStats* stats = nullptr) const;

  // Lays the vectors out in IVF lists (header comment): trains on a sample and
  // assigns every vector while searches and writes go on (shared lock, a chunk
  // at a time), then moves them into the list order under the exclusive lock
  // (in memory a copy of the int8 vectors exists meanwhile, +516 bytes per 512-d vector;
  // with opt.spill_dir it does not).
  // Writes made between the assignment and the move go to the tail. Rebuilding
  // an active layout starts over. Unavailable if `cancel` is set meanwhile;
  // Unavailable while a standby is set. With opt.spill_dir the move goes
  // through a scratch file there (no second copy in memory); IOError if
  // reading it back fails, leaving the index empty (refill it from the store).
  Status build_ivf(const IvfOptions& opt = {}, const std::atomic<bool>* cancel = nullptr);
  // How IVF searches may stop early (ProbeOptions). Default: exact. Safe to
  // call concurrently with searches. A filter admitting fewer vectors than a
  // fraction budget is always answered exactly (only qualifying vectors count).
  void set_probe(const ProbeOptions& probe);
  ProbeOptions probe() const;
  // The default of the server (AnnOptions): chosen by measurement so that
  // recall@10 >= 0.98 on random and on clustered vectors (docs/scaling.md).
  static constexpr double kDefaultExpectedMisses = 0.1;
  // True when searches may be approximate: an IVF layout with a budget.
  bool approximate() const;
  // The k best among the given ids only (ascending, unique; ids not in the
  // index are ignored), best first, exact: when they are few (at most
  // size() / kAmongDivisor) each one's panel is scored, otherwise the search
  // above runs with the ids as its filter (approximate under a budget, but
  // every admitted vector counts towards it). The way to search a filter
  // whose members are known (an album, one owner's photos, a date range).
  Result<std::vector<SearchResult>> search_among(std::span<const float> query, int k,
                                                 std::span<const int64_t> ids,
                                                 SearchStats* stats = nullptr) const;
  // Scoring one id's panel reads 16 vectors' bytes: below size() / 16 ids
  // it reads less than a scan of everything.
  static constexpr int64_t kAmongDivisor = 16;
  // Back to the flat layout (holes dropped).
  void drop_ivf();
  IvfInfo ivf_info() const;

  // ids, id -> position, int8 chunks, IVF lists: opaque outside src/index
  // (index_impl.h).
  struct Impl;

  // Where search() reads fp32 vectors for its exact re-rank (see above). Set
  // it before searching concurrently.
  void set_exact_lookup(ExactLookup lookup);
  void set_exact_batch_lookup(ExactBatchLookup lookup);
  // The lookup every album uses: the `vectors` rows of (kind, model) in `store`
  // (the source of truth, read in a few statements per search), not found for
  // a missing row or one of another size.
  static ExactBatchLookup store_lookup(Store& store, std::string kind, std::string model);

  // Start-up in the background (issue 16): while a standby is set, search()
  // answers through it (an exact scan of the store) and size() reports
  // `expected_size`; replace_contents() then moves a loaded index's vectors in
  // (same dim) and drops the standby. ready() is false while a standby is set.
  void set_standby(StandbySearch standby, int64_t expected_size);
  void replace_contents(VectorIndex&& loaded);
  bool ready() const;
  // The bound E on |int8 score - fp32 score| for unit queries: the largest
  // quantisation error of any vector stored (see above) plus the slack of
  // the fp32 arithmetic.
  float error_bound() const;
  // Bytes held for vectors, ids and the id map (for logs and benchmarks).
  size_t memory_bytes() const;

  // Writes the index and `meta` (whose dim must equal dim()) atomically to
  // `path` (temp file + rename). meta.fingerprint should describe the database
  // rows the index holds; load_or_rebuild() also checks size() == count.
  Status save(const std::string& path, const IndexMeta& meta) const;
  // Same, with meta = {model, dim(), store.vector_fingerprint(kind, model)} read
  // now. Call it when no embedding is in flight (e.g. after a batch, at shutdown):
  // a vector written to the database but not yet added here makes the saved
  // count differ, and the next load rebuilds.
  Status save(const std::string& path, Store& store, const std::string& kind,
              const std::string& model) const;

  // Reads a file written by save(). Corruption for a bad magic/header/checksum,
  // a truncated file or anything FAISS rejects; NotFound if there is no file.
  static Result<std::pair<std::unique_ptr<VectorIndex>, IndexMeta>> load(const std::string& path);

  // Loads `path` if it holds (model, dim) vectors matching the database's
  // vector_fingerprint(kind, model) exactly; otherwise rebuilds from
  // store.for_each_vector(kind, model, dim) and saves the result to `path`
  // (a failed save is logged, not returned: the index in memory is still good).
  // Logs which happened (spdlog); `outcome` (optional) reports it too.
  static Result<std::unique_ptr<VectorIndex>> load_or_rebuild(
      const std::string& path, Store& store, const std::string& kind, const std::string& model,
      int dim, IndexLoadOutcome* outcome = nullptr, const IndexLoadControl* control = nullptr);

 private:
  Status add_locked(std::span<const int64_t> ids, std::span<const float> vectors);
  struct IvfPlan;  // centroids + the list of each id (index_impl.h)
  // Moves the vectors into the plan's list order (no plan: flat, compacted),
  // ids the plan does not know to the tail. mu_ held exclusively.
  Status relayout_locked(const IvfPlan* plan, const std::string& spill_dir = {});
  void hole_locked(int64_t p);  // empties position p (IVF layout), mu_ held
  void reserve_locked(int64_t n);

  int dim_;
  mutable std::shared_mutex mu_;
  std::unique_ptr<Impl> impl_;
  ExactBatchLookup lookup_;
  StandbySearch standby_;
  int64_t standby_size_ = 0;
  std::atomic<double> probe_misses_{0.0}, probe_fraction_{0.0};
};

}  // namespace sa
