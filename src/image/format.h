// The one table of image formats the album accepts: magic bytes -> format, and for each
// format its name, MIME type, file extension(s) and the libvips loader that decodes it.
//
// Every other place that maps MIME types or extensions should ask this table. The
// format of an upload is decided here from its first bytes only (never from its name),
// and image.cpp then calls exactly that loader: no other libvips loader (and no libvips
// sniffer, some of which hang on hostile input) ever sees the bytes.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace sa {

enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kWebp, kTiff, kHeic, kAvif };

struct FormatInfo {
  ImageFormat format;
  std::string_view name;         // "jpeg", "png", "gif", "webp", "tiff", "heic", "avif"
  std::string_view mime;         // "image/jpeg", ... ("image/avif" for AVIF, not heic)
  std::string_view ext;          // canonical extension, no dot: "jpg", "png", ..., "avif"
  std::string_view other_exts;   // more accepted extensions, space-separated ("jpeg jpe")
  std::string_view vips_loader;  // libvips buffer loader: "jpegload_buffer", ...
};

// All accepted formats (kUnknown excluded), in a fixed order.
std::span<const FormatInfo> all_formats();

// The entry for a format; kUnknown gives an entry with name "unknown",
// mime "application/octet-stream", ext "bin" and no loader.
const FormatInfo& format_info(ImageFormat f);

// Decides the format from the leading bytes (magic numbers; 32 bytes are enough):
// JPEG FF D8 FF; PNG signature; GIF87a/GIF89a; RIFF....WEBP; TIFF II*\0 / MM\0*;
// ISO-BMFF ....ftyp with a HEIF brand (heic heix hevc hevx heim heis mif1 msf1 -> kHeic,
// avif avis -> kAvif; the compatible-brand list is searched when the major brand is
// neither). Anything else (SVG, PDF, BMP, BigTIFF, ...) is kUnknown.
ImageFormat sniff_format(std::string_view bytes);

// Lower-case, exact: "image/jpeg" -> kJpeg ("image/jpg", "image/heif" accepted too).
ImageFormat format_from_mime(std::string_view mime);

// By extension, case-insensitive, with or without the dot, or from a whole file name
// ("IMG_1.JPG" -> kJpeg, "x.heif" -> kHeic). kUnknown when not an accepted extension.
ImageFormat format_from_extension(std::string_view name_or_ext);

// Convenience: the MIME type for a file name's extension ("application/octet-stream"
// when unknown), and the canonical extension for a stored MIME type ("bin" if unknown).
std::string_view mime_for_extension(std::string_view name_or_ext);
std::string_view extension_for_mime(std::string_view mime);

}  // namespace sa
