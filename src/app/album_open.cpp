// Album construction: directories, store, models, indexes, job reconciliation.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "app/album_impl.h"
#include "app/thread_budget.h"
#include "core/file_util.h"
#include "hub/model_hub.h"
#include "image/image.h"
#include "ingest/ingest.h"
#include "jobs/pixel_cache.h"
#include "jobs/vector_set.h"
#include "search/searcher.h"
#include "store/store.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

// The name stored vectors are tagged with: a known model name as given
// ("ViT-B-16"), else the last path component ("clip_cn_vit-b-16.pt", "my-model").
std::string model_tag(const std::string& name_or_path) {
  if (const KnownModel* km = find_known_model(name_or_path)) return km->name;
  fs::path p(name_or_path);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // trailing '/'
  std::string tag = p.filename().string();
  return tag.empty() ? name_or_path : tag;
}

}  // namespace

Result<std::unique_ptr<Album>> Album::open(const Config& cfg) {
  SA_ASSIGN_OR_RETURN(std::unique_ptr<AlbumImpl> a, open_album(cfg));
  return std::unique_ptr<Album>(std::move(a));
}

Result<std::unique_ptr<AlbumImpl>> open_album(const Config& cfg, AlbumDeps deps) {
  apply_thread_budget(decide_thread_budget(cfg, ThreadUse::kAlbum));
  std::unique_ptr<AlbumImpl> a(new AlbumImpl());
  SA_RETURN_IF_ERROR(a->init(cfg, std::move(deps)));
  return a;
}

std::string AlbumImpl::model_precision() const {
  return clip_ ? clip_->int8_check().summary() : std::string();
}

std::string AlbumImpl::text_model_precision() const {
  return text_ ? text_->int8_check().summary() : std::string();
}

Status AlbumImpl::load_models(const Config& cfg, AlbumDeps& deps) {
  // --precision / SMART_ALBUM_PRECISION / config.json, else the page's saved
  // setting, else fp32.
  std::string wanted = cfg.precision;
  if (wanted.empty()) wanted = settings().precision;
  SA_ASSIGN_OR_RETURN(const Precision precision, parse_precision(wanted));
  auto log_precision = [](const std::string& name, const Int8Check& c) {
    if (!c.ran) return;
    if (c.passed) {
      spdlog::info("model '{}' runs {}", name, c.summary());
    } else {
      spdlog::warn("model '{}': int8 was asked for but it runs {}", name, c.summary());
    }
  };
  if (deps.clip) {
    clip_ = deps.clip;
    clip_name_ = deps.clip_name.empty() ? "custom" : deps.clip_name;
  } else if (!cfg.model.empty()) {
    auto path = resolve_model(cfg.model, cfg.models_dir);
    Result<std::unique_ptr<ChineseClip>> m =
        path.ok() ? ChineseClip::load(*path, cfg.arch, precision) : Result<std::unique_ptr<ChineseClip>>(path.status());
    if (m.ok()) {
      clip_ = std::shared_ptr<const ChineseClip>(std::move(*m));
      clip_name_ = model_tag(cfg.model);
      log_precision(clip_name_, clip_->int8_check());
      save_int8_check(*path, clip_->int8_check());
      spdlog::info("CLIP model '{}' loaded (dim {}, {} px; {} of {} text projections on the fp16 "
                   "query path)",
                   clip_name_, clip_->embed_dim(), clip_->image_resolution(),
                   clip_->text_fp16_projections(), clip_->text_projections());
      if (clip_->precision() == Precision::kFp32 &&
          clip_->text_fp16_projections() < clip_->text_projections()) {
        spdlog::info("CLIP model '{}': weights that are not fp16 values (e.g. a fine-tuned fp32 "
                     "checkpoint) keep the fp32 query path, about half as fast",
                     clip_name_);
      }
    } else {
      // Not fatal here: the caller decides (the CLI refuses to run with a --model it
      // cannot load; a library user may still store photos). Reported, not logged,
      // so that the user sees one line.
      report_.clip_error = m.status().to_string();
    }
  }
  if (deps.text) {
    text_ = deps.text;
    text_name_ = deps.text_name.empty() ? "custom-text" : deps.text_name;
  } else if (!cfg.text_model.empty()) {
    auto path = resolve_model(cfg.text_model, cfg.models_dir);
    Result<std::unique_ptr<SentenceEmbedder>> m =
        path.ok() ? SentenceEmbedder::load(*path, precision) : Result<std::unique_ptr<SentenceEmbedder>>(path.status());
    if (m.ok()) {
      text_ = std::shared_ptr<const SentenceEmbedder>(std::move(*m));
      text_name_ = model_tag(cfg.text_model);
      log_precision(text_name_, text_->int8_check());
      save_int8_check(*path, text_->int8_check());
      spdlog::info("sentence model '{}' loaded (dim {})", text_name_, text_->dim());
    } else {
      report_.text_error = m.status().to_string();
    }
  }
  if (deps.vlm_factory) {
    vlm_ = deps.vlm_factory(cfg.vlm);
  } else if (cfg.vlm.configured()) {
    vlm_ = VlmClient::create(cfg.vlm);
  }
  return Status::OK();
}

