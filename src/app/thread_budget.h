// The process's thread budget, decided here and only here, and applied when an
// album (Album::open) or a bare engine (the CLI's embed commands) is opened:
//   - OpenBLAS (model inference) and with it the engine's few-row helper
//     thread (model/threads.h): Config::threads, 0 = the library default
//     (OPENBLAS_NUM_THREADS, else every core);
//   - libvips (decode, resize, thumbnails; image/image.h): 1 inside an album,
//     whose import threads, job workers and request threads already decode
//     different photos in parallel; otherwise Config::threads (0 = default).
#pragma once

#include "core/config.h"

namespace sa {

enum class ThreadUse { kAlbum, kEngineOnly };

struct ThreadBudget {
  int engine = 0;  // OpenBLAS threads; 0 = library default
  int image = 0;   // libvips threads per operation; 0 = library default
  bool operator==(const ThreadBudget&) const = default;
};

ThreadBudget decide_thread_budget(const Config& cfg, ThreadUse use);
void apply_thread_budget(const ThreadBudget& b);

}  // namespace sa
