// Ingest: turns untrusted uploaded bytes into a stored photo.
//
//   size check -> SHA-256 -> dedupe -> probe + full decode (the file is judged by
//   its bytes, never by its name) -> original written atomically under
//   originals/<h0h1>/<hash>.<ext> -> thumbnail (JPEG, longer side 400) ->
//   photo row + EXIF metadata in the store.
//
// Nothing derived from the upload name touches the file system: names become
// folder/filename metadata only (safe_name.h). If any step after the original
// was written fails, the files and the row are removed again, so a failed add
// leaves neither an orphan file nor an orphan row. Two concurrent adds of the
// same bytes are serialised per hash (one wins, the other sees a duplicate).
//
// Thread safety: add() and remove_files() may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

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
};

struct IngestResult {
  int64_t id = 0;
  bool duplicate = false;
};

// Called with the photo id and the decoded image once the row exists, before
// add() returns: lets the caller queue work that needs the pixels (e.g. CLIP
// preprocessing) without decoding again. A non-OK Status rolls the add back.
using IngestHook = std::function<Status(int64_t id, const RgbImage& img)>;

class Ingestor {
 public:
  // The directories are created by add() as needed; the store must outlive this.
  Ingestor(Store& store, IngestOptions opt);

  // Errors: ResourceExhausted (too many bytes or pixels), InvalidArgument (empty,
  // not an image, truncated/corrupt), IOError (disk). `initial_status` is the
  // photo's embedding status ("pending" or "no_model").
  Result<IngestResult> add(std::string_view name, std::string_view bytes,
                           std::string_view initial_status, const IngestHook& hook = {});

  // Absolute paths of a stored photo's files (from its hash only).
  std::string original_path(const PhotoInfo& p) const;
  std::string thumbnail_path(const PhotoInfo& p) const;

  // Deletes the original and the thumbnail of a deleted photo (missing files are fine).
  Status remove_files(const PhotoInfo& p);

  // Deletes photo `id`: its row (Store::delete_photo) and then its files, both under
  // the photo's hash lock, so an add() of the same bytes racing the delete either sees
  // the photo (a duplicate of it) or starts after the files are gone and stores its
  // own: an acknowledged new photo never loses its files to a delete. NotFound when
  // there is no such photo; a failure to remove the files is logged, not returned.
  Result<PhotoInfo> remove_photo(int64_t id);

  const IngestOptions& options() const { return opt_; }

 private:
  // Per-hash mutual exclusion so the check-write-insert sequence is atomic
  // for identical uploads while different photos proceed in parallel.
  class HashLock;

  Result<IngestResult> add_locked(const std::string& hash, std::string_view name,
                                  std::string_view bytes, std::string_view initial_status,
                                  const IngestHook& hook);

  Store& store_;
  IngestOptions opt_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> busy_hashes_;
};

// The MIME type recorded for a probed format ("jpeg" -> "image/jpeg").
std::string mime_for_format(std::string_view format);

}  // namespace sa
