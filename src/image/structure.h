// Cheap structural checks on untrusted image bytes, before any pixel is decoded:
//  - where the image's data ends (JPEG EOI, PNG IEND, GIF trailer, the RIFF size of WebP,
//    the last top-level box of HEIF/AVIF), so that trailing garbage beyond a small slack
//    is refused (a photo followed by 200 MB of zeros is not stored whole);
//  - whether the compressed data can possibly hold the pixels its header claims (a 13 KB
//    JPEG "of" 9000x9000 pixels cannot: every 8x8 block costs at least one bit in any
//    Huffman-coded JPEG, and deflate cannot compress better than 1032:1).
// Pure byte parsing, no libvips.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "image/format.h"

namespace sa {

// Bytes allowed after the end of the image data (cameras and editors append small
// trailers). A trailer that is itself a JPEG (multi-picture) or an ISO-BMFF file (the
// video of a "motion photo") is allowed whatever its size.
inline constexpr size_t kTrailingSlackBytes = 64 * 1024;

// The offset just past the image's data; 0 when the format has no checkable end (TIFF)
// or when it cannot be found (InvalidArgument: "truncated" wording).
Result<size_t> image_data_end(ImageFormat f, std::string_view bytes);

// All checks above. width/height are the stored (not EXIF-rotated) dimensions.
// InvalidArgument with a message naming the problem.
Status check_structure(ImageFormat f, std::string_view bytes, int width, int height);

// True when libvips can decode the file top to bottom holding only a few rows (baseline
// JPEG, non-interlaced PNG); false when the decoder holds the whole frame (progressive
// JPEG's coefficients, interlaced PNG, GIF, WebP, TIFF, HEIF). Used to size the decode
// memory budget.
bool decodes_in_rows(ImageFormat f, std::string_view bytes);

}  // namespace sa
