// VLM client: describes a photo through an OpenAI-compatible vision chat API
// (DashScope compatible mode / Qwen-VL by default; Ollama, vLLM and the
// llama.cpp server speak the same protocol and need no key).
//
// Errors (Status codes):
//   Unavailable        server down / unreachable, 5xx after all retries,
//                      401/403 ("API key rejected")
//   ResourceExhausted  still rate-limited (429) after all retries
//   Timeout            connect or total timeout (cfg.timeout_s) on the last attempt
//   Corruption         a 2xx body that is not a chat completion (HTML, no choices)
//   InvalidArgument    other 4xx (e.g. 400 image rejected); NotFound for 404
// Retries: 429, 5xx, connection failures and timeouts are retried up to
// cfg.max_retries times with exponential backoff (capped); a Retry-After
// header (seconds or HTTP-date) on 429/5xx is honoured instead. Other 4xx are
// not retried.
// Secrets: the API key is sent only as "Authorization: Bearer <key>" and never
// appears in logs, error messages or returned strings (a server that echoes it
// back has it replaced by "[REDACTED]").
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/status.h"
#include "vlm/vlm_env.h"
#include "vlm/vlm_protocol.h"

namespace sa {

struct VlmClientOptions {
  std::string prompt;                    // empty = default_vlm_prompt()
  std::shared_ptr<VlmClock> clock;       // null = real_vlm_clock()
  int backoff_initial_ms = 1000;         // first retry delay; doubles each retry
  int backoff_max_ms = 30'000;           // cap for computed backoff
  int retry_after_max_ms = 120'000;      // cap for a server's Retry-After
  int timeout_ms = 0;                    // > 0 overrides cfg.timeout_s (tests)
  size_t max_response_bytes = 8u << 20;  // larger bodies -> ResourceExhausted
};

class VlmClient {
 public:
  // Never fails: configuration problems surface from describe(). Initialises
  // libcurl once per process.
  static std::unique_ptr<VlmClient> create(const VlmConfig& cfg);
  static std::unique_ptr<VlmClient> create(const VlmConfig& cfg, VlmClientOptions opt);
  virtual ~VlmClient() = default;

  // Describes one JPEG. Thread-safe; at most cfg.concurrency requests are in
  // flight at once across all threads (others wait their turn).
  virtual Result<VlmResult> describe(std::string_view jpeg_bytes) = 0;

  // cancel(true): requests in flight and retry waits end within ~100 ms, and
  // describe() fails with Unavailable("VLM request cancelled") until
  // cancel(false). For shutdown: a hung VLM must not hold the process for its
  // whole timeout and retries.
  virtual void cancel(bool on) { (void)on; }
};

}  // namespace sa
