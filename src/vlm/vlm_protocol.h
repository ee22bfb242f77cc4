// The OpenAI-compatible chat-completions wire format for image description,
// kept pure (no I/O) so every mapping is unit-tested without a server.
//
// Request:  {"model": M, "messages": [{"role": "user", "content": [
//             {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,..."}},
//             {"type": "text", "text": PROMPT}]}]}
// Response: {"choices": [{"message": {"content": "..."}}], "model": "..."}
// The content is expected to be JSON {"description": "...", "keywords": [...], "text": "..."},
// but models wrap it in ``` fences or prose; parse_description_text copes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace sa {

struct VlmResult {
  std::string description;            // Chinese description of the photo
  std::vector<std::string> keywords;  // trimmed, de-duplicated, in model order
  std::string model;                  // model that answered (from the response, else the request)
  std::string text;                   // visible text in the photo ("" if none); last, so
                                      // {description, keywords, model} initialisers still fit
};

// The default Chinese prompt: asks for a JSON object {"description", "keywords"}.
const std::string& default_vlm_prompt();

// Builds the request body. The image is sent inline as a base64 data URL.
std::string build_request_json(std::string_view model, std::string_view jpeg_bytes,
                               std::string_view prompt);

// Parses a chat-completions response body. Corruption for a body that is not
// JSON, has no choices / message content, or carries an {"error": ...} object
// (the message is included, truncated). Never throws.
Result<VlmResult> parse_chat_response(std::string_view body);

// Maps the assistant's text to a result. Accepts, in order: the whole text as
// JSON; JSON inside a ```json (or any ```) fence; the first balanced {...} in
// prose that parses as JSON with a description or keywords; otherwise the
// trimmed text itself is the description (keywords empty). Keywords may be a
// JSON array or a string separated by , ， 、 ; or whitespace-free newlines.
VlmResult parse_description_text(std::string_view content);

// Standard base64 (RFC 4648, with padding) through OpenSSL EVP_EncodeBlock.
std::string base64_encode(std::string_view bytes);

// Text from upstream (error bodies, messages) may echo credentials, whole or masked
// ("sk-AB****yz"): replaces `key` (when not empty), anything shaped like an API key
// ("sk-" / "sk_" followed by 4+ key characters, '*' and '.' included) and the token
// after "Bearer " with "[REDACTED]".
std::string redact_secrets(std::string s, std::string_view key);

}  // namespace sa
