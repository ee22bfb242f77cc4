// Terminal progress: a redrawn bar on a TTY, occasional plain lines otherwise
// (logs, CI). Writes to stderr so stdout stays machine-readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace sa::cli {

class Progress {
 public:
  // bytes: show done/total as sizes (downloads) instead of counts.
  explicit Progress(std::string label, bool bytes = false);
  // Also show the rate and the time left, e.g. "2.4 photos/s, 3:12 left" (counts only).
  void show_rate(std::string unit) { unit_ = std::move(unit); }
  ~Progress();  // finish()
  // done out of total (total <= 0: unknown); `item` is shown after the bar.
  void update(int64_t done, int64_t total, const std::string& item = "");
  // Ends the bar's line (TTY); idempotent.
  void finish();
  static bool stderr_is_tty();

 private:
  std::string amount(int64_t n) const;
  std::string rate(int64_t done, int64_t total, std::chrono::steady_clock::time_point now);
  std::string label_;
  bool tty_;
  bool bytes_;
  bool open_ = false;
  int last_pct_ = -1;
  int64_t last_done_ = -1;
  std::chrono::steady_clock::time_point last_draw_{};
  std::chrono::steady_clock::time_point start_;
  std::string unit_;
  int64_t rate_base_ = -1;  // `done` at the first update: the rate counts from there
  std::chrono::steady_clock::time_point rate_t0_{};
};

// "2.4 photos/s, 3:12 left" from `done` items in `seconds`, or "" before there is a
// rate (nothing done yet, or under a second measured). total <= 0: no time left shown.
std::string rate_and_eta(int64_t done, int64_t total_left, double seconds, const std::string& unit);

// "1.2 MiB"
std::string human_bytes(int64_t n);

}  // namespace sa::cli
