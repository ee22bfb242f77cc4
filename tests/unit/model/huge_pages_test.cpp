// HugePageAllocator: large blocks 2 MiB aligned (huge-page candidates), small
// ones ordinary, both usable as vector storage; the fp16 text weights use it.
#include "model/huge_pages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "model/ops.h"
#include "model/weights.h"

namespace sa {
namespace {

using HugeVec = std::vector<uint16_t, HugePageAllocator<uint16_t>>;

TEST(HugePages, LargeBlocksAreAlignedSmallOnesOrdinary) {
  constexpr size_t kHuge = HugePageAllocator<uint16_t>::kHugePage;
  HugeVec big(3 * (1 << 20), 7);  // 6 MiB
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % kHuge, 0u);
  big.back() = 9;
  HugeVec copy = big;  // copies allocate through the allocator too
  EXPECT_EQ(reinterpret_cast<uintptr_t>(copy.data()) % kHuge, 0u);
  EXPECT_EQ(copy.front(), 7);
  EXPECT_EQ(copy.back(), 9);
  HugeVec small(100, 3);
  ASSERT_NE(small.data(), nullptr);
  EXPECT_EQ(small[99], 3);
  small.resize(1 << 20);  // grows across the threshold: the old block is freed as small
  EXPECT_EQ(small[99], 3);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % kHuge, 0u);
}

TEST(HugePages, Fp16CopyOfABaseSizeProjectionIsAligned) {
  if (!fp16_kernel_available()) GTEST_SKIP() << "built without F16C";
  Linear l;
  l.n_out = 3072;
  l.n_in = 768;
  l.w.assign(static_cast<size_t>(l.n_out) * l.n_in, 0.5f);
  ASSERT_TRUE(attach_fp16(l));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(l.w16.data()) % HugePageAllocator<uint16_t>::kHugePage, 0u);
  EXPECT_EQ(l.w16[0], 0x3800);  // 0.5 in fp16
}

}  // namespace
}  // namespace sa
