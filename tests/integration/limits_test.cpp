// Request limits (issue 11, items 3, 5, 6), over raw sockets against the real server:
// oversize and chunked JSON bodies are refused from the headers, too many header fields
// and too many multipart parts get a clear 4xx.
#include <unistd.h>

#include <httplib.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/album.h"
#include "server/http_server.h"
#include "raw_conn.h"

namespace sa {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

using Conn = test::RawConn;
using test::status_of;

class Limits : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sa_limits_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    Config cfg;
    cfg.data_dir = (root_ / "album").string();
    auto a = Album::open(cfg);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    album_ = std::move(*a);
    ServerOptions opt;
    opt.auth = false;  // covers request limits, not sign-in (auth_test does)
    opt.port = 0;
    opt.read_timeout_s = 5;
    server_ = std::make_unique<HttpServer>(*album_, opt);
    ASSERT_TRUE(server_->start().ok());
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

TEST_F(Limits, OversizeJsonBodyIsRefusedFromTheHeadersBeforeReading) {
  for (const char* target : {"PUT /api/settings", "POST /api/photos/1/analyze"}) {
    Conn c(port_);
    ASSERT_TRUE(c.ok());
    // 5 GB announced, nothing sent: the answer must come from the headers alone.
    ASSERT_TRUE(c.send(std::string(target) +
                       " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       "Content-Length: 5000000000\r\n\r\n{\"a\":"));
    std::string reply = c.read_reply(4000);
    EXPECT_EQ(status_of(reply), 413) << target << ": " << reply;
    EXPECT_NE(reply.find("resource_exhausted"), std::string::npos) << reply;
  }
  // Within the limit the route works as before.
  httplib::Client cl("127.0.0.1", port_);
  auto ok = cl.Put("/api/settings", "{}", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_NE(ok->status, 413);
}

TEST_F(Limits, ChunkedJsonBodyIsRefused) {
  Conn c(port_);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send("PUT /api/settings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n100000\r\n"));
  std::string reply = c.read_reply(4000);
  EXPECT_EQ(status_of(reply), 411) << reply;
}

TEST_F(Limits, TooManyHeaderFieldsGet431) {
  std::string req = "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 150; ++i) req += "X-Pad-" + std::to_string(i) + ": y\r\n";
  Conn c(port_);
  ASSERT_TRUE(c.send(req + "\r\n"));
  std::string reply = c.read_reply(4000);
  EXPECT_EQ(status_of(reply), 431) << reply;
  // 90 fields are fine.
  std::string fine = "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 90; ++i) fine += "X-Pad-" + std::to_string(i) + ": y\r\n";
  Conn c2(port_);
  ASSERT_TRUE(c2.send(fine + "\r\n"));
  EXPECT_EQ(status_of(c2.read_reply(4000)), 200);
}

TEST_F(Limits, TooManyMultipartPartsGet413AndTheRestIsSkipped) {
  const std::string boundary = "XyZ";
  std::string body;
  for (int i = 0; i < 200000; ++i) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"f" +
            std::to_string(i) + ".jpg\"\r\n\r\nx\r\n";
  }
  body += "--" + boundary + "--\r\n";
  httplib::Client cl("127.0.0.1", port_);
  cl.set_read_timeout(120);  // generous: 200,000 parts on a loaded 2-core CI machine
  auto r = cl.Post("/api/photos", body, "multipart/form-data; boundary=" + boundary);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body.substr(0, 300);
  json j = json::parse(r->body);
  EXPECT_EQ(j["error"]["code"], "resource_exhausted");
  EXPECT_EQ(j["rejected"].size(), 1000u);  // the first 1000 were answered, one by one
  // 999 parts are one request's worth.
  std::string small;
  for (int i = 0; i < 999; ++i) {
    small += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"f" +
             std::to_string(i) + ".jpg\"\r\n\r\nx\r\n";
  }
  small += "--" + boundary + "--\r\n";
  auto ok = cl.Post("/api/photos", small, "multipart/form-data; boundary=" + boundary);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

// Slow clients: slow_clients_test.cpp (head deadline, per-address cap).

}  // namespace
}  // namespace sa
