// Integer box shrink of decoded RGB8 pixels: the cheap first step of every thumbnail,
// preview and VLM JPEG made from an already decoded frame (encode_jpeg).
//
// Pure compute, no libvips: libvips' vips_shrink over a memory image cost ~100 ms of CPU
// for a 4000x3000 frame (its per-region pipeline around a simple sum); this pass reads
// the frame once, row by row, and vectorises (~8-10x less CPU, bench thumbnail_from_rgb_12mp).
// Thread-safe (no shared state).
#pragma once

#include "image/image.h"

namespace sa {

// Shrinks img by integer factors fx (width) and fy (height), with the arithmetic of
// libvips' uchar vips_shrink (8.14): vertical first, each output row the rounded mean
// (sum + fy/2) / fy of fy input rows as 8-bit, then each output pixel the rounded mean
// of fx of those; output round(w / fx) x round(h / fy) (at least 1), a partial last
// block padded by repeating the last row / column. tests/unit/image/box_shrink_test.cpp
// compares it with vips_shrink itself. fx, fy < 1 are taken as 1; an empty or
// inconsistent image gives an empty result.
RgbImage box_shrink_rgb(const RgbImage& img, int fx, int fy);

}  // namespace sa
