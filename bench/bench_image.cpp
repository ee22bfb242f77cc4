// Image pipeline workloads on a 12-megapixel (4000x3000) JPEG:
//   decode_12mp         bytes -> upright RGB8 (full resolution, as CLIP needs)
//   decode_12mp_reduced bytes -> RGB8 with the import's opt-in reduced-cost decode (DCT
//                       scaling to >= 448 px a side: 1000x750)
//   thumbnail_from_rgb_1000px  that 1000x750 frame -> 400 px JPEG (the reduced import's thumbnail)
//   preprocess_1000px   that 1000x750 frame -> [3,224,224] (the reduced import's CLIP input)
//   thumbnail_12mp      bytes -> 400 px JPEG via shrink-on-load (decode_rgb max_side 800 + encode_jpeg)
//   thumbnail_from_rgb_12mp  decoded RGB8 -> 400 px JPEG (encode_jpeg, the decode-once path)
//   thumbnail_from_rgb_12mp_vips  the same thumbnail with vips_shrink as the box shrink (the
//                       path encode_jpeg took before box_shrink_rgb; same pixels), for comparison
//   vlm_jpeg_12mp       decoded RGB8 -> 1024 px JPEG for the VLM
//   preprocess_12mp     decoded RGB8 -> [3,224,224] CLIP tensor (PIL-exact bicubic)
// The input is made from tests/data/images/chelsea.png, upscaled and given mild noise
// so the JPEG has photo-like entropy.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <vips/vips.h>

#include "core/file_util.h"
#include "image/clip_preprocess.h"
#include "image/image.h"

