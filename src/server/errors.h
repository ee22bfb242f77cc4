// Status -> HTTP: the one place where an error becomes a status code and the JSON
// body {"error": {"code": "<status_code_name>", "message": "..."}}.
#pragma once

#include <string>

#include "core/status.h"

namespace httplib { struct Response; }

namespace sa {

// InvalidArgument 400, NotFound 404, AlreadyExists 409, ResourceExhausted 413,
// Unimplemented 501, Unavailable 503, Timeout 504, anything else 500.
int http_status_for(StatusCode code);

// The JSON body for a non-OK status (compact, UTF-8).
std::string error_body(const Status& s);

// Sets status code, body and Content-Type on res.
void send_error(httplib::Response& res, const Status& s);

// The same JSON shape with an explicit HTTP status and code, for answers no
// StatusCode names: 401 "unauthenticated", 403 "permission_denied",
// 421 "misdirected_request", 415 "unsupported_media_type", 429 "too_many_requests".
void send_error_code(httplib::Response& res, int http_status, const std::string& code,
                     const std::string& message);

}  // namespace sa
