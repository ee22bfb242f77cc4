// VectorIndex: an exact inner-product index over L2-normalised vectors
// (faiss::IndexIDMap2 over faiss::IndexFlatIP), where the FAISS id IS the photo id.
//
// The index is a cache of the `vectors` table (store.h): it is saved atomically
// with a fingerprint of the rows it was built from and, at start,
// load_or_rebuild() uses the file only if that fingerprint still matches the
// database; otherwise (missing, truncated, corrupt, stale, other model or dim)
// it rebuilds from the table. Losing the file never loses data.
//
// Scores: vectors are L2-normalised on add and queries on search, so a score is
// the cosine similarity in [-1, 1].
//
// Thread safety: all methods may be called concurrently (std::shared_mutex:
// searches share, add/remove/save exclude). FAISS exceptions never leave this
// class; they become Status (Internal / Corruption / InvalidArgument).
//
// File format (docs/storage.md): "SAIDX001" magic, u32 LE header length, a JSON
// header {"version":1,"model","dim","count","max_id","id_sum","generation",
// "payload_bytes","payload_sha256"}, then the faiss::write_index bytes.
#pragma once

#include <cstdint>
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

class VectorIndex {
 public:
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

  // The k best matches for one query of `dim` components, best first
  // (fewer if the index holds fewer). InvalidArgument for a wrong size or a zero
  // query; k <= 0 gives an empty result.
  Result<std::vector<SearchResult>> search(std::span<const float> query, int k) const;

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
      int dim, IndexLoadOutcome* outcome = nullptr);

 private:
  struct Impl;  // owns the faiss::IndexIDMap2 (keeps FAISS headers out of callers)
  Status add_locked(std::span<const int64_t> ids, std::span<const float> vectors);

  int dim_;
  mutable std::shared_mutex mu_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sa
