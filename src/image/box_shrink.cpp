#include "image/box_shrink.h"

#include <algorithm>
#include <cstring>

namespace sa {
namespace {

// (s + d / 2) / d for 0 <= s + d/2 < 2^16 and 1 <= d <= 256 without a division: with
// m = ceil(2^24 / d), floor(s * m / 2^24) == floor(s / d) while s * d < 2^24 (the
// error s * (m - 2^24 / d) / 2^24 < s / 2^24 stays below 1 / d). The multiply is
// 64-bit so the loops over it vectorise (vpmuludq) instead of dividing per element.
struct RoundedMean {
  explicit RoundedMean(int d) : half(static_cast<uint32_t>(d / 2)),
                                m(((uint64_t{1} << 24) + d - 1) / static_cast<uint64_t>(d)) {}
  uint8_t operator()(uint32_t sum) const {
    return static_cast<uint8_t>(((sum + half) * m) >> 24);
  }
  uint32_t half;
  uint64_t m;
};

// The general case (factors above 256: sums past 16 bits): plain division.
uint8_t rounded_div(uint32_t sum, uint32_t d) { return static_cast<uint8_t>((sum + d / 2) / d); }

int shrunk_size(int in, int f) {
  // libvips sizes the output round-to-nearest: VIPS_ROUND_UINT(in / f).
  return std::max(1, static_cast<int>(static_cast<double>(in) / f + 0.5));
}

}  // namespace

RgbImage box_shrink_rgb(const RgbImage& img, int fx, int fy) {
  if (img.width <= 0 || img.height <= 0 ||
      img.pixels.size() != static_cast<size_t>(img.width) * img.height * 3) {
    return {};
  }
  fx = std::max(fx, 1);
  fy = std::max(fy, 1);
  const int w = img.width, h = img.height;
  const int ow = fx > 1 ? shrunk_size(w, fx) : w;
  const int oh = fy > 1 ? shrunk_size(h, fy) : h;
  const size_t row = static_cast<size_t>(w) * 3;
  RgbImage out{ow, oh, std::vector<uint8_t>(static_cast<size_t>(ow) * oh * 3)};

  std::vector<uint32_t> acc(row);
  std::vector<uint8_t> vrow(row);
  const bool small = fx <= 256 && fy <= 256;
  const RoundedMean vmean(small ? fy : 1), hmean(small ? fx : 1);
  for (int oy = 0; oy < oh; ++oy) {
    // Vertical: fy rows (the last repeated past the bottom edge) -> one 8-bit row.
    const uint8_t* src = img.pixels.data();
    if (fy == 1) {
      std::memcpy(vrow.data(), src + static_cast<size_t>(oy) * row, row);
    } else {
      std::fill(acc.begin(), acc.end(), 0u);
      uint32_t* a = acc.data();
      for (int r = 0; r < fy; ++r) {
        const int y = std::min(oy * fy + r, h - 1);
        const uint8_t* p = src + static_cast<size_t>(y) * row;
        for (size_t i = 0; i < row; ++i) a[i] += p[i];
      }
      uint8_t* v = vrow.data();
      if (small) {
        for (size_t i = 0; i < row; ++i) v[i] = vmean(a[i]);
      } else {
        for (size_t i = 0; i < row; ++i) v[i] = rounded_div(a[i], fy);
      }
    }
    // Horizontal: fx pixels (the last repeated past the right edge) -> one pixel.
    uint8_t* q = out.pixels.data() + static_cast<size_t>(oy) * ow * 3;
    if (fx == 1) {
      std::memcpy(q, vrow.data(), row);
      continue;
    }
    const int full = std::min(ow, w / fx);  // output pixels whose block lies inside
    for (int ox = 0; ox < ow; ++ox) {
      uint32_t s0 = 0, s1 = 0, s2 = 0;
      if (ox < full) {
        const uint8_t* p = vrow.data() + static_cast<size_t>(ox) * fx * 3;
        for (int k = 0; k < fx; ++k) {
          s0 += p[3 * k];
          s1 += p[3 * k + 1];
          s2 += p[3 * k + 2];
        }
      } else {
        for (int k = 0; k < fx; ++k) {
          const uint8_t* p = vrow.data() + static_cast<size_t>(std::min(ox * fx + k, w - 1)) * 3;
          s0 += p[0];
          s1 += p[1];
          s2 += p[2];
        }
      }
      if (small) {
        q[3 * ox] = hmean(s0);
        q[3 * ox + 1] = hmean(s1);
        q[3 * ox + 2] = hmean(s2);
      } else {
        q[3 * ox] = rounded_div(s0, fx);
        q[3 * ox + 1] = rounded_div(s1, fx);
        q[3 * ox + 2] = rounded_div(s2, fx);
      }
    }
  }
  return out;
}

}  // namespace sa
