// Limits a request must meet before its body is read (issue 11): only the photo upload
// streams a large body; every other route takes small JSON. Checked from the headers in
// the pre-routing handler, so an oversize body is refused without reading a byte of it.
// Internal to src/server.
#pragma once

#include <httplib.h>

#include "server/http_server.h"

namespace sa {

// True when the request was refused (the reply is set: 413 body too large, 411 chunked
// body on a JSON route, 431 too many header fields, 400 bad Content-Length), with
// "Connection: close" since the unread body cannot be skipped.
bool refuse_over_limits(const httplib::Request& req, httplib::Response& res,
                        const ServerOptions& opt);

}  // namespace sa
