// AlbumImpl: the Album facade wired from the modules (store, index, ingest,
// jobs, search, model, vlm). Album::open(cfg) builds one from a Config; tests
// and benchmarks use open_album(cfg, deps) to inject preloaded models or a fake
// VLM client.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <optional>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "app/album.h"
#include "index/vector_index.h"
#include "jobs/job_runner.h"
#include "model/chinese_clip.h"
#include "model/sentence_embedder.h"
#include "vlm/vlm_client.h"

namespace sa {

struct AlbumDeps {
  // Preloaded models take precedence over cfg.model / cfg.text_model. The name is
  // what stored vectors are tagged with (vectors of another name are re-embedded).
  std::shared_ptr<const ChineseClip> clip;
  std::string clip_name;
  std::shared_ptr<const SentenceEmbedder> text;
  std::string text_name;
  // Builds the VLM client. Empty: VlmClient::create(cfg.vlm) when cfg.vlm.configured().
  std::function<std::unique_ptr<VlmClient>(const VlmConfig&)> vlm_factory;
  // false: no background threads (jobs stay queued; tests of restart/resume).
  bool start_workers = true;
  // Bytes of preprocessed CLIP inputs kept between ingest and the embed worker.
  size_t pixel_cache_bytes = size_t(256) << 20;
  // Threads import_folder() decodes with (0 = a quarter of the cores, at least 1;
  // at least 2 while the embed worker runs: bench_album's exact import ran at 0.63
  // of the tower's rate with two, 0.56 with one, interleaved runs, issue 17).
  int import_threads = 0;
  // > 0: while the embed worker runs, import_folder()'s decode threads run this much
  // nicer than the process (per thread, Linux; at most nice 19), so they never
  // preempt the encoder's two threads. Off by default: measured (bench_album
  // import_12mp_exact_nice10) the decodes then only ran while the encoder was idle,
  // it took every photo alone (mean batch 1.0) and the rate did not improve.
  int import_nice = 0;
  // Recent query embeddings kept by the searcher (0: none; benchmarks of the
  // full query path turn it off).
  size_t query_cache_entries = 256;
  // With workers: how often to look for what another process (a CLI import
  // beside the server) wrote to the album, ms (0: never; tests call
  // sync_external_changes() themselves).
  int external_sync_ms = 2000;
  // Without a CLIP model, queued embed jobs cannot run: at open they are
  // dropped and their photos marked 'no_model' (the next run with a model
  // queues them again). A CLI process beside a server turns this off, or it
  // would take the server's queued jobs away from it.
  bool drop_unrunnable_jobs = true;
  // The clock the trash reads (trashed_at, 30-day expiry); tests pass a fake.
  std::function<std::chrono::system_clock::time_point()> clock;
  // With workers: how often the background purge looks for expired trash, ms
  // (0: only at open and after empty_trash(); tests call purge_trash()).
  int trash_purge_ms = 3'600'000;
  // The vector indexes load (or rebuild) on a thread of their own after open
  // returns; searches meanwhile scan the store exactly (VectorSet::open). The
  // server does this, so a restart with 1M photos answers at once; the CLI and
  // most tests load before open returns (open_report() then says how).
  // The job queue is then reconciled with the models on a thread too
  // (reconciled() says when), so that nothing linear in the library runs
  // before the server answers.
  bool index_in_background = false;
};

// What open() found; for logs, /api/health and tests.
struct AlbumOpenReport {
  std::string clip_error;   // why no CLIP model is loaded ("" if loaded or none asked)
  std::string text_error;
  IndexLoadOutcome clip_index = IndexLoadOutcome::kLoaded;
  IndexLoadOutcome desc_index = IndexLoadOutcome::kLoaded;
  int64_t embed_jobs_queued = 0;  // photos queued at open for a (new) model
};

class Ingestor;
class PixelCache;
class Searcher;
class Store;
class VectorSet;

class AlbumImpl final : public Album {
 public:
  ~AlbumImpl() override;

