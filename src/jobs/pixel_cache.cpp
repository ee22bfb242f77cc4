#include "jobs/pixel_cache.h"

namespace sa {

bool PixelCache::put(int64_t photo_id, int resolution, std::vector<float> pixels) {
  size_t n = pixels.size() * sizeof(float);
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(photo_id);
  if (it != map_.end()) {
    bytes_ -= it->second.pixels.size() * sizeof(float);
    map_.erase(it);
  }
  if (bytes_ + n > max_bytes_) return false;
  bytes_ += n;
  map_[photo_id] = Entry{resolution, std::move(pixels)};
  return true;
}

std::optional<std::vector<float>> PixelCache::take(int64_t photo_id, int resolution) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(photo_id);
  if (it == map_.end()) return std::nullopt;
  Entry e = std::move(it->second);
  map_.erase(it);
  bytes_ -= e.pixels.size() * sizeof(float);
  if (e.resolution != resolution) return std::nullopt;
  return std::move(e.pixels);
}

void PixelCache::erase(int64_t photo_id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = map_.find(photo_id);
  if (it == map_.end()) return;
  bytes_ -= it->second.pixels.size() * sizeof(float);
  map_.erase(it);
}

size_t PixelCache::bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return bytes_;
}

}  // namespace sa
