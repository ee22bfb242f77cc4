// Slow and greedy clients against the real server (issue 11, items 5 and 6; the
// connection guard of src/server/connection_guard.h): more dripping connections than
// request threads, a per-address connection cap, the request-head deadline and byte cap,
// over plain HTTP and TLS. Clients bind distinct loopback addresses (127.0.0.x) so that
// the per-address cap can be told apart from the rest.
#include <unistd.h>

#include <httplib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "app/album.h"
#include "server/http_server.h"
#include "raw_conn.h"

namespace sa {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

using Conn = test::RawConn;
using test::status_of;

const std::string kHealth = "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

class SlowClients : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sa_slow_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    Config cfg;
    cfg.data_dir = (root_ / "album").string();
    auto a = Album::open(cfg);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    album_ = std::move(*a);
  }
  void start(ServerOptions opt) {
    opt.auth = false;
    opt.port = 0;
    server_ = std::make_unique<HttpServer>(*album_, opt);
    Status s = server_->start();
    ASSERT_TRUE(s.ok()) << s.to_string();
    port_ = server_->port();
  }
  void TearDown() override {
    server_.reset();
    album_.reset();
    fs::remove_all(root_);
  }
  fs::path root_;
  std::unique_ptr<Album> album_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

TEST_F(SlowClients, MoreDripsThanThreadsStillLeaveTheAlbumAnswering) {
  ServerOptions opt;  // 256 request threads, 32 connections per address
  opt.head_deadline_s = 2;
  start(opt);
  ASSERT_GT(300, opt.threads);
  // 300 connections from 10 addresses (30 each, under the cap), each sending a
  // header line every 300 ms for up to 60 s: without a head deadline they hold every
  // request thread for the whole minute.
  std::vector<std::unique_ptr<Conn>> slow;
  for (int i = 0; i < 300; ++i) {
    slow.push_back(std::make_unique<Conn>(port_, 2 + i % 10));
    ASSERT_TRUE(slow.back()->ok());
    slow.back()->send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
  }
  std::atomic<bool> stop{false};
  std::thread drip([&] {
    for (int n = 0; n < 200 && !stop; ++n) {
      for (auto& c : slow) c->send("X-Slow-" + std::to_string(n) + ": y\r\n");
      std::this_thread::sleep_for(milliseconds(300));
    }
  });
  std::this_thread::sleep_for(milliseconds(500));
  httplib::Client cl("127.0.0.1", port_);
  cl.set_connection_timeout(20);
  cl.set_read_timeout(20);
  auto r = cl.Get("/api/health");
  stop = true;
  drip.join();
  ASSERT_TRUE(r) << "the album did not answer while 300 clients dripped headers";
  EXPECT_EQ(r->status, 200);
  // Every dripping connection was closed by the server, those that had a thread with
  // a 408 (by now all are past their deadline).
  std::this_thread::sleep_for(milliseconds(3000));
  int closed = 0, timed_out = 0;
  for (auto& c : slow) {
    bool was_closed = false;
    const std::string reply = c->read_reply(300, &was_closed);
    closed += was_closed;
    timed_out += status_of(reply) == 408;
  }
  EXPECT_EQ(closed, 300);
  EXPECT_GT(timed_out, 0);
}

TEST_F(SlowClients, HeadDeadlineClosesADripButNotASlowBody) {
  ServerOptions opt;
  opt.head_deadline_s = 1;
  start(opt);
  Conn c(port_, 2);
  ASSERT_TRUE(c.ok());
  // 40 header lines, one every 200 ms (8 s), then the end of the head.
  std::thread drip([&] {
    c.send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (int i = 0; i < 40; ++i) {
      if (!c.send("X-Drip-" + std::to_string(i) + ": y\r\n")) return;
      std::this_thread::sleep_for(milliseconds(200));
    }
    c.send("\r\n");
  });
  const std::string reply = c.read_reply(15000);
  drip.join();
  EXPECT_EQ(status_of(reply), 408) << reply;
  EXPECT_NE(reply.find("\"timeout\""), std::string::npos) << reply;

  // The deadline covers the head only: a body sent slowly (over 2 s) is read.
  Conn b(port_, 3);
  const std::string body = R"({"unknown_setting_for_test": 1})";
  ASSERT_TRUE(b.send("PUT /api/settings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  for (char ch : body) {
    b.send(std::string(1, ch));
    std::this_thread::sleep_for(milliseconds(2000 / static_cast<int>(body.size())));
  }
  const std::string body_reply = b.read_reply(10000);
  EXPECT_NE(status_of(body_reply), 408) << body_reply;
  EXPECT_NE(status_of(body_reply), 0) << body_reply;

  // Keep-alive: each request on a connection gets its own deadline.
  Conn k(port_, 4);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(k.send(kHealth));
    EXPECT_EQ(status_of(k.read_reply(5000)), 200) << "request " << i;
    std::this_thread::sleep_for(milliseconds(600));  // 1.8 s in all, over the 1 s deadline
  }
}