  Result<AddResult> add_file(std::string_view name, std::string_view bytes,
                             const OwnerScope& scope = {}) override;
  Result<ImportReport> import_folder(
      const std::string& dir,
      const std::function<void(int64_t, int64_t, const std::string&)>& progress = {},
      const OwnerScope& scope = {}) override;
  Result<PhotoPage> list_photos(int page, int per_page, int64_t before_id = 0,
                                const OwnerScope& scope = {}) override;
  Result<PhotoPage> query_photos(const PhotoQuery& q) override;
  Result<std::vector<MonthCount>> timeline(const OwnerScope& scope = {}) override;
  Result<std::vector<std::pair<std::string, int64_t>>> folders(const OwnerScope& scope = {}) override;
  Result<std::string> preview_path(int64_t id, const OwnerScope& scope = {}) override;
  Result<PhotoInfo> get_photo(int64_t id, const OwnerScope& scope = {}) override;
  Result<std::string> thumbnail_path(int64_t id, const OwnerScope& scope = {}) override;
  Result<std::string> original_path(int64_t id, const OwnerScope& scope = {}) override;
  Status delete_photo(int64_t id, const OwnerScope& scope = {}) override;
  Status analyze(int64_t id, const OwnerScope& scope = {}) override;
  Result<int64_t> analyze_missing(const OwnerScope& scope = {}) override;
  Result<int64_t> analyze_all() override;
  Result<int64_t> queue_descriptions(const std::vector<int64_t>& ids);
  Result<std::vector<SearchHit>> search(const std::string& query, const SearchOptions& opt) override;
  Result<std::vector<SearchHit>> similar(int64_t id, int limit, const OwnerScope& scope = {}) override;
  Settings settings() override;
  Status set_settings(const Settings& s) override;
  JobStats job_stats(const OwnerScope& scope = {}) override;
  bool wait_idle(double timeout_s) override;
  bool has_clip_model() const override { return clip_ != nullptr; }
  bool has_text_model() const override { return text_ != nullptr; }
  bool has_vlm() const override { return vlm_ != nullptr; }
  std::string model_name() const override { return clip_name_; }
  std::string model_precision() const override;
  std::string text_model_precision() const override;

  // Organising (album_organise.cpp).
  Result<PhotoPage> list_photos_filtered(const PhotoFilter& f, int page, int per_page,
                                         int64_t before_id = 0) override;
  Result<BatchResult> batch(BatchAction action, std::span<const int64_t> ids,
                            int64_t album_id = 0, const OwnerScope& scope = {}) override;
  Result<PhotoPage> list_trash(int page, int per_page, const OwnerScope& scope = {}) override;
  Result<int64_t> empty_trash(const OwnerScope& scope = {}) override;
  Result<std::vector<AlbumInfo>> list_albums(const OwnerScope& scope = {}) override;
  Result<AlbumInfo> create_album(const std::string& name, const OwnerScope& scope = {}) override;
  Result<AlbumInfo> get_album(int64_t id, const OwnerScope& scope = {}) override;
  Result<AlbumInfo> update_album(int64_t id, std::optional<std::string> name,
                                 std::optional<int64_t> cover_photo_id, const OwnerScope& scope = {}) override;
  Status delete_album(int64_t id, const OwnerScope& scope = {}) override;
  Status share_album(int64_t id, int64_t user_id, AlbumRole role, const OwnerScope& scope) override;
  Status unshare_album(int64_t id, int64_t user_id, const OwnerScope& scope) override;
  Result<std::vector<AlbumShare>> album_shares(int64_t id, const OwnerScope& scope) override;
  Result<std::vector<DuplicateGroup>> duplicates(float threshold, const OwnerScope& scope = {}) override;
  // import --album NAME: the scope's album with that name (created if missing)
  // gets `ids`, except photos in the trash. Returns the album.
  Result<AlbumInfo> add_to_named_album(const std::string& name, std::span<const int64_t> ids,
                                       const OwnerScope& scope = {});
  // Deletes for good (rows, vectors, index entries, files) every photo whose
  // time in the trash is over or that an emptied trash holds; returns how many.
  // The background purge calls it; tests call it with a fake clock.
  Result<int64_t> purge_trash();
  // Photos stay restorable this long.
  static constexpr std::chrono::hours kTrashRetention{24 * 30};

