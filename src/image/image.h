// Image decoding, metadata and encoding (libvips).
//
// Every function here takes untrusted bytes: formats are sniffed, pixel counts are
// checked from the header before any pixels are decoded, and failures come back as a
// Status, never a crash or an exception. All functions are thread-safe once
// image_init() has succeeded (they call it themselves if it has not).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "image/format.h"

namespace sa {

// HWC, 8-bit sRGB RGB, upright (EXIF orientation already applied). pixels.size() == w*h*3.
struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

struct ImageMeta {
  std::string format;  // format_info(kind).name: "jpeg", "png", "webp", "heic", "avif", ...
  std::string mime;    // format_info(kind).mime: "image/jpeg", ..., "image/avif"
  ImageFormat kind = ImageFormat::kUnknown;
  int width = 0, height = 0;  // as displayed: after EXIF orientation (swapped for 5..8)
  std::string taken_at;       // "YYYY-MM-DDTHH:MM:SS" or "": EXIF DateTimeOriginal, else
                              // DateTimeDigitized, else DateTime; followed by its EXIF
                              // offset ("+08:00") when the file records one
  std::string camera;         // "Make Model" ("Model" when it already starts with Make) or ""
  std::optional<double> gps_lat, gps_lon;  // decimal degrees, south/west negative
  int orientation = 1;        // EXIF orientation as stored (1..8)
};

struct DecodeLimits {
  int64_t max_pixels = 100'000'000;
  int64_t max_bytes = 200LL << 20;
  // decode_rgb only: when > 0 the result is reduced by the smallest integer factor that
  // brings its longer side to <= max_side (shrink-on-load for JPEG/WebP, a streaming box
  // shrink otherwise), so a 100-Mpx upload never exists at full size in memory.
  int max_side = 0;
  // A decode that runs longer than this is stopped (ResourceExhausted).
  double max_seconds = 30.0;
  // decode_rgb only, JPEG only: when > 0, decode with libjpeg's DCT scaling by the
  // largest factor (2, 4 or 8) that keeps both sides >= min_side (see
  // jpeg_shrink_factor); with max_side too, the larger of the two factors. The
  // import's opt-in reduced-cost decode passes twice the model input; 0 (the default)
  // leaves the size alone, as the exact CLIP preprocessing needs.
  int min_side = 0;
};

// The DCT scaling factor decode_rgb uses for a width x height JPEG (as stored) and
// lim.min_side: the largest of 8, 4, 2 whose output (ceil(side / factor)) keeps both
// sides >= min_side, else 1. min_side <= 0 gives 1.
int jpeg_shrink_factor(int width, int height, int min_side);

// Successful decode_rgb calls in this process: tests
// check that the import pipeline decodes each photo once.
int64_t image_decode_count();

// The longer side the album works from where the pixels are only needed small (the
// VLM's JPEG, previews): decodes for those pass DecodeLimits::max_side = kWorkingSide.
// The CLIP input is made from the full-size decode by default (the exact reference
// preprocessing), or from the opt-in reduced-cost decode (DecodeLimits::min_side).
inline constexpr int kWorkingSide = 2048;

// Starts libvips once (thread-safe, idempotent), blocks its untrusted loaders and
// silences its warnings. Unavailable if libvips cannot start.
Status image_init();

// Threads libvips may use inside one decode/encode (process-wide; 0 = libvips default,
// all cores). Set by the thread budget (app/thread_budget.h), not called elsewhere.
void image_set_threads(int threads);

// Full decodes share one memory budget (bytes, process-wide; default 512 MiB): each
// decode reserves what its decoder will hold (estimated from the header) and waits
// while the budget is spent; a decode bigger than the whole budget runs alone. At most
// one decode per core runs at a time (the others queue; their deadline starts when
// they run).
void image_set_decode_budget(int64_t bytes);

// Reads the header only: format, dimensions, EXIF. Errors:
//   InvalidArgument   empty, not an image, unsupported format, unreadable header, the
//                     data ends long before the image does, trailing garbage (structure.h)
//   ResourceExhausted more bytes than lim.max_bytes or more pixels than lim.max_pixels
Result<ImageMeta> probe_image(std::string_view bytes, const DecodeLimits& lim);

// Decodes to upright 8-bit sRGB RGB (GIF: first frame). Grey is expanded, alpha is
// dropped (as PIL's convert("RGB")), 16-bit is scaled to 8-bit, CMYK/ICC go to sRGB.
// Same errors as probe_image, plus InvalidArgument for truncated/corrupt pixel data.
// If meta is given it receives what probe_image would return.
Result<RgbImage> decode_rgb(std::string_view bytes, const DecodeLimits& lim,
                            ImageMeta* meta = nullptr);

// Encodes as baseline JPEG (no metadata). If the longer side exceeds max_side the image
// is first downscaled (aspect kept, longer side == max_side). Used for thumbnails (~400)
// and for the VLM (<= 1024). InvalidArgument for an empty/inconsistent image.
Result<std::string> encode_jpeg(const RgbImage& img, int max_side, int quality = 85);

}  // namespace sa
