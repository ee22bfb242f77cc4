#include "image/format.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace sa {
namespace {

constexpr std::array<FormatInfo, 7> kFormats = {{
    {ImageFormat::kJpeg, "jpeg", "image/jpeg", "jpg", "jpeg jpe jfif", "jpegload_buffer"},
    {ImageFormat::kPng, "png", "image/png", "png", "", "pngload_buffer"},
    {ImageFormat::kGif, "gif", "image/gif", "gif", "", "gifload_buffer"},
    {ImageFormat::kWebp, "webp", "image/webp", "webp", "", "webpload_buffer"},
    {ImageFormat::kTiff, "tiff", "image/tiff", "tif", "tiff", "tiffload_buffer"},
    {ImageFormat::kHeic, "heic", "image/heic", "heic", "heif hif", "heifload_buffer"},
    {ImageFormat::kAvif, "avif", "image/avif", "avif", "", "heifload_buffer"},
}};

constexpr FormatInfo kUnknownInfo = {ImageFormat::kUnknown, "unknown",
                                     "application/octet-stream", "bin", "", ""};

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// HEIF brands (ISO/IEC 23008-12) and AVIF brands; kUnknown for anything else.
ImageFormat brand_format(std::string_view brand) {
  for (std::string_view b : {"heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"}) {
    if (brand == b) return ImageFormat::kHeic;
  }
  if (brand == "avif" || brand == "avis") return ImageFormat::kAvif;
  return ImageFormat::kUnknown;
}

uint32_t be32(std::string_view b, size_t at) {
  return (uint32_t{static_cast<uint8_t>(b[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(b[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[at + 2])} << 8) | uint32_t{static_cast<uint8_t>(b[at + 3])};
}

ImageFormat sniff_iso_bmff(std::string_view b) {
  if (b.size() < 16 || b.compare(4, 4, "ftyp") != 0) return ImageFormat::kUnknown;
  uint32_t box = be32(b, 0);
  if (box < 16 || box > 4096) return ImageFormat::kUnknown;
  // "avif" anywhere wins over the generic HEIF brands ("mif1") that AVIF files list too.
  ImageFormat found = brand_format(b.substr(8, 4));
  if (found == ImageFormat::kAvif) return found;
  size_t end = std::min<size_t>(box, b.size());
  for (size_t at = 16; at + 4 <= end; at += 4) {
    ImageFormat f = brand_format(b.substr(at, 4));
    if (f == ImageFormat::kAvif) return f;
    if (found == ImageFormat::kUnknown) found = f;
  }
  return found;
}

}  // namespace

std::span<const FormatInfo> all_formats() { return kFormats; }

const FormatInfo& format_info(ImageFormat f) {
  for (const FormatInfo& i : kFormats) {
    if (i.format == f) return i;
  }
  return kUnknownInfo;
}

ImageFormat sniff_format(std::string_view b) {
  if (starts_with(b, "\xFF\xD8\xFF")) return ImageFormat::kJpeg;
  if (starts_with(b, "\x89PNG\r\n\x1A\n")) return ImageFormat::kPng;
  if (starts_with(b, "GIF87a") || starts_with(b, "GIF89a")) return ImageFormat::kGif;
  if (b.size() >= 16 && starts_with(b, "RIFF") && b.compare(8, 4, "WEBP") == 0) {
    return ImageFormat::kWebp;
  }
  if (starts_with(b, std::string_view("II*\0", 4)) || starts_with(b, std::string_view("MM\0*", 4))) {
    return ImageFormat::kTiff;
  }
  return sniff_iso_bmff(b);
}

ImageFormat format_from_mime(std::string_view mime) {
  for (const FormatInfo& i : kFormats) {
    if (mime == i.mime) return i.format;
  }
  if (mime == "image/jpg" || mime == "image/pjpeg") return ImageFormat::kJpeg;
  if (mime == "image/heif" || mime == "image/heic-sequence" || mime == "image/heif-sequence") {
    return ImageFormat::kHeic;
  }
  return ImageFormat::kUnknown;
}

ImageFormat format_from_extension(std::string_view s) {
  size_t dot = s.rfind('.');
  if (dot != std::string_view::npos) s = s.substr(dot + 1);
  if (s.empty()) return ImageFormat::kUnknown;
  for (const FormatInfo& i : kFormats) {
    if (iequals(s, i.ext)) return i.format;
    std::string_view rest = i.other_exts;
    while (!rest.empty()) {
      size_t sp = rest.find(' ');
      std::string_view one = rest.substr(0, sp);
      if (iequals(s, one)) return i.format;
      rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
    }
  }
  return ImageFormat::kUnknown;
}

std::string_view mime_for_extension(std::string_view name_or_ext) {
  return format_info(format_from_extension(name_or_ext)).mime;
}

std::string_view extension_for_mime(std::string_view mime) {
  return format_info(format_from_mime(mime)).ext;
}

}  // namespace sa
