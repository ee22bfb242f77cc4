// Album: trash, favourites, albums, duplicates (docs/organise.md).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <unordered_set>

#include "app/album_impl.h"
#include "ingest/ingest.h"
#include "jobs/pixel_cache.h"
#include "jobs/vector_set.h"
#include "search/duplicates.h"
#include "store/store.h"

namespace sa {
namespace {

std::string iso_utc(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The photo to keep in a duplicate group: the most pixels, then the earliest
// (date taken, else date added), then the first added.
bool better_keeper(const PhotoInfo& a, const PhotoInfo& b) {
  const int64_t pa = int64_t{a.width} * a.height, pb = int64_t{b.width} * b.height;
  if (pa != pb) return pa > pb;
  const std::string& ta = a.taken_at.empty() ? a.added_at : a.taken_at;
  const std::string& tb = b.taken_at.empty() ? b.added_at : b.taken_at;
  if (ta != tb) return ta < tb;
  return a.id < b.id;
}

}  // namespace

std::chrono::system_clock::time_point AlbumImpl::now() const {
  return deps_.clock ? deps_.clock() : std::chrono::system_clock::now();
}

Result<PhotoPage> AlbumImpl::list_photos_filtered(const PhotoFilter& f, int page, int per_page,
                                                  int64_t before_id) {
  if (page < 1) return Status::InvalidArgument("page must be >= 1");
  if (per_page < 1 || per_page > 1000) return Status::InvalidArgument("per_page must be between 1 and 1000");
  if (before_id < 0) return Status::InvalidArgument("before must be a photo id >= 1");
  return store_->list_photos_filtered(f, page, per_page, before_id);
}

Result<BatchResult> AlbumImpl::batch(BatchAction action, std::span<const int64_t> ids,
                                     int64_t album_id, const OwnerScope& scope) {
  if (ids.empty()) return Status::InvalidArgument("no photo ids");
  if (ids.size() > 100'000) return Status::InvalidArgument("at most 100000 ids per batch");
  const auto t = now();
  SA_ASSIGN_OR_RETURN(BatchResult r, store_->apply_batch(action, ids, album_id, iso_utc(t),
                                                         iso_utc(t - kTrashRetention), scope));
  if (r.not_found.empty() && action == BatchAction::kTrash) {
    for (int64_t id : ids) pixel_cache_->erase(id);
  }
  return r;
}

Result<PhotoPage> AlbumImpl::list_trash(int page, int per_page, const OwnerScope& scope) {
  if (page < 1) return Status::InvalidArgument("page must be >= 1");
  if (per_page < 1 || per_page > 1000) return Status::InvalidArgument("per_page must be between 1 and 1000");
  return store_->list_trash(iso_utc(now() - kTrashRetention), page, per_page, scope);
}

Result<int64_t> AlbumImpl::empty_trash(const OwnerScope& scope) {
  SA_ASSIGN_OR_RETURN(int64_t n, store_->expire_all_trash(scope));
  {
    std::lock_guard<std::mutex> lk(sync_stop_mu_);
    purge_wake_ = true;
  }
  sync_cv_.notify_all();
  return n;
}

Result<int64_t> AlbumImpl::purge_trash() {
  SA_ASSIGN_OR_RETURN(std::vector<int64_t> ids,
                      store_->trash_expired_ids(iso_utc(now() - kTrashRetention)));
  int64_t purged = 0;
  for (int64_t id : ids) {
    Status st = delete_photo(id);
    if (st.code() == StatusCode::kNotFound) continue;  // deleted meanwhile
    SA_RETURN_IF_ERROR(st);
    ++purged;
  }
  if (purged > 0) spdlog::info("trash: {} photo(s) deleted for good", purged);
  return purged;
}

void AlbumImpl::start_purge_thread() {
  purge_thread_ = std::thread([this] {
    const auto every = std::chrono::milliseconds(deps_.trash_purge_ms);
    std::unique_lock<std::mutex> lk(sync_stop_mu_);
    while (true) {
      lk.unlock();
      // At start too: a purge cut short by a crash or stop resumes here.
      auto r = purge_trash();
      if (!r.ok()) spdlog::warn("trash purge: {}", r.status().to_string());
      lk.lock();
      auto wake = [this] { return sync_stop_ || purge_wake_; };
      if (deps_.trash_purge_ms > 0) {
        sync_cv_.wait_for(lk, every, wake);
      } else {
        sync_cv_.wait(lk, wake);
      }
      if (sync_stop_) return;
      purge_wake_ = false;
    }
  });
}

Result<AlbumInfo> AlbumImpl::add_to_named_album(const std::string& name,
                                                std::span<const int64_t> ids, const OwnerScope& scope) {
  SA_ASSIGN_OR_RETURN(AlbumInfo a, store_->find_or_create_album(name, scope));
  std::vector<int64_t> todo(ids.begin(), ids.end());
  // Photos trashed meanwhile (or duplicates of trashed photos) stay out.
  while (!todo.empty()) {
    SA_ASSIGN_OR_RETURN(BatchResult r, batch(BatchAction::kAddToAlbum, todo, a.id, scope));
    if (r.not_found.empty()) break;
    std::unordered_set<int64_t> skip(r.not_found.begin(), r.not_found.end());
    std::erase_if(todo, [&](int64_t id) { return skip.count(id) > 0; });
  }
  return store_->get_album(a.id, scope);
}

Result<std::vector<AlbumInfo>> AlbumImpl::list_albums(const OwnerScope& scope) {
  return store_->list_albums(scope);
}
Result<AlbumInfo> AlbumImpl::create_album(const std::string& name, const OwnerScope& scope) {
  return store_->create_album(name, scope);
}
Result<AlbumInfo> AlbumImpl::get_album(int64_t id, const OwnerScope& scope) {
  return store_->get_album(id, scope);
}
Result<AlbumInfo> AlbumImpl::update_album(int64_t id, std::optional<std::string> name,
                                          std::optional<int64_t> cover_photo_id, const OwnerScope& scope) {
  return store_->update_album(id, name, cover_photo_id, scope);
}
Status AlbumImpl::delete_album(int64_t id, const OwnerScope& scope) { return store_->delete_album(id, scope); }
Status AlbumImpl::share_album(int64_t id, int64_t user_id, AlbumRole role, const OwnerScope& scope) {
  return store_->share_album(id, user_id, role, scope);
}
Status AlbumImpl::unshare_album(int64_t id, int64_t user_id, const OwnerScope& scope) {
  return store_->unshare_album(id, user_id, scope);
}
Result<std::vector<AlbumShare>> AlbumImpl::album_shares(int64_t id, const OwnerScope& scope) {
  return store_->album_shares(id, scope);
}

Result<std::vector<DuplicateGroup>> AlbumImpl::duplicates(float threshold, const OwnerScope& scope) {
  if (!clip_ || !clip_vectors_) {
    return Status::Unavailable("no CLIP model loaded: duplicates are found from the image embeddings");
  }
  const int dim = clip_vectors_->dim();
  SA_ASSIGN_OR_RETURN(std::vector<int64_t> trashed, store_->trashed_photo_ids());
  // Another user's photos are never grouped with (or shown beside) the user's.
  std::vector<int64_t> mine;
  if (!scope.everyone()) {
    SA_ASSIGN_OR_RETURN(mine, store_->photo_ids_of_owner(scope.owner_id));
  }
  std::vector<int64_t> ids;
  std::vector<float> data;
  SA_RETURN_IF_ERROR(store_->for_each_vector(
      "clip", clip_name_, dim, [&](std::span<const int64_t> batch_ids, std::span<const float> rows) {
        for (size_t i = 0; i < batch_ids.size(); ++i) {
          if (std::binary_search(trashed.begin(), trashed.end(), batch_ids[i])) continue;
          if (!scope.everyone() && !std::binary_search(mine.begin(), mine.end(), batch_ids[i])) continue;
          ids.push_back(batch_ids[i]);
          data.insert(data.end(), rows.begin() + i * dim, rows.begin() + (i + 1) * dim);
        }
        return Status::OK();
      }));
  DuplicateSearchOptions opt;
  opt.threshold = threshold;
  SA_ASSIGN_OR_RETURN(std::vector<NearDuplicateGroup> groups,
                      group_near_duplicates(ids, data, dim, opt));
  std::vector<DuplicateGroup> out;
  out.reserve(groups.size());
  for (auto& g : groups) {
    SA_ASSIGN_OR_RETURN(std::vector<PhotoInfo> photos, store_->get_photos(g.ids));
    if (photos.size() < 2) continue;  // trashed meanwhile
    std::sort(photos.begin(), photos.end(), better_keeper);
    out.push_back({std::move(photos), g.min_similarity});
  }
  return out;
}

}  // namespace sa
