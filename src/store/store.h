// Store: the album's source of truth in one SQLite database (album.db).
//
// Tables (docs/storage.md has the full schema and migration rules):
//   photos      metadata, embedding status, VLM description + keywords
//   vectors     one float32 vector per (photo, kind): 'clip' image embeddings and
//               'desc' description embeddings; FAISS indexes are rebuilt from here
//   jobs        persistent work queue ('embed' | 'describe' | 'embed_desc')
//   settings    key/value
//   photos_fts  FTS5 (trigram) over filename, folder, description, keywords,
//               kept in sync by triggers
//
// Thread safety: every method may be called from any thread. The Store owns one
// connection and serialises calls with a mutex (WAL mode, so another process --
// e.g. a CLI `search` beside a running server -- can still read). Callbacks
// passed to for_each_vector() run under that mutex and must not call back into
// the Store.
//
// Errors: NotFound for a missing photo/job/vector, InvalidArgument for a bad
// vector kind or size, IOError/Corruption from SQLite. States and kinds are the
// enums of store/types.h; their strings appear only in the SQL (to_string/parse_*).
//
// The implementation is split by table: store.cpp (open, schema), photos.cpp,
// vectors.cpp, jobs.cpp, settings.cpp, text_search.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "store/db.h"
#include "store/types.h"  // PhotoInfo, PhotoPage, JobStats, JobFailure, Settings

