// The decode memory budget (issue 11, item 4): concurrent full decodes are bounded by
// the memory they reserve, not only by the number of threads that ask.
#include <gtest/gtest.h>
#include <vips/vips.h>

#include <atomic>
#include <thread>
#include <vector>

#include "image/decode_budget.h"
#include "image/image.h"

namespace sa {
namespace {

// A w x h PNG of noise-free stripes (small file, w*h*3 bytes decoded).
std::string stripes_png(int w, int h) {
  EXPECT_TRUE(image_init().ok());
  std::vector<uint8_t> px(size_t(w) * h * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i / 3 / 7) % 251);
  VipsImage* img = vips_image_new_from_memory_copy(px.data(), px.size(), w, h, 3, VIPS_FORMAT_UCHAR);
  void* buf = nullptr;
  size_t len = 0;
  EXPECT_EQ(vips_image_write_to_buffer(img, ".png", &buf, &len, "compression", 1, nullptr), 0);
  g_object_unref(img);
  std::string s(static_cast<char*>(buf), len);
  g_free(buf);
  return s;
}

class DecodeBudgetTest : public ::testing::Test {
 protected:
  void TearDown() override { image_set_decode_budget(512LL << 20); }  // the process default
};

// 8 threads decode 2000x2000 images (12 MB of pixels each) under a 16 MiB budget:
// only one fits at a time, so no two may run at once although the thread count and
// the per-core slots (at least 2) would allow it.
TEST_F(DecodeBudgetTest, ConcurrentDecodesWaitForTheMemoryBudget) {
  const std::string png = stripes_png(2000, 2000);
  image_set_decode_budget(16LL << 20);
  image_decode_budget_peaks(/*reset=*/true);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto d = decode_rgb(png, DecodeLimits{});
      ok += d.ok() && d->width == 2000;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  const DecodeBudgetPeaks p = image_decode_budget_peaks();
  EXPECT_EQ(p.limit, 16LL << 20);
  EXPECT_LE(p.reserved, p.limit);
  EXPECT_GE(p.reserved, 12'000'000);  // each decode reserved at least its pixels
  EXPECT_EQ(p.active, 1);

  // With room for several, several run at once (so the budget, not a lock, kept them apart).
  if (std::thread::hardware_concurrency() >= 2) {
    image_set_decode_budget(256LL << 20);
    image_decode_budget_peaks(true);
    std::atomic<int> ok2{0};
    std::vector<std::thread> more;
    for (int i = 0; i < 8; ++i) more.emplace_back([&] { ok2 += decode_rgb(png, DecodeLimits{}).ok(); });
    for (auto& t : more) t.join();
    EXPECT_EQ(ok2.load(), 8);
    const DecodeBudgetPeaks q = image_decode_budget_peaks();
    EXPECT_LE(q.reserved, q.limit);
    EXPECT_LE(q.active, static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
    std::printf("[ budget ] 256 MiB: up to %d decodes at once, %lld bytes reserved\n", q.active,
                static_cast<long long>(q.reserved));
  }
}

// A decode bigger than the whole budget still runs, alone.
TEST_F(DecodeBudgetTest, DecodeLargerThanTheBudgetRunsAlone) {
  const std::string png = stripes_png(3000, 3000);  // 27 MB of pixels
  image_set_decode_budget(16LL << 20);
  image_decode_budget_peaks(true);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 3; ++i) threads.emplace_back([&] { ok += decode_rgb(png, DecodeLimits{}).ok(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 3);
  const DecodeBudgetPeaks p = image_decode_budget_peaks();
  EXPECT_EQ(p.active, 1);
  EXPECT_LE(p.reserved, p.limit);
}

// The decode deadline (issue 11, item 1: any decode has a bounded cost): a decode that
// runs past DecodeLimits::max_seconds is stopped with ResourceExhausted.
TEST_F(DecodeBudgetTest, DecodePastItsDeadlineIsStopped) {
  const std::string png = stripes_png(4000, 4000);
  DecodeLimits quick;
  quick.max_seconds = 0.001;
  auto d = decode_rgb(png, quick);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kResourceExhausted) << d.status().to_string();
  EXPECT_NE(d.status().message().find("longer than"), std::string::npos) << d.status().to_string();
  // The same file with the default 30 s decodes.
  EXPECT_TRUE(decode_rgb(png, DecodeLimits{}).ok());
}

}  // namespace
}  // namespace sa
