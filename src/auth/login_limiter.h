// LoginLimiter: slows down password guessing, per user name and per client
// address, in memory (a restart forgets; an attacker gains a few tries).
//
// After kFreeFailures failures for a key (a name, or an address) within
// kForgetAfter, further attempts for that key are refused for a lock time that
// doubles with each failure beyond them: 5 s, 10 s, 20 s ... up to 15 min.
// A success clears the name's count (not the address's: one right password
// must not reset an address that guesses many names).
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sa {

class LoginLimiter {
 public:
  static constexpr int kFreeFailures = 5;
  static constexpr double kFirstLockS = 5;
  static constexpr double kMaxLockS = 15 * 60;
  static constexpr double kForgetAfterS = 24 * 3600;

  // now_s: a monotonic clock in seconds (tests pass a fake one).
  explicit LoginLimiter(std::function<double()> now_s = {});

  // Seconds until `name` / `addr` may try again (0: may try now); rounded up.
  int retry_after(std::string_view name, std::string_view addr);
  void record_failure(std::string_view name, std::string_view addr);
  void record_success(std::string_view name);

 private:
  struct Entry {
    int failures = 0;
    double last_failure = 0;
    double locked_until = 0;
  };
  void fail_key(const std::string& key, double now);
  double wait_for(const std::string& key, double now);

  std::function<double()> now_s_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // "n:<lower name>" / "a:<addr>"
};

}  // namespace sa
