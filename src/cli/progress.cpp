#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace sa::cli {

bool Progress::stderr_is_tty() { return isatty(STDERR_FILENO) == 1; }

Progress::Progress(std::string label, bool bytes)
    : label_(std::move(label)), tty_(stderr_is_tty()), bytes_(bytes), start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

std::string human_bytes(int64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string rate_and_eta(int64_t done, int64_t left, double seconds, const std::string& unit) {
  if (done <= 0 || seconds < 1.0) return "";
  const double per_s = done / seconds;
  char buf[96];
  int n = std::snprintf(buf, sizeof(buf), per_s >= 10 ? "%.0f %s/s" : "%.1f %s/s", per_s, unit.c_str());
  if (left > 0 && n > 0 && n < static_cast<int>(sizeof(buf))) {
    const int64_t eta = static_cast<int64_t>(left / per_s + 0.5);
    if (eta >= 3600) {
      std::snprintf(buf + n, sizeof(buf) - n, ", %lld:%02lld:%02lld left", static_cast<long long>(eta / 3600),
                    static_cast<long long>(eta / 60 % 60), static_cast<long long>(eta % 60));
    } else {
      std::snprintf(buf + n, sizeof(buf) - n, ", %lld:%02lld left", static_cast<long long>(eta / 60),
                    static_cast<long long>(eta % 60));
    }
  }
  return buf;
}

std::string Progress::rate(int64_t done, int64_t total, std::chrono::steady_clock::time_point now) {
  if (unit_.empty()) return "";
  if (rate_base_ < 0) {
    rate_base_ = done;
    rate_t0_ = now;
    return "";
  }
  const double s = std::chrono::duration<double>(now - rate_t0_).count();
  const std::string r = rate_and_eta(done - rate_base_, total > 0 ? total - done : 0, s, unit_);
  return r.empty() ? "" : " " + r;
}

std::string Progress::amount(int64_t n) const {
  return bytes_ ? human_bytes(n) : std::to_string(n);
}

void Progress::update(int64_t done, int64_t total, const std::string& item) {
  const auto now = std::chrono::steady_clock::now();
  const bool complete = total > 0 && done >= total;
  const int pct = total > 0 ? static_cast<int>(100 * done / total) : -1;
  const std::string speed = rate(done, total, now);
  if (tty_) {
    // Redraw at most ~15 times a second, always for the final state.
    if (!complete && open_ && now - last_draw_ < std::chrono::milliseconds(66)) return;
    last_draw_ = now;
    constexpr int kWidth = 28;
    std::string bar;
    if (total > 0) {
      const int fill = static_cast<int>(kWidth * done / total);
      bar = "[" + std::string(fill, '#') + std::string(kWidth - fill, '-') + "]";
    }
    std::string shown = item.size() > 40 ? "..." + item.substr(item.size() - 37) : item;
    std::fprintf(stderr, "\r\033[K%s %s %s/%s %3d%%%s %s", label_.c_str(), bar.c_str(),
                 amount(done).c_str(), total > 0 ? amount(total).c_str() : "?",
                 pct < 0 ? 0 : pct, speed.c_str(), shown.c_str());
    std::fflush(stderr);
    open_ = true;
    return;
  }
  // Plain mode: the first update, then a line every 10% (or every 100 items
  // without a total) and at the end. (-1 / 10 is 0 in C++, so "nothing drawn
  // yet" is tested explicitly: 0-9 % would otherwise look already drawn.)
  const bool first = last_pct_ < 0 && last_done_ < 0;
  const bool step = first || (total > 0 ? (pct / 10 != last_pct_ / 10)
                                        : (done - last_done_ >= (bytes_ ? (int64_t(16) << 20) : 100)));
  if (!step && !complete) return;
  if (complete && last_pct_ == 100) return;
  last_pct_ = pct;
  last_done_ = done;
  if (total > 0) {
    std::fprintf(stderr, "%s: %s/%s (%d%%)%s %s\n", label_.c_str(), amount(done).c_str(),
                 amount(total).c_str(), pct, speed.c_str(), item.c_str());
  } else {
    std::fprintf(stderr, "%s: %s %s\n", label_.c_str(), amount(done).c_str(), item.c_str());
  }
}

void Progress::finish() {
  if (tty_ && open_) {
    std::fputc('\n', stderr);
    open_ = false;
  }
}

}  // namespace sa::cli
