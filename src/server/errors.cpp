#include "server/errors.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace sa {

int http_status_for(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kResourceExhausted: return 413;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kTimeout: return 504;
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

std::string error_body(const Status& s) {
  nlohmann::json j;
  j["error"] = {{"code", status_code_name(s.code())}, {"message", s.message()}};
  // Messages may quote user input (file names) that is not valid UTF-8: replace
  // invalid bytes instead of throwing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void send_error_code(httplib::Response& res, int http_status, const std::string& code,
                     const std::string& message) {
  nlohmann::json j;
  j["error"] = {{"code", code}, {"message", message}};
  res.status = http_status;
  res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json; charset=utf-8");
}

void send_error(httplib::Response& res, const Status& s) {
  res.status = http_status_for(s.code());
  res.set_content(error_body(s), "application/json; charset=utf-8");
}

}  // namespace sa
