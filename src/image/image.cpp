// Decoding, metadata and JPEG encoding through the libvips C API.
//
// Why it is shaped this way:
// - Every input is untrusted. The loader is chosen by libvips' sniffer, then checked
//   against a short allow-list (jpeg/png/webp/heif/gif/tiff), and untrusted loaders are
//   blocked process-wide. Dimensions are read from the header and checked against the
//   pixel limit before a single pixel is decoded (decompression bombs).
// - Loads use fail_on=error so that truncated or corrupt files are errors, not
//   half-grey images silently embedded.
// - The conversion to 8-bit RGB follows what PIL's convert("RGB") does, because the CLIP
//   goldens were produced by PIL: alpha is dropped (not flattened), embedded ICC profiles
//   of RGB/grey images are ignored, 16-bit is reduced by taking the high byte. Only CMYK
//   goes through colour management (PIL's naive CMYK formula is not worth copying).
// - libvips' operation cache is disabled: it would only hold memory in a process that
//   sees every image once, and buffer-backed loads must never be served from a cache.
#include "image/image.h"

#include "image/box_shrink.h"
#include "image/decode_budget.h"
#include "image/structure.h"

#include <vips/vips.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <regex>
#include <thread>

namespace sa {
namespace {

struct GObjectUnref {
  void operator()(VipsImage* p) const {
    if (p) g_object_unref(p);
  }
};
using ImagePtr = std::unique_ptr<VipsImage, GObjectUnref>;

struct GFree {
  void operator()(void* p) const { g_free(p); }
};
using GBuffer = std::unique_ptr<void, GFree>;

// Takes (and clears) the libvips error text so it can be appended to our message.
// The buffer is process-wide, so under concurrency it may hold another thread's text
// too; it is context for a human, never parsed.
std::string take_vips_error() {
  char* text = vips_error_buffer_copy();
  std::string s = text ? text : "";
  g_free(text);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ';');
  return s;
}

Status vips_status(StatusCode code, const std::string& what) {
  std::string detail = take_vips_error();
  return Status(code, detail.empty() ? what : what + " (" + detail + ")");
}

void ignore_log(const gchar*, GLogLevelFlags, const gchar*, gpointer) {}

// Calls the one loader for `f` directly (never libvips' sniffer, never another loader).
// shrink: JPEG shrink-on-load factor (1, 2, 4, 8); scale: WebP scale-on-load.
int call_loader(ImageFormat f, std::string_view bytes, VipsImage** out, VipsAccess access,
                int shrink, double scale) {
  void* buf = const_cast<char*>(bytes.data());
  const size_t len = bytes.size();
  const VipsFailOn fail = VIPS_FAIL_ON_ERROR;
  switch (f) {
    case ImageFormat::kJpeg:
      return vips_jpegload_buffer(buf, len, out, "access", access, "fail_on", fail, "shrink",
                                  shrink, nullptr);
    case ImageFormat::kPng:
      return vips_pngload_buffer(buf, len, out, "access", access, "fail_on", fail, nullptr);
    case ImageFormat::kGif:
      return vips_gifload_buffer(buf, len, out, "access", access, "fail_on", fail, nullptr);
    case ImageFormat::kWebp:
      return vips_webpload_buffer(buf, len, out, "access", access, "fail_on", fail, "scale",
                                  scale, nullptr);
    case ImageFormat::kTiff:
      return vips_tiffload_buffer(buf, len, out, "access", access, "fail_on", fail, nullptr);
    case ImageFormat::kHeic:
    case ImageFormat::kAvif:
      return vips_heifload_buffer(buf, len, out, "access", access, "fail_on", fail, nullptr);
    case ImageFormat::kUnknown:
      break;
  }
  return -1;
}

// ---- decode memory budget --------------------------------------------------------

class DecodeBudget {
 public:
  // Blocks until `bytes` fit (a request above the whole budget waits for an empty one).
  int64_t acquire(int64_t bytes) {
    std::unique_lock<std::mutex> lk(mu_);
    bytes = std::min(bytes, limit_);
    cv_.wait(lk, [&] { return used_ + bytes <= limit_ && active_ < slots_; });
    used_ += bytes;
    ++active_;
    peaks_.reserved = std::max(peaks_.reserved, used_);
    peaks_.active = std::max(peaks_.active, active_);
    return bytes;
  }
  void release(int64_t bytes) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      used_ -= bytes;
      --active_;
    }
    cv_.notify_all();
  }
  DecodeBudgetPeaks peaks(bool reset) {
    std::lock_guard<std::mutex> lk(mu_);
    DecodeBudgetPeaks p = peaks_;
    p.limit = limit_;
    if (reset) peaks_ = DecodeBudgetPeaks{0, used_, active_};
    return p;
  }
  void set_limit(int64_t bytes) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      limit_ = std::max<int64_t>(bytes, 16 << 20);
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t limit_ = 512LL << 20;
  int64_t used_ = 0;
  // Decodes are CPU-bound: more at once than cores only makes each slower (and
  // closer to its deadline), so they also queue for one of these slots.
  int slots_ = std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  int active_ = 0;
  DecodeBudgetPeaks peaks_;
};

