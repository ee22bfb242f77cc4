// Album operations: thin orchestration over ingest, store, jobs and search.
#include "app/album_impl.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include "core/file_util.h"
#include "core/time_util.h"
#include "image/image.h"
#include "image/clip_preprocess.h"
#include "ingest/folder_scan.h"
#include "ingest/ingest.h"
#include "ingest/safe_name.h"
#include "jobs/pixel_cache.h"
#include "jobs/vector_set.h"
#include "search/date_filter.h"
#include "search/searcher.h"
#include "store/store.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

constexpr int kPreviewSide = 2048;

// How long import_folder waits for the embed worker to take something from a full
// pixel cache before it goes on without waiting (a stopped or very slow worker).
constexpr double kCacheStallSeconds = 60.0;

// Makes the calling thread `by` nicer than it is, at most 19 (Linux: nice applies
// per thread). A thread cannot raise its priority again without privileges, so
// only threads that end after the work call this. Best effort: a failure leaves
// the priority as it was.
void lower_this_thread_priority(int by) {
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int now = ::getpriority(PRIO_PROCESS, tid);
  if (now == -1 && errno != 0) return;
  (void)::setpriority(PRIO_PROCESS, tid, std::min(now + by, 19));
}

Status no_vlm() {
  return Status::Unavailable(
      "no VLM configured: set QWEN_API_KEY (or DASHSCOPE_API_KEY), or QWEN_BASE_URL / "
      "--vlm-base-url for a local server");
}

}  // namespace

AlbumImpl::~AlbumImpl() { stop_workers(); }

void AlbumImpl::stop_workers() {
  reconcile_stop_ = true;
  if (reconcile_thread_.joinable()) reconcile_thread_.join();
  {
    std::lock_guard<std::mutex> lk(sync_stop_mu_);
    sync_stop_ = true;
  }
  sync_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (purge_thread_.joinable()) purge_thread_.join();
  if (runner_) runner_->stop();
}

void AlbumImpl::start_workers() {
  if (runner_) runner_->start();
}

Result<int64_t> AlbumImpl::sync_external_changes() {
  std::lock_guard<std::mutex> lk(sync_mu_);
  SA_ASSIGN_OR_RETURN(int64_t version, store_->data_version());
  if (version == data_version_) return int64_t{0};
  data_version_ = version;
  int64_t indexed = 0;
  for (VectorSet* vs : {clip_vectors_.get(), desc_vectors_.get()}) {
    if (!vs) continue;
    SA_ASSIGN_OR_RETURN(int64_t n, vs->sync_from_store());
    indexed += n;
  }
  int64_t queued = 0;
  if (clip_) {
    SA_ASSIGN_OR_RETURN(std::vector<int64_t> waiting, store_->photo_ids_with_status(PhotoStatus::kNoModel));
    for (int64_t id : waiting) {
      Status st = store_->set_photo_status(id, PhotoStatus::kPending);
      if (st.code() == StatusCode::kNotFound) continue;  // deleted meanwhile
      SA_RETURN_IF_ERROR(st);
      auto q = store_->enqueue_job(JobKind::kEmbed, id);
      if (q.status().code() == StatusCode::kNotFound) continue;
      SA_RETURN_IF_ERROR(q.status());
      if (*q) ++queued;
    }
  }
  if (indexed > 0 || queued > 0) {
    spdlog::info("another process changed the album: {} index entries synced, {} photos queued "
                 "for embedding", indexed, queued);
    if (queued > 0 && runner_) runner_->notify();
  }
  return indexed + queued;
}

EmbedStats AlbumImpl::embed_stats() const { return runner_ ? runner_->embed_stats() : EmbedStats{}; }

Result<AddResult> AlbumImpl::add_file(std::string_view name, std::string_view bytes,
                                      const OwnerScope& scope) {
  auto r = add_file_impl(name, bytes, scope);
  if (r.ok() && !r->duplicate) runner_->notify();
  return r;
}