namespace sa {

struct StoreOptions {
  int busy_timeout_ms = 5000;
  // At open, jobs left 'running' by a crash go back to 'pending' (and photos
  // whose vlm_status is 'running' go back to 'pending'). Turn off for a second
  // process (CLI search) opening a database a server is working on.
  bool recover_jobs = true;
  // Apply schema migrations up to this version only (0: all). For tests that
  // build an older database to check what a later migration does to it.
  int migrate_up_to = 0;
};

struct InsertPhotoResult {
  int64_t id = 0;
  bool duplicate = false;  // a photo with the same hash already existed; id is that photo's
};

// Identifies the exact set of vectors of one (kind, model) in the database, so
// a saved FAISS index can be checked against it. `generation` is a per-kind
// counter bumped by triggers on every insert/update/delete in `vectors`
// (cascaded deletes included) and never decreases, so any change after an index
// was saved makes the fingerprint differ.
struct VectorFingerprint {
  int64_t count = 0;       // vectors of this kind AND model
  int64_t max_id = 0;      // largest photo_id among them (0 if none)
  int64_t id_sum = 0;      // sum of their photo ids
  int64_t generation = 0;  // change counter for the kind
  bool operator==(const VectorFingerprint&) const = default;
};

struct StoredVector {
  std::string model;
  std::vector<float> data;
};

struct TextHit {
  int64_t photo_id = 0;
  // keyword_score(query, keyword_text(photo)) (store/keyword_score.h): the same
  // number hybrid search reports as the photo's keyword_score. Ties keep bm25
  // order (FTS5 path) or newest first (LIKE path).
  float score = 0;
};

class Store {
 public:
  // Opens or creates `path` (":memory:" for tests), applies pending migrations in
  // one transaction each, and recovers crashed jobs (see StoreOptions).
  // Opening an already-migrated database is a no-op for the schema.
  // Corruption if the file is not a database or has a schema version newer
  // than this binary knows.
  static Result<std::unique_ptr<Store>> open(const std::string& path, const StoreOptions& opt = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schema_version();
  // The highest migration this binary knows (what a new database gets).
  static int latest_schema_version();
  // SQLite's PRAGMA data_version: changes when another connection (another
  // process: a CLI import beside the server) commits, not for this one's own.
  Result<int64_t> data_version();

  // ---- photos (photos.cpp) ----
  // Inserts `p` (its id is ignored) and queues `jobs` for it, in one
  // transaction: the row and its jobs exist together or not at all. added_at
  // defaults to now (UTC ISO 8601). A duplicate hash is not an error: it returns
  // the existing id with duplicate=true and changes nothing (no jobs either).
  // Duplicates are per owner (p.owner_id; 0 = no owner): the same bytes of
  // two users are two photos (schema migration 7). InvalidArgument for an
  // empty hash. before_commit (optional) runs with the new id after the row
  // and its jobs are written and before they commit (under the store's lock:
  // keep it short), e.g. to hand work to whoever will run those jobs, which
  // cannot see them before the commit.
  Result<InsertPhotoResult> insert_photo(const PhotoInfo& p, std::span<const JobKind> jobs = {},
                                         const std::function<void(int64_t id)>& before_commit = {});
  // Any owner's photo: callers that act for a user check PhotoInfo::owner_id
  // (OwnerScope::sees).
  Result<PhotoInfo> get_photo(int64_t id);
  // The photo with these bytes owned by owner_id (0: the one without an
  // owner). NotFound if none.
  Result<PhotoInfo> get_photo_by_hash(const std::string& hash, int64_t owner_id = 0);
  // How many photos, of any owner, have these bytes (the files on disk are
  // shared by hash: removed only when this is 0).
  Result<int64_t> count_photos_with_hash(const std::string& hash);
  // Ids of the photos of owner_id, ascending (the search filter).
  Result<std::vector<int64_t>> photo_ids_of_owner(int64_t owner_id);
  // Ids of the photos not in the trash of f.scope (f.album_id is ignored),
  // favourites only if f.favorite_only, whose taken_at starts with a date in
  // the inclusive prefix range [date_from, date_to] (either may be empty) and
  // whose folder is `folder` or below it ("": any): at most limit + 1 of them,
  // ascending (more than limit: the filter admits too many to list). The
  // search's filters under the approximate index (a superset: the search
  // still checks each hit).
  Result<std::vector<int64_t>> photo_ids_matching(const PhotoFilter& f, std::string_view date_from,
                                                  std::string_view date_to, std::string_view folder,
                                                  int64_t limit);
  // Whether any photo belongs to someone other than owner_id (NULL counts as
  // other): when none does, a search for that owner needs no filter.
  Result<bool> has_photos_not_of(int64_t owner_id);
  // The photos among `ids` that exist, in the order of `ids`. Photos in the
  // trash are left out unless include_trashed (search and similar hydrate
  // their hits here, so a trashed photo leaves them at once).
  Result<std::vector<PhotoInfo>> get_photos(std::span<const int64_t> ids, bool include_trashed = false);
  // Newest first (by id, i.e. insertion order); page is 1-based. per_page is
  // clamped to [1, 1000]; a page past the end gives an empty items list.
  // before_id > 0: the per_page newest photos with id < before_id instead of a
  // page (a cursor: deletes and uploads in between shift nothing; page is 1).
  // Photos in the trash are not listed (nor counted in total).
  Result<PhotoPage> list_photos(int page, int per_page, int64_t before_id = 0,
                                const OwnerScope& scope = {});
  Result<int64_t> count_photos(const OwnerScope& scope = {});
  // The timeline's list: q.sort "taken" (taken_at newest first, then id) or
  // "added" (id newest first); q.cursor from the previous page's next_cursor
  // (keyset: stable under inserts and deletes), else q.offset; q.date_from /
  // q.date_to inclusive prefixes of taken_at (checked by the caller). total
  // counts the photos matching the date range. InvalidArgument for an unknown
  // sort or a malformed cursor.
  Result<PhotoPage> query_photos(const PhotoQuery& q);
  // Photos per "YYYY-MM" of taken_at, newest first.
  Result<std::vector<MonthCount>> timeline(const OwnerScope& scope = {});
  // Distinct non-empty folders and their photo counts, by name.
  Result<std::vector<std::pair<std::string, int64_t>>> folders(const OwnerScope& scope = {});
  // Replaces taken_at and its source ("exif" | "file" | "upload"). NotFound if no photo.
  Status set_taken_at(int64_t id, std::string_view taken_at, std::string_view source);
  // Deletes the row (its vectors, jobs and FTS entry go with it) and returns
  // what it was, so the caller can remove the original and the thumbnail.
  Result<PhotoInfo> delete_photo(int64_t id);
  // Embedding status; error may be "".
  Status set_photo_status(int64_t id, PhotoStatus status, std::string_view error = "");
  // Ids of photos with the given embedding status, ascending.
  Result<std::vector<int64_t>> photo_ids_with_status(PhotoStatus status);
  Status set_vlm_status(int64_t id, VlmStatus vlm_status, std::string_view error = "");
  // Stores a VLM result: description, keywords (JSON array), vlm_model,
  // described_at = now, vlm_status = kDone, vlm_error cleared. FTS follows.
  // photo_text: the visible text the VLM read ("" if none); indexed in FTS too.
  Status set_description(int64_t id, std::string_view description,
                         const std::vector<std::string>& keywords, std::string_view vlm_model,
                         std::string_view photo_text = "");
  // Last VLM error for a photo ("" if none); also PhotoInfo::vlm_error.
  Result<std::string> vlm_error(int64_t id);
  // Ids of photos with vlm_status kNone or kFailed (candidates for analyze_missing).
  Result<std::vector<int64_t>> photo_ids_without_description(const OwnerScope& scope = {});
  // Ids of every photo not in the trash, ascending (analyze --refresh).
  Result<std::vector<int64_t>> photo_ids_not_trashed(const OwnerScope& scope = {});

  // ---- vectors (vectors.cpp) ----
  // Inserts or replaces the vector of (photo_id, kind). kind: "clip" | "desc".
  // InvalidArgument for an empty vector or an unknown kind; NotFound if the photo
  // does not exist. Stored as float32 little-endian.
  Status put_vector(int64_t photo_id, std::string_view kind, std::string_view model,
                    std::span<const float> v);
  Result<StoredVector> get_vector(int64_t photo_id, std::string_view kind);  // NotFound if none
  // The vectors of `kind` of those `ids` that have one, keyed by photo id, read
  // in a few statements (one per 500 ids) rather than one per photo. A row with
  // a malformed BLOB is left out like a missing one.
  Result<std::unordered_map<int64_t, StoredVector>> get_vectors(std::span<const int64_t> ids,
                                                                 std::string_view kind);
  Status delete_vector(int64_t photo_id, std::string_view kind);             // ok if none
  // Deletes every vector of `kind` whose model differs from `model` (after a
  // model switch); returns how many were deleted.
  Result<int64_t> delete_vectors_not_of_model(std::string_view kind, std::string_view model);
  // Photos with no vector of `kind` from `model` (missing or another model), ascending.
  Result<std::vector<int64_t>> photo_ids_missing_vector(std::string_view kind, std::string_view model);
  Result<VectorFingerprint> vector_fingerprint(std::string_view kind, std::string_view model);
  // Photos that have a vector of (kind, model), ascending.
  Result<std::vector<int64_t>> photo_ids_with_vector(std::string_view kind, std::string_view model);
  // Streams every vector of (kind, model) with dimension `dim` in ascending
  // photo id order, in batches of up to `batch` rows: fn(ids, data) where data
  // is row-major [ids.size() x dim]. Rows of another dimension are skipped (they
  // count as missing). A non-OK Status from fn stops the walk and is returned.
  // Runs under the store mutex: fn must not call the Store.
  Status for_each_vector(std::string_view kind, std::string_view model, int dim,
                         const std::function<Status(std::span<const int64_t>, std::span<const float>)>& fn,
                         int batch = 4096);
  // One batch of the same walk without holding the store across batches: up to
  // `limit` vectors of (kind, model, dim) with photo_id > after_id, ascending,
  // appended to *ids and *data (row-major). Returns how many. A background
  // index rebuild reads this way so that requests are not blocked for the
  // whole walk (seconds at 1M vectors).
  Result<int64_t> read_vectors(std::string_view kind, std::string_view model, int dim, int64_t after_id,
                               int limit, std::vector<int64_t>* ids, std::vector<float>* data);

  // ---- jobs (jobs.cpp) ----
  // Queues a job unless an identical (kind, photo_id) job is already pending.
  // Returns true if a new job was queued. NotFound if the photo does not exist.
  Result<bool> enqueue_job(JobKind kind, int64_t photo_id);
  // Atomically moves up to n pending jobs of the given kinds (all kinds if
  // empty) to 'running', oldest first, incrementing attempts. Two threads or
  // processes never claim the same job.
  Result<std::vector<Job>> claim_jobs(std::span<const JobKind> kinds, int n);
  Status complete_job(int64_t job_id);
  // Records `reason`. retry=true puts the job back to 'pending' (the caller
  // decides from Job::attempts); otherwise it becomes 'failed'.
  Status fail_job(int64_t job_id, std::string_view reason, bool retry = false);
  // failed -> pending for `kind` (all kinds if nullopt); returns how many.
  Result<int64_t> retry_failed_jobs(std::optional<JobKind> kind = std::nullopt);
  // running -> pending (crash recovery; done by open() unless disabled); returns how many.
  Result<int64_t> reset_running_jobs();
  // Deletes finished ('done') jobs; returns how many.
  Result<int64_t> purge_done_jobs();
  Result<Job> get_job(int64_t job_id);
  // Counts per state plus the `n_recent` most recent failures (newest first),
  // of the jobs of the photos in `scope`.
  Result<JobStats> job_stats(int n_recent = 10, const OwnerScope& scope = {});
  // Pending + running jobs of `kind` (all kinds if nullopt).
  Result<int64_t> active_job_count(std::optional<JobKind> kind = std::nullopt);

  // ---- settings (settings.cpp) ----
  Result<std::optional<std::string>> get_setting(std::string_view key);
  Status set_setting(std::string_view key, std::string_view value);
  // "1"/"true" -> true, "0"/"false" -> false, missing or other -> fallback.
  bool get_bool(std::string_view key, bool fallback);
  Status set_bool(std::string_view key, bool value);
  // Keys "auto_analyze", "enhanced_search" (defaults false).
  Settings settings();
  Status set_settings(const Settings& s);

  // ---- organising (organise.cpp): trash, favourites, albums, sharing ----
  // Per-user (issue 12): every method takes the OwnerScope it acts for; an
  // album or photo outside it is NotFound, as if it did not exist.
  // list_photos() narrowed by `f`; photos in the trash are never listed.
  // f.album_id: every photo of that album (whoever owns it) for a scope that
  // may see the album; otherwise only f.scope's own photos.
  Result<PhotoPage> list_photos_filtered(const PhotoFilter& f, int page, int per_page,
                                         int64_t before_id = 0);
  // One transaction (Album::batch). `now` is stored as trashed_at; a photo
  // trashed at or before `trash_cutoff` has expired and can no longer be
  // restored. NotFound for an unknown album (album actions).
  Result<BatchResult> apply_batch(BatchAction action, std::span<const int64_t> ids,
                                  int64_t album_id, std::string_view now,
                                  std::string_view trash_cutoff, const OwnerScope& scope = {});
  // Photos trashed after `cutoff` (not expired), most recently trashed first.
  Result<PhotoPage> list_trash(std::string_view cutoff, int page, int per_page,
                               const OwnerScope& scope = {});
  // Marks every photo in the trash as expired (trashed_at = kTrashEmptiedAt);
  // returns how many. The purge then removes them.
  Result<int64_t> expire_all_trash(const OwnerScope& scope = {});
  // Photos trashed at or before `cutoff`, ascending (what the purge removes).
  Result<std::vector<int64_t>> trash_expired_ids(std::string_view cutoff);
  // Every photo in the trash (expired or not), ascending.
  Result<std::vector<int64_t>> trashed_photo_ids();
  static constexpr const char* kTrashEmptiedAt = "1970-01-01T00:00:00Z";

  // Albums. InvalidArgument for an empty name (after trimming) or one over 200
  // bytes; NotFound for an unknown album id or one the scope may not see.
  // The scope's own albums and those shared with it, newest first.
  Result<std::vector<AlbumInfo>> list_albums(const OwnerScope& scope = {});
  // Owned by scope.owner_id (none for 0).
  Result<AlbumInfo> create_album(std::string_view name, const OwnerScope& scope = {});
  // The scope's oldest album with exactly this name, created if there is none.
  Result<AlbumInfo> find_or_create_album(std::string_view name, const OwnerScope& scope = {});
  Result<AlbumInfo> get_album(int64_t id, const OwnerScope& scope = {});
  // Owner only. cover_photo_id: 0 = automatic (newest photo); otherwise
  // InvalidArgument unless that photo is in the album and not in the trash.
  Result<AlbumInfo> update_album(int64_t id, const std::optional<std::string>& name,
                                 std::optional<int64_t> cover_photo_id, const OwnerScope& scope = {});
  Status delete_album(int64_t id, const OwnerScope& scope = {});  // owner only
  // Ids of the album's photos that are not in the trash, ascending (any owner's).
  Result<std::vector<int64_t>> album_photo_ids(int64_t album_id, const OwnerScope& scope = {});

  // Sharing (owner only, else NotFound): share with a user as kViewer or
  // kContributor (again: changes the role); InvalidArgument for kOwner or the
  // owner themself, NotFound for an unknown user.
  Status share_album(int64_t album_id, int64_t user_id, AlbumRole role, const OwnerScope& scope);
  // Ends a share: the owner ends anyone's, a recipient their own (leaving).
  Status unshare_album(int64_t album_id, int64_t user_id, const OwnerScope& scope);
  Result<std::vector<AlbumShare>> album_shares(int64_t album_id, const OwnerScope& scope);
  // Whether the photo (not in the trash) is in an album that user owns or that
  // is shared with them: such a photo may be viewed by them, nothing more.
  Result<bool> photo_in_visible_album(int64_t photo_id, int64_t user_id);

  // ---- text search (text_search.cpp) ----
  // Finds photos whose filename, folder, description or keywords contain every
  // whitespace-separated term of `query` (case-insensitive for ASCII). Terms of
  // 3+ characters go through FTS5 trigram; if any term is shorter (e.g. "日落"),
  // the query falls back to LIKE over the same columns (a table scan; fine up to
  // ~10^5 photos). FTS5 syntax in the query is treated literally. Results sorted
  // by TextHit::score descending, at most `limit`. Empty query -> empty result.
  // Only photos in `scope`.
  Result<std::vector<TextHit>> search_text(std::string_view query, int limit = 100,
                                           const OwnerScope& scope = {});

 private:
  explicit Store(Db db);
  Status migrate(int up_to);  // 0: every migration

  std::mutex mu_;
  Db db_;
};

}  // namespace sa