DecodeBudget& budget() {
  static DecodeBudget b;
  return b;
}

class BudgetLease {
 public:
  explicit BudgetLease(int64_t bytes) : bytes_(budget().acquire(bytes)) {}
  ~BudgetLease() { budget().release(bytes_); }
  BudgetLease(const BudgetLease&) = delete;
  BudgetLease& operator=(const BudgetLease&) = delete;

 private:
  int64_t bytes_;
};

// ---- decode deadline ---------------------------------------------------------------

struct Deadline {
  std::chrono::steady_clock::time_point at;
  std::atomic<bool> hit{false};
};

void on_eval(VipsImage* image, VipsProgress*, void* a) {
  auto* d = static_cast<Deadline*>(a);
  if (std::chrono::steady_clock::now() > d->at) {
    d->hit = true;
    vips_image_set_kill(image, TRUE);
  }
}

// ---- EXIF -----------------------------------------------------------------------

// libvips renders an EXIF entry as "RAW (FORMATTED, Type, N components, M bytes)".
// Returns RAW, or "" when the field is absent.
std::string exif_raw(VipsImage* img, const char* field) {
  if (vips_image_get_typeof(img, field) == 0) return "";
  const char* value = nullptr;
  if (vips_image_get_string(img, field, &value) != 0 || !value) {
    take_vips_error();
    return "";
  }
  std::string s = value;
  static const std::regex kSuffix(R"(, [A-Za-z ]+, \d+ components, \d+ bytes\)$)");
  std::smatch m;
  if (!std::regex_search(s, m, kSuffix)) return s;
  std::string body = s.substr(0, m.position(0));  // "RAW (FORMATTED"
  // For ASCII entries RAW and FORMATTED are the same text, which pins the split even if
  // the text itself contains " (".
  if (body.size() >= 2 && (body.size() - 2) % 2 == 0) {
    size_t half = (body.size() - 2) / 2;
    if (body.compare(half, 2, " (") == 0 && body.compare(0, half, body, half + 2, half) == 0) {
      return body.substr(0, half);
    }
  }
  size_t split = body.find(" (");
  return split == std::string::npos ? body : body.substr(0, split);
}

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// "2023:01:22 10:11:12" -> "2023-01-22T10:11:12"; "" if not a plausible date.
std::string exif_datetime_to_iso(const std::string& raw) {
  static const std::regex kDate(R"(^\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2}))");
  std::smatch m;
  if (!std::regex_search(raw, m, kDate)) return "";
  int year = std::stoi(m[1]), month = std::stoi(m[2]), day = std::stoi(m[3]);
  int hour = std::stoi(m[4]), minute = std::stoi(m[5]), second = std::stoi(m[6]);
  if (year < 1800 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
      minute > 59 || second > 60) {
    return "";  // "0000:00:00 00:00:00" is what cameras write when the clock is unset
  }
  return m.str(1) + "-" + m.str(2) + "-" + m.str(3) + "T" + m.str(4) + ":" + m.str(5) + ":" +
         m.str(6);
}

