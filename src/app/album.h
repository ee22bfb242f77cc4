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
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace sa {

struct PhotoInfo {
  int64_t id = 0;
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
  std::string status;        // embedding: "pending" | "ready" | "failed" | "no_model"
  std::string error;         // last failure reason, if any
  std::string description;   // VLM description ("" if none)
  std::vector<std::string> keywords;
  std::string vlm_status;    // "none" | "pending" | "running" | "done" | "failed"
  std::string vlm_error;     // why the last description failed ("" unless vlm_status is "failed")
  std::string vlm_model, described_at;
};

struct PhotoPage {
  int64_t total = 0;
  int page = 1, per_page = 50;
  std::vector<PhotoInfo> items;
  // query_photos(): pass back as PhotoQuery::cursor for the next page; "" at the end.
  std::string next_cursor;
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
};

// GET /api/timeline: photos per month of taken_at, newest month first.
struct MonthCount {
  std::string month;  // "YYYY-MM"
  int64_t count = 0;
};

struct AddResult {
  int64_t id = 0;
  std::string filename;  // as given (relative path)
  bool duplicate = false;
};

// How raw similarities become a search hit's `score`, a relevance in [0,1] that
// means the same in both modes (docs/search.md "Scores"):
//   clip  r = clamp((cosine - clip_floor) / (clip_ceiling - clip_floor), 0, 1)
//   desc  r = clamp((cosine - desc_floor) / (desc_ceiling - desc_floor), 0, 1)
//   kw    r = keyword_full * keyword match (1 whole query, 0.5 * share of terms)
//   hybrid score = 1 - (1 - r_clip)(1 - r_desc)(1 - r_kw)   (any strong evidence counts)
struct ScoreCalibration {
  float clip_floor = 0.15f, clip_ceiling = 0.40f;
  float desc_floor = 0.40f, desc_ceiling = 0.75f;
  float keyword_full = 0.9f;
};

struct SearchOptions {
  int limit = 20;
  int offset = 0;
  std::optional<float> min_score;  // on `score` (relevance in [0,1])
  ScoreCalibration calibration;
  std::string mode = "clip";  // "clip" | "hybrid"
  std::string date_from, date_to;  // inclusive, "YYYY-MM-DD" prefix match on taken_at
  std::string folder;              // "" or a folder: photos in it or below it
};

struct SearchHit {
  PhotoInfo photo;
  float score = 0;          // relevance in [0,1] (ScoreCalibration); hybrid ranks by its fused score
  float clip_score = 0;     // cosine, text->image
  std::optional<float> desc_score;     // cosine, query->description (hybrid)
  std::optional<float> keyword_score;  // FTS5 match strength in [0,1] (hybrid)
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
  // Search: the relevance cut-off GET /api/search applies when the request names
  // none, and the CLIP cosines that map to relevance 0 and 1 (docs/search.md).
  float min_score = 0.3f;
  float score_floor = 0.15f;
  float score_ceiling = 0.40f;
};

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
  virtual Result<AddResult> add_file(std::string_view name, std::string_view bytes) = 0;

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
  };
  virtual Result<ImportReport> import_folder(
      const std::string& dir,
      const std::function<void(int64_t, int64_t, const std::string&)>& progress = {}) = 0;

  // before_id > 0: the photos older than that id instead of a page (Store::list_photos).
  virtual Result<PhotoPage> list_photos(int page, int per_page, int64_t before_id = 0) = 0;
  // The timeline's list (sort, keyset cursor, date range). Defaults to
  // Unimplemented so that test doubles need not provide it.
  virtual Result<PhotoPage> query_photos(const PhotoQuery& q) {
    (void)q;
    return Status::Unimplemented("query_photos");
  }
  virtual Result<std::vector<MonthCount>> timeline() { return Status::Unimplemented("timeline"); }
  // Distinct folders with their photo counts, by name (the search bar's folder filter).
  virtual Result<std::vector<std::pair<std::string, int64_t>>> folders() {
    return Status::Unimplemented("folders");
  }
  // A JPEG of the photo, long edge <= 2048 px, made on first use and cached in the
  // data directory (previews/). NotFound for an unknown photo.
  virtual Result<std::string> preview_path(int64_t id) {
    (void)id;
    return Status::Unimplemented("preview");
  }
  virtual Result<PhotoInfo> get_photo(int64_t id) = 0;
  virtual Result<std::string> thumbnail_path(int64_t id) = 0;
  virtual Result<std::string> original_path(int64_t id) = 0;
  virtual Status delete_photo(int64_t id) = 0;

  // Queues a VLM description (re-analyze allowed). Unavailable if no VLM is configured.
  virtual Status analyze(int64_t id) = 0;
  // Queues descriptions for every photo without one; returns how many were queued.
  virtual Result<int64_t> analyze_missing() = 0;

  // Unavailable when no CLIP model is loaded.
  virtual Result<std::vector<SearchHit>> search(const std::string& query, const SearchOptions& opt) = 0;
  virtual Result<std::vector<SearchHit>> similar(int64_t id, int limit) = 0;

  virtual Settings settings() = 0;
  virtual Status set_settings(const Settings& s) = 0;
  virtual JobStats job_stats() = 0;

  // Blocks until the job queue is empty (or timeout); for the CLI and tests.
  virtual bool wait_idle(double timeout_s) = 0;

  virtual bool has_clip_model() const = 0;
  virtual bool has_text_model() const = 0;
  virtual bool has_vlm() const = 0;
  virtual std::string model_name() const = 0;
  // Name of the loaded sentence model ("" when none).
  virtual std::string text_model_name() const { return {}; }
};

}  // namespace sa