Result<AddResult> AlbumImpl::add_file_impl(std::string_view name, std::string_view bytes,
                                            const OwnerScope& scope, std::optional<std::time_t> file_mtime,
                                            size_t cache_reserved) {
  // The row and its first jobs are written in one transaction by the ingest.
  NewPhoto init;
  init.owner_id = scope.owner_id;
  init.status = clip_ ? PhotoStatus::kPending : PhotoStatus::kNoModel;
  if (clip_) init.jobs.push_back(JobKind::kEmbed);
  if (vlm_ && settings().auto_analyze) {
    init.vlm_status = VlmStatus::kPending;
    init.jobs.push_back(JobKind::kDescribe);
  }
  // Without an EXIF date, an imported file's modification time is closer to when
  // it was taken than the time of the import.
  if (file_mtime) init.fallback_taken_at = local_iso_time(*file_mtime);
  // The CLIP input the ingest makes from its one decode goes into the pixel
  // cache before the embed job commits: the worker, which cannot claim the job
  // earlier, finds it there and skips a second decode of the original.
  int64_t handed = 0;
  if (clip_) {
    init.hand_off = [&](int64_t id, std::vector<float>&& pixels) {
      if (pixel_cache_->put(id, clip_->image_resolution(), std::move(pixels), cache_reserved)) handed = id;
      cache_reserved = 0;
    };
  }
  auto added = ingest_->add(name, bytes, init);
  if (cache_reserved > 0) pixel_cache_->release(cache_reserved);  // no hand-off (duplicate, error)
  if (!added.ok()) {
    if (handed != 0) pixel_cache_->erase(handed);  // the commit failed after the hand-off
    return added.status();
  }
  IngestResult& ir = *added;
  AddResult out;
  out.id = ir.id;
  out.filename = std::string(name);
  out.duplicate = ir.duplicate;
  return out;
}

Result<Album::ImportReport> AlbumImpl::import_folder(
    const std::string& dir, const std::function<void(int64_t, int64_t, const std::string&)>& progress,
    const OwnerScope& scope) {
  const std::atomic<bool> never{false};
  return import_folder(dir, progress, never, scope);
}

Result<Album::ImportReport> AlbumImpl::import_folder(
    const std::string& dir, const std::function<void(int64_t, int64_t, const std::string&)>& progress,
    const std::atomic<bool>& cancel, const OwnerScope& scope) {
  SA_ASSIGN_OR_RETURN(FolderScan scan, scan_folder(dir));
  const std::vector<std::string>& files = scan.files;
  // Names are recorded relative to the imported folder's parent, so the folder
  // itself shows up as the top-level album folder (as a browser folder upload does).
  // The scan's root is absolute and normalised: "." and "photos/" keep their name.
  const fs::path parent = fs::path(scan.root).parent_path();

  ImportReport report;
  report.skipped = std::move(scan.skipped);
  report.total = static_cast<int64_t>(files.size());
  std::mutex mu;  // guards report and serialises progress callbacks
  std::atomic<size_t> next{0};
  int64_t done = 0;
  const int64_t total = static_cast<int64_t>(files.size());
  const bool embedding_now = clip_ && runner_ && runner_->running();
  auto work = [&] {
    while (true) {
      if (cancel.load()) return;
      size_t i = next.fetch_add(1);
      if (i >= files.size()) return;
      const std::string& path = files[i];
      std::string rel = fs::path(path).lexically_relative(parent).generic_string();
      if (rel.empty() || rel.rfind("..", 0) == 0) rel = fs::path(path).filename().string();
      Result<AddResult> r = Status::Internal("unreached");
      // At the encoder's pace: what is decoded now waits in the pixel cache for the
      // embed worker; a full cache would make the worker decode the photo again.
      size_t reserved = 0;
      if (embedding_now) {
        const int res = clip_->image_resolution();
        const size_t need = size_t(3) * res * res * sizeof(float);
        if (pixel_cache_->wait_for_room(need, cancel, kCacheStallSeconds)) reserved = need;
        if (cancel.load()) {
          pixel_cache_->release(reserved);
          return;
        }
      }
      auto bytes = read_file(path, static_cast<size_t>(cfg_.max_upload_bytes));
      if (bytes.ok()) {
        std::optional<std::time_t> mtime;
        struct stat sb {};
        if (::stat(path.c_str(), &sb) == 0) mtime = sb.st_mtime;
        r = add_file_impl(rel, *bytes, scope, mtime, reserved);
      } else {
        pixel_cache_->release(reserved);
        r = bytes.status();
      }
      if (r.ok() && !r->duplicate) runner_->notify();
      std::lock_guard<std::mutex> lk(mu);
      if (!r.ok()) {
        ++report.rejected;
        report.errors.emplace_back(path, r.status().to_string());
      } else if (r->duplicate) {
        ++report.duplicates;
        report.photo_ids.push_back(r->id);
      } else {
        ++report.added;
        report.photo_ids.push_back(r->id);
      }
      ++done;
      if (progress) progress(done, total, rel);
    }
  };
  // Beside a running encoder at least two decode threads, so that both cores decode
  // whenever the encoder waits; with AlbumDeps::import_nice at a lower priority, on
  // threads of their own (the caller's priority could not be raised back).
  const bool yield_to_encoder = embedding_now && deps_.import_nice > 0;
  int n_threads = deps_.import_threads;
  if (n_threads <= 0) {
    n_threads = std::max(1u, std::thread::hardware_concurrency() / 4);
    if (embedding_now) n_threads = std::max(n_threads, 2);
  }
  n_threads = static_cast<int>(std::min<size_t>(n_threads, std::max<size_t>(files.size(), 1)));
  std::vector<std::thread> pool;
  if (yield_to_encoder) {
    for (int t = 0; t < n_threads; ++t) {
      pool.emplace_back([&] {
        lower_this_thread_priority(deps_.import_nice);
        work();
      });
    }
  } else {
    for (int t = 1; t < n_threads; ++t) pool.emplace_back(work);
    work();
  }
  for (auto& t : pool) t.join();
  report.cancelled = done < total;
  return report;
}