// "30/1 15/1 2050/100" (degrees, minutes, seconds) -> 30.2556...
std::optional<double> exif_dms_to_degrees(const std::string& raw) {
  static const std::regex kRational(R"((-?\d+)/(-?\d+))");
  double parts[3] = {0, 0, 0};
  int n = 0;
  for (auto it = std::sregex_iterator(raw.begin(), raw.end(), kRational);
       it != std::sregex_iterator() && n < 3; ++it, ++n) {
    double num = std::stod((*it)[1]), den = std::stod((*it)[2]);
    if (den == 0) return std::nullopt;
    parts[n] = num / den;
  }
  if (n == 0) return std::nullopt;
  double deg = parts[0] + parts[1] / 60.0 + parts[2] / 3600.0;
  if (!std::isfinite(deg)) return std::nullopt;
  return deg;
}

void read_exif(VipsImage* img, ImageMeta* meta) {
  // Each date has its own EXIF 2.31 offset field ("+08:00"); when present it is
  // appended, so the time stays the camera's wall clock and says its zone.
  static const std::regex kOffset(R"(^[+-](0\d|1[0-4]):[0-5]\d$)");
  const std::pair<const char*, const char*> kDates[] = {
      {"exif-ifd2-DateTimeOriginal", "exif-ifd2-OffsetTimeOriginal"},
      {"exif-ifd2-DateTimeDigitized", "exif-ifd2-OffsetTimeDigitized"},
      {"exif-ifd0-DateTime", "exif-ifd2-OffsetTime"}};
  for (const auto& [field, offset_field] : kDates) {
    meta->taken_at = exif_datetime_to_iso(exif_raw(img, field));
    if (meta->taken_at.empty()) continue;
    const std::string offset = trim(exif_raw(img, offset_field));
    if (std::regex_match(offset, kOffset)) meta->taken_at += offset;
    break;
  }

  std::string make = trim(exif_raw(img, "exif-ifd0-Make"));
  std::string model = trim(exif_raw(img, "exif-ifd0-Model"));
  if (!make.empty() && model.rfind(make, 0) == 0) make.clear();  // "Canon" + "Canon EOS 5D"
  meta->camera = trim(make + " " + model);

  std::optional<double> lat = exif_dms_to_degrees(exif_raw(img, "exif-ifd3-GPSLatitude"));
  std::optional<double> lon = exif_dms_to_degrees(exif_raw(img, "exif-ifd3-GPSLongitude"));
  if (lat && lon && *lat <= 90.0 && *lon <= 180.0) {
    if (trim(exif_raw(img, "exif-ifd3-GPSLatitudeRef")).starts_with("S")) *lat = -*lat;
    if (trim(exif_raw(img, "exif-ifd3-GPSLongitudeRef")).starts_with("W")) *lon = -*lon;
    meta->gps_lat = lat;
    meta->gps_lon = lon;
  }
}

// ---- loading ----------------------------------------------------------------------

struct Opened {
  ImagePtr image;
  ImageMeta meta;
};

