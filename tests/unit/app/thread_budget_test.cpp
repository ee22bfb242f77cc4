// The thread budget: decided from Config::threads in one function, applied to
// OpenBLAS (and through it the engine's helper thread) and libvips.
#include "app/thread_budget.h"

#include <gtest/gtest.h>
#include <vips/vips.h>

#include "image/image.h"
#include "model/threads.h"

namespace sa {
namespace {

Config with_threads(int n) {
  Config c;
  c.threads = n;
  return c;
}

TEST(ThreadBudget, Decide) {
  // An album: libvips one thread per operation, whatever the BLAS budget.
  EXPECT_EQ(decide_thread_budget(with_threads(0), ThreadUse::kAlbum), (ThreadBudget{0, 1}));
  EXPECT_EQ(decide_thread_budget(with_threads(3), ThreadUse::kAlbum), (ThreadBudget{3, 1}));
  // A bare engine: both follow --threads (0: each library's default).
  EXPECT_EQ(decide_thread_budget(with_threads(0), ThreadUse::kEngineOnly), (ThreadBudget{0, 0}));
  EXPECT_EQ(decide_thread_budget(with_threads(3), ThreadUse::kEngineOnly), (ThreadBudget{3, 3}));
  EXPECT_EQ(decide_thread_budget(with_threads(-2), ThreadUse::kEngineOnly), (ThreadBudget{0, 0}));
}

TEST(ThreadBudget, ApplySetsOpenBlasAndLibvips) {
  ASSERT_TRUE(image_init().ok());
  apply_thread_budget({2, 1});
  EXPECT_EQ(engine_threads(), 2);
  EXPECT_EQ(vips_concurrency_get(), 1);
  apply_thread_budget({1, 3});
  EXPECT_EQ(engine_threads(), 1);
  EXPECT_EQ(vips_concurrency_get(), 3);
  // 0 keeps OpenBLAS as it is and gives libvips its default back.
  apply_thread_budget({0, 0});
  EXPECT_EQ(engine_threads(), 1);
  EXPECT_GE(vips_concurrency_get(), 1);
}

}  // namespace
}  // namespace sa
