#include "image/structure.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace sa {
namespace {

uint8_t u8(std::string_view b, size_t at) { return static_cast<uint8_t>(b[at]); }
uint32_t be16(std::string_view b, size_t at) { return (uint32_t{u8(b, at)} << 8) | u8(b, at + 1); }
uint32_t be32(std::string_view b, size_t at) { return (be16(b, at) << 16) | be16(b, at + 2); }
uint32_t le32(std::string_view b, size_t at) {
  return uint32_t{u8(b, at)} | (uint32_t{u8(b, at + 1)} << 8) | (uint32_t{u8(b, at + 2)} << 16) |
         (uint32_t{u8(b, at + 3)} << 24);
}

Status truncated(const char* what) {
  return Status::InvalidArgument(std::string("file is truncated (") + what + ")");
}

struct Walk {
  size_t end = 0;             // offset just past the image data
  uint64_t payload = 0;       // compressed pixel bytes (JPEG scans, PNG IDAT)
  bool has_bound = false;     // payload can be checked against the pixel count
  uint64_t min_payload = 0;   // the least payload the claimed pixels need
};

// JPEG: markers up to EOI; entropy-coded bytes of every scan are counted.
Result<Walk> walk_jpeg(std::string_view b, int w, int h) {
  Walk r;
  const size_t n = b.size();
  size_t pos = 2;  // after SOI
  bool huffman = true, have_sof = false;
  while (true) {
    while (pos < n && u8(b, pos) == 0xFF && pos + 1 < n && u8(b, pos + 1) == 0xFF) ++pos;
    if (pos + 1 >= n) return truncated("JPEG without an end-of-image marker");
    if (u8(b, pos) != 0xFF) return Status::InvalidArgument("corrupt JPEG (bytes between markers)");
    uint8_t m = u8(b, pos + 1);
    if (m == 0xD9) {
      r.end = pos + 2;
      break;
    }
    if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) {
      pos += 2;
      continue;
    }
    if (pos + 4 > n) return truncated("JPEG segment header");
    size_t seg_end = pos + 2 + be16(b, pos + 2);
    if (seg_end > n) return truncated("JPEG segment");
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
      have_sof = true;
      huffman = m < 0xC9;  // C9..CB, CD..CF are arithmetic-coded
    }
    pos = seg_end;
    if (m == 0xDA) {  // start of scan: entropy-coded data until the next real marker
      size_t i = pos;
      while (true) {
        const void* ff = i < n ? std::memchr(b.data() + i, 0xFF, n - i) : nullptr;
        if (!ff) return truncated("JPEG scan data runs to the end of the file");
        i = static_cast<size_t>(static_cast<const char*>(ff) - b.data());
        if (i + 1 >= n) return truncated("JPEG scan data runs to the end of the file");
        uint8_t next = u8(b, i + 1);
        if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {
          i += 2;
        } else if (next == 0xFF) {
          ++i;
        } else {
          break;
        }
      }
      r.payload += i - pos;
      pos = i;
    }
  }
  if (have_sof && huffman && w > 0 && h > 0) {
    // Every 8x8 block of a component at full resolution costs >= 1 bit (progressive DC
    // scan), >= 2 bits in sequential mode; half of the weaker bound, for margin.
    r.has_bound = true;
    r.min_payload = (uint64_t(w / 8) * uint64_t(h / 8)) / 16;
  }
  return r;
}

// PNG: chunks up to IEND; IDAT bytes counted.
Result<Walk> walk_png(std::string_view b, int w, int h) {
  Walk r;
  const size_t n = b.size();
  size_t pos = 8;
  int bit_depth = 8, channels = 1;
  while (true) {
    if (pos + 12 > n) return truncated("PNG without an IEND chunk");
    uint64_t len = be32(b, pos);
    if (len > 0x7FFFFFFFu) return Status::InvalidArgument("corrupt PNG (chunk length)");
    if (pos + 12 + len > n) return truncated("PNG chunk");
    std::string_view type = b.substr(pos + 4, 4);
    if (type == "IHDR" && len >= 13) {
      bit_depth = u8(b, pos + 16);
      switch (u8(b, pos + 17)) {
        case 2: channels = 3; break;
        case 4: channels = 2; break;
        case 6: channels = 4; break;
        default: channels = 1; break;
      }
    } else if (type == "IDAT") {
      r.payload += len;
    }
    pos += 12 + len;
    if (type == "IEND") break;
  }
  r.end = pos;
  if (w > 0 && h > 0) {
    // Deflate cannot do better than 1032:1; half of that, for margin.
    uint64_t row = 1 + (uint64_t(w) * channels * std::max(bit_depth, 1) + 7) / 8;
    r.has_bound = true;
    r.min_payload = row * uint64_t(h) / 2064;
  }
  return r;
}

// Skips GIF sub-blocks starting at pos; returns the offset after the terminator.
Result<size_t> skip_sub_blocks(std::string_view b, size_t pos) {
  while (true) {
    if (pos >= b.size()) return truncated("GIF data block");
    size_t sz = u8(b, pos);
    ++pos;
    if (sz == 0) return pos;
    pos += sz;
  }
}

