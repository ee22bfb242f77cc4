#include "app/thread_budget.h"

#include <algorithm>

#include "image/image.h"
#include "model/threads.h"

namespace sa {

ThreadBudget decide_thread_budget(const Config& cfg, ThreadUse use) {
  ThreadBudget b;
  b.engine = std::max(cfg.threads, 0);
  b.image = use == ThreadUse::kAlbum ? 1 : b.engine;
  return b;
}

void apply_thread_budget(const ThreadBudget& b) {
  set_engine_threads(b.engine);
  image_set_threads(b.image);
}

}  // namespace sa