Result<PhotoInfo> AlbumImpl::photo_in_scope(int64_t id, const OwnerScope& scope, bool shared_ok) {
  SA_ASSIGN_OR_RETURN(PhotoInfo p, store_->get_photo(id));
  if (scope.sees(p.owner_id)) return p;
  if (shared_ok && scope.owner_id > 0) {
    SA_ASSIGN_OR_RETURN(bool shared, store_->photo_in_visible_album(id, scope.owner_id));
    if (shared) return p;
  }
  // The same message as a missing photo's: nothing tells the two apart.
  return Status::NotFound("photo " + std::to_string(id) + " not found");
}

Result<PhotoPage> AlbumImpl::list_photos(int page, int per_page, int64_t before_id, const OwnerScope& scope) {
  if (page < 1) return Status::InvalidArgument("page must be >= 1");
  if (per_page < 1 || per_page > 1000) return Status::InvalidArgument("per_page must be between 1 and 1000");
  if (before_id < 0) return Status::InvalidArgument("before must be a photo id >= 1");
  return store_->list_photos(page, per_page, before_id, scope);
}

Result<PhotoPage> AlbumImpl::query_photos(const PhotoQuery& q) {
  if (q.limit < 1 || q.limit > 1000) return Status::InvalidArgument("limit must be between 1 and 1000");
  if (q.offset < 0) return Status::InvalidArgument("offset must be >= 0");
  SA_RETURN_IF_ERROR(check_date_range(q.date_from, q.date_to));
  // ?album=ID: an album the user may see (theirs or shared with them), else 404.
  if (q.filter.album_id > 0) SA_RETURN_IF_ERROR(store_->get_album(q.filter.album_id, q.filter.scope).status());
  return store_->query_photos(q);
}

Result<std::vector<MonthCount>> AlbumImpl::timeline(const OwnerScope& scope) {
  return store_->timeline(scope);
}

Result<std::vector<std::pair<std::string, int64_t>>> AlbumImpl::folders(const OwnerScope& scope) {
  return store_->folders(scope);
}

