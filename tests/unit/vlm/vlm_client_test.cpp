// VlmClient against a fake OpenAI-compatible server on 127.0.0.1.
#include "vlm/vlm_client.h"
#include "vlm/vlm_error_code.h"
#include "../free_port.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <ctime>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include <unistd.h>

namespace sa {
namespace {

using json = nlohmann::json;
constexpr const char* kKey = "sk-test-SECRET-0123456789";

struct Scripted {
  Scripted() = default;
  Scripted(int s, std::string b, std::vector<std::pair<std::string, std::string>> h = {}, int d = 0)
      : status(s), body(std::move(b)), headers(std::move(h)), delay_ms(d) {}
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int delay_ms = 0;
};

struct Recorded {
  std::string authorization;
  bool has_authorization = false;
  std::string body;
};

std::string chat_body(const std::string& content) {
  json j = {{"model", "fake-vl"},
            {"choices", json::array({{{"message", {{"role", "assistant"}, {"content", content}}}}})}};
  return j.dump();
}

// A scripted OpenAI-compatible server: answers POST /v1/chat/completions with
// the queued replies in order (a default success once the queue is empty).
class FakeServer {
 public:
  FakeServer() {
    svr_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      int now = ++in_flight_;
      int prev = max_in_flight_.load();
      while (now > prev && !max_in_flight_.compare_exchange_weak(prev, now)) {
      }
      Scripted s;
      {
        std::lock_guard<std::mutex> lock(mu_);
        Recorded r;
        r.has_authorization = req.has_header("Authorization");
        r.authorization = req.get_header_value("Authorization");
        r.body = req.body;
        requests_.push_back(std::move(r));
        if (!script_.empty()) {
          s = script_.front();
          script_.pop_front();
        } else {
          s.body = chat_body(R"({"description": "默认描述", "keywords": ["默认"]})");
        }
      }
      // Sleep in small steps so a stopping server is not held up.
      for (int waited = 0; waited < s.delay_ms && !stopping_; waited += 5) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      res.status = s.status;
      for (auto& [k, v] : s.headers) res.set_header(k, v);
      res.set_content(s.body, "application/json");
      --in_flight_;
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~FakeServer() {
    stopping_ = true;
    svr_.stop();
    thread_.join();
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  void push(Scripted s) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(std::move(s));
  }
  std::vector<Recorded> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int max_in_flight() const { return max_in_flight_; }

 private:
  httplib::Server svr_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::deque<Scripted> script_;
  std::vector<Recorded> requests_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> in_flight_{0}, max_in_flight_{0};
};

class FakeClock final : public VlmClock {
 public:
  void sleep_for(std::chrono::milliseconds d) override {
    std::lock_guard<std::mutex> lock(mu_);
    sleeps_.push_back(d.count());
  }
  int64_t now_unix_seconds() override { return now_; }
  std::vector<int64_t> sleeps() {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }
  int64_t now_ = 1'700'000'000;

 private:
  std::mutex mu_;
  std::vector<int64_t> sleeps_;
};

// Captures everything logged through spdlog's default logger during a test and
// checks that the API key never shows up in it.
class VlmClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    auto logger = std::make_shared<spdlog::logger>("vlm-test", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
    clock_ = std::make_shared<FakeClock>();
  }
  void TearDown() override {
    spdlog::set_default_logger(saved_);
    EXPECT_EQ(log_.str().find(kKey), std::string::npos) << "API key leaked into the log:\n" << log_.str();
  }

  std::unique_ptr<VlmClient> make(const std::string& key = kKey, int max_retries = 3,
                                  int concurrency = 2, int timeout_ms = 0) {
    VlmConfig cfg;
    cfg.base_url = server_.base_url();
    cfg.api_key = key;
    cfg.model = "qwen-vl-plus";
    cfg.max_retries = max_retries;
    cfg.concurrency = concurrency;
    cfg.timeout_s = 5;
    VlmClientOptions opt;
    opt.clock = clock_;
    opt.backoff_initial_ms = 250;
    opt.backoff_max_ms = 1000;
    opt.timeout_ms = timeout_ms;
    return VlmClient::create(cfg, opt);
  }

  static void expect_no_key(const Status& st) {
    EXPECT_EQ(st.message().find(kKey), std::string::npos) << st.message();
  }