Result<Walk> walk_gif(std::string_view b) {
  Walk r;
  const size_t n = b.size();
  if (n < 13) return truncated("GIF header");
  size_t pos = 13;
  uint8_t flags = u8(b, 10);
  if (flags & 0x80) pos += 3u << ((flags & 7) + 1);
  bool saw_image = false;
  while (true) {
    if (pos >= n) {
      if (!saw_image) return truncated("GIF without an image");
      r.end = n;  // no trailer byte, but every block complete: accepted as browsers do
      break;
    }
    uint8_t t = u8(b, pos);
    if (t == 0x3B) {
      r.end = pos + 1;
      break;
    }
    if (t == 0x21) {
      SA_ASSIGN_OR_RETURN(pos, skip_sub_blocks(b, pos + 2));
    } else if (t == 0x2C) {
      if (pos + 10 > n) return truncated("GIF image descriptor");
      uint8_t f = u8(b, pos + 9);
      pos += 10;
      if (f & 0x80) pos += 3u << ((f & 7) + 1);
      SA_ASSIGN_OR_RETURN(pos, skip_sub_blocks(b, pos + 1));  // +1: LZW minimum code size
      saw_image = true;
    } else {
      if (!saw_image) return Status::InvalidArgument("corrupt GIF (unknown block)");
      r.end = pos;  // what follows is not GIF
      break;
    }
  }
  return r;
}

Result<Walk> walk_webp(std::string_view b) {
  Walk r;
  uint64_t end = uint64_t{le32(b, 4)} + 8;
  end += end & 1;  // RIFF pads to even
  if (end > b.size()) {
    if (end - 1 == b.size()) end = b.size();  // a missing pad byte is harmless
    else return truncated("WebP RIFF size is larger than the file");
  }
  r.end = static_cast<size_t>(end);
  return r;
}

bool fourcc_like(std::string_view t) {
  for (char c : t) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

// ISO-BMFF (HEIF/AVIF): top-level boxes; stops at the first thing that is not a box.
Result<Walk> walk_bmff(std::string_view b) {
  Walk r;
  const size_t n = b.size();
  size_t pos = 0;
  while (pos + 8 <= n) {
    uint64_t size = be32(b, pos);
    std::string_view type = b.substr(pos + 4, 4);
    if (!fourcc_like(type)) break;
    if (size == 1) {
      if (pos + 16 > n) return truncated("HEIF box header");
      size = (uint64_t{be32(b, pos + 8)} << 32) | be32(b, pos + 12);
    } else if (size == 0) {
      size = n - pos;
    }
    if (size < 8) break;
    if (size > n - pos) return truncated("HEIF box runs past the end of the file");
    pos += static_cast<size_t>(size);
  }
  if (pos == 0) return truncated("HEIF without boxes");
  r.end = pos;
  return r;
}

Result<Walk> walk(ImageFormat f, std::string_view b, int w, int h) {
  switch (f) {
    case ImageFormat::kJpeg: return walk_jpeg(b, w, h);
    case ImageFormat::kPng: return walk_png(b, w, h);
    case ImageFormat::kGif: return walk_gif(b);
    case ImageFormat::kWebp: return walk_webp(b);
    case ImageFormat::kHeic:
    case ImageFormat::kAvif: return walk_bmff(b);
    default: return Walk{};
  }
}

// A trailer that is a whole second file (MPF JPEG, motion-photo video) is not garbage.
bool known_trailer(std::string_view t) {
  if (t.size() >= 3 && t.compare(0, 3, "\xFF\xD8\xFF") == 0) return true;
  return t.size() >= 12 && t.compare(4, 4, "ftyp") == 0;
}

}  // namespace

Result<size_t> image_data_end(ImageFormat f, std::string_view bytes) {
  SA_ASSIGN_OR_RETURN(Walk w, walk(f, bytes, 0, 0));
  return w.end;
}

Status check_structure(ImageFormat f, std::string_view bytes, int width, int height) {
  SA_ASSIGN_OR_RETURN(Walk w, walk(f, bytes, width, height));
  if (w.end > 0 && w.end < bytes.size()) {
    size_t extra = bytes.size() - w.end;
    if (extra > kTrailingSlackBytes && !known_trailer(bytes.substr(w.end))) {
      return Status::InvalidArgument(
          "the image data ends at byte " + std::to_string(w.end) + " but the file has " +
          std::to_string(extra) + " more bytes (trailing garbage over the " +
          std::to_string(kTrailingSlackBytes / 1024) + " KiB allowed)");
    }
  }
  if (w.has_bound && w.payload < w.min_payload) {
    return Status::InvalidArgument(
        "the header claims " + std::to_string(width) + "x" + std::to_string(height) +
        " pixels but the file holds only " + std::to_string(w.payload) +
        " bytes of image data (at least " + std::to_string(w.min_payload) +
        " needed): truncated or corrupt");
  }
  return Status::OK();
}

bool decodes_in_rows(ImageFormat f, std::string_view b) {
  if (f == ImageFormat::kPng) return b.size() > 28 && u8(b, 28) == 0;  // IHDR interlace method
  if (f != ImageFormat::kJpeg) return false;
  size_t pos = 2;
  while (pos + 4 <= b.size() && u8(b, pos) == 0xFF) {
    uint8_t m = u8(b, pos + 1);
    if (m == 0xC0 || m == 0xC1) return true;  // baseline / extended sequential Huffman
    if (m >= 0xC2 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) return false;
    if (m == 0xDA || m == 0xD9) return false;
    pos += 2 + be16(b, pos + 2);
  }
  return false;
}

}  // namespace sa
