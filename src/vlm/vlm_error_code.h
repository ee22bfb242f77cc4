#pragma once
// A stable code for a stored "why the description failed" text (photos.vlm_error,
// jobs.error of a describe job). The stored text is for logs and is often the
// provider's or libcurl's English; the page shows only the Chinese text it keeps
// for the code (web/js/errors.js), never the stored text.

#include <string>
#include <string_view>

#include "core/status.h"

namespace sa {

// One of: "vlm_unreachable", "vlm_timeout", "vlm_auth", "vlm_rate_limited",
// "vlm_not_found", "vlm_rejected", "vlm_image_too_large", "vlm_server_error",
// "vlm_bad_reply", "vlm_not_configured", "vlm_image_unreadable", "vlm_failed"
// (anything else); "" for an empty text. Pure; classifies the texts that
// JobRunner::run_describe and VlmClient write (older rows included).
const char* vlm_error_code(std::string_view stored);

// What JobRunner stores when VlmClient::describe fails: "VLM: <code>: <message>".
std::string vlm_failure_text(const Status& st);

}  // namespace sa
