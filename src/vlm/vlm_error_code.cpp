#include "vlm/vlm_error_code.h"

#include <algorithm>
#include <cctype>
#include <string>

namespace sa {

namespace {

bool starts(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Drops "prefix" from the front of s when it is there.
bool eat(std::string_view* s, std::string_view prefix) {
  if (!starts(*s, prefix)) return false;
  s->remove_prefix(prefix.size());
  return true;
}

}  // namespace

const char* vlm_error_code(std::string_view stored) {
  if (stored.empty()) return "";
  // Lower-cased, then only the front is read: the front is this program's own
  // words; what follows may be the provider's body, which can say anything.
  std::string lower(stored);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view s = lower;
  // JobRunner::run_describe: before the VLM is asked.
  if (starts(s, "cannot read the original") || starts(s, "cannot decode") || starts(s, "cannot encode for the vlm")) {
    return "vlm_image_unreadable";
  }
  // "VLM: " + Status::to_string() = "vlm: <code name>: <VlmClient's message>".
  if (!eat(&s, "vlm: ")) return "vlm_failed";
  std::string_view code = s.substr(0, s.find(": "));
  if (code.find(' ') == std::string_view::npos && s.size() > code.size()) s.remove_prefix(code.size() + 2);
  if (starts(s, "vlm: empty image")) return "vlm_image_unreadable";
  if (starts(s, "vlm: no base url")) return "vlm_not_configured";
  if (starts(s, "vlm api key rejected")) return "vlm_auth";
  if (starts(s, "vlm rate limited")) return "vlm_rate_limited";
  if (starts(s, "vlm rejected the image as too large") || starts(s, "vlm response larger than")) {
    return "vlm_image_too_large";
  }
  if (starts(s, "vlm request to ") && code == "timeout") return "vlm_timeout";
  if (starts(s, "cannot reach vlm server")) return "vlm_unreachable";
  if (starts(s, "vlm endpoint or model not found")) return "vlm_not_found";
  if (starts(s, "vlm rejected the request")) return "vlm_rejected";
  if (starts(s, "vlm server error") || starts(s, "vlm server returned an error") || starts(s, "unexpected http")) {
    return "vlm_server_error";
  }
  if (starts(s, "vlm response") || starts(s, "vlm returned")) return "vlm_bad_reply";
  // A message this list does not know yet: by its status code.
  if (code == "timeout") return "vlm_timeout";
  if (code == "corruption") return "vlm_bad_reply";
  return "vlm_failed";
}

std::string vlm_failure_text(const Status& st) { return "VLM: " + st.to_string(); }

}  // namespace sa
