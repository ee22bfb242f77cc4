#include "jobs/vector_set.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cmath>
#include <queue>
#include <iterator>

namespace sa {

Result<std::unique_ptr<VectorSet>> VectorSet::open(Store& store, std::string kind, std::string model,
                                                   int dim, std::string path, bool background, AnnOptions ann) {
  std::unique_ptr<VectorSet> vs(new VectorSet(store, std::move(kind), std::move(model), std::move(path)));
  vs->ann_ = ann;
  // The layout's move goes through a scratch file next to the index file, so
  // the vectors are never twice in memory (issue 16: 2.5 GB at 1M photos).
  if (vs->ann_.ivf.spill_dir.empty()) {
    const std::string dir = std::filesystem::path(vs->path_).parent_path().string();
    vs->ann_.ivf.spill_dir = dir.empty() ? "." : dir;
  }
  if (background) {
    if (dim <= 0) return Status::InvalidArgument("index dim must be positive");
    SA_ASSIGN_OR_RETURN(VectorFingerprint fp, store.vector_fingerprint(vs->kind_, vs->model_));
    vs->index_ = std::make_unique<VectorIndex>(dim);
    VectorSet* self = vs.get();
    vs->index_->set_standby(
        [self](std::span<const float> q, int k, const IdFilter& filter) { return self->scan_store(q, k, filter); },
        fp.count);
  } else {
    IndexLoadOutcome outcome = IndexLoadOutcome::kLoaded;
    SA_ASSIGN_OR_RETURN(vs->index_, VectorIndex::load_or_rebuild(vs->path_, store, vs->kind_,
                                                                 vs->model_, dim, &outcome));
    vs->outcome_ = outcome;
  }
  vs->index_->set_probe(ann.probe);
  // The index keeps int8 copies; its final candidates are re-ranked on the
  // stored fp32 vectors (exact scores, VectorIndex header).
  vs->index_->set_exact_batch_lookup(VectorIndex::store_lookup(store, vs->kind_, vs->model_));
  if (background) {
    VectorSet* self = vs.get();
    vs->loader_ = std::thread([self, dim] { self->load_in_background(dim); });
  } else {
    vs->update_ann_layout();
  }
  return vs;
}

VectorSet::~VectorSet() {
  cancel_ = true;
  if (loader_.joinable()) loader_.join();
  std::lock_guard<std::mutex> lk(ann_mu_);
  if (ann_thread_.joinable()) ann_thread_.join();
}

bool VectorSet::update_ann_layout() {
  if (!index_->ready() || cancel_) return false;
  std::lock_guard<std::mutex> lk(ann_mu_);
  if (ann_running_) return false;
  const int64_t n = index_->size();
  const IvfInfo info = index_->ivf_info();
  enum class Step { kNone, kBuild, kDrop } step = Step::kNone;
  if (info.active && (ann_.min_vectors <= 0 || n < ann_.min_vectors / 2)) {
    step = Step::kDrop;
  } else if (ann_.min_vectors > 0 && n >= ann_.min_vectors) {
    // Padding holes: at most kPanel - 1 per list.
    const int64_t written = info.tail + std::max<int64_t>(0, info.holes - int64_t{15} * info.lists);
    if (!info.active || written > n / 4) step = Step::kBuild;
  }
  if (step == Step::kNone) return false;
  if (ann_thread_.joinable()) ann_thread_.join();
  ann_running_ = true;
  ann_thread_ = std::thread([this, step, n] {
    const auto t0 = std::chrono::steady_clock::now();
    if (step == Step::kDrop) {
      index_->drop_ivf();
      spdlog::info("index {}: {} vectors, below the IVF threshold: flat layout again", kind_, n);
    } else {
      spdlog::info("index {}: building the IVF layout over {} vectors", kind_, n);
      Status st = index_->build_ivf(ann_.ivf, &cancel_);
      if (!st.ok()) {
        if (!cancel_) spdlog::warn("index {}: IVF build failed: {}", kind_, st.to_string());
        // A failed move may leave the index empty: refill it from the store.
        if (st.code() == StatusCode::kIOError) (void)sync_from_store();
        ann_running_ = false;
        return;
      }
      spdlog::info("index {}: IVF layout with {} lists built in {:.1f} s", kind_, index_->ivf_info().lists,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    dirty_ = true;
    // Saved now, so that a restart loads the layout instead of building it again.
    Status saved = save_now();
    if (!saved.ok()) spdlog::warn("index {}: could not save after the IVF step: {}", kind_, saved.to_string());
    ann_running_ = false;
  });
  return true;
}

bool VectorSet::wait_ann(double timeout_s) const {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (ann_running_) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void VectorSet::load_in_background(int dim) {
  IndexLoadOutcome outcome = IndexLoadOutcome::kLoaded;
  IndexLoadControl ctl{&cancel_, &load_done_, &load_total_};
  auto loaded = VectorIndex::load_or_rebuild(path_, store_, kind_, model_, dim, &outcome, &ctl);
  if (!loaded.ok()) {
    // Searches keep the exact (slow) scan of the store; the next start tries again.
    if (!cancel_) spdlog::error("index {}: background load failed: {}", kind_, loaded.status().to_string());
    return;
  }
  std::lock_guard<std::mutex> lk(write_mu_);
  index_->replace_contents(std::move(**loaded));
  outcome_ = outcome;
  // Writes made while loading went to the store (and the standby index,
  // replaced now): bring the loaded index in line with the store.
  auto synced = sync_locked();
  if (!synced.ok()) spdlog::warn("index {}: sync after load failed: {}", kind_, synced.status().to_string());
  spdlog::info("index {}: ready ({} vectors, {})", kind_, index_->size(), index_load_outcome_name(outcome));
  update_ann_layout();
}

bool VectorSet::wait_ready(double timeout_s) const {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (!ready()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

Result<std::vector<SearchResult>> VectorSet::scan_store(std::span<const float> q, int k,
                                                        const IdFilter& filter) const {
  // Min-heap of the best k (score, then larger id first out).
  using Entry = std::pair<double, int64_t>;
  auto worse = [](const Entry& a, const Entry& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  std::priority_queue<Entry, std::vector<Entry>, decltype(worse)> heap(worse);
  const int dim = static_cast<int>(q.size());
  std::vector<int64_t> ids;
  std::vector<float> data;
  int64_t after = 0;
  if (k <= 0) return std::vector<SearchResult>{};
  while (true) {
    ids.clear();
    data.clear();
    SA_ASSIGN_OR_RETURN(int64_t n, store_.read_vectors(kind_, model_, dim, after, 4096, &ids, &data));
    if (n == 0) break;
    after = ids.back();
    for (size_t i = 0; i < ids.size(); ++i) {
      if (filter && !filter(ids[i])) continue;
      const float* v = data.data() + i * static_cast<size_t>(dim);
      double dot = 0, ss = 0;
      for (int j = 0; j < dim; ++j) {
        dot += static_cast<double>(q[static_cast<size_t>(j)]) * v[j];
        ss += static_cast<double>(v[j]) * v[j];
      }
      if (!(ss > 0) || !std::isfinite(ss)) continue;
      Entry e{dot / std::sqrt(ss), ids[i]};
      if (static_cast<int>(heap.size()) < k) {
        heap.push(e);
      } else if (worse(e, heap.top())) {
        heap.pop();
        heap.push(e);
      }
    }
  }
  std::vector<SearchResult> out(heap.size());
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = {heap.top().second, static_cast<float>(heap.top().first)};
    heap.pop();
  }
  return out;
}

Status VectorSet::put(int64_t photo_id, std::span<const float> v) {
  std::lock_guard<std::mutex> lk(write_mu_);
  Status st = store_.put_vector(photo_id, kind_, model_, v);
  if (st.code() == StatusCode::kNotFound) return st;  // photo deleted meanwhile
  SA_RETURN_IF_ERROR(st);
  dirty_ = true;
  int64_t id = photo_id;
  Status ist = index_->add(std::span<const int64_t>(&id, 1), v);
  if (!ist.ok()) {
    // Keep the two in agreement: a vector FAISS refuses is not kept in SQLite either.
    (void)store_.delete_vector(photo_id, kind_);
    return ist;
  }
  return Status::OK();
}

Status VectorSet::remove(int64_t photo_id) {
  std::lock_guard<std::mutex> lk(write_mu_);
  SA_RETURN_IF_ERROR(store_.delete_vector(photo_id, kind_));
  int64_t id = photo_id;
  auto r = index_->remove(std::span<const int64_t>(&id, 1));
  dirty_ = true;
  return r.ok() ? Status::OK() : r.status();
}

void VectorSet::forget(int64_t photo_id) {
  std::lock_guard<std::mutex> lk(write_mu_);
  int64_t id = photo_id;
  (void)index_->remove(std::span<const int64_t>(&id, 1));
  dirty_ = true;
}

Result<int64_t> VectorSet::sync_from_store() {
  std::lock_guard<std::mutex> lk(write_mu_);
  // While loading, the index is a standby: the load syncs when it is done.
  if (!index_->ready()) return int64_t{0};
  return sync_locked();
}

Result<int64_t> VectorSet::sync_locked() {
  SA_ASSIGN_OR_RETURN(std::vector<int64_t> want, store_.photo_ids_with_vector(kind_, model_));
  const std::vector<int64_t> have = index_->ids();
  std::vector<int64_t> add, drop;
  std::set_difference(want.begin(), want.end(), have.begin(), have.end(), std::back_inserter(add));
  std::set_difference(have.begin(), have.end(), want.begin(), want.end(), std::back_inserter(drop));
  int64_t changed = 0;
  for (int64_t id : add) {
    auto v = store_.get_vector(id, kind_);
    if (v.status().code() == StatusCode::kNotFound) continue;  // deleted since
    SA_RETURN_IF_ERROR(v.status());
    if (v->model != model_ || static_cast<int>(v->data.size()) != index_->dim()) continue;
    SA_RETURN_IF_ERROR(index_->add(std::span<const int64_t>(&id, 1), v->data));
    ++changed;
  }
  if (!drop.empty()) {
    SA_ASSIGN_OR_RETURN(int64_t n, index_->remove(drop));
    changed += n;
  }
  if (changed > 0) dirty_ = true;
  return changed;
}

Status VectorSet::save_if_dirty() {
  Status st = save_now();
  update_ann_layout();
  return st;
}

Status VectorSet::save_now() {
  std::lock_guard<std::mutex> lk(write_mu_);
  // Never save the empty standby over a good file.
  if (!dirty_ || !index_->ready()) return Status::OK();
  SA_ASSIGN_OR_RETURN(VectorFingerprint fp, store_.vector_fingerprint(kind_, model_));
  IndexMeta meta;
  meta.model = model_;
  meta.dim = index_->dim();
  meta.fingerprint = fp;
  SA_RETURN_IF_ERROR(index_->save(path_, meta));
  dirty_ = false;
  return Status::OK();
}

}  // namespace sa

