#include "server/file_response.h"

#include <algorithm>
#include <fstream>
#include <memory>
#include <random>

#include "server/errors.h"

namespace sa {
namespace {

// One piece of a reply body: literal text (multipart headers) or a span of the file.
struct Segment {
  uint64_t start = 0;  // offset in the body
  uint64_t length = 0;
  std::string text;    // literal segment when non-empty
  uint64_t file_offset = 0;
};

struct Body {
  std::vector<Segment> segments;
  uint64_t size = 0;
  void add_text(std::string t) {
    const uint64_t n = t.size();
    segments.push_back({size, n, std::move(t), 0});
    size += n;
  }
  void add_file(uint64_t offset, uint64_t length) {
    segments.push_back({size, length, "", offset});
    size += length;
  }
};

std::string content_range(const ByteRange& r, uint64_t size) {
  return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
         std::to_string(size);
}

std::string make_boundary() {
  static const char* kHex = "0123456789abcdef";
  std::random_device rd;
  std::string b = "sa-byteranges-";
  for (int i = 0; i < 24; ++i) b += kHex[rd() & 15];
  return b;
}

// Writes body bytes from `offset` on: up to the end of the segment holding
// `offset`, at most 64 KiB of file at a time (httplib calls again for the rest).
bool write_body(std::ifstream& in, const Body& body, uint64_t offset, uint64_t length,
                httplib::DataSink& sink) {
  auto it = std::upper_bound(body.segments.begin(), body.segments.end(), offset,
                             [](uint64_t off, const Segment& s) { return off < s.start; });
  if (it == body.segments.begin()) return false;
  const Segment& seg = *--it;
  const uint64_t within = offset - seg.start;
  if (within >= seg.length) return false;
  const uint64_t n = std::min(length, seg.length - within);
  if (!seg.text.empty()) return sink.write(seg.text.data() + within, static_cast<size_t>(n));
  char buf[64 * 1024];
  const size_t want = static_cast<size_t>(std::min<uint64_t>(n, sizeof(buf)));
  in.clear();
  in.seekg(static_cast<std::streamoff>(seg.file_offset + within));
  in.read(buf, static_cast<std::streamsize>(want));
  const std::streamsize got = in.gcount();
  if (got <= 0) return false;  // the file shrank under us: cut the reply short
  return sink.write(buf, static_cast<size_t>(got));
}

}  // namespace

RangePlan plan_ranges(const httplib::Ranges& requested, uint64_t size) {
  RangePlan plan;
  if (requested.empty() || requested.size() > kMaxByteRanges) return plan;
  uint64_t total = 0;
  for (const auto& [first, last] : requested) {
    ByteRange r;
    if (first < 0) {  // suffix "-N": the last N bytes
      if (last <= 0 || size == 0) continue;
      r.first = size - std::min<uint64_t>(static_cast<uint64_t>(last), size);
      r.last = size - 1;
    } else {
      if (static_cast<uint64_t>(first) >= size) continue;
      if (last >= 0 && last < first) continue;
      r.first = static_cast<uint64_t>(first);
      r.last = last < 0 ? size - 1 : std::min<uint64_t>(static_cast<uint64_t>(last), size - 1);
    }
    total += r.last - r.first + 1;
    plan.ranges.push_back(r);
  }
  if (plan.ranges.empty()) {
    plan.kind = RangePlan::Kind::kUnsatisfiable;
  } else if (total > size) {
    plan.ranges.clear();  // overlapping ranges would send more than the file: send it once
  } else {
    plan.kind = RangePlan::Kind::kPartial;
  }
  return plan;
}

Status send_file(const httplib::Request& req, httplib::Response& res, const std::string& path,
                 const std::string& mime) {
  auto in = std::make_shared<std::ifstream>(path, std::ios::binary);
  if (!*in) return Status::NotFound("file for this photo is missing");
  in->seekg(0, std::ios::end);
  const std::streamoff end = in->tellg();
  if (end < 0) return Status::IOError("cannot read the photo file");
  const auto size = static_cast<uint64_t>(end);

  const RangePlan plan = plan_ranges(req.ranges, size);
  // httplib applies req.ranges once more after the handler, unchecked; this reply
  // already is the answer to them. The Request is httplib's own non-const object
  // (Server::process_request), handed to handlers by const reference.
  const_cast<httplib::Request&>(req).ranges.clear();
  res.set_header("Accept-Ranges", "bytes");

  if (plan.kind == RangePlan::Kind::kUnsatisfiable) {
    send_error(res, Status::InvalidArgument("requested range is not satisfiable (file has " +
                                            std::to_string(size) + " bytes)"));
    res.status = 416;  // Range Not Satisfiable
    res.set_header("Content-Range", "bytes */" + std::to_string(size));
    return Status::OK();
  }

  auto body = std::make_shared<Body>();
  std::string content_type = mime;
  if (plan.kind == RangePlan::Kind::kWhole) {
    res.status = 200;
    body->add_file(0, size);
  } else if (plan.ranges.size() == 1) {
    const ByteRange& r = plan.ranges[0];
    res.status = 206;
    res.set_header("Content-Range", content_range(r, size));
    body->add_file(r.first, r.last - r.first + 1);
  } else {
    // RFC 9110 14.6 / RFC 2046: each part is a delimiter line, its own headers,
    // a blank line and the bytes; the close delimiter ends the body.
    const std::string boundary = make_boundary();
    res.status = 206;
    content_type = "multipart/byteranges; boundary=" + boundary;
    for (size_t i = 0; i < plan.ranges.size(); ++i) {
      const ByteRange& r = plan.ranges[i];
      body->add_text(std::string(i == 0 ? "" : "\r\n") + "--" + boundary +
                     "\r\nContent-Type: " + mime +
                     "\r\nContent-Range: " + content_range(r, size) + "\r\n\r\n");
      body->add_file(r.first, r.last - r.first + 1);
    }
    body->add_text("\r\n--" + boundary + "--\r\n");
  }
  if (body->size == 0) {  // an empty file: nothing to stream
    res.set_content("", content_type);
    return Status::OK();
  }
  res.set_content_provider(
      static_cast<size_t>(body->size), content_type,
      [in, body](size_t offset, size_t length, httplib::DataSink& sink) {
        return write_body(*in, *body, offset, length, sink);
      });
  return Status::OK();
}

}  // namespace sa
