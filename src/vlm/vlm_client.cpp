// libcurl implementation of VlmClient: one easy handle per request (handles
// are cheap next to a multi-second VLM call, and per-request handles make the
// client trivially thread-safe), a counting semaphore for the concurrency
// limit, and a retry loop whose waits go through the injectable clock.
#include "vlm/vlm_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cctype>
#include <mutex>
#include <optional>

#include "core/curl_easy.h"

namespace sa {
namespace {

constexpr int kDefaultTimeoutS = 60;
constexpr int kMaxConnectTimeoutMs = 10'000;
constexpr size_t kErrorSnippetChars = 300;

class Semaphore {
 public:
  explicit Semaphore(int n) : count_(std::max(1, n)) {}
  void acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return count_ > 0; });
    --count_;
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++count_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int count_;
};

class SemaphoreGuard {
 public:
  explicit SemaphoreGuard(Semaphore& s) : s_(s) { s_.acquire(); }
  ~SemaphoreGuard() { s_.release(); }
  SemaphoreGuard(const SemaphoreGuard&) = delete;
  SemaphoreGuard& operator=(const SemaphoreGuard&) = delete;

 private:
  Semaphore& s_;
};

struct HttpReply {
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  long status = 0;
  std::string body;
  std::string retry_after;  // raw header value of the final response, if any
  bool too_large = false;
};

struct TransferState {
  HttpReply* reply;
  size_t max_bytes;
  const std::atomic<bool>* cancel;
};

// Called by libcurl about every second and on each chunk: non-zero aborts
// the transfer (CURLE_ABORTED_BY_CALLBACK).
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<TransferState*>(user)->cancel->load() ? 1 : 0;
}

size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  auto* st = static_cast<TransferState*>(user);
  size_t n = size * nmemb;
  if (st->reply->body.size() + n > st->max_bytes) {
    st->reply->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  st->reply->body.append(data, n);
  return n;
}

size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  auto* st = static_cast<TransferState*>(user);
  size_t n = size * nmemb;
  std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    st->reply->retry_after.clear();  // a new response (after 100-continue) starts
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name == "retry-after") {
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
    st->reply->retry_after = std::string(v);
  }
  return n;
}

std::string truncate_utf8(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s + "...";
}

class CurlVlmClient final : public VlmClient {
 public:
  CurlVlmClient(const VlmConfig& cfg, VlmClientOptions opt)
      : cfg_(cfg), opt_(std::move(opt)), sem_(cfg.concurrency) {
    if (!opt_.clock) opt_.clock = real_vlm_clock();
    if (opt_.prompt.empty()) opt_.prompt = default_vlm_prompt();
    std::string base = cfg_.base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    url_ = base + "/chat/completions";
    int timeout_s = cfg_.timeout_s > 0 ? cfg_.timeout_s : kDefaultTimeoutS;
    timeout_ms_ = opt_.timeout_ms > 0 ? opt_.timeout_ms : timeout_s * 1000;
  }

  void cancel(bool on) override { cancelled_ = on; }

  Result<VlmResult> describe(std::string_view jpeg_bytes) override {
    Result<VlmResult> r = describe_impl(jpeg_bytes);
    if (!r.ok()) return Status(r.status().code(), redact(r.status().message()));
    VlmResult v = std::move(r).value();
    v.description = redact(v.description);
    for (auto& k : v.keywords) k = redact(k);
    v.model = redact(v.model);
    if (v.model.empty()) v.model = cfg_.model;
    return v;
  }

 private:
  // Replaces the API key and anything shaped like one or like a bearer token: a
  // server may echo the key back, whole or masked ("Incorrect API key provided:
  // sk-AB****yz").
  std::string redact(std::string s) const { return redact_secrets(std::move(s), cfg_.api_key); }

  Result<VlmResult> describe_impl(std::string_view jpeg_bytes) {
    if (jpeg_bytes.empty()) return Status::InvalidArgument("VLM: empty image");
    if (cfg_.base_url.empty()) return Status::Unavailable("VLM: no base URL configured");
    const std::string body = build_request_json(cfg_.model, jpeg_bytes, opt_.prompt);
    const int max_retries = std::max(0, cfg_.max_retries);

    Status last;
    for (int attempt = 0;; ++attempt) {
      if (cancelled_) return Status::Unavailable("VLM request cancelled");
      HttpReply reply;
      {
        SemaphoreGuard slot(sem_);
        reply = post(body);
      }
      // Before anything cuts the body for a message: a key echoed across the
      // cut would otherwise survive as a prefix that redact() cannot match.
      reply.body = redact(std::move(reply.body));
      std::optional<int64_t> retry_after_ms;
      last = classify(reply, &retry_after_ms);
      if (last.ok()) {
        Result<VlmResult> parsed = parse_chat_response(reply.body);
        if (!parsed.ok()) {
          spdlog::warn("vlm: unusable response from {}: {}", redact(url_),
                       redact(parsed.status().message()));
        }
        return parsed;
      }
      bool retryable = is_retryable(reply, last);
      if (!retryable || attempt >= max_retries) {
        spdlog::warn("vlm: request to {} failed{}: {}", redact(url_),
                     attempt > 0 ? " after " + std::to_string(attempt + 1) + " attempts" : "",
                     redact(last.message()));
        return last;
      }
      int64_t delay_ms = backoff_ms(attempt);
      if (retry_after_ms) delay_ms = std::min<int64_t>(*retry_after_ms, opt_.retry_after_max_ms);
      spdlog::info("vlm: {} (attempt {}/{}), retrying in {} ms", redact(last.message()),
                   attempt + 1, max_retries + 1, delay_ms);
      opt_.clock->sleep_cancellable(std::chrono::milliseconds(delay_ms), cancelled_);
    }
  }

