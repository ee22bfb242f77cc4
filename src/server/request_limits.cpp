#include "server/request_limits.h"

#include <charconv>
#include <string>

#include "server/errors.h"

namespace sa {
namespace {

bool refuse(httplib::Response& res, int http_status, const Status& s) {
  send_error(res, s);
  res.status = http_status;
  res.set_header("Connection", "close");
  return true;
}

bool is_upload(const httplib::Request& req) {
  return req.method == "POST" && req.path == "/api/photos";
}

}  // namespace

bool refuse_over_limits(const httplib::Request& req, httplib::Response& res,
                        const ServerOptions& opt) {
  if (opt.max_header_fields > 0 && req.headers.size() > static_cast<size_t>(opt.max_header_fields)) {
    return refuse(res, 431, Status::ResourceExhausted(
                                "too many header fields (" + std::to_string(req.headers.size()) +
                                ", the limit is " + std::to_string(opt.max_header_fields) + ")"));
  }
  if (is_upload(req)) return false;  // streamed part by part, with per-file and part limits
  if (req.has_header("Transfer-Encoding")) {
    return refuse(res, 411, Status::InvalidArgument(
                                req.method + " " + req.path +
                                " takes a small JSON body with a Content-Length; chunked bodies "
                                "are accepted by the photo upload only"));
  }
  if (!req.has_header("Content-Length")) return false;
  const std::string v = req.get_header_value("Content-Length");
  unsigned long long n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || v.empty()) {
    return refuse(res, 400, Status::InvalidArgument("bad Content-Length '" + v + "'"));
  }
  if (n > static_cast<unsigned long long>(opt.max_json_body_bytes)) {
    return refuse(res, 413, Status::ResourceExhausted(
                                "request body of " + std::to_string(n) + " bytes is over the " +
                                std::to_string(opt.max_json_body_bytes) + "-byte limit of " +
                                req.method + " " + req.path));
  }
  return false;
}

}  // namespace sa
