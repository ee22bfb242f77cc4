// Ingest: turns untrusted uploaded bytes into a stored photo.
//
//   size check -> SHA-256 -> dedupe -> probe + full decode (the file is judged by
//   its bytes, never by its name) -> original written atomically under
//   originals/<h0h1>/<hash>.<ext> -> thumbnail (JPEG, longer side 400) ->
//   photo row + EXIF metadata + its first jobs in the store, one transaction.
//
// Nothing derived from the upload name touches the file system: names become
// folder/filename metadata only (safe_name.h). If the row cannot be recorded,
// the files are removed again, so a failed add leaves neither an orphan file nor
// an orphan row (nor a job without its photo). Two concurrent adds of the same
// bytes are serialised per hash (one wins, the other sees a duplicate).
// The decoded pixels come back to the caller, which uses them as it likes
// (the album preprocesses them for CLIP); ingest calls nothing above the store.
//
// Thread safety: add() and remove_files() may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "image/image.h"
#include "store/store.h"

namespace sa {

struct IngestOptions {
  std::string data_dir;         // originals/ and thumbnails/ live under it
  int64_t max_bytes = 200LL << 20;
  int64_t max_pixels = 100'000'000;
  int thumbnail_side = 400;
  int thumbnail_quality = 82;
  // DecodeLimits::min_side for the one decode of each photo: 0 = full size (the exact
  // CLIP preprocessing needs it); > 0 = the opt-in reduced-cost JPEG decode. The
  // thumbnail and the CLIP input are both made from this one decode.
  int decode_min_side = 0;
  // > 0: the CLIP input (clip_preprocess at this resolution) is made from the same
  // decode BEFORE the row and its embed job are committed, and returned in
  // IngestResult::clip_pixels; made after the commit, the embed worker could claim
  // the job in between and decode the photo a second time.
  int clip_resolution = 0;
};

// How a new photo starts: its states and the jobs queued with it, written in
// the same transaction as its row.
struct NewPhoto {
  PhotoStatus status = PhotoStatus::kPending;  // kPending or kNoModel
  VlmStatus vlm_status = VlmStatus::kNone;     // kPending when a description is queued
  std::vector<JobKind> jobs;
  // taken_at when the file has no EXIF date (an imported file's modification
  // time, source "file"); "" lets the store use the upload time.
  std::string fallback_taken_at;
  // The user the photo belongs to (0: none, an album without accounts). A
  // duplicate is the same bytes already in THIS owner's library; another
  // owner's copy makes a new photo that shares the files on disk.
  int64_t owner_id = 0;
  // Set: receives the new photo's id and its CLIP input (clip_resolution > 0)
  // after the row and its jobs are written and BEFORE they commit, so whoever
  // runs the jobs finds the input ready (Store::insert_photo's before_commit;
  // keep it short). IngestResult::clip_pixels is then empty.
  std::function<void(int64_t id, std::vector<float>&& clip_pixels)> hand_off;
};

struct IngestResult {
  int64_t id = 0;
  bool duplicate = false;
  // [3, R, R] for IngestOptions::clip_resolution = R > 0 (new photos only).
  std::vector<float> clip_pixels;
};

// Decoded pixels alive at once across concurrent add() calls: each holds its
// decoded frame (width x height x 3 bytes, from the header) from the decode until
// its thumbnail and CLIP input are made. The decode budget (image.h) covers only
// the decode itself, so without this 8 parallel 100-Mpx uploads held ~1 GB
// (issue 11). A photo larger than the whole gate waits for an empty gate.
// Process-wide; the default is 384 MiB. Peaks are for tests and diagnostics.
void ingest_set_pixel_gate(int64_t bytes);
struct PixelGatePeaks {
  int64_t limit = 0;
  int64_t held = 0;  // the most bytes held at once since the last reset
  int photos = 0;    // the most photos holding at once
};
PixelGatePeaks ingest_pixel_gate_peaks(bool reset = false);

class Ingestor {
 public:
  // The directories are created by add() as needed; the store must outlive this.
  Ingestor(Store& store, IngestOptions opt);

  // Errors: ResourceExhausted (too many bytes or pixels), InvalidArgument (empty,
  // not an image, truncated/corrupt), IOError (disk). A duplicate (same bytes
  // already stored) is not an error and queues nothing.
  Result<IngestResult> add(std::string_view name, std::string_view bytes, const NewPhoto& init = {});

  // Absolute paths of a stored photo's files (from its hash only).
  std::string original_path(const PhotoInfo& p) const;
  std::string thumbnail_path(const PhotoInfo& p) const;

  // Deletes the original and the thumbnail of a deleted photo (missing files
  // are fine) -- unless another photo (another owner's copy) still uses them:
  // *removed (optional) says whether they went. Call under the hash lock
  // (remove_photo does).
  Status remove_files(const PhotoInfo& p, bool* removed = nullptr);

  // Deletes photo `id`: its row (Store::delete_photo) and then its files, both under
  // the photo's hash lock, so an add() of the same bytes racing the delete either sees
  // the photo (a duplicate of it) or starts after the files are gone and stores its
  // own: an acknowledged new photo never loses its files to a delete. The files stay
  // while another photo uses the same bytes; *files_removed (optional) says whether
  // they went (the caller's own derived files, previews, follow). NotFound when
  // there is no such photo; a failure to remove the files is logged, not returned.
  Result<PhotoInfo> remove_photo(int64_t id, bool* files_removed = nullptr);

  const IngestOptions& options() const { return opt_; }

  // <data_dir>/tmp: where originals and thumbnails are written before being renamed
  // into place; files of dead processes are removed when an Ingestor is created.
  std::string tmp_dir() const;

 private:
  // Per-hash mutual exclusion so the check-write-insert sequence is atomic
  // for identical uploads while different photos proceed in parallel.
  class HashLock;

  Result<IngestResult> add_locked(const std::string& hash, std::string_view name,
                                  std::string_view bytes, const NewPhoto& init);

  Store& store_;
  IngestOptions opt_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> busy_hashes_;
};


}  // namespace sa
