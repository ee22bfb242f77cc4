// Chinese-CLIP image preprocessing, bit-compatible with the official Python pipeline.
//
// Pure compute: no I/O, no libvips. Reproduces
//   PIL Image.resize((R, R), Image.BICUBIC)   (antialiased, a = -0.5, 8-bit between passes)
//   -> ToTensor (/255) -> Normalize(CLIP mean, std)
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <vector>

#include "image/image.h"

namespace sa {

// CLIP normalisation constants (OpenAI CLIP / Chinese-CLIP), per RGB channel.
inline constexpr float kClipMean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
inline constexpr float kClipStd[3] = {0.26862954f, 0.26130258f, 0.27577711f};

// Resizes img to resolution x resolution (no crop, aspect not kept) and normalises.
// Returns [3, R, R] channel-major float32; an empty image or resolution <= 0 gives {}.
std::vector<float> clip_preprocess(const RgbImage& img, int resolution);

// PIL's Image.resize(..., BICUBIC) on RGB8 HWC buffers: separable, horizontal pass
// first with 8-bit rounding, then vertical; filter support widened by the downscale
// factor. dst must hold out_w*out_h*3 bytes.
void resize_bicubic_pil(const uint8_t* src, int w, int h, uint8_t* dst, int out_w, int out_h);

}  // namespace sa
