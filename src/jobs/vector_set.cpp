#include "jobs/vector_set.h"

#include <algorithm>
#include <iterator>

namespace sa {

Result<std::unique_ptr<VectorSet>> VectorSet::open(Store& store, std::string kind,
                                                   std::string model, int dim, std::string path) {
  std::unique_ptr<VectorSet> vs(new VectorSet(store, std::move(kind), std::move(model), std::move(path)));
  IndexLoadOutcome outcome = IndexLoadOutcome::kLoaded;
  SA_ASSIGN_OR_RETURN(vs->index_, VectorIndex::load_or_rebuild(vs->path_, store, vs->kind_,
                                                               vs->model_, dim, &outcome));
  vs->outcome_ = outcome;
  return vs;
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
  std::lock_guard<std::mutex> lk(write_mu_);
  if (!dirty_) return Status::OK();
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

