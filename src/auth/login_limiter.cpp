#include "auth/login_limiter.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace sa {
namespace {

std::string name_key(std::string_view name) {
  std::string k = "n:";
  for (char c : name) k += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return k;
}
std::string addr_key(std::string_view addr) { return "a:" + std::string(addr); }

}  // namespace

LoginLimiter::LoginLimiter(std::function<double()> now_s) : now_s_(std::move(now_s)) {
  if (!now_s_) {
    now_s_ = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    };
  }
}

double LoginLimiter::wait_for(const std::string& key, double now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return 0;
  if (now - it->second.last_failure > kForgetAfterS) {
    entries_.erase(it);
    return 0;
  }
  return std::max(0.0, it->second.locked_until - now);
}

int LoginLimiter::retry_after(std::string_view name, std::string_view addr) {
  std::lock_guard lock(mu_);
  const double now = now_s_();
  const double w = std::max(wait_for(name_key(name), now), addr.empty() ? 0.0 : wait_for(addr_key(addr), now));
  return static_cast<int>(std::ceil(w));
}

void LoginLimiter::fail_key(const std::string& key, double now) {
  Entry& e = entries_[key];
  if (e.failures > 0 && now - e.last_failure > kForgetAfterS) e = Entry{};
  ++e.failures;
  e.last_failure = now;
  if (e.failures >= kFreeFailures) {
    const int over = std::min(e.failures - kFreeFailures, 20);
    e.locked_until = now + std::min(kMaxLockS, kFirstLockS * std::ldexp(1.0, over));
  }
}

void LoginLimiter::record_failure(std::string_view name, std::string_view addr) {
  std::lock_guard lock(mu_);
  const double now = now_s_();
  fail_key(name_key(name), now);
  if (!addr.empty()) fail_key(addr_key(addr), now);
  // Bound memory against a flood of distinct names: forget the quiet ones.
  if (entries_.size() > 100'000) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      it = now - it->second.last_failure > 60 ? entries_.erase(it) : std::next(it);
    }
  }
}

void LoginLimiter::record_success(std::string_view name) {
  std::lock_guard lock(mu_);
  entries_.erase(name_key(name));
}

}  // namespace sa
