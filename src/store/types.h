// Row and value types of the store: what a photo, a job failure, the job
// counts and the album settings look like to every module above the store.
// Header-only and dependency-free (std only), so any module may include it;
// the store itself includes nothing above core/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sa {

struct PhotoInfo {
  int64_t id = 0;
  std::string hash;          // SHA-256 hex of the original bytes
  std::string filename;      // original base name, as uploaded
  std::string folder;        // relative folder from the upload/import ("" for none)
  std::string mime;          // "image/jpeg", ...
  int64_t size = 0;          // bytes
  int width = 0, height = 0; // after EXIF orientation
  std::string taken_at;      // ISO 8601 or ""
  std::string camera;        // "Make Model" or ""
  std::optional<double> gps_lat, gps_lon;
  std::string added_at;      // ISO 8601 UTC
  std::string status;        // embedding: "pending" | "ready" | "failed" | "no_model"
  std::string error;         // last failure reason, if any
  std::string description;   // VLM description ("" if none)
  std::vector<std::string> keywords;
  std::string vlm_status;    // "none" | "pending" | "running" | "done" | "failed"
  std::string vlm_error;     // why the last description failed ("" unless vlm_status is "failed")
  std::string vlm_model, described_at;
  bool favorite = false;     // a heart (PATCH /api/photos/{id} {"favorite":true})
  std::string trashed_at;    // ISO 8601 UTC when moved to the trash; "" when not in it
  std::string photo_text;    // visible text in the photo (signs, menus, documents), from the VLM
};

struct PhotoPage {
  int64_t total = 0;
  int page = 1, per_page = 50;
  std::vector<PhotoInfo> items;
};

// Which photos a listing shows (besides "not in the trash", always).
struct PhotoFilter {
  bool favorite_only = false;
  int64_t album_id = 0;  // > 0: only the photos of this album
};

// A named set of photos (docs/organise.md). A photo may be in many albums;
// deleting an album never deletes photos.
struct AlbumInfo {
  int64_t id = 0;
  std::string name;
  int64_t cover_photo_id = 0;  // chosen cover, else the newest photo in it, else 0
  int64_t photo_count = 0;     // photos in it that are not in the trash
  std::string created_at, updated_at;
};

// POST /api/photos/batch. All or nothing: when any id does not qualify
// (missing, or not in the state the action needs), nothing changes and
// `not_found` lists them.
enum class BatchAction { kTrash, kRestore, kFavorite, kUnfavorite, kAddToAlbum, kRemoveFromAlbum };
struct BatchResult {
  int64_t changed = 0;             // rows whose state changed
  std::vector<int64_t> not_found;  // non-empty: nothing was applied
};

struct JobFailure {
  int64_t job_id = 0, photo_id = 0;
  std::string kind, error, at;
};

struct JobStats {
  int64_t pending = 0, running = 0, done = 0, failed = 0;
  std::vector<JobFailure> recent_failures;
};

struct Settings {
  bool auto_analyze = false;
  bool enhanced_search = false;
};

}  // namespace sa