namespace {

struct Inputs {
  std::string jpeg;  // 4000x3000, quality 90
  sa::RgbImage rgb;  // its decoded pixels
};

const Inputs& inputs() {
  static const Inputs in = [] {
    Inputs r;
    auto bytes = sa::read_file(std::string(SA_TEST_DATA) + "/images/chelsea.png");
    if (!bytes.ok()) {
      std::fprintf(stderr, "bench_image: %s\n", bytes.status().to_string().c_str());
      std::exit(1);
    }
    auto small = sa::decode_rgb(*bytes, {});
    if (!small.ok()) std::exit(1);
    sa::RgbImage big{4000, 3000, std::vector<uint8_t>(size_t(4000) * 3000 * 3)};
    sa::resize_bicubic_pil(small->pixels.data(), small->width, small->height, big.pixels.data(),
                           big.width, big.height);
    std::mt19937 rng(42);
    for (auto& v : big.pixels) v = static_cast<uint8_t>(std::clamp(int(v) + int(rng() % 9) - 4, 0, 255));
    auto jpeg = sa::encode_jpeg(big, 4000, 90);
    if (!jpeg.ok()) std::exit(1);
    r.jpeg = std::move(*jpeg);
    auto rgb = sa::decode_rgb(r.jpeg, {});
    if (!rgb.ok()) std::exit(1);
    r.rgb = std::move(*rgb);
    return r;
  }();
  return in;
}

void decode_12mp(benchmark::State& state) {
  const Inputs& in = inputs();
  for (auto _ : state) {
    auto img = sa::decode_rgb(in.jpeg, {});
    if (!img.ok()) state.SkipWithError(img.status().to_string().c_str());
    benchmark::DoNotOptimize(img);
  }
  state.counters["jpeg_MB"] = in.jpeg.size() / 1e6;
}
BENCHMARK(decode_12mp)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

sa::DecodeLimits reduced_limits() {
  sa::DecodeLimits lim;
  lim.min_side = 448;  // twice the ViT-B-16 input, as `import --reduced-decode` asks
  return lim;
}

void decode_12mp_reduced(benchmark::State& state) {
  const Inputs& in = inputs();
  for (auto _ : state) {
    auto img = sa::decode_rgb(in.jpeg, reduced_limits());
    if (!img.ok()) state.SkipWithError(img.status().to_string().c_str());
    benchmark::DoNotOptimize(img);
  }
}
BENCHMARK(decode_12mp_reduced)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

const sa::RgbImage& reduced_rgb() {
  static const sa::RgbImage img = [] {
    auto r = sa::decode_rgb(inputs().jpeg, reduced_limits());
    if (!r.ok()) std::exit(1);
    return std::move(*r);
  }();
  return img;
}

void thumbnail_from_rgb_1000px(benchmark::State& state) {
  const sa::RgbImage& img = reduced_rgb();
  for (auto _ : state) {
    auto jpg = sa::encode_jpeg(img, 400);
    if (!jpg.ok()) state.SkipWithError(jpg.status().to_string().c_str());
    benchmark::DoNotOptimize(jpg);
  }
}
BENCHMARK(thumbnail_from_rgb_1000px)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

void preprocess_1000px(benchmark::State& state) {
  const sa::RgbImage& img = reduced_rgb();
  for (auto _ : state) {
    auto t = sa::clip_preprocess(img, 224);
    benchmark::DoNotOptimize(t.data());
  }
}
BENCHMARK(preprocess_1000px)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

void thumbnail_12mp(benchmark::State& state) {
  const Inputs& in = inputs();
  for (auto _ : state) {
    sa::DecodeLimits lim;
    lim.max_side = 800;
    auto img = sa::decode_rgb(in.jpeg, lim);
    if (!img.ok()) state.SkipWithError(img.status().to_string().c_str());
    auto jpg = sa::encode_jpeg(img.ok() ? *img : sa::RgbImage{}, 400);
    benchmark::DoNotOptimize(jpg);
  }
}
BENCHMARK(thumbnail_12mp)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

void thumbnail_from_rgb_12mp(benchmark::State& state) {
  const Inputs& in = inputs();
  for (auto _ : state) {
    auto jpg = sa::encode_jpeg(in.rgb, 400);
    if (!jpg.ok()) state.SkipWithError(jpg.status().to_string().c_str());
    benchmark::DoNotOptimize(jpg);
  }
}
BENCHMARK(thumbnail_from_rgb_12mp)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

void thumbnail_from_rgb_12mp_vips(benchmark::State& state) {
  const sa::RgbImage& img = inputs().rgb;
  for (auto _ : state) {
    // encode_jpeg's steps for 4000x3000 -> 400x300, all in libvips.
    VipsImage* in = vips_image_new_from_memory(img.pixels.data(), img.pixels.size(), img.width,
                                               img.height, 3, VIPS_FORMAT_UCHAR);
    VipsImage *tagged = nullptr, *box = nullptr, *small = nullptr;
    void* buf = nullptr;
    size_t len = 0;
    if (!in || vips_copy(in, &tagged, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr) ||
        vips_shrink(tagged, &box, 5, 5, nullptr) ||
        vips_resize(box, &small, 0.5, "vscale", 0.5, nullptr) ||
        vips_jpegsave_buffer(small, &buf, &len, "Q", 85, "strip", TRUE, nullptr)) {
      state.SkipWithError("libvips failed");
    }
    for (VipsImage* im : {small, box, tagged, in}) {
      if (im) g_object_unref(im);
    }
    g_free(buf);
  }
}
BENCHMARK(thumbnail_from_rgb_12mp_vips)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

void vlm_jpeg_12mp(benchmark::State& state) {
  const Inputs& in = inputs();
  for (auto _ : state) {
    auto jpg = sa::encode_jpeg(in.rgb, 1024);
    if (!jpg.ok()) state.SkipWithError(jpg.status().to_string().c_str());
    benchmark::DoNotOptimize(jpg);
  }
}
BENCHMARK(vlm_jpeg_12mp)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

void preprocess_12mp(benchmark::State& state) {
  const Inputs& in = inputs();
  for (auto _ : state) {
    auto t = sa::clip_preprocess(in.rgb, 224);
    benchmark::DoNotOptimize(t.data());
  }
}
BENCHMARK(preprocess_12mp)->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
