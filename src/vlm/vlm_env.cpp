#include "vlm/vlm_env.h"

#include <thread>

namespace sa {
namespace {

class RealClock final : public VlmClock {
 public:
  void sleep_for(std::chrono::milliseconds d) override {
    if (d.count() > 0) std::this_thread::sleep_for(d);
  }
  void sleep_cancellable(std::chrono::milliseconds d, const std::atomic<bool>& cancel) override {
    constexpr auto kStep = std::chrono::milliseconds(50);
    const auto until = std::chrono::steady_clock::now() + d;
    while (!cancel.load()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      std::this_thread::sleep_for(std::min(left, kStep));
    }
  }
  int64_t now_unix_seconds() override {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace

std::shared_ptr<VlmClock> real_vlm_clock() {
  static const std::shared_ptr<VlmClock> kClock = std::make_shared<RealClock>();
  return kClock;
}

}  // namespace sa