Status AlbumImpl::init(const Config& cfg, AlbumDeps deps) {
  cfg_ = cfg;
  SA_RETURN_IF_ERROR(image_init());
  const fs::path root(cfg.data_dir);
  for (const char* sub : {"", "originals", "thumbnails", "index"}) {
    SA_RETURN_IF_ERROR(make_dirs((root / sub).string()));
  }
  SA_ASSIGN_OR_RETURN(store_, Store::open((root / "album.db").string()));
  SA_RETURN_IF_ERROR(load_models(cfg, deps));

  AnnOptions ann;
  ann.min_vectors = cfg.ann_min_photos;
  ann.ivf.lists = cfg.ann_lists;
  ann.probe = ProbeOptions{cfg.ann_expected_misses, cfg.ann_probe_fraction};
  if (clip_) {
    SA_ASSIGN_OR_RETURN(clip_vectors_, VectorSet::open(*store_, "clip", clip_name_, clip_->embed_dim(),
                                                       (root / "index" / "clip.faiss").string(),
                                                       deps.index_in_background, ann));
    report_.clip_index = clip_vectors_->load_outcome();
  }
  if (text_) {
    SA_ASSIGN_OR_RETURN(desc_vectors_, VectorSet::open(*store_, "desc", text_name_, text_->dim(),
                                                       (root / "index" / "desc.faiss").string(),
                                                       deps.index_in_background, ann));
    report_.desc_index = desc_vectors_->load_outcome();
  }

  IngestOptions io;
  io.data_dir = root.string();
  io.max_bytes = cfg.max_upload_bytes;
  io.max_pixels = cfg.max_pixels;
  // The opt-in reduced-cost decode: JPEGs DCT-scaled to at least twice the model
  // input, then the exact bicubic (docs/performance.md has its cosine to the exact path).
  const int min_side = cfg.reduced_decode && clip_ ? 2 * clip_->image_resolution() : 0;
  io.decode_min_side = min_side;
  io.clip_resolution = clip_ ? clip_->image_resolution() : 0;
  ingest_ = std::make_unique<Ingestor>(*store_, io);
  pixel_cache_ = std::make_unique<PixelCache>(deps.pixel_cache_bytes);

  // Reconciling walks every photo (missing vectors): with 1M photos seconds
  // before the first answer. A server opening in the background does it on a
  // thread of its own after open returns; its workers are woken when it ends.
  if (!deps.index_in_background) SA_RETURN_IF_ERROR(reconcile_jobs(deps.drop_unrunnable_jobs));

  TextEncoder text_encoder;
  if (text_) {
    std::shared_ptr<const SentenceEmbedder> t = text_;
    text_encoder = [t](const std::vector<std::string>& texts, std::vector<float>* out) {
      out->assign(texts.size() * static_cast<size_t>(t->dim()), 0.0f);
      return t->embed(texts, out->data());
    };
  }

  JobRunnerDeps jd;
  jd.store = store_.get();
  jd.ingest = ingest_.get();
  jd.clip = clip_.get();
  jd.clip_vectors = clip_vectors_.get();
  jd.pixel_cache = pixel_cache_.get();
  jd.embed_batch = cfg.embed_batch;
  jd.limits.max_bytes = cfg.max_upload_bytes;
  jd.limits.max_pixels = cfg.max_pixels;
  jd.limits.min_side = min_side;
  jd.vlm = vlm_.get();
  jd.vlm_concurrency = cfg.vlm.concurrency;
  jd.text_encoder = text_encoder;
  jd.desc_vectors = desc_vectors_.get();
  runner_ = std::make_unique<JobRunner>(jd);

  SearcherDeps sd;
  sd.store = store_.get();
  sd.clip = clip_.get();
  sd.clip_index = clip_vectors_ ? &clip_vectors_->index() : nullptr;
  sd.clip_model = clip_name_;
  sd.text_encoder = text_encoder;
  sd.desc_index = desc_vectors_ ? &desc_vectors_->index() : nullptr;
  sd.text_model = text_name_;
  sd.query_cache_entries = deps.query_cache_entries;
  searcher_ = std::make_unique<Searcher>(sd);

  deps_ = std::move(deps);
  if (deps_.start_workers) runner_->start();
  if (deps_.index_in_background) {
    reconcile_thread_ = std::thread([this] {
      const auto t0 = std::chrono::steady_clock::now();
      Status st = reconcile_jobs(deps_.drop_unrunnable_jobs);
      if (!st.ok() && !reconcile_stop_) spdlog::warn("reconciling the job queue: {}", st.to_string());
      // Only when it is worth knowing (a large library): a CLI error must stay one line.
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (secs >= 1.0) spdlog::info("job queue reconciled in {:.1f} s", secs);
      reconciled_ = true;
      if (runner_) runner_->notify();
    });
  } else {
    reconciled_ = true;
  }
  // What another process commits from now on is picked up by the sync thread.
  SA_ASSIGN_OR_RETURN(int64_t version, store_->data_version());
  data_version_ = version;
  if (deps_.start_workers && deps_.external_sync_ms > 0) {
    const auto every = std::chrono::milliseconds(deps_.external_sync_ms);
    sync_thread_ = std::thread([this, every] {
      std::unique_lock<std::mutex> lk(sync_stop_mu_);
      while (!sync_cv_.wait_for(lk, every, [this] { return sync_stop_; })) {
        lk.unlock();
        auto r = sync_external_changes();
        if (!r.ok()) spdlog::warn("looking for changes by another process: {}", r.status().to_string());
        lk.lock();
      }
    });
  }
  if (deps_.start_workers) start_purge_thread();
  return Status::OK();
}

