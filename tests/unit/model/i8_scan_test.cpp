// The vector index's int8 scan kernel (model/i8_scan.h) against its scalar
// reference on every tail: vector counts that end mid-panel, component counts
// that end mid-unroll, and scans large enough to use the helper thread.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "model/i8_scan.h"

namespace sa {
namespace {

struct Panels {
  std::vector<int8_t> w;
  std::vector<float> scales;
};

Panels random_panels(int64_t n, int k, std::mt19937& rng) {
  const int64_t np = (n + kScanPanelCols - 1) / kScanPanelCols;
  Panels p;
  p.w.assign(static_cast<size_t>(np * kScanPanelCols * k), 0);
  p.scales.resize(static_cast<size_t>(n));
  std::uniform_int_distribution<int> byte(-127, 127);
  std::uniform_real_distribution<float> sc(0.0005f, 0.01f);
  for (int64_t j = 0; j < n; ++j) {
    p.scales[static_cast<size_t>(j)] = sc(rng);
    for (int c = 0; c < k; ++c)
      p.w[static_cast<size_t>((j / kScanPanelCols) * kScanPanelCols * k + c * kScanPanelCols + j % kScanPanelCols)] =
          static_cast<int8_t>(byte(rng));
  }
  return p;
}

// The exact sum in double, for the tolerance.
double exact(const std::vector<float>& q, const Panels& p, int64_t j, int k, double* abs_sum) {
  double s = 0, a = 0;
  for (int c = 0; c < k; ++c) {
    const double t = double(q[static_cast<size_t>(c)]) *
                     p.w[static_cast<size_t>((j / kScanPanelCols) * kScanPanelCols * k + c * kScanPanelCols +
                                             j % kScanPanelCols)];
    s += t;
    a += std::fabs(t);
  }
  *abs_sum = a * p.scales[static_cast<size_t>(j)];
  return s * p.scales[static_cast<size_t>(j)];
}

TEST(I8Scan, MatchesTheReferenceOnEveryTail) {
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  for (int64_t n : {1, 5, 15, 16, 17, 31, 33, 4095, 4096, 4097, 9000}) {
    for (int k : {1, 2, 3, 4, 5, 7, 64, 257, 512}) {
      if (n > 4097 && k != 512 && k != 257) continue;  // the big ones once per unroll tail
      Panels p = random_panels(n, k, rng);
      std::vector<float> q(static_cast<size_t>(k));
      for (float& v : q) v = nd(rng);
      std::vector<float> got(static_cast<size_t>(n) + 16, -7.0f), ref(static_cast<size_t>(n), 0.0f);
      score_i8_panels(q.data(), p.w.data(), p.scales.data(), n, k, got.data());
      score_i8_panels_reference(q.data(), p.w.data(), p.scales.data(), n, k, ref.data());
      for (int64_t j = 0; j < n; ++j) {
        double abs_sum = 0;
        const double want = exact(q, p, j, k, &abs_sum);
        const double tol = k * std::ldexp(1.0, -23) * abs_sum + 1e-30;
        ASSERT_NEAR(got[static_cast<size_t>(j)], want, tol) << "n=" << n << " k=" << k << " j=" << j;
        ASSERT_NEAR(ref[static_cast<size_t>(j)], want, tol) << "n=" << n << " k=" << k << " j=" << j;
      }
      // Nothing written past the n outputs (the last panel's padding).
      for (size_t j = static_cast<size_t>(n); j < got.size(); ++j) ASSERT_EQ(got[j], -7.0f) << n << " " << k;
    }
  }
}

TEST(I8Scan, SegmentsScoreAsSeparateScans) {
  // Short segments (an IVF batch's lists) and long ones (past the two-thread
  // threshold together), odd counts: each as score_i8_panels alone.
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  const int k = 130;
  for (const std::vector<int64_t>& sizes : {std::vector<int64_t>{5}, std::vector<int64_t>{17, 1, 500, 33},
                                            std::vector<int64_t>{3000, 2500, 7, 1100}}) {
    std::vector<Panels> ps;
    for (int64_t n : sizes) ps.push_back(random_panels(n, k, rng));
    std::vector<float> q(static_cast<size_t>(k));
    for (float& v : q) v = nd(rng);
    std::vector<std::vector<float>> got(sizes.size()), want(sizes.size());
    std::vector<I8Segment> segs;
    for (size_t i = 0; i < sizes.size(); ++i) {
      got[i].assign(static_cast<size_t>(sizes[i]), -7.0f);
      want[i].assign(static_cast<size_t>(sizes[i]), 0.0f);
      segs.push_back({ps[i].w.data(), ps[i].scales.data(), sizes[i], got[i].data()});
      score_i8_panels(q.data(), ps[i].w.data(), ps[i].scales.data(), sizes[i], k, want[i].data());
    }
    score_i8_segments(q.data(), segs.data(), static_cast<int>(segs.size()), k);
    for (size_t i = 0; i < sizes.size(); ++i) EXPECT_EQ(got[i], want[i]) << "segment " << i;
  }
}

TEST(I8Scan, ZeroScaleGivesZero) {
  // A hole in the index: its column is zero and so is its scale.
  std::mt19937 rng(2);
  Panels p = random_panels(20, 32, rng);
  p.scales[3] = 0;
  std::vector<float> q(32, 1.0f), y(20);
  score_i8_panels(q.data(), p.w.data(), p.scales.data(), 20, 32, y.data());
  EXPECT_EQ(y[3], 0.0f);
  EXPECT_NE(y[4], 0.0f);
}

}  // namespace
}  // namespace sa