Result<std::string> AlbumImpl::preview_path(int64_t id, const OwnerScope& scope) {
  SA_ASSIGN_OR_RETURN(PhotoInfo p, photo_in_scope(id, scope, /*shared_ok=*/true));
  if (!is_sha256_hex(p.hash)) return Status::Internal("bad photo hash");
  const std::string path =
      (fs::path(cfg_.data_dir) / "previews" / p.hash.substr(0, 2) / (p.hash + ".jpg")).string();
  if (file_exists(path)) return path;
  // Made on first use: one decode with shrink-on-load, then cached. Two requests
  // at once both make it; the atomic write keeps the file whole either way.
  const std::string orig = ingest_->original_path(p);
  SA_ASSIGN_OR_RETURN(std::string bytes, read_file(orig, static_cast<size_t>(cfg_.max_upload_bytes)));
  DecodeLimits lim;
  lim.max_bytes = cfg_.max_upload_bytes;
  lim.max_side = kPreviewSide * 2;  // shrink-on-load to at most twice the preview side
  SA_ASSIGN_OR_RETURN(RgbImage img, decode_rgb(bytes, lim));
  SA_ASSIGN_OR_RETURN(std::string jpeg, encode_jpeg(img, kPreviewSide, 85));
  SA_RETURN_IF_ERROR(make_dirs(fs::path(path).parent_path().string()));
  SA_RETURN_IF_ERROR(write_file_atomic(path, jpeg).with_context("storing preview"));
  return path;
}

// Viewing (details and files) also reaches the photos of albums shared with the
// user; everything else (similar, analyze, delete, favourites) is the owner's.
Result<PhotoInfo> AlbumImpl::get_photo(int64_t id, const OwnerScope& scope) {
  return photo_in_scope(id, scope, /*shared_ok=*/true);
}

Result<std::string> AlbumImpl::thumbnail_path(int64_t id, const OwnerScope& scope) {
  SA_ASSIGN_OR_RETURN(PhotoInfo p, photo_in_scope(id, scope, /*shared_ok=*/true));
  std::string path = ingest_->thumbnail_path(p);
  if (!file_exists(path)) return Status::NotFound("thumbnail of photo " + std::to_string(id) + " is missing");
  return path;
}

Result<std::string> AlbumImpl::original_path(int64_t id, const OwnerScope& scope) {
  SA_ASSIGN_OR_RETURN(PhotoInfo p, photo_in_scope(id, scope, /*shared_ok=*/true));
  std::string path = ingest_->original_path(p);
  if (!file_exists(path)) return Status::NotFound("original of photo " + std::to_string(id) + " is missing");
  return path;
}

Status AlbumImpl::delete_photo(int64_t id, const OwnerScope& scope) {
  SA_RETURN_IF_ERROR(photo_in_scope(id, scope).status());
  // The row goes first (vectors, jobs and FTS entries cascade), then the files, both
  // under the ingest hash lock (a re-upload racing the delete must not lose its files);
  // then the index entries. A crash in between leaves files without a row, which a
  // later upload of the same bytes simply overwrites.
  bool files_removed = false;
  SA_ASSIGN_OR_RETURN(PhotoInfo p, ingest_->remove_photo(id, &files_removed));
  pixel_cache_->erase(id);
  if (clip_vectors_) clip_vectors_->forget(id);
  if (desc_vectors_) desc_vectors_->forget(id);
  // The preview (made on first view) follows from the same bytes: a re-upload
  // of them simply makes it again. Another owner's copy of the bytes keeps it.
  if (files_removed && is_sha256_hex(p.hash)) {
    std::error_code ec;
    fs::remove(fs::path(cfg_.data_dir) / "previews" / p.hash.substr(0, 2) / (p.hash + ".jpg"), ec);
  }
  return Status::OK();
}

Status AlbumImpl::analyze(int64_t id, const OwnerScope& scope) {
  SA_ASSIGN_OR_RETURN(PhotoInfo p, photo_in_scope(id, scope));  // a missing photo is 404 first
  if (!vlm_) return no_vlm();
  SA_RETURN_IF_ERROR(store_->set_vlm_status(p.id, VlmStatus::kPending));
  SA_RETURN_IF_ERROR(store_->enqueue_job(JobKind::kDescribe, p.id).status());
  runner_->notify();
  return Status::OK();
}

// Queues a description job for each id and marks it pending; photos deleted
// meanwhile are skipped. Returns how many jobs were new.
Result<int64_t> AlbumImpl::queue_descriptions(const std::vector<int64_t>& ids) {
  int64_t queued = 0;
  for (int64_t id : ids) {
    auto q = store_->enqueue_job(JobKind::kDescribe, id);
    if (q.status().code() == StatusCode::kNotFound) continue;  // deleted meanwhile
    SA_RETURN_IF_ERROR(q.status());
    SA_RETURN_IF_ERROR(store_->set_vlm_status(id, VlmStatus::kPending));
    if (*q) ++queued;
  }
  runner_->notify();
  return queued;
}

