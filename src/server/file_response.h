// File replies with HTTP byte ranges (RFC 9110 section 14), for photo originals
// and thumbnails. Internal to src/server.
//
// httplib 0.11.4 (Debian's) parses the Range header but, for a reply streamed by
// a content provider, never checks it against the size: "bytes=99999999-" on a
// small file gave 206 with a wrapped Content-Length. So send_file() resolves the
// ranges itself and answers 200, 206 (one range, or multipart/byteranges) or 416.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace sa {

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
};

struct RangePlan {
  enum class Kind { kWhole, kPartial, kUnsatisfiable };
  Kind kind = Kind::kWhole;
  std::vector<ByteRange> ranges;  // kPartial: in request order, each within the file
};

// Most ranges one request may ask for; more are ignored (the whole file is sent).
inline constexpr size_t kMaxByteRanges = 32;

// What httplib's parsed ranges ({first, last}, -1 = absent: "500-" is {500, -1},
// the suffix "-500" is {-1, 500}) ask of a file of `size` bytes:
//  - none, more than kMaxByteRanges, or ranges that together ask for more bytes
//    than the file has (overlaps): kWhole, the Range header is ignored;
//  - a last position past the end is clamped to the end, a suffix longer than the
//    file means the whole file; ranges that start past the end, empty suffixes
//    ("-0") and "bytes=-" are unsatisfiable and dropped;
//  - kPartial with what is left, kUnsatisfiable when nothing is.
RangePlan plan_ranges(const httplib::Ranges& requested, uint64_t size);

// Streams the file at `path` (never held in memory) as the reply to `req`:
// 200 with the whole file, 206 for satisfiable ranges (Content-Range, or a
// multipart/byteranges body for several), 416 with "Content-Range: bytes */SIZE"
// and a JSON error otherwise. Always sets Accept-Ranges. NotFound if the file
// cannot be opened, IOError if its size cannot be read; `res` is untouched then.
Status send_file(const httplib::Request& req, httplib::Response& res, const std::string& path,
                 const std::string& mime);

}  // namespace sa