// Decides the format from the magic bytes, reads the header with that format's loader
// only, checks the limits and the file's structure. No pixels are decoded here: libvips
// loads lazily, and the caller keeps `bytes` alive for as long as the image is used.
// shrink/scale are passed to the JPEG/WebP loaders (shrink-on-load); meta always gives
// the full-size dimensions.
Result<Opened> open_image(std::string_view bytes, const DecodeLimits& lim,
                          VipsAccess access = VIPS_ACCESS_RANDOM, int shrink = 1,
                          double scale = 1.0) {
  SA_RETURN_IF_ERROR(image_init());
  if (bytes.empty()) return Status::InvalidArgument("empty image data (0 bytes)");
  vips_error_clear();  // drop text left over from earlier, successful calls
  if (static_cast<int64_t>(bytes.size()) > lim.max_bytes) {
    return Status::ResourceExhausted("image data is " + std::to_string(bytes.size()) +
                                     " bytes, more than the limit of " +
                                     std::to_string(lim.max_bytes));
  }
  const ImageFormat kind = sniff_format(bytes);
  const FormatInfo& fmt = format_info(kind);
  if (kind == ImageFormat::kUnknown) {
    return Status::InvalidArgument(
        "not a supported image format; accepted: jpeg, png, webp, heic, avif, gif, tiff");
  }

  VipsImage* raw = nullptr;
  if (call_loader(kind, bytes, &raw, access, 1, 1.0) != 0 || !raw) {
    if (raw) g_object_unref(raw);
    return vips_status(StatusCode::kInvalidArgument,
                       "cannot read " + std::string(fmt.name) + " header");
  }
  Opened o{ImagePtr(raw), {}};
  VipsImage* img = o.image.get();
  int w = vips_image_get_width(img), h = vips_image_get_height(img);
  if (w <= 0 || h <= 0) return Status::InvalidArgument("image has no pixels");
  int64_t pixels = int64_t{w} * h;
  if (pixels > lim.max_pixels) {
    return Status::ResourceExhausted(
        "image is " + std::to_string(w) + "x" + std::to_string(h) + " (" +
        std::to_string(pixels) + " pixels), more than the limit of " +
        std::to_string(lim.max_pixels) + " pixels");
  }
  SA_RETURN_IF_ERROR(check_structure(kind, bytes, w, h));

  ImageMeta& meta = o.meta;
  meta.kind = kind;
  meta.format = std::string(fmt.name);
  meta.mime = std::string(fmt.mime);
  int orientation = 1;
  if (vips_image_get_typeof(img, VIPS_META_ORIENTATION) &&
      vips_image_get_int(img, VIPS_META_ORIENTATION, &orientation) == 0 && orientation >= 1 &&
      orientation <= 8) {
    meta.orientation = orientation;
  }
  bool swap = meta.orientation >= 5;
  meta.width = swap ? h : w;
  meta.height = swap ? w : h;
  read_exif(img, &meta);
  if (shrink != 1 || scale != 1.0) {
    VipsImage* small = nullptr;
    if (call_loader(kind, bytes, &small, access, shrink, scale) != 0 || !small) {
      if (small) g_object_unref(small);
      return vips_status(StatusCode::kInvalidArgument,
                         "cannot read " + std::string(fmt.name) + " header");
    }
    o.image.reset(small);
  }
  return o;
}

// Turns whatever the loader produced into 3-band 8-bit sRGB, as PIL's convert("RGB").
Result<ImagePtr> to_rgb8(ImagePtr img) {
  VipsImage* out = nullptr;
  // Takes ownership of `out` once the operation that wrote it has run.
  auto step = [&](int rc, const char* what) -> Status {
    if (rc != 0) return vips_status(StatusCode::kInvalidArgument, what);
    img.reset(out);
    out = nullptr;
    return Status::OK();
  };

  VipsInterpretation interp = vips_image_get_interpretation(img.get());
  if (img->Coding != VIPS_CODING_NONE || interp == VIPS_INTERPRETATION_CMYK) {
    // Coded (LabQ) pixels and CMYK need a real colour transform (CMYK: embedded profile,
    // else libvips' built-in CMYK profile).
    SA_RETURN_IF_ERROR(step(vips_colourspace(img.get(), &out, VIPS_INTERPRETATION_sRGB, nullptr),
                            "cannot convert image to sRGB"));
    interp = vips_image_get_interpretation(img.get());
  }

  // Keep the colour bands, drop alpha and anything extra (PIL drops alpha on convert).
  int colour_bands = img->Bands >= 3 ? 3 : 1;
  if (img->Bands > colour_bands) {
    SA_RETURN_IF_ERROR(step(vips_extract_band(img.get(), &out, 0, "n", colour_bands, nullptr),
                            "cannot extract colour bands"));
  }

  switch (interp) {
    case VIPS_INTERPRETATION_LAB: case VIPS_INTERPRETATION_LABS: case VIPS_INTERPRETATION_LCH:
    case VIPS_INTERPRETATION_CMC: case VIPS_INTERPRETATION_XYZ: case VIPS_INTERPRETATION_YXY:
    case VIPS_INTERPRETATION_HSV: case VIPS_INTERPRETATION_scRGB:
      if (colour_bands == 3) {
        SA_RETURN_IF_ERROR(step(
            vips_colourspace(img.get(), &out, VIPS_INTERPRETATION_sRGB, nullptr),
            "cannot convert image to sRGB"));
      }
      break;
    default:
      break;
  }

  if (img->BandFmt == VIPS_FORMAT_USHORT || img->BandFmt == VIPS_FORMAT_SHORT) {
    // 16-bit -> 8-bit keeps the high byte, as PIL does for 16-bit RGB PNGs.
    SA_RETURN_IF_ERROR(step(vips_rshift_const1(img.get(), &out, 8, nullptr),
                            "cannot reduce 16-bit image"));
  }
  if (img->BandFmt != VIPS_FORMAT_UCHAR) {
    SA_RETURN_IF_ERROR(step(vips_cast(img.get(), &out, VIPS_FORMAT_UCHAR, nullptr),
                            "cannot convert image to 8-bit"));
  }
  if (img->Bands == 1) {
    VipsImage* bands[3] = {img.get(), img.get(), img.get()};
    SA_RETURN_IF_ERROR(step(vips_bandjoin(bands, &out, 3, nullptr),
                            "cannot expand grey image to RGB"));
  }
  if (img->Bands != 3 || img->BandFmt != VIPS_FORMAT_UCHAR) {
    return Status::Internal("image conversion did not produce 8-bit RGB");
  }
  return img;
}