  std::ostringstream log_;
  std::shared_ptr<spdlog::logger> saved_;
  std::shared_ptr<FakeClock> clock_;
  FakeServer server_;
  const std::string jpeg_ = std::string("\xFF\xD8\xFF\xE0 fake jpeg \xFF\xD9", 16);
};

TEST_F(VlmClientTest, PlainJsonAndRequestShape) {
  server_.push({200, chat_body(R"({"description": "海边的日落", "keywords": ["海边", "日落"]})")});
  auto client = make();
  auto r = client->describe(jpeg_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->description, "海边的日落");
  EXPECT_EQ(r->keywords, (std::vector<std::string>{"海边", "日落"}));
  EXPECT_EQ(r->model, "fake-vl");

  auto reqs = server_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].authorization, std::string("Bearer ") + kKey);
  json body = json::parse(reqs[0].body);
  EXPECT_EQ(body["model"], "qwen-vl-plus");
  const json& content = body["messages"][0]["content"];
  EXPECT_EQ(content[0]["image_url"]["url"], "data:image/jpeg;base64," + base64_encode(jpeg_));
  EXPECT_EQ(content[1]["text"], default_vlm_prompt());
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(VlmClientTest, FencedJson) {
  server_.push({200, chat_body("```json\n{\"description\": \"雪山下的湖\", \"keywords\": \"雪山、湖\"}\n```")});
  auto r = make()->describe(jpeg_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->description, "雪山下的湖");
  EXPECT_EQ(r->keywords, (std::vector<std::string>{"雪山", "湖"}));
}

TEST_F(VlmClientTest, ProseBecomesDescription) {
  server_.push({200, chat_body("照片中一只橘猫趴在窗台上晒太阳。")});
  auto r = make()->describe(jpeg_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->description, "照片中一只橘猫趴在窗台上晒太阳。");
  EXPECT_TRUE(r->keywords.empty());
}

TEST_F(VlmClientTest, NoKeyNoAuthorizationHeader) {
  auto r = make("")->describe(jpeg_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  auto reqs = server_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_FALSE(reqs[0].has_authorization);
}

TEST_F(VlmClientTest, RateLimitHonoursRetryAfterSeconds) {
  server_.push({429, R"({"error": {"message": "rate limited"}})", {{"Retry-After", "7"}}});
  server_.push({200, chat_body(R"({"description": "重试成功", "keywords": []})")});
  auto r = make()->describe(jpeg_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->description, "重试成功");
  EXPECT_EQ(server_.requests().size(), 2u);
  EXPECT_EQ(clock_->sleeps(), (std::vector<int64_t>{7000}));
}

TEST_F(VlmClientTest, RateLimitHonoursRetryAfterHttpDate) {
  time_t when = static_cast<time_t>(clock_->now_ + 5);
  std::tm tm{};
  gmtime_r(&when, &tm);
  char date[64];
  strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  server_.push({429, "{}", {{"Retry-After", date}}});
  auto r = make()->describe(jpeg_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(clock_->sleeps(), (std::vector<int64_t>{5000}));
}

TEST_F(VlmClientTest, ServerErrorThenSuccessUsesBackoff) {
  server_.push({500, "internal error"});
  server_.push({200, chat_body(R"({"description": "好了", "keywords": ["好"]})")});
  auto r = make()->describe(jpeg_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->description, "好了");
  EXPECT_EQ(server_.requests().size(), 2u);
  EXPECT_EQ(clock_->sleeps(), (std::vector<int64_t>{250}));
}

TEST_F(VlmClientTest, BackoffDoublesAndIsCapped) {
  for (int i = 0; i < 5; ++i) server_.push({503, "busy"});
  auto r = make(kKey, /*max_retries=*/4)->describe(jpeg_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("503"), std::string::npos);
  EXPECT_EQ(server_.requests().size(), 5u);
  EXPECT_EQ(clock_->sleeps(), (std::vector<int64_t>{250, 500, 1000, 1000}));
}

TEST_F(VlmClientTest, PersistentRateLimitIsResourceExhausted) {
  for (int i = 0; i < 3; ++i) server_.push({429, "slow down", {{"Retry-After", "1"}}});
  auto r = make(kKey, /*max_retries=*/2)->describe(jpeg_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(clock_->sleeps(), (std::vector<int64_t>{1000, 1000}));
}

TEST_F(VlmClientTest, ClientErrorsAreNotRetried) {
  server_.push({400, R"({"error": {"message": "image format not supported"}})"});
  auto r = make()->describe(jpeg_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("image format not supported"), std::string::npos);
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_TRUE(clock_->sleeps().empty());

  server_.push({404, "no such model"});
  auto r2 = make()->describe(jpeg_);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(server_.requests().size(), 2u);
}

TEST_F(VlmClientTest, UnauthorizedNamesKeyProblemWithoutLeakingIt) {
  server_.push({401, std::string(R"({"error": {"message": "Incorrect API key provided: )") + kKey + "\"}}"});
  auto r = make()->describe(jpeg_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("API key rejected"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("[REDACTED]"), std::string::npos) << r.status().message();
  expect_no_key(r.status());
  EXPECT_EQ(server_.requests().size(), 1u);
}

// Error bodies are cut for messages (300 bytes of an HTTP error, 200 of an
// error object's message); a key echoed across the cut must not survive as a
// prefix, in the status or in the log.
TEST_F(VlmClientTest, KeyAcrossTheSnippetCutIsRedacted) {
  const std::string key = kKey;
  const std::string head = key.substr(0, 10);  // what a cut after the body would keep
  server_.push({401, std::string(290, 'x') + key + " is not valid"});
  server_.push({200, R"({"error": {"message": ")" + std::string(190, 'y') + key + R"( is not valid"}})"});
  for (int i = 0; i < 2; ++i) {
    auto r = make()->describe(jpeg_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message().find(head), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("[REDACTED]"), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(log_.str().find(head), std::string::npos) << log_.str();
  EXPECT_EQ(server_.requests().size(), 2u);
}

TEST_F(VlmClientTest, EchoedKeyInDescriptionIsRedacted) {
  server_.push({200, chat_body(std::string("{\"description\": \"key ") + kKey + "\", \"keywords\": [\"" + kKey + "\"]}")});
  auto r = make()->describe(jpeg_);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->description.find(kKey), std::string::npos);
  EXPECT_EQ(r->description, "key [REDACTED]");
  EXPECT_EQ(r->keywords, (std::vector<std::string>{"[REDACTED]"}));
}

TEST_F(VlmClientTest, MalformedBodiesAreCorruptionNotRetried) {
  const char* bodies[] = {"<!DOCTYPE html><html><body>Gateway</body></html>", "{\"choices\": []}",
                          "{\"id\": 1}", "{{{{", ""};
  size_t n = 0;
  for (const char* b : bodies) {
    server_.push({200, b});
    auto r = make()->describe(jpeg_);
    ++n;
    ASSERT_FALSE(r.ok()) << b;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << b << ": " << r.status().to_string();
    EXPECT_EQ(server_.requests().size(), n);
  }
  EXPECT_TRUE(clock_->sleeps().empty());
}

TEST_F(VlmClientTest, SlowServerTimesOutAndIsBounded) {
  server_.push({200, chat_body("太慢了"), {}, 3000});
  server_.push({200, chat_body("太慢了"), {}, 3000});
  auto r = make(kKey, /*max_retries=*/1, 2, /*timeout_ms=*/200)->describe(jpeg_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kTimeout) << r.status().to_string();
  EXPECT_EQ(server_.requests().size(), 2u);        // one retry, then give up
  EXPECT_EQ(clock_->sleeps(), (std::vector<int64_t>{250}));
}

// Shutdown: cancel(true) ends a request the server is still sitting on (the
// reply would have been a good description), and no new one starts until
// cancel(false).
TEST_F(VlmClientTest, CancelEndsARequestInFlight) {
  server_.push({200, chat_body("来得太晚的描述"), {}, 3000});
  auto client = make(kKey, /*max_retries=*/3);
  Result<VlmResult> r = Status::Internal("not run");
  std::thread t([&] { r = client->describe(jpeg_); });
  while (server_.requests().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  client->cancel(true);
  t.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().to_string();
  EXPECT_NE(r.status().message().find("cancelled"), std::string::npos) << r.status().message();
  EXPECT_TRUE(clock_->sleeps().empty());  // not retried

  auto again = client->describe(jpeg_);  // still cancelled: nothing is sent
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(server_.requests().size(), 1u);
  client->cancel(false);
  server_.push({200, chat_body(R"({"description": "海边的日落", "keywords": ["日落"]})")});
  auto ok = client->describe(jpeg_);
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  EXPECT_EQ(ok->description, "海边的日落");
}

TEST_F(VlmClientTest, ServerDownIsUnavailable) {
  const int dead_port = test::unused_loopback_port();
  ASSERT_NE(dead_port, 0);
  VlmConfig cfg;
  cfg.base_url = "http://127.0.0.1:" + std::to_string(dead_port) + "/v1";
  cfg.api_key = kKey;
  cfg.max_retries = 1;
  VlmClientOptions opt;
  opt.clock = clock_;
  opt.timeout_ms = 2000;  // refused at once; the limit only bounds a misbehaving host
  auto r = VlmClient::create(cfg, opt)->describe(jpeg_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().to_string();
  EXPECT_EQ(clock_->sleeps().size(), 1u);
  expect_no_key(r.status());
}

TEST_F(VlmClientTest, OversizedResponseIsRejected) {
  server_.push({200, chat_body(std::string(20000, 'x'))});
  VlmConfig cfg;
  cfg.base_url = server_.base_url();
  VlmClientOptions opt;
  opt.clock = clock_;
  opt.max_response_bytes = 1000;
  auto r = VlmClient::create(cfg, opt)->describe(jpeg_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().to_string();
  EXPECT_EQ(server_.requests().size(), 1u);
}

TEST_F(VlmClientTest, EmptyImageIsInvalidArgument) {
  auto r = make()->describe("");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(VlmClientTest, ConcurrencyLimitIsRespected) {
  for (int i = 0; i < 6; ++i) server_.push({200, chat_body("并发"), {}, 60});
  auto client = make(kKey, 0, /*concurrency=*/2);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      if (client->describe(jpeg_).ok()) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(server_.requests().size(), 6u);
  EXPECT_LE(server_.max_in_flight(), 2);
  EXPECT_GE(server_.max_in_flight(), 1);
}

// What the page shows for a failed description comes from vlm_error_code() of
// the stored text: each failure the client reports (real replies from the fake
// server) gets its own stable code, whatever the provider's body says.
TEST_F(VlmClientTest, EveryFailureHasAStableErrorCode) {
  struct Case {
    Scripted reply;
    const char* code;
  };
  const Case cases[] = {
      {{400, R"({"error": {"message": "rate limited? timed out? no: bad image"}})"}, "vlm_rejected"},
      {{401, R"({"error": {"message": "Incorrect API key"}})"}, "vlm_auth"},
      {{404, "The model `bad-vl` does not exist"}, "vlm_not_found"},
      {{413, "too big"}, "vlm_image_too_large"},
      {{429, "slow down"}, "vlm_rate_limited"},
      {{503, "maintenance"}, "vlm_server_error"},
      {{200, R"({"error": {"message": "quota exceeded"}})"}, "vlm_server_error"},
      {{200, "<html>gateway</html>"}, "vlm_bad_reply"},
      {{200, R"({"choices": []})"}, "vlm_bad_reply"},
  };
  for (const Case& c : cases) {
    server_.push(c.reply);
    auto r = make(kKey, /*max_retries=*/0)->describe(jpeg_);
    ASSERT_FALSE(r.ok()) << c.code;
    EXPECT_STREQ(vlm_error_code(vlm_failure_text(r.status())), c.code) << r.status().to_string();
  }
  server_.push({200, chat_body("太慢了"), {}, 2000});
  auto slow = make(kKey, 0, 2, /*timeout_ms=*/200)->describe(jpeg_);
  ASSERT_FALSE(slow.ok());
  EXPECT_STREQ(vlm_error_code(vlm_failure_text(slow.status())), "vlm_timeout") << slow.status().to_string();

  VlmConfig cfg;
  cfg.base_url = "http://127.0.0.1:1/v1";  // port 1: nothing listens there
  cfg.max_retries = 0;
  VlmClientOptions opt;
  opt.clock = clock_;
  opt.timeout_ms = 2000;
  auto down = VlmClient::create(cfg, opt)->describe(jpeg_);
  ASSERT_FALSE(down.ok());
  EXPECT_STREQ(vlm_error_code(vlm_failure_text(down.status())), "vlm_unreachable") << down.status().to_string();
  EXPECT_STREQ(vlm_error_code(vlm_failure_text(make()->describe("").status())), "vlm_image_unreadable");
  cfg.base_url = "";
  EXPECT_STREQ(vlm_error_code(vlm_failure_text(VlmClient::create(cfg, opt)->describe(jpeg_).status())),
               "vlm_not_configured");
}

TEST(VlmErrorCode, JobRunnerTextsAndUnknownTexts) {
  EXPECT_STREQ(vlm_error_code(""), "");
  EXPECT_STREQ(vlm_error_code("cannot decode: not a recognised image format"), "vlm_image_unreadable");
  EXPECT_STREQ(vlm_error_code("cannot read the original: No such file"), "vlm_image_unreadable");
  EXPECT_STREQ(vlm_error_code("storing the description failed: disk full"), "vlm_failed");
  EXPECT_STREQ(vlm_error_code("VLM: timeout: something new"), "vlm_timeout");
  EXPECT_STREQ(vlm_error_code("VLM: corruption: something new"), "vlm_bad_reply");
  EXPECT_STREQ(vlm_error_code("VLM: unavailable: something new"), "vlm_failed");
  EXPECT_STREQ(vlm_error_code("whatever the provider said"), "vlm_failed");
}

}  // namespace
}  // namespace sa