Result<int64_t> AlbumImpl::analyze_missing(const OwnerScope& scope) {
  if (!vlm_) return no_vlm();
  SA_ASSIGN_OR_RETURN(std::vector<int64_t> ids, store_->photo_ids_without_description(scope));
  return queue_descriptions(ids);
}

Result<int64_t> AlbumImpl::analyze_all() {
  if (!vlm_) return no_vlm();
  SA_ASSIGN_OR_RETURN(std::vector<int64_t> ids, store_->photo_ids_not_trashed());
  return queue_descriptions(ids);
}

Result<std::vector<SearchHit>> AlbumImpl::search(const std::string& query, const SearchOptions& opt) {
  // The CLIP anchors of the score are the album's settings (they belong to the
  // model in use); the description and keyword anchors stay as documented.
  SearchOptions o = opt;
  const Settings s = settings();
  o.calibration.clip_floor = s.score_floor;
  o.calibration.clip_ceiling = s.score_ceiling;
  return searcher_->search(query, o);
}

Result<std::vector<SearchHit>> AlbumImpl::similar(int64_t id, int limit, const OwnerScope& scope) {
  return searcher_->similar(id, limit, scope);
}

Settings AlbumImpl::settings() {
  Settings s;
  // Describing photos costs API calls: on by default only when a VLM is set up.
  s.auto_analyze = store_->get_bool("auto_analyze", vlm_ != nullptr);
  s.enhanced_search = store_->get_bool("enhanced_search", false);
  auto number = [&](const char* key, float fallback) {
    auto v = store_->get_setting(key);
    if (!v.ok() || !*v) return fallback;
    char* end = nullptr;
    const float x = std::strtof((*v)->c_str(), &end);
    return end && *end == '\0' && std::isfinite(x) ? x : fallback;
  };
  s.min_score = number("min_score", s.min_score);
  s.score_floor = number("score_floor", s.score_floor);
  s.score_ceiling = number("score_ceiling", s.score_ceiling);
  auto p = store_->get_setting("precision");
  if (p.ok() && *p && (**p == "fp32" || **p == "int8")) s.precision = **p;
  return s;
}

Status AlbumImpl::set_settings(const Settings& s) {
  if (!(s.min_score >= 0 && s.min_score <= 1))
    return Status::InvalidArgument("min_score must be between 0 and 1");
  if (!(s.score_ceiling > s.score_floor) || s.score_floor < -1 || s.score_ceiling > 1)
    return Status::InvalidArgument("score_floor must be below score_ceiling, both in [-1, 1]");
  if (!s.precision.empty() && s.precision != "fp32" && s.precision != "int8")
    return Status::InvalidArgument("precision must be fp32 or int8");
  SA_RETURN_IF_ERROR(store_->set_bool("auto_analyze", s.auto_analyze));
  if (!s.precision.empty()) SA_RETURN_IF_ERROR(store_->set_setting("precision", s.precision));
  SA_RETURN_IF_ERROR(store_->set_setting("min_score", std::to_string(s.min_score)));
  SA_RETURN_IF_ERROR(store_->set_setting("score_floor", std::to_string(s.score_floor)));
  SA_RETURN_IF_ERROR(store_->set_setting("score_ceiling", std::to_string(s.score_ceiling)));
  return store_->set_bool("enhanced_search", s.enhanced_search);
}

JobStats AlbumImpl::job_stats(const OwnerScope& scope) {
  auto st = store_->job_stats(10, scope);
  if (!st.ok()) {
    spdlog::warn("job stats failed: {}", st.status().to_string());
    return JobStats{};
  }
  return *st;
}

bool AlbumImpl::wait_idle(double timeout_s) { return runner_->wait_idle(timeout_s); }

bool AlbumImpl::wait_indexes_ready(double timeout_s) const {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (const VectorSet* vs : {clip_vectors_.get(), desc_vectors_.get()}) {
    if (!vs) continue;
    const double left = std::chrono::duration<double>(end - std::chrono::steady_clock::now()).count();
    if (!vs->wait_ready(std::max(0.0, left))) return false;
  }
  return true;
}

}  // namespace sa
