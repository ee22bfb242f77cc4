// Album: the application facade. The HTTP server and the CLI are thin layers over
// this one class; no logic lives only in a route handler or only in the CLI.
//
// Thread safety: all methods may be called concurrently (the server is
// multi-threaded). Background workers (embedding, VLM descriptions) start in
// open() and stop in the destructor.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "search/types.h"  // SearchOptions, SearchHit
#include "store/types.h"   // PhotoInfo, PhotoPage, JobStats, JobFailure, Settings

namespace sa {

struct AddResult {
  int64_t id = 0;
  std::string filename;  // as given (relative path)
  bool duplicate = false;
};

// Per-user libraries (issue 12): the methods that take an OwnerScope act for
// that user -- they see, change and count only the user's photos, and another
// user's photo id is NotFound (404), exactly like an id that never existed.
// New photos belong to scope.owner_id. The default scope ({}: everyone's
// photos, new ones without an owner) is the album without accounts and the
// CLI's maintenance; the server always passes the signed-in user's.
class Album {
 public:
  // Opens (creating if needed) the data directory; loads the models named in
  // cfg (a missing model is not an error: search then reports Unavailable);
  // validates or rebuilds the FAISS indexes; starts the workers.
  static Result<std::unique_ptr<Album>> open(const Config& cfg);
  virtual ~Album() = default;

  // Adds one file. `name` may carry a relative path ("trip/day1/a.jpg"): it is
  // stored as metadata only, never used as a path on disk. Validates by decoding.
  // InvalidArgument / ResourceExhausted for a bad file; duplicates are not errors.
  virtual Result<AddResult> add_file(std::string_view name, std::string_view bytes,
                                     const OwnerScope& scope = {}) = 0;

  // Imports a folder recursively (skips files already present by hash).
  // progress(done, total, current_name) is called after each file. Names are
  // recorded under the folder's own name ("." imports as the current folder's name).
  struct ImportReport {
    int64_t added = 0, duplicates = 0, rejected = 0;
    std::vector<std::pair<std::string, std::string>> errors;  // (path, reason)
    // Entries the folder scan could not list (unreadable folders, broken links ...).
    std::vector<std::pair<std::string, std::string>> skipped;  // (path, reason)
    int64_t total = 0;       // files found by the scan
    bool cancelled = false;  // stopped before every file was tried
    std::vector<int64_t> photo_ids;  // the photos added or found as duplicates, in no order
  };
  virtual Result<ImportReport> import_folder(
      const std::string& dir,
      const std::function<void(int64_t, int64_t, const std::string&)>& progress = {},
      const OwnerScope& scope = {}) = 0;

  // before_id > 0: the photos older than that id instead of a page (Store::list_photos).
  virtual Result<PhotoPage> list_photos(int page, int per_page, int64_t before_id = 0,
                                        const OwnerScope& scope = {}) = 0;
  // The timeline's list (sort, keyset cursor, date range; q.scope). Defaults to
  // Unimplemented so that test doubles need not provide it.
  virtual Result<PhotoPage> query_photos(const PhotoQuery& q) {
    (void)q;
    return Status::Unimplemented("query_photos");
  }
  virtual Result<std::vector<MonthCount>> timeline(const OwnerScope& scope = {}) {
    (void)scope;
    return Status::Unimplemented("timeline");
  }
  // Distinct folders with their photo counts, by name (the search bar's folder filter).
  virtual Result<std::vector<std::pair<std::string, int64_t>>> folders(const OwnerScope& scope = {}) {
    (void)scope;
    return Status::Unimplemented("folders");
  }
  // A JPEG of the photo, long edge <= 2048 px, made on first use and cached in the
  // data directory (previews/). NotFound for an unknown photo.
  virtual Result<std::string> preview_path(int64_t id, const OwnerScope& scope = {}) {
    (void)id;
    (void)scope;
    return Status::Unimplemented("preview");
  }
  virtual Result<PhotoInfo> get_photo(int64_t id, const OwnerScope& scope = {}) = 0;
  virtual Result<std::string> thumbnail_path(int64_t id, const OwnerScope& scope = {}) = 0;
  virtual Result<std::string> original_path(int64_t id, const OwnerScope& scope = {}) = 0;
  // The files on disk stay while another owner's photo has the same bytes.
  virtual Status delete_photo(int64_t id, const OwnerScope& scope = {}) = 0;

  // Queues a VLM description (re-analyze allowed). Unavailable if no VLM is configured.
  virtual Status analyze(int64_t id, const OwnerScope& scope = {}) = 0;
  // Queues descriptions for every photo without one; returns how many were queued.
  virtual Result<int64_t> analyze_missing(const OwnerScope& scope = {}) = 0;
  // analyze --refresh: queues a new description (with the visible text) for
  // every photo not in the trash, described or not; returns how many were queued.
  virtual Result<int64_t> analyze_all() { return Status::Unimplemented("analyze_all"); }

