#include "ingest/ingest.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include <spdlog/spdlog.h>

#include "core/file_util.h"
#include "core/sha256.h"
#include "image/clip_preprocess.h"
#include "ingest/safe_name.h"

namespace sa {

namespace {

class PixelGate {
 public:
  int64_t acquire(int64_t bytes) {
    std::unique_lock<std::mutex> lk(mu_);
    bytes = std::min(bytes, limit_);
    cv_.wait(lk, [&] { return held_ == 0 || held_ + bytes <= limit_; });
    held_ += bytes;
    ++photos_;
    peaks_.held = std::max(peaks_.held, held_);
    peaks_.photos = std::max(peaks_.photos, photos_);
    return bytes;
  }
  void release(int64_t bytes) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      held_ -= bytes;
      --photos_;
    }
    cv_.notify_all();
  }
  void set_limit(int64_t bytes) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      limit_ = std::max<int64_t>(bytes, 1);
    }
    cv_.notify_all();
  }
  PixelGatePeaks peaks(bool reset) {
    std::lock_guard<std::mutex> lk(mu_);
    PixelGatePeaks p = peaks_;
    p.limit = limit_;
    if (reset) peaks_ = PixelGatePeaks{0, held_, photos_};
    return p;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t limit_ = 384LL << 20;
  int64_t held_ = 0;
  int photos_ = 0;
  PixelGatePeaks peaks_;
};

PixelGate& pixel_gate() {
  static PixelGate g;
  return g;
}

class PixelLease {
 public:
  explicit PixelLease(int64_t bytes) : bytes_(pixel_gate().acquire(bytes)) {}
  ~PixelLease() { pixel_gate().release(bytes_); }
  PixelLease(const PixelLease&) = delete;
  PixelLease& operator=(const PixelLease&) = delete;

 private:
  int64_t bytes_;
};

}  // namespace

void ingest_set_pixel_gate(int64_t bytes) { pixel_gate().set_limit(bytes); }
PixelGatePeaks ingest_pixel_gate_peaks(bool reset) { return pixel_gate().peaks(reset); }

class Ingestor::HashLock {
 public:
  HashLock(Ingestor& in, const std::string& hash) : in_(in), hash_(hash) {
    std::unique_lock<std::mutex> lk(in_.mu_);
    in_.cv_.wait(lk, [&] { return in_.busy_hashes_.count(hash_) == 0; });
    in_.busy_hashes_.insert(hash_);
  }
  ~HashLock() {
    {
      std::lock_guard<std::mutex> lk(in_.mu_);
      in_.busy_hashes_.erase(hash_);
    }
    in_.cv_.notify_all();
  }
  HashLock(const HashLock&) = delete;
  HashLock& operator=(const HashLock&) = delete;

 private:
  Ingestor& in_;
  std::string hash_;
};

