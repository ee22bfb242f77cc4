// A bounded hand-off of preprocessed CLIP inputs from ingest to the embed worker,
// so a freshly uploaded photo is not decoded twice. Purely an optimisation: on a
// miss (cache full, restart, another process) the worker decodes the original.
//
// Jobs are claimed oldest first, so when the cache is full it keeps what it has
// (the next photos to embed) and refuses new entries. Every entry is removed by
// take(): the embed worker takes before anything else, and deleting a photo
// takes its entry too.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace sa {

class PixelCache {
 public:
  explicit PixelCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Stores the [3,R,R] tensor of a photo made for `resolution`; false (nothing
  // stored) if it does not fit. `reserved`: bytes a wait_for_room() reserved
  // for it, given back first (whether or not the entry then fits).
  bool put(int64_t photo_id, int resolution, std::vector<float> pixels, size_t reserved = 0);
  // Removes and returns the entry if present and made for `resolution`.
  std::optional<std::vector<float>> take(int64_t photo_id, int resolution);
  void erase(int64_t photo_id);
  size_t bytes() const;

  // Blocks until `bytes` more would fit and reserves them, so a folder import
  // runs at the encoder's pace instead of overflowing the cache (whose overflow
  // the worker would decode a second time), and two import threads never both
  // count on the last free room. The reservation ends with put(..., bytes) or
  // release(bytes). Returns false (nothing reserved) when `cancel` is set or
  // nothing was taken for `stall_s` seconds (no worker is draining the cache).
  bool wait_for_room(size_t bytes, const std::atomic<bool>& cancel, double stall_s);
  // Ends a reservation that no put() used.
  void release(size_t reserved);

 private:
  struct Entry {
    int resolution = 0;
    std::vector<float> pixels;
  };

  size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable taken_cv_;
  uint64_t takes_ = 0;  // entries removed so far: progress for wait_for_room
  bool stalled_ = false;  // the last wait ran out at takes_ == stalled_at_
  uint64_t stalled_at_ = 0;
  size_t bytes_ = 0;
  std::unordered_map<int64_t, Entry> map_;
};

}  // namespace sa