  // Beyond the Album interface (benchmarks, health, tests).
  // import_folder() that stops starting files once `cancel` is true (a signal
  // handler may set it): files already being added finish (each add is atomic),
  // the report counts what was done and says cancelled.
  Result<ImportReport> import_folder(
      const std::string& dir, const std::function<void(int64_t, int64_t, const std::string&)>& progress,
      const std::atomic<bool>& cancel, const OwnerScope& scope = {});
  const AlbumOpenReport& open_report() const { return report_; }
  // Waits up to timeout_s for the vector indexes of a background open
  // (AlbumDeps::index_in_background) to be loaded; true when they are.
  bool wait_indexes_ready(double timeout_s) const;
  // The CLIP vectors (index + store rows), or null without a CLIP model: for
  // benchmarks and tests that look at the index's state (IVF layout, recall).
  const VectorSet* clip_vectors() const { return clip_vectors_.get(); }
  // Whether the job queue has been reconciled with the models (at once, or
  // after a background open's reconciliation ended; open_report().
  // embed_jobs_queued is final then).
  bool reconciled() const { return reconciled_; }
  EmbedStats embed_stats() const;
  std::string text_model_name() const { return text_name_; }
  Store& store() { return *store_; }
  // Stops the workers (as the destructor does); queued jobs stay queued.
  void stop_workers();
  // Picks up what another process committed since the last call: vectors it
  // stored go into (and vectors it deleted out of) the search indexes, and
  // photos it added without a model are queued for embedding when this album
  // has one. Cheap when nothing changed (one PRAGMA). Returns how many index
  // entries and photos it changed or queued. Runs every external_sync_ms.
  Result<int64_t> sync_external_changes();
  // Starts them after an open with AlbumDeps::start_workers = false (the CLI
  // first notes the job counts, so that it counts exactly this run's jobs).
  void start_workers();

 private:
  friend Result<std::unique_ptr<AlbumImpl>> open_album(const Config& cfg, AlbumDeps deps);
  AlbumImpl() = default;
  Status init(const Config& cfg, AlbumDeps deps);
  Status load_models(const Config& cfg, AlbumDeps& deps);
  Status reconcile_jobs(bool drop_unrunnable);  // AlbumDeps::drop_unrunnable_jobs
  // file_mtime: an imported file's modification time, its taken_at when it has no EXIF date.
  // cache_reserved: bytes of the pixel cache reserved for this photo's CLIP input
  // (PixelCache::wait_for_room); always given back.
  Result<AddResult> add_file_impl(std::string_view name, std::string_view bytes, const OwnerScope& scope,
                                  std::optional<std::time_t> file_mtime = std::nullopt, size_t cache_reserved = 0);
  // The photo if it is in `scope`; NotFound otherwise (another user's id is
  // indistinguishable from a missing one). shared_ok: also a photo in an album
  // the user owns or that is shared with them (viewing it, nothing more).
  Result<PhotoInfo> photo_in_scope(int64_t id, const OwnerScope& scope, bool shared_ok = false);

  Config cfg_;
  AlbumDeps deps_;
  AlbumOpenReport report_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<const ChineseClip> clip_;
  std::string clip_name_;
  std::shared_ptr<const SentenceEmbedder> text_;
  std::string text_name_;
  std::unique_ptr<VlmClient> vlm_;
  std::unique_ptr<VectorSet> clip_vectors_, desc_vectors_;
  std::unique_ptr<Ingestor> ingest_;
  std::unique_ptr<PixelCache> pixel_cache_;
  std::unique_ptr<JobRunner> runner_;  // declared after what it uses: destroyed first
  std::unique_ptr<Searcher> searcher_;

  std::mutex sync_mu_;  // one sync_external_changes() at a time; guards data_version_
  int64_t data_version_ = 0;
  std::mutex sync_stop_mu_;
  std::condition_variable sync_cv_;
  bool sync_stop_ = false;
  std::thread sync_thread_;
  // reconcile_jobs() on a thread of its own (AlbumDeps::index_in_background).
  std::atomic<bool> reconcile_stop_{false};
  std::atomic<bool> reconciled_{false};
  std::thread reconcile_thread_;
  bool purge_wake_ = false;  // guarded by sync_stop_mu_
  std::thread purge_thread_;

  std::chrono::system_clock::time_point now() const;
  void start_purge_thread();
};

Result<std::unique_ptr<AlbumImpl>> open_album(const Config& cfg, AlbumDeps deps = {});

}  // namespace sa
