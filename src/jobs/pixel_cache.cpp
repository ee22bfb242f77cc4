#include "jobs/pixel_cache.h"

#include <algorithm>
#include <chrono>

namespace sa {

bool PixelCache::put(int64_t photo_id, int resolution, std::vector<float> pixels, size_t reserved) {
  size_t n = pixels.size() * sizeof(float);
  std::lock_guard<std::mutex> lk(mu_);
  bytes_ -= std::min(reserved, bytes_);
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
  Entry e;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = map_.find(photo_id);
    if (it == map_.end()) return std::nullopt;
    e = std::move(it->second);
    map_.erase(it);
    bytes_ -= e.pixels.size() * sizeof(float);
    ++takes_;
  }
  taken_cv_.notify_all();
  if (e.resolution != resolution) return std::nullopt;
  return std::move(e.pixels);
}

void PixelCache::erase(int64_t photo_id) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = map_.find(photo_id);
    if (it == map_.end()) return;
    bytes_ -= it->second.pixels.size() * sizeof(float);
    map_.erase(it);
    ++takes_;
  }
  taken_cv_.notify_all();
}

bool PixelCache::wait_for_room(size_t bytes, const std::atomic<bool>& cancel, double stall_s) {
  using Clock = std::chrono::steady_clock;
  const auto stall = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(stall_s));
  std::unique_lock<std::mutex> lk(mu_);
  uint64_t seen = takes_;
  auto deadline = Clock::now() + stall;
  while (bytes_ + bytes > max_bytes_ && bytes_ > 0) {
    // After a stall, waiting again is pointless until the worker takes something.
    if (cancel.load() || (stalled_ && takes_ == stalled_at_)) return false;
    // Short waits so a cancel is noticed without a notify from this class.
    taken_cv_.wait_for(lk, std::chrono::milliseconds(50));
    if (takes_ != seen) {
      seen = takes_;
      deadline = Clock::now() + stall;
      stalled_ = false;
    } else if (Clock::now() >= deadline) {
      stalled_ = true;
      stalled_at_ = takes_;
      return false;
    }
  }
  bytes_ += bytes;
  return true;
}

void PixelCache::release(size_t reserved) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    bytes_ -= std::min(reserved, bytes_);
  }
  taken_cv_.notify_all();
}

size_t PixelCache::bytes() const {
  std::lock_guard<std::mutex> lk(mu_);
  return bytes_;
}

}  // namespace sa