// Brings the queue in line with the models of this run:
// - with a CLIP model, every photo lacking a vector of it (new photos, photos
//   added without a model, a switched model) is queued, except photos whose
//   embedding failed (a corrupt file would fail again; they need a re-upload);
// - without one, queued embed jobs cannot run: they are dropped and their photos
//   marked 'no_model' (the next run with a model queues them again);
// - with a sentence model, described photos lacking a description vector are queued.
Status AlbumImpl::reconcile_jobs(bool drop_unrunnable) {
  if (clip_) {
    SA_ASSIGN_OR_RETURN(std::vector<int64_t> missing, store_->photo_ids_missing_vector("clip", clip_name_));
    SA_ASSIGN_OR_RETURN(std::vector<int64_t> failed, store_->photo_ids_with_status(PhotoStatus::kFailed));
    std::sort(failed.begin(), failed.end());
    for (int64_t id : missing) {
      if (reconcile_stop_) return Status::Unavailable("album closing");
      if (std::binary_search(failed.begin(), failed.end(), id)) continue;
      SA_RETURN_IF_ERROR(store_->set_photo_status(id, PhotoStatus::kPending));
      SA_ASSIGN_OR_RETURN(bool queued, store_->enqueue_job(JobKind::kEmbed, id));
      if (queued) ++report_.embed_jobs_queued;
    }
    if (report_.embed_jobs_queued > 0) {
      spdlog::info("{} photos queued for embedding with '{}'", report_.embed_jobs_queued, clip_name_);
    }
  } else if (drop_unrunnable) {
    const JobKind kinds[] = {JobKind::kEmbed};
    while (true) {
      SA_ASSIGN_OR_RETURN(std::vector<Job> jobs, store_->claim_jobs(kinds, 512));
      if (jobs.empty()) break;
      for (const auto& j : jobs) {
        (void)store_->set_photo_status(j.photo_id, PhotoStatus::kNoModel);
        SA_RETURN_IF_ERROR(store_->complete_job(j.id));
      }
    }
    SA_ASSIGN_OR_RETURN(std::vector<int64_t> pending, store_->photo_ids_with_status(PhotoStatus::kPending));
    for (int64_t id : pending) SA_RETURN_IF_ERROR(store_->set_photo_status(id, PhotoStatus::kNoModel));
  }
  if (text_) {
    SA_ASSIGN_OR_RETURN(std::vector<int64_t> missing, store_->photo_ids_missing_vector("desc", text_name_));
    constexpr size_t kChunk = 500;
    for (size_t i = 0; i < missing.size(); i += kChunk) {
      std::span<const int64_t> chunk(missing.data() + i, std::min(kChunk, missing.size() - i));
      SA_ASSIGN_OR_RETURN(std::vector<PhotoInfo> photos, store_->get_photos(chunk));
      for (const auto& p : photos) {
        if (p.description.empty() && p.keywords.empty()) continue;
        SA_RETURN_IF_ERROR(store_->enqueue_job(JobKind::kEmbedDesc, p.id).status());
      }
    }
  }
  return Status::OK();
}

}  // namespace sa