// Evaluates a 3-band uchar image straight into `out` (HWC), rows arriving in order,
// stopping it once `max_seconds` have passed (ResourceExhausted).
Status write_rgb(VipsImage* img, std::vector<uint8_t>* out, const std::string& what,
                 double max_seconds) {
  const size_t row = static_cast<size_t>(img->Xsize) * 3;
  out->resize(row * img->Ysize);
  auto copy_rows = [](VipsRegion* region, VipsRect* area, void* a) -> int {
    auto* dst = static_cast<std::vector<uint8_t>*>(a);
    const size_t row_bytes = static_cast<size_t>(VIPS_REGION_SIZEOF_LINE(region));
    const size_t stride = static_cast<size_t>(region->im->Xsize) * 3;
    for (int y = 0; y < area->height; ++y) {
      std::memcpy(dst->data() + (area->top + y) * stride,
                  VIPS_REGION_ADDR(region, area->left, area->top + y), row_bytes);
    }
    return 0;
  };
  Deadline deadline;
  deadline.at = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(static_cast<int64_t>(max_seconds * 1000));
  vips_image_set_progress(img, TRUE);
  gulong handler = g_signal_connect(img, "eval", G_CALLBACK(on_eval), &deadline);
  int rc = vips_sink_disc(img, copy_rows, out);
  g_signal_handler_disconnect(img, handler);
  if (rc != 0 || deadline.hit) {
    out->clear();
    if (deadline.hit) {
      take_vips_error();
      return Status::ResourceExhausted("decoding took longer than the limit of " +
                                       std::to_string(static_cast<int>(max_seconds)) + " s");
    }
    return vips_status(StatusCode::kInvalidArgument, what);
  }
  return Status::OK();
}

Result<std::string> save_jpeg(VipsImage* img, int quality) {
  void* buf = nullptr;
  size_t len = 0;
  if (vips_jpegsave_buffer(img, &buf, &len, "Q", quality, "strip", TRUE, nullptr) != 0) {
    return vips_status(StatusCode::kInvalidArgument, "cannot encode JPEG");
  }
  GBuffer owner(buf);
  return std::string(static_cast<const char*>(buf), len);
}

}  // namespace

Status image_init() {
  static std::once_flag once;
  static Status result;
  std::call_once(once, [] {
    if (VIPS_INIT("smart-album") != 0) {
      result = vips_status(StatusCode::kUnavailable, "libvips failed to start");
      return;
    }
    // Loaders libvips marks untrusted (ImageMagick, matio, ...) must never see uploads.
    vips_block_untrusted_set(TRUE);
    vips_cache_set_max(0);
    // Corrupt uploads are reported through Status; libvips/libjpeg/libpng warnings would
    // otherwise print one line each to stderr.
    g_log_set_handler("VIPS",
                      static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
                                                  G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG),
                      ignore_log, nullptr);
  });
  return result;
}