  // Unavailable when no CLIP model is loaded. Only photos of opt.scope are found.
  virtual Result<std::vector<SearchHit>> search(const std::string& query, const SearchOptions& opt) = 0;
  virtual Result<std::vector<SearchHit>> similar(int64_t id, int limit, const OwnerScope& scope = {}) = 0;

  virtual Settings settings() = 0;
  virtual Status set_settings(const Settings& s) = 0;
  // The job counts of the photos of `scope`.
  virtual JobStats job_stats(const OwnerScope& scope = {}) = 0;

  // Blocks until the job queue is empty (or timeout); for the CLI and tests.
  virtual bool wait_idle(double timeout_s) = 0;

  virtual bool has_clip_model() const = 0;
  virtual bool has_text_model() const = 0;
  virtual bool has_vlm() const = 0;
  virtual std::string model_name() const = 0;
  // Name of the loaded sentence model ("" when none).
  virtual std::string text_model_name() const { return {}; }

  // ---- organising (app/album_organise.cpp; docs/organise.md) ----
  // The defaults answer Unimplemented so that test doubles need not implement them.
  // Per user: each takes the scope it acts for (f.scope for the listing);
  // the Store's organising section says what an owner, a contributor and a
  // viewer of a shared album may do.
  // A filtered listing (favourites, one album); trashed photos never appear.
  virtual Result<PhotoPage> list_photos_filtered(const PhotoFilter& f, int page, int per_page,
                                                 int64_t before_id = 0) {
    return Status::Unimplemented("list_photos_filtered");
  }
  // Applies one action to every id in one transaction (BatchResult): ids of
  // other users' photos are listed in not_found like missing ones. NotFound
  // for an unknown album (add/remove_from_album).
  virtual Result<BatchResult> batch(BatchAction action, std::span<const int64_t> ids,
                                    int64_t album_id = 0, const OwnerScope& scope = {}) {
    return Status::Unimplemented("batch");
  }
  // The trash, most recently trashed first; photos leave it after 30 days.
  virtual Result<PhotoPage> list_trash(int page, int per_page, const OwnerScope& scope = {}) {
    return Status::Unimplemented("list_trash");
  }
  // Empties the trash: its photos leave every listing now; their rows, files and
  // vectors are removed by the background purge (which resumes after a restart).
  virtual Result<int64_t> empty_trash(const OwnerScope& scope = {}) {
    return Status::Unimplemented("empty_trash");
  }

  // The scope's own albums and those shared with it (AlbumInfo::role).
  virtual Result<std::vector<AlbumInfo>> list_albums(const OwnerScope& scope = {}) {
    return Status::Unimplemented("albums");
  }
  virtual Result<AlbumInfo> create_album(const std::string& name, const OwnerScope& scope = {}) {
    return Status::Unimplemented("albums");
  }
  virtual Result<AlbumInfo> get_album(int64_t id, const OwnerScope& scope = {}) {
    return Status::Unimplemented("albums");
  }
  // Renames (name set) and/or sets the cover (cover_photo_id set: a photo of the album, 0 = automatic).
  virtual Result<AlbumInfo> update_album(int64_t id, std::optional<std::string> name,
                                         std::optional<int64_t> cover_photo_id, const OwnerScope& scope = {}) {
    return Status::Unimplemented("albums");
  }
  virtual Status delete_album(int64_t id, const OwnerScope& scope = {}) {
    return Status::Unimplemented("albums");
  }
  // Sharing an album with another user (owner only; Store::share_album).
  virtual Status share_album(int64_t id, int64_t user_id, AlbumRole role, const OwnerScope& scope) {
    return Status::Unimplemented("albums");
  }
  virtual Status unshare_album(int64_t id, int64_t user_id, const OwnerScope& scope) {
    return Status::Unimplemented("albums");
  }
  virtual Result<std::vector<AlbumShare>> album_shares(int64_t id, const OwnerScope& scope) {
    return Status::Unimplemented("albums");
  }

  // Near-duplicate groups from the CLIP vectors: photos linked by a cosine
  // similarity >= threshold (transitively), among the scope's own photos.
  // Unavailable without a CLIP model.
  virtual Result<std::vector<DuplicateGroup>> duplicates(float threshold, const OwnerScope& scope = {}) {
    return Status::Unimplemented("duplicates");
  }
  // How the CLIP / sentence model runs: "fp32", or the INT8 self-check's
  // summary (model/precision.h) when int8 was asked for; "" when none loaded.
  virtual std::string model_precision() const { return {}; }
  virtual std::string text_model_precision() const { return {}; }
};

}  // namespace sa