  int64_t backoff_ms(int attempt) const {
    int64_t d = std::max(0, opt_.backoff_initial_ms);
    for (int i = 0; i < attempt && d < opt_.backoff_max_ms; ++i) d *= 2;
    return std::min<int64_t>(d, std::max(0, opt_.backoff_max_ms));
  }

  static bool is_retryable(const HttpReply& reply, const Status& st) {
    if (reply.curl == CURLE_ABORTED_BY_CALLBACK) return false;  // cancelled
    if (reply.curl != CURLE_OK) {
      // Network trouble and timeouts are transient; a body we refused is not.
      return !reply.too_large;
    }
    return reply.status == 429 || reply.status >= 500;
  }

  // Retry-After: delta-seconds or an HTTP-date (RFC 9110 10.2.3).
  std::optional<int64_t> parse_retry_after(const std::string& v) const {
    if (v.empty()) return std::nullopt;
    if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
      if (v.size() > 9) return opt_.retry_after_max_ms;
      return std::stoll(v) * 1000;
    }
    time_t t = curl_getdate(v.c_str(), nullptr);
    if (t < 0) return std::nullopt;
    int64_t delta = static_cast<int64_t>(t) - opt_.clock->now_unix_seconds();
    return std::max<int64_t>(0, delta) * 1000;
  }

  Status classify(const HttpReply& reply, std::optional<int64_t>* retry_after_ms) const {
    if (reply.curl != CURLE_OK) {
      if (reply.curl == CURLE_ABORTED_BY_CALLBACK) return Status::Unavailable("VLM request cancelled");
      if (reply.too_large) {
        return Status::ResourceExhausted("VLM response larger than " +
                                         std::to_string(opt_.max_response_bytes) + " bytes");
      }
      std::string why = curl_error_text(reply.curl, reply.curl_error.c_str());
      if (reply.curl == CURLE_OPERATION_TIMEDOUT) {
        return Status::Timeout("VLM request to " + url_ + " timed out after " +
                               std::to_string(timeout_ms_) + " ms (" + why + ")");
      }
      return Status::Unavailable("cannot reach VLM server " + url_ + ": " + why);
    }
    const long code = reply.status;
    if (code >= 200 && code < 300) return Status::OK();
    std::string detail = truncate_utf8(reply.body, kErrorSnippetChars);
    std::string suffix = detail.empty() ? "" : ": " + detail;
    if (code == 429 || code >= 500) *retry_after_ms = parse_retry_after(reply.retry_after);
    if (code == 401 || code == 403) {
      return Status::Unavailable("VLM API key rejected (HTTP " + std::to_string(code) + ")" + suffix);
    }
    if (code == 429) return Status::ResourceExhausted("VLM rate limited (HTTP 429)" + suffix);
    if (code >= 500) return Status::Unavailable("VLM server error (HTTP " + std::to_string(code) + ")" + suffix);
    if (code == 404) return Status::NotFound("VLM endpoint or model not found (HTTP 404) at " + url_ + suffix);
    if (code == 413) return Status::ResourceExhausted("VLM rejected the image as too large (HTTP 413)" + suffix);
    if (code >= 400) return Status::InvalidArgument("VLM rejected the request (HTTP " + std::to_string(code) + ")" + suffix);
    return Status::Unavailable("unexpected HTTP " + std::to_string(code) + " from VLM server" + suffix);
  }

  HttpReply post(const std::string& body) const {
    HttpReply reply;
    char errbuf[CURL_ERROR_SIZE] = {0};
    CurlEasy h = curl_easy_new(errbuf);  // also: no signals, User-Agent, no proxy for localhost
    if (!h) {
      reply.curl = CURLE_FAILED_INIT;
      reply.curl_error = "curl_easy_init failed";
      return reply;
    }
    CurlSlist headers;
    curl_add_header(headers, "Content-Type: application/json");
    curl_add_header(headers, "Accept: application/json");
    curl_add_header(headers, "Expect:");  // no 100-continue round trip for large bodies
    if (!cfg_.api_key.empty()) curl_add_header(headers, "Authorization: Bearer " + cfg_.api_key);

    TransferState st{&reply, opt_.max_response_bytes, &cancelled_};
    CURL* c = h.get();
    curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &st);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &st);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min(timeout_ms_, kMaxConnectTimeoutMs)));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");

    reply.curl = curl_easy_perform(c);
    if (reply.curl != CURLE_OK) reply.curl_error = errbuf;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
    return reply;
  }

  VlmConfig cfg_;
  VlmClientOptions opt_;
  std::string url_;
  std::atomic<bool> cancelled_{false};
  int timeout_ms_ = kDefaultTimeoutS * 1000;
  mutable Semaphore sem_;
};

}  // namespace

std::unique_ptr<VlmClient> VlmClient::create(const VlmConfig& cfg) {
  return create(cfg, VlmClientOptions{});
}

std::unique_ptr<VlmClient> VlmClient::create(const VlmConfig& cfg, VlmClientOptions opt) {
  return std::make_unique<CurlVlmClient>(cfg, std::move(opt));
}

}  // namespace sa