void image_set_threads(int threads) {
  if (!image_init().ok()) return;
  vips_concurrency_set(std::max(threads, 0));
}

Result<ImageMeta> probe_image(std::string_view bytes, const DecodeLimits& lim) {
  SA_ASSIGN_OR_RETURN(Opened o, open_image(bytes, lim));
  return std::move(o.meta);
}

int jpeg_shrink_factor(int width, int height, int min_side) {
  if (min_side <= 0) return 1;
  for (int f : {8, 4, 2}) {
    if ((width + f - 1) / f >= min_side && (height + f - 1) / f >= min_side) return f;
  }
  return 1;
}

namespace {
std::atomic<int64_t> g_decodes{0};
}  // namespace

int64_t image_decode_count() { return g_decodes.load(); }

Result<RgbImage> decode_rgb(std::string_view bytes, const DecodeLimits& lim, ImageMeta* meta) {
  // Sequential access: the loader runs top to bottom, serialised. With random access,
  // libvips 8.14's threaded tile reads let some damaged GIF/TIFF files decode "fine" on
  // one run and fail on the next; sequential reads fail them every time.
  SA_ASSIGN_OR_RETURN(Opened o, open_image(bytes, lim, VIPS_ACCESS_SEQUENTIAL));
  const int w = o.image->Xsize, h = o.image->Ysize;  // as stored
  const int64_t pixels = int64_t{w} * h;
  const int side = std::max(w, h);
  const int factor = lim.max_side > 0 && side > lim.max_side
                         ? (side + lim.max_side - 1) / lim.max_side
                         : 1;
  const bool jpeg = o.meta.kind == ImageFormat::kJpeg;
  // JPEG: DCT scaling for max_side (at most the factor), or for min_side (the
  // reduced-cost decode), whichever shrinks more; a larger factor still meets max_side.
  const int jpeg_shrink = !jpeg ? 1
                                : std::max(factor >= 8 ? 8 : factor >= 4 ? 4 : factor >= 2 ? 2 : 1,
                                           jpeg_shrink_factor(w, h, lim.min_side));
  if ((jpeg && jpeg_shrink > 1) || (factor > 1 && o.meta.kind == ImageFormat::kWebp)) {
    const int shrink = jpeg_shrink;
    const double scale = jpeg ? 1.0 : 1.0 / factor;
    ImageMeta keep = std::move(o.meta);
    o.image.reset();
    SA_ASSIGN_OR_RETURN(o, open_image(bytes, lim, VIPS_ACCESS_SEQUENTIAL, shrink, scale));
    o.meta = std::move(keep);
  }
  SA_ASSIGN_OR_RETURN(ImagePtr img, to_rgb8(std::move(o.image)));
  if (lim.max_side > 0) {
    const int rest = (std::max(img->Xsize, img->Ysize) + lim.max_side - 1) / lim.max_side;
    if (rest > 1) {
      VipsImage* out = nullptr;
      if (vips_shrink(img.get(), &out, rest, rest, nullptr) != 0) {
        return vips_status(StatusCode::kInvalidArgument, "cannot downscale image");
      }
      img.reset(out);
    }
  }

  // Reserve what the decoder will hold: a few rows for row-wise decoders, the whole
  // frame (RGBA-sized) for the others, plus the result (twice if it must be rotated).
  const int64_t out_bytes = int64_t{img->Xsize} * img->Ysize * 3;
  int64_t held = decodes_in_rows(o.meta.kind, bytes) ? int64_t{w} * 4 * 256
                 : o.meta.kind == ImageFormat::kWebp ? pixels / (int64_t{factor} * factor) * 4
                                                     : pixels * 4;
  BudgetLease lease(held + out_bytes * (o.meta.orientation != 1 ? 2 : 1));

  const std::string what = "cannot decode " + o.meta.format + " image (corrupt or truncated)";
  RgbImage out;
  out.width = img->Xsize;
  out.height = img->Ysize;
  SA_RETURN_IF_ERROR(write_rgb(img.get(), &out.pixels, what, lim.max_seconds));
  img.reset();

  if (o.meta.orientation != 1) {
    // Rotation needs random access, so it runs on the decoded pixels.
    RgbImage stored = std::move(out);
    ImagePtr mem(vips_image_new_from_memory(stored.pixels.data(), stored.pixels.size(),
                                            stored.width, stored.height, 3, VIPS_FORMAT_UCHAR));
    if (!mem) return vips_status(StatusCode::kInternal, "cannot wrap decoded pixels");
    vips_image_set_int(mem.get(), VIPS_META_ORIENTATION, o.meta.orientation);
    VipsImage* rotated = nullptr;
    if (vips_autorot(mem.get(), &rotated, nullptr) != 0) {
      return vips_status(StatusCode::kInternal, "cannot apply EXIF orientation");
    }
    ImagePtr rot(rotated);
    out = RgbImage{rot->Xsize, rot->Ysize, {}};
    SA_RETURN_IF_ERROR(write_rgb(rot.get(), &out.pixels, "cannot apply EXIF orientation",
                                 lim.max_seconds));
  }
  if (meta) *meta = std::move(o.meta);
  g_decodes.fetch_add(1);
  return out;
}