TEST_F(SlowClients, PerAddressCapRefusesOnlyThatAddress) {
  ServerOptions opt;
  opt.max_connections_per_client = 4;
  opt.keep_alive_timeout_s = 30;
  opt.head_deadline_s = 30;
  start(opt);
  // Four kept-alive connections from 127.0.0.2, each served once (so counted).
  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Conn>(port_, 2));
    ASSERT_TRUE(held.back()->send(kHealth));
    ASSERT_EQ(status_of(held.back()->read_reply(5000)), 200) << i;
  }
  // A fifth from the same address is refused at once: 503, or closed.
  {
    Conn over(port_, 2);
    over.send(kHealth);
    bool closed = false;
    const std::string reply = over.read_reply(5000, &closed);
    EXPECT_TRUE(status_of(reply) == 503 || (reply.empty() && closed)) << reply;
    if (!reply.empty()) {
      EXPECT_NE(reply.find("resource_exhausted"), std::string::npos) << reply;
    }
  }
  // Another address is served.
  {
    Conn other(port_, 3);
    ASSERT_TRUE(other.send(kHealth));
    EXPECT_EQ(status_of(other.read_reply(5000)), 200);
  }
  // When one of the four closes, the address may connect again.
  held.pop_back();
  int status = 0;
  for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
    Conn again(port_, 2);
    again.send(kHealth);
    status = status_of(again.read_reply(5000));
    if (status != 200) std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(status, 200);
}

TEST_F(SlowClients, MillionHeaderFieldsAreCutAtTheHeadByteCap) {
  ServerOptions opt;
  opt.max_head_bytes = 64 << 10;
  start(opt);
  Conn c(port_, 2);
  ASSERT_TRUE(c.ok());
  std::thread sender([&] {
    std::string chunk;
    for (int i = 0; i < 1000; ++i) chunk += "X-A: b\r\n";
    if (!c.send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")) return;
    for (int i = 0; i < 1000; ++i) {  // 1,000,000 fields, 8 MB
      if (!c.send(chunk)) return;
    }
    c.send("\r\n");
  });
  const std::string reply = c.read_reply(20000);
  sender.join();
  EXPECT_EQ(status_of(reply), 431) << reply.substr(0, 300);
  // Cut by the byte cap while arriving, not counted after the whole head was read
  // (that answer would be "too many header fields").
  EXPECT_NE(reply.find("request head is larger than 65536 bytes"), std::string::npos) << reply.substr(0, 400);
  // The album still answers.
  Conn h(port_, 3);
  ASSERT_TRUE(h.send(kHealth));
  EXPECT_EQ(status_of(h.read_reply(5000)), 200);
}

// Issue 11, item 1 ("shutdown always completes"): stop() does not wait out slow clients,
// even with minute-long read, keep-alive and head limits.
TEST_F(SlowClients, StopIsPromptWithSlowClientsConnected) {
  ServerOptions opt;
  opt.read_timeout_s = 60;
  opt.head_deadline_s = 60;
  opt.keep_alive_timeout_s = 60;
  start(opt);
  Conn drip(port_, 2);  // a head that never ends
  ASSERT_TRUE(drip.send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: b\r\n"));
  Conn idle(port_, 3);  // a kept-alive connection between requests
  ASSERT_TRUE(idle.send(kHealth));
  ASSERT_EQ(status_of(idle.read_reply(5000)), 200);
  Conn body(port_, 4);  // a body that stops half-way
  ASSERT_TRUE(body.send("PUT /api/settings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "Content-Length: 100\r\n\r\n{\"a\":"));
  std::this_thread::sleep_for(milliseconds(300));
  auto stopped = std::async(std::launch::async, [this] { server_->stop(); });
  EXPECT_EQ(stopped.wait_for(std::chrono::seconds(20)), std::future_status::ready)
      << "stop() waits for slow clients (their 60 s limits)";
  stopped.wait();
}

TEST_F(SlowClients, TlsServesAndCutsASilentHandshake) {
  const std::string cert = (root_ / "cert.pem").string(), key = (root_ / "key.pem").string();
  fs::create_directories(root_);
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout " + key +
                          " -out " + cert + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "no openssl command to make a test certificate";
  ServerOptions opt;
  opt.tls_cert = cert;
  opt.tls_key = key;
  opt.head_deadline_s = 1;
  opt.max_connections_per_client = 2;
  start(opt);
  // A TCP connection that never starts the handshake is closed at the deadline.
  Conn silent(port_, 2);
  bool closed = false;
  silent.read_reply(10000, &closed);
  EXPECT_TRUE(closed);
  // A TLS client is served, several requests on one connection.
  httplib::SSLClient c("127.0.0.1", port_);
  c.enable_server_certificate_verification(false);
  c.set_keep_alive(true);
  for (int i = 0; i < 3; ++i) {
    auto r = c.Get("/api/health");
    ASSERT_TRUE(r) << "request " << i << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
  }
  // A TLS head that drips is cut as well (a partial record: the handshake hangs).
  Conn drip(port_, 3);
  drip.send(std::string("\x16\x03\x01\x02\x00", 5));
  closed = false;
  drip.read_reply(10000, &closed);
  EXPECT_TRUE(closed);
}

}  // namespace
}  // namespace sa
