// Row and value types of the store: what a photo, a job failure, the job
// counts and the album settings look like to every module above the store.
// Header-only and dependency-free (std only), so any module may include it;
// the store itself includes nothing above core/.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sa {

// Embedding state of a photo (photos.status).
enum class PhotoStatus { kPending, kReady, kFailed, kNoModel };
// Description (VLM) state of a photo (photos.vlm_status).
enum class VlmStatus { kNone, kPending, kRunning, kDone, kFailed };
// What a queued job does (jobs.kind): CLIP image embedding, VLM description,
// sentence embedding of the description.
enum class JobKind { kEmbed, kDescribe, kEmbedDesc };
// Where a job is in the queue (jobs.state).
enum class JobState { kPending, kRunning, kDone, kFailed };

// The one mapping between these enums and their strings, used at the edges
// only (SQL columns, JSON fields, CLI output): "pending", "ready", "failed",
// "no_model" | "none", "pending", "running", "done", "failed" | "embed",
// "describe", "embed_desc" | "pending", "running", "done", "failed".
// parse_* gives nullopt for any other string (case-sensitive).
std::string_view to_string(PhotoStatus v);
std::string_view to_string(VlmStatus v);
std::string_view to_string(JobKind v);
std::string_view to_string(JobState v);
std::optional<PhotoStatus> parse_photo_status(std::string_view s);
std::optional<VlmStatus> parse_vlm_status(std::string_view s);
std::optional<JobKind> parse_job_kind(std::string_view s);
std::optional<JobState> parse_job_state(std::string_view s);
// For logs and test failure messages: writes to_string(v).
std::ostream& operator<<(std::ostream& os, PhotoStatus v);
std::ostream& operator<<(std::ostream& os, VlmStatus v);
std::ostream& operator<<(std::ostream& os, JobKind v);
std::ostream& operator<<(std::ostream& os, JobState v);

// Whose photos an operation sees and changes (per-user libraries, issue 12;
// docs/security.md). owner_id > 0: only that user's photos -- any other id is
// NotFound, never PermissionDenied, and never part of a list, count or search.
// owner_id 0: every photo, and new photos get no owner (the album without
// accounts; the first admin created adopts them).
struct OwnerScope {
  int64_t owner_id = 0;
  bool everyone() const { return owner_id == 0; }
  // Whether a photo owned by `photo_owner` (0: nobody) is in the scope.
  bool sees(int64_t photo_owner) const { return owner_id == 0 || photo_owner == owner_id; }
};

struct PhotoInfo {
  int64_t id = 0;
  int64_t owner_id = 0;      // users.id of the owner; 0 when it has none yet (no accounts)
  std::string hash;          // SHA-256 hex of the original bytes
  std::string filename;      // original base name, as uploaded
  std::string folder;        // relative folder from the upload/import ("" for none)
  std::string mime;          // "image/jpeg", ...
  int64_t size = 0;          // bytes
  int width = 0, height = 0; // after EXIF orientation
  std::string taken_at;      // "YYYY-MM-DDTHH:MM:SS", then the zone ("+08:00", "Z") when known
  // Where taken_at came from: "exif" (the camera's date), "file" (the file's
  // modification time, for imports), "upload" (when it was added). Set by the Store
  // on insert when empty.
  std::string taken_at_source;
  std::string camera;        // "Make Model" or ""
  std::optional<double> gps_lat, gps_lon;
  std::string added_at;      // ISO 8601 UTC
  PhotoStatus status = PhotoStatus::kPending;  // embedding
  std::string error;         // last failure reason, if any
  std::string description;   // VLM description ("" if none)
  std::vector<std::string> keywords;
  VlmStatus vlm_status = VlmStatus::kNone;
  std::string vlm_error;     // why the last description failed ("" unless vlm_status is kFailed)
  std::string vlm_model, described_at;
  bool favorite = false;     // a heart (PATCH /api/photos/{id} {"favorite":true})
  std::string trashed_at;    // ISO 8601 UTC when moved to the trash; "" when not in it
  std::string photo_text;    // visible text in the photo (signs, menus, documents), from the VLM
};