Result<std::string> encode_jpeg(const RgbImage& img, int max_side, int quality) {
  SA_RETURN_IF_ERROR(image_init());
  if (img.width <= 0 || img.height <= 0 ||
      img.pixels.size() != static_cast<size_t>(img.width) * img.height * 3) {
    return Status::InvalidArgument("encode_jpeg: image is empty or its pixel buffer does not "
                                   "match its size");
  }
  if (max_side <= 0) return Status::InvalidArgument("encode_jpeg: max_side must be positive");
  if (quality < 1 || quality > 100) {
    return Status::InvalidArgument("encode_jpeg: quality must be in 1..100");
  }
  vips_error_clear();
  // Target size first (aspect kept, no side below one pixel), then per axis: a box
  // shrink by an integer factor, leaving at most 2x for the lanczos3 reduce. One
  // vips_resize/vips_thumbnail_image call for 4000 -> 400 px cost 4-5x the CPU
  // (bench thumbnail_from_rgb_12mp), for no visible gain. The box shrink is
  // box_shrink_rgb (vips_shrink's arithmetic, same pixels): vips_shrink itself over
  // a memory image cost ~100 ms of CPU for a 12 MP frame, most of a thumbnail.
  const RgbImage* src = &img;
  RgbImage shrunk;
  int tw = img.width, th = img.height;
  if (std::max(img.width, img.height) > max_side) {
    const double s = static_cast<double>(max_side) / std::max(img.width, img.height);
    tw = std::max(1, static_cast<int>(std::lround(img.width * s)));
    th = std::max(1, static_cast<int>(std::lround(img.height * s)));
    const int fx = std::max(1, img.width / (2 * tw)), fy = std::max(1, img.height / (2 * th));
    if (fx > 1 || fy > 1) {
      shrunk = box_shrink_rgb(img, fx, fy);
      if (shrunk.pixels.empty()) return Status::Internal("cannot downscale image");
      src = &shrunk;
    }
  }
  // Wraps the pixels without copying; the image never outlives this call.
  ImagePtr in(vips_image_new_from_memory(src->pixels.data(), src->pixels.size(), src->width,
                                         src->height, 3, VIPS_FORMAT_UCHAR));
  if (!in) return vips_status(StatusCode::kInternal, "cannot wrap pixels");
  VipsImage* out = nullptr;
  if (vips_copy(in.get(), &out, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr) != 0) {
    return vips_status(StatusCode::kInternal, "cannot tag pixels as sRGB");
  }
  in.reset(out);
  if (in->Xsize != tw || in->Ysize != th) {
    if (vips_resize(in.get(), &out, static_cast<double>(tw) / in->Xsize, "vscale",
                    static_cast<double>(th) / in->Ysize, nullptr) != 0) {
      return vips_status(StatusCode::kInternal, "cannot downscale image");
    }
    in.reset(out);
  }
  return save_jpeg(in.get(), quality);
}

void image_set_decode_budget(int64_t bytes) { budget().set_limit(bytes); }

DecodeBudgetPeaks image_decode_budget_peaks(bool reset) { return budget().peaks(reset); }

}  // namespace sa