namespace {

// Removes a file this add created; used on the rollback path.
void remove_quietly(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

std::string join(const std::string& dir, const std::string& rel) {
  return (std::filesystem::path(dir) / rel).string();
}

}  // namespace

Ingestor::Ingestor(Store& store, IngestOptions opt) : store_(store), opt_(std::move(opt)) {
  // Crash debris (a kill -9 while an original was written) is cleared at start.
  int n = remove_stale_temp_files(tmp_dir(), {join(opt_.data_dir, "originals"),
                                              join(opt_.data_dir, "thumbnails")});
  if (n > 0) spdlog::info("removed {} temporary file(s) left by an interrupted write", n);
}

std::string Ingestor::tmp_dir() const { return join(opt_.data_dir, "tmp"); }

std::string Ingestor::original_path(const PhotoInfo& p) const {
  // The extension follows the stored MIME type, which came from sniffing the bytes.
  return join(opt_.data_dir, original_rel_path(p.hash, std::string(extension_for_mime(p.mime))));
}

std::string Ingestor::thumbnail_path(const PhotoInfo& p) const {
  return join(opt_.data_dir, thumbnail_rel_path(p.hash));
}

Result<IngestResult> Ingestor::add(std::string_view name, std::string_view bytes,
                                   const NewPhoto& init) {
  if (bytes.empty()) return Status::InvalidArgument("empty file");
  if (static_cast<int64_t>(bytes.size()) > opt_.max_bytes) {
    return Status::ResourceExhausted("file is " + std::to_string(bytes.size()) +
                                     " bytes, over the limit of " + std::to_string(opt_.max_bytes));
  }
  std::string hash = sha256_hex(bytes);
  HashLock lock(*this, hash);
  return add_locked(hash, name, bytes, init);
}

Result<IngestResult> Ingestor::add_locked(const std::string& hash, std::string_view name,
                                          std::string_view bytes, const NewPhoto& init) {
  // Cheap dedupe first: a re-upload costs one hash and one lookup, no decode.
  auto existing = store_.get_photo_by_hash(hash, init.owner_id);
  if (existing.ok()) return IngestResult{existing->id, true, {}};
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();

  DecodeLimits lim;
  lim.max_bytes = opt_.max_bytes;
  lim.max_pixels = opt_.max_pixels;
  // Header limits, structure and the pixel limit are checked before any pixel is
  // decoded (decode_rgb), and full decodes share the decode memory budget. This one
  // decode makes the thumbnail and the CLIP input: at full size for the exact CLIP
  // preprocessing (the default), or DCT-scaled for the opt-in reduced-cost decode.
  lim.min_side = opt_.decode_min_side;
  ImageMeta meta;
  std::string thumb;
  std::vector<float> clip_pixels;
  {
    // The header first (cheap): the decoded frame's size is what this photo holds
    // of the pixel gate until the thumbnail and the CLIP input are made.
    SA_ASSIGN_OR_RETURN(ImageMeta head, probe_image(bytes, lim));
    PixelLease lease(int64_t{head.width} * head.height * 3);
    SA_ASSIGN_OR_RETURN(RgbImage img, decode_rgb(bytes, lim, &meta));
    SA_ASSIGN_OR_RETURN(thumb, encode_jpeg(img, opt_.thumbnail_side, opt_.thumbnail_quality));
    if (opt_.clip_resolution > 0) clip_pixels = clip_preprocess(img, opt_.clip_resolution);
  }

  SafeName safe = sanitize_upload_name(name);
  PhotoInfo p;
  p.hash = hash;
  p.filename = safe.filename;
  p.folder = safe.folder;
  p.mime = meta.mime;
  p.size = static_cast<int64_t>(bytes.size());
  p.width = meta.width;
  p.height = meta.height;
  p.taken_at = meta.taken_at;
  if (p.taken_at.empty() && !init.fallback_taken_at.empty()) {
    p.taken_at = init.fallback_taken_at;
    p.taken_at_source = "file";
  }
  p.camera = meta.camera;
  p.gps_lat = meta.gps_lat;
  p.gps_lon = meta.gps_lon;
  p.status = init.status;
  p.vlm_status = init.vlm_status;
  p.owner_id = init.owner_id;

  const std::string orig = original_path(p);
  const std::string thumb_path = thumbnail_path(p);
  // No row of this owner has these bytes (checked above, under the hash lock).
  // Another owner's photo may: the files are the same bytes (rewritten
  // atomically, readers see one whole copy or the other), and the rollback
  // below leaves them to that photo. A file left by an earlier crash is simply
  // overwritten.
  SA_RETURN_IF_ERROR(make_dirs(std::filesystem::path(orig).parent_path().string()));
  SA_RETURN_IF_ERROR(make_dirs(std::filesystem::path(thumb_path).parent_path().string()));
  SA_RETURN_IF_ERROR(make_dirs(tmp_dir()));
  Status st = write_file_atomic(orig, bytes, tmp_dir());
  if (!st.ok()) return st.with_context("storing original");
  st = write_file_atomic(thumb_path, thumb, tmp_dir());
  if (!st.ok()) {
    remove_quietly(orig);
    return st.with_context("storing thumbnail");
  }
  std::function<void(int64_t)> before_commit;
  if (init.hand_off && !clip_pixels.empty())
    before_commit = [&](int64_t id) { init.hand_off(id, std::move(clip_pixels)); };
  auto ins = store_.insert_photo(p, init.jobs, before_commit);
  if (!ins.ok()) {
    auto users = store_.count_photos_with_hash(hash);
    if (users.ok() && *users == 0) {
      remove_quietly(orig);
      remove_quietly(thumb_path);
    }
    return ins.status().with_context("recording photo");
  }
  if (ins->duplicate) {
    // Another process inserted the same bytes meanwhile; its row owns the
    // (identical) files we just rewrote.
    return IngestResult{ins->id, true, {}};
  }
  // The decoded frame is gone by now (it lived inside the pixel gate); the
  // CLIP input made from it comes back to the caller.
  return IngestResult{ins->id, false, std::move(clip_pixels)};
}

Result<PhotoInfo> Ingestor::remove_photo(int64_t id, bool* files_removed) {
  if (files_removed) *files_removed = false;
  SA_ASSIGN_OR_RETURN(PhotoInfo seen, store_.get_photo(id));
  HashLock lock(*this, seen.hash);
  SA_ASSIGN_OR_RETURN(PhotoInfo p, store_.delete_photo(id));
  Status st = remove_files(p, files_removed);
  if (!st.ok()) spdlog::warn("photo {} deleted but its files were not: {}", id, st.to_string());
  return p;
}

Status Ingestor::remove_files(const PhotoInfo& p, bool* removed) {
  if (removed) *removed = false;
  if (!is_sha256_hex(p.hash)) return Status::InvalidArgument("bad photo hash");
  // Shared by hash: another owner's photo of the same bytes keeps them.
  SA_ASSIGN_OR_RETURN(int64_t users, store_.count_photos_with_hash(p.hash));
  if (users > 0) return Status::OK();
  if (removed) *removed = true;
  std::error_code ec1, ec2;
  std::filesystem::remove(original_path(p), ec1);
  std::filesystem::remove(thumbnail_path(p), ec2);
  if (ec1) return Status::IOError("cannot delete original: " + ec1.message());
  if (ec2) return Status::IOError("cannot delete thumbnail: " + ec2.message());
  return Status::OK();
}

}  // namespace sa