struct PhotoPage {
  int64_t total = 0;
  int page = 1, per_page = 50;
  std::vector<PhotoInfo> items;
  // query_photos(): pass back as PhotoQuery::cursor for the next page; "" at the end.
  std::string next_cursor;
};

// Which photos a listing shows (besides "not in the trash", always).
struct PhotoFilter {
  bool favorite_only = false;
  int64_t album_id = 0;  // > 0: only the photos of this album
  OwnerScope scope;      // whose photos
};

// One page of the photo list for the timeline (Album::query_photos).
struct PhotoQuery {
  std::string sort = "taken";  // "taken": taken_at newest first | "added": newest upload first
  // Opaque, from PhotoPage::next_cursor: the page after the last photo of the
  // previous one (keyset paging: inserts and deletes elsewhere shift nothing).
  std::string cursor;
  // With a cursor: the `limit` photos just NEWER than it instead (still newest
  // first), for scrolling up after a jump; next_cursor is then set when even
  // newer ones exist (the first item's cursor).
  bool newer = false;
  int offset = 0;              // without a cursor: photos to skip (page numbers)
  int limit = 50;              // 1..1000
  // Inclusive "YYYY", "YYYY-MM" or "YYYY-MM-DD" prefixes of taken_at (search/date_filter.h).
  std::string date_from, date_to;
  PhotoFilter filter;          // whose; favourites / one album (never the trash)
};

// GET /api/timeline: photos per month of taken_at, newest month first.
struct MonthCount {
  std::string month;  // "YYYY-MM"
  int64_t count = 0;
};


// A named set of photos (docs/organise.md). A photo may be in many albums;
// deleting an album never deletes photos.
// What a user may do with an album (docs/security.md, "Sharing"): its owner
// everything; a contributor adds their own photos (which stay theirs) and
// removes them again; a viewer only looks. Strings "owner" | "contributor" |
// "viewer" (to_string / parse_album_role).
enum class AlbumRole { kOwner, kContributor, kViewer };
std::string_view to_string(AlbumRole v);
std::optional<AlbumRole> parse_album_role(std::string_view s);

struct AlbumInfo {
  int64_t id = 0;
  std::string name;
  int64_t cover_photo_id = 0;  // chosen cover, else the newest photo in it, else 0
  int64_t photo_count = 0;     // photos in it that are not in the trash
  std::string created_at, updated_at;
  int64_t owner_id = 0;        // 0: none yet (no accounts)
  std::string owner_name;      // "" when none
  AlbumRole role = AlbumRole::kOwner;  // the asking user's role
};

// One user an album is shared with.
struct AlbumShare {
  int64_t user_id = 0;
  std::string user_name;
  AlbumRole role = AlbumRole::kViewer;  // kViewer or kContributor
  std::string created_at;
};

// POST /api/photos/batch. All or nothing: when any id does not qualify
// (missing, or not in the state the action needs), nothing changes and
// `not_found` lists them.
enum class BatchAction { kTrash, kRestore, kFavorite, kUnfavorite, kAddToAlbum, kRemoveFromAlbum };
struct BatchResult {
  int64_t changed = 0;             // rows whose state changed
  std::vector<int64_t> not_found;  // non-empty: nothing was applied
};

// A job row (the persistent queue).
struct Job {
  int64_t id = 0;
  JobKind kind = JobKind::kEmbed;
  int64_t photo_id = 0;
  JobState state = JobState::kPending;
  int attempts = 0;   // incremented by each claim
  std::string error;  // last failure reason
};

struct JobFailure {
  int64_t job_id = 0, photo_id = 0;
  JobKind kind = JobKind::kEmbed;
  std::string error, at;
};

struct JobStats {
  int64_t pending = 0, running = 0, done = 0, failed = 0;
  std::vector<JobFailure> recent_failures;
};

struct Settings {
  bool auto_analyze = false;
  bool enhanced_search = false;
  // Search: the relevance cut-off GET /api/search applies when the request names
  // none, and the CLIP cosines that map to relevance 0 and 1 (docs/search.md).
  float min_score = 0.3f;
  float score_floor = 0.15f;
  float score_ceiling = 0.40f;
  // The models' inference precision at the next start ("fp32" | "int8"; ""
  // = not chosen: fp32). --precision / SMART_ALBUM_PRECISION override it.
  std::string precision;
};

}  // namespace sa
