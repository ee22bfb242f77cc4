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
};

struct PhotoPage {
  int64_t total = 0;
  int page = 1, per_page = 50;
  std::vector<PhotoInfo> items;
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
