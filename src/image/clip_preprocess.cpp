// Chinese-CLIP preprocessing: PIL's antialiased bicubic resize, then ToTensor + Normalize.
//
// The resize reproduces Pillow's libImaging/Resample.c for 8-bit images (written from
// its description, not copied), because the reference embeddings were computed on PIL
// output and a different resampler moves pixels by several levels:
//  - separable convolution, horizontal pass first, vertical pass second;
//  - per output pixel i: center = (i + 0.5) * scale, scale = in / out; the bicubic
//    kernel (a = -0.5, support 2) is stretched by max(scale, 1) when downscaling
//    (antialiasing) and evaluated at (j - center + 0.5) / filterscale for source j in
//    [trunc(center - support + 0.5), trunc(center + support + 0.5)) clamped to the image;
//  - weights normalised to sum 1, then fixed point with 22 fractional bits (32 - 8 - 2),
//    rounded half away from zero;
//  - each pass accumulates from 0.5 (1 << 21), shifts right by 22 and clamps to 0..255,
//    so the intermediate image is 8-bit exactly as in PIL;
//  - a pass whose size does not change is skipped.
// ToTensor/Normalize are done in float32 in the same order as torchvision:
// (v / 255 - mean) / std.
#include "image/clip_preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sa {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

double bicubic_kernel(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

// Fixed-point filter taps for one axis: output i reads `count[i]` inputs from
// `first[i]` with weights coeff[i * stride ...].
struct Taps {
  int stride = 0;
  std::vector<int> first, count;
  std::vector<int32_t> coeff;
};

Taps compute_taps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  const double inv_filterscale = 1.0 / filterscale;

  Taps t;
  t.stride = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.coeff.assign(static_cast<size_t>(out_size) * t.stride, 0);
  std::vector<double> w(t.stride);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    // static_cast truncates toward zero, as the C cast in the reference does.
    int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    int hi = std::min(static_cast<int>(center + support + 0.5), in_size);
    int n = std::min(std::max(hi - lo, 0), t.stride);
    double sum = 0.0;
    for (int j = 0; j < n; ++j) {
      w[j] = bicubic_kernel((j + lo - center + 0.5) * inv_filterscale);
      sum += w[j];
    }
    int32_t* k = &t.coeff[static_cast<size_t>(i) * t.stride];
    for (int j = 0; j < n; ++j) {
      double v = sum != 0.0 ? w[j] / sum : w[j];
      double fixed = v * (1 << kPrecisionBits);
      k[j] = static_cast<int32_t>(v < 0 ? fixed - 0.5 : fixed + 0.5);
    }
    t.first[i] = lo;
    t.count[i] = n;
  }
  return t;
}

inline uint8_t clip8(int32_t acc) {
  int32_t v = acc >> kPrecisionBits;  // arithmetic shift: floor, as in the reference
  return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

// src rows [row0, row0 + rows) of a w-wide RGB8 image -> rows x out_w.
void resample_horizontal(const uint8_t* src, int w, int row0, int rows, const Taps& t,
                         int out_w, uint8_t* dst) {
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in = src + static_cast<size_t>(row0 + y) * w * 3;
    uint8_t* out = dst + static_cast<size_t>(y) * out_w * 3;
    for (int x = 0; x < out_w; ++x) {
      const int32_t* k = &t.coeff[static_cast<size_t>(x) * t.stride];
      const uint8_t* p = in + static_cast<size_t>(t.first[x]) * 3;
      int32_t r = kHalf, g = kHalf, b = kHalf;
      for (int j = 0; j < t.count[x]; ++j) {
        r += p[3 * j + 0] * k[j];
        g += p[3 * j + 1] * k[j];
        b += p[3 * j + 2] * k[j];
      }
      out[3 * x + 0] = clip8(r);
      out[3 * x + 1] = clip8(g);
      out[3 * x + 2] = clip8(b);
    }
  }
}

// src is a (possibly cropped) image whose row 0 is source row `row0`; width w.
void resample_vertical(const uint8_t* src, int w, int row0, const Taps& t, int out_h,
                       uint8_t* dst) {
  const size_t row_len = static_cast<size_t>(w) * 3;
  std::vector<int32_t> acc(row_len);
  for (int y = 0; y < out_h; ++y) {
    const int32_t* k = &t.coeff[static_cast<size_t>(y) * t.stride];
    std::fill(acc.begin(), acc.end(), kHalf);
    for (int j = 0; j < t.count[y]; ++j) {
      const uint8_t* in = src + static_cast<size_t>(t.first[y] - row0 + j) * row_len;
      const int32_t kj = k[j];
      for (size_t i = 0; i < row_len; ++i) acc[i] += in[i] * kj;
    }
    uint8_t* out = dst + static_cast<size_t>(y) * row_len;
    for (size_t i = 0; i < row_len; ++i) out[i] = clip8(acc[i]);
  }
}

}  // namespace

void resize_bicubic_pil(const uint8_t* src, int w, int h, uint8_t* dst, int out_w, int out_h) {
  if (w <= 0 || h <= 0 || out_w <= 0 || out_h <= 0) return;
  const bool need_h = out_w != w;
  const bool need_v = out_h != h;
  if (!need_h && !need_v) {
    std::memcpy(dst, src, static_cast<size_t>(w) * h * 3);
    return;
  }
  const Taps tv = compute_taps(h, out_h);
  if (!need_h) {
    resample_vertical(src, w, 0, tv, out_h, dst);
    return;
  }
  const Taps th = compute_taps(w, out_w);
  if (!need_v) {
    resample_horizontal(src, w, 0, h, th, out_w, dst);
    return;
  }
  // Only the source rows the vertical pass will read get a horizontal pass.
  const int row0 = tv.first.front();
  const int row_end = tv.first.back() + tv.count.back();
  std::vector<uint8_t> tmp(static_cast<size_t>(row_end - row0) * out_w * 3);
  resample_horizontal(src, w, row0, row_end - row0, th, out_w, tmp.data());
  resample_vertical(tmp.data(), out_w, row0, tv, out_h, dst);
}

std::vector<float> clip_preprocess(const RgbImage& img, int resolution) {
  if (img.width <= 0 || img.height <= 0 || resolution <= 0 ||
      img.pixels.size() != static_cast<size_t>(img.width) * img.height * 3) {
    return {};
  }
  const int r = resolution;
  const size_t plane = static_cast<size_t>(r) * r;
  std::vector<uint8_t> resized(plane * 3);
  resize_bicubic_pil(img.pixels.data(), img.width, img.height, resized.data(), r, r);

  std::vector<float> out(plane * 3);
  for (size_t i = 0; i < plane; ++i) {
    for (int c = 0; c < 3; ++c) {
      float v = static_cast<float>(resized[i * 3 + c]) / 255.0f;
      out[c * plane + i] = (v - kClipMean[c]) / kClipStd[c];
    }
  }
  return out;
}

}  // namespace sa
