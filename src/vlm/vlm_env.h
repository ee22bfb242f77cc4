// The clock the VLM client waits on, behind a small interface (LevelDB Env
// style) so tests can observe and skip retry backoff instead of sleeping.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace sa {

class VlmClock {
 public:
  virtual ~VlmClock() = default;
  // Blocks the calling thread for `d` (the real clock) or records it (fakes).
  virtual void sleep_for(std::chrono::milliseconds d) = 0;
  // The same, returning early once `cancel` is set (the real clock checks it
  // every 50 ms; fakes that only record may keep this default).
  virtual void sleep_cancellable(std::chrono::milliseconds d, const std::atomic<bool>& cancel) {
    if (!cancel.load()) sleep_for(d);
  }
  // Seconds since the Unix epoch; used to turn an HTTP-date Retry-After into a delay.
  virtual int64_t now_unix_seconds() = 0;
};

// The process-wide real clock (std::this_thread::sleep_for, system_clock). Thread-safe.
std::shared_ptr<VlmClock> real_vlm_clock();

}  // namespace sa
