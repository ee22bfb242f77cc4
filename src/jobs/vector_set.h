// VectorSet: the vectors of one (kind, model) -- rows in the store (source of
// truth) plus their FAISS cache -- changed together so both always agree.
//
// Every write goes to SQLite first and to the index second, under one mutex, so
// a concurrent delete can never leave a vector in the index that the database
// no longer has, and save() can stamp the file with the exact fingerprint of
// the rows the index holds.
//
// Thread safety: all methods may be called from any thread. index() may be
// searched concurrently with writes (VectorIndex has its own shared lock).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "core/status.h"
#include "index/vector_index.h"
#include "store/store.h"

namespace sa {

// When the index switches to its IVF layout (VectorIndex::build_ivf).
struct AnnOptions {
  // Vectors at which the layout is built (in the background); below half of
  // it an existing layout is dropped again. <= 0: never. Below the default
  // the flat fp16 scan takes ~25 ms or less on two cores, so the layout's
  // build (minutes of background CPU at 1M) buys little (docs/scaling.md).
  int64_t min_vectors = kDefaultMinVectors;
  IvfOptions ivf;
  // How searches over the layout may stop early (VectorIndex::set_probe):
  // approximate by default, recall@10 >= 0.98 measured (docs/scaling.md);
  // ProbeOptions{} keeps them exact.
  ProbeOptions probe{VectorIndex::kDefaultExpectedMisses, 0.0};
  static constexpr int64_t kDefaultMinVectors = 500'000;
};

class VectorSet {
 public:
  // Loads `path` or rebuilds it from the store (VectorIndex::load_or_rebuild).
  // background: returns at once; the load or rebuild runs on a thread of its
  // own while searches are answered by an exact scan of the store (slow, but
  // never wrong), then the loaded index takes over and whatever was written
  // meanwhile is synced into it (issue 16: a restart with 1M photos answers
  // at once). Destroying the set stops a rebuild in progress (nothing is
  // saved; the next open rebuilds).
  static Result<std::unique_ptr<VectorSet>> open(Store& store, std::string kind,
                                                 std::string model, int dim, std::string path,
                                                 bool background = false, AnnOptions ann = {});
  ~VectorSet();

  // False while a background load or rebuild is running.
  bool ready() const { return index_->ready(); }
  // Vectors added by a background rebuild so far, and how many it will add.
  int64_t load_done() const { return load_done_; }
  int64_t load_total() const { return load_total_; }
  // Waits up to timeout_s for ready(); true if ready.
  bool wait_ready(double timeout_s) const;

  const std::string& kind() const { return kind_; }
  const std::string& model() const { return model_; }
  int dim() const { return index_->dim(); }
  const VectorIndex& index() const { return *index_; }
  IndexLoadOutcome load_outcome() const { return outcome_; }  // kLoaded until a background load ends

  // Stores the (already L2-normalised) vector of a photo: put_vector, then index
  // add. NotFound if the photo was deleted meanwhile (nothing is stored then).
  Status put(int64_t photo_id, std::span<const float> v);
  // Deletes the vector rows and index entries of a photo (ok if none).
  Status remove(int64_t photo_id);
  // Removes only the index entry (the store row is already gone, e.g. after
  // Store::delete_photo cascaded).
  void forget(int64_t photo_id);

  // Brings the index in line with the store after another process changed it
  // (a CLI import next to the server): adds the vectors it lacks, drops the
  // ids the store no longer has. Returns how many ids were added + dropped.
  Result<int64_t> sync_from_store();

  // Saves the index atomically if anything changed since the last save, then
  // starts an IVF build, rebuild or drop if the size asks for one
  // (update_ann_layout).
  Status save_if_dirty();

  // Starts, on a thread of its own, what AnnOptions asks for now: the IVF
  // layout built (size >= min_vectors, none yet), rebuilt (writes since the
  // layout exceed a quarter of it) or dropped (size < min_vectors / 2).
  // Searches stay exact throughout. Returns whether it started something.
  bool update_ann_layout();
  // True while such a build runs; wait_ann() waits up to timeout_s for it.
  bool ann_building() const { return ann_running_; }
  bool wait_ann(double timeout_s) const;

 private:
  VectorSet(Store& store, std::string kind, std::string model, std::string path)
      : store_(store), kind_(std::move(kind)), model_(std::move(model)), path_(std::move(path)) {}

  Result<int64_t> sync_locked();  // sync_from_store() with write_mu_ held
  Status save_now();           // save_if_dirty() without the IVF step
  void load_in_background(int dim);
  // Exact top k by a walk over the store's vectors (the standby while loading).
  Result<std::vector<SearchResult>> scan_store(std::span<const float> q, int k, const IdFilter& filter) const;

  Store& store_;
  std::string kind_, model_, path_;
  std::unique_ptr<VectorIndex> index_;
  std::atomic<IndexLoadOutcome> outcome_{IndexLoadOutcome::kLoaded};
  std::mutex write_mu_;
  std::atomic<bool> dirty_{false};
  std::atomic<bool> cancel_{false};
  std::atomic<int64_t> load_done_{0}, load_total_{0};
  std::thread loader_;
  AnnOptions ann_;
  std::mutex ann_mu_;  // guards ann_thread_
  std::atomic<bool> ann_running_{false};
  std::thread ann_thread_;
};

}  // namespace sa
