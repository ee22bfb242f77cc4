// The HTTP layer over a fake Album: routes, parameter validation, error shapes,
// upload batching, static files and path traversal.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>
#include <vector>
#include <nlohmann/json.hpp>

#include "fake_album.h"
#include "server/errors.h"
#include "server/http_server.h"

namespace sa {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A plain TCP connection to 127.0.0.1:port, for requests httplib's client will
// not send (partial heads) or replies it would not survive. Closed on scope exit.
class RawConn {
 public:
  explicit RawConn(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) close();
  }
  ~RawConn() { close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;
  bool ok() const { return fd_ >= 0; }
  bool send(const std::string& s) {
    return ok() && ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // What arrives within timeout_s: a whole reply (head plus the body its
  // Content-Length announces), or what came before the server closed.
  std::string read_reply(double timeout_s) {
    timeval tv{static_cast<time_t>(timeout_s), static_cast<suseconds_t>((timeout_s - static_cast<time_t>(timeout_s)) * 1e6)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string reply;
    size_t want = std::string::npos;
    char buf[4096];
    for (ssize_t n; reply.size() < want && (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;) {
      reply.append(buf, static_cast<size_t>(n));
      const size_t head_end = reply.find("\r\n\r\n");
      const size_t cl = reply.find("Content-Length: ");
      if (want == std::string::npos && head_end != std::string::npos && cl < head_end) {
        want = head_end + 4 + std::stoull(reply.substr(cl + 16));
      }
    }
    return reply;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sa_server_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "web" / "js");
    ASSERT_TRUE(write_file_atomic((root_ / "web" / "index.html").string(), "<html>相册</html>").ok());
    ASSERT_TRUE(write_file_atomic((root_ / "web" / "js" / "app.js").string(), "let x=1;").ok());
    ASSERT_TRUE(write_file_atomic((root_ / "secret.txt").string(), "secret").ok());
    album_ = std::make_unique<testing::FakeAlbum>((root_ / "store").string());
    ServerOptions opt;
    opt.auth = false;  // these tests cover the album, not sign-in (auth_test.cpp does)
    opt.port = 0;
    opt.web_dir = (root_ / "web").string();
    opt.max_upload_bytes = 1000;
    server_ = std::make_unique<HttpServer>(*album_, opt);
    ASSERT_TRUE(server_->start().ok());
    ASSERT_GT(server_->port(), 0);
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override {
    server_.reset();
    fs::remove_all(root_);
  }

  json get_json(const std::string& path, int expect_status) {
    auto r = client_->Get(path.c_str());
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, expect_status) << path << " -> " << r->body;
    EXPECT_NE(r->get_header_value("Content-Type").find("application/json"), std::string::npos);
    return json::parse(r->body);
  }
  static void expect_error(const json& j, const std::string& code) {
    ASSERT_TRUE(j.contains("error")) << j.dump();
    EXPECT_EQ(j["error"]["code"], code);
    EXPECT_TRUE(j["error"]["message"].is_string());
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  }
  json upload(const httplib::MultipartFormDataItems& items, int expect_status = 200) {
    auto r = client_->Post("/api/photos", items);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, expect_status) << r->body;
    return json::parse(r->body);
  }

  fs::path root_;
  std::unique_ptr<testing::FakeAlbum> album_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST(Errors, StatusCodesMapToHttp) {
  EXPECT_EQ(http_status_for(StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(http_status_for(StatusCode::kNotFound), 404);
  EXPECT_EQ(http_status_for(StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(http_status_for(StatusCode::kResourceExhausted), 413);
  EXPECT_EQ(http_status_for(StatusCode::kUnavailable), 503);
  EXPECT_EQ(http_status_for(StatusCode::kTimeout), 504);
  EXPECT_EQ(http_status_for(StatusCode::kUnimplemented), 501);
  EXPECT_EQ(http_status_for(StatusCode::kCorruption), 500);
  EXPECT_EQ(http_status_for(StatusCode::kInternal), 500);
  json j = json::parse(error_body(Status::NotFound("照片 7 不存在")));
  EXPECT_EQ(j["error"]["code"], "not_found");
  EXPECT_EQ(j["error"]["message"], "照片 7 不存在");
  // Invalid UTF-8 from a user-supplied name must not break the body.
  json k = json::parse(error_body(Status::InvalidArgument(std::string("bad \xff name"))));
  EXPECT_EQ(k["error"]["code"], "invalid_argument");
}

TEST_F(ServerTest, Health) {
  json j = get_json("/api/health", 200);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["model"], "fake-clip");
  EXPECT_EQ(j["photos"], 0);
  EXPECT_EQ(j["vlm"], false);
  EXPECT_TRUE(j["text_model"].is_null());
  EXPECT_TRUE(j["version"].is_string());
}

TEST_F(ServerTest, UploadBatchKeepsGoodFilesAndReportsBadOnes) {
  json j = upload({
      {"files", "IMGaaaa", "trip/day1/a.jpg", "image/jpeg"},
      {"files", "not an image", "notes.txt", "text/plain"},
      {"files", "IMGaaaa", "copy/a.jpg", "image/jpeg"},
      {"files", "IMG" + std::string(2000, 'x'), "huge.jpg", "image/jpeg"},
      {"files", "IMGbbbb", "../../evil.jpg", "image/jpeg"},
      {"other", "ignored", "", ""},
  });
  ASSERT_EQ(j["uploaded"].size(), 3u) << j.dump();
  EXPECT_EQ(j["uploaded"][0]["filename"], "trip/day1/a.jpg");
  EXPECT_EQ(j["uploaded"][0]["duplicate"], false);
  EXPECT_EQ(j["uploaded"][1]["filename"], "copy/a.jpg");
  EXPECT_EQ(j["uploaded"][1]["duplicate"], true);
  EXPECT_EQ(j["uploaded"][1]["id"], j["uploaded"][0]["id"]);
  EXPECT_EQ(j["uploaded"][2]["filename"], "../../evil.jpg");
  ASSERT_EQ(j["rejected"].size(), 2u);
  EXPECT_EQ(j["rejected"][0]["filename"], "notes.txt");
  EXPECT_EQ(j["rejected"][0]["code"], "invalid_argument");
  EXPECT_EQ(j["rejected"][1]["filename"], "huge.jpg");
  EXPECT_EQ(j["rejected"][1]["code"], "resource_exhausted");
  // The oversized file never reached the album; the relative names did, unchanged.
  EXPECT_EQ(album_->added_names,
            (std::vector<std::string>{"trip/day1/a.jpg", "notes.txt", "copy/a.jpg", "../../evil.jpg"}));
  // Each result says which 'files' part it answers (the 'other' part is not one).
  EXPECT_EQ(j["uploaded"][0]["index"], 0);
  EXPECT_EQ(j["uploaded"][1]["index"], 2);
  EXPECT_EQ(j["uploaded"][2]["index"], 4);
  EXPECT_EQ(j["rejected"][0]["index"], 1);
  EXPECT_EQ(j["rejected"][1]["index"], 3);
}

// Browsers and curl send '"' in a file name as %22 (CR, LF as %0D, %0A); the
// name stored and answered is the user's. Other escapes are the name's own.
TEST_F(ServerTest, UploadDecodesQuoteEscapesInFileNames) {
  json j = upload({{"files", "IMG1", "Tom %22Jr%22 coffee.png", "image/png"},
                   {"files", "IMG2", "100%25 %41.png", "image/png"},
                   {"files", "IMG3", "%22%0d%0A.png", "image/png"}});
  ASSERT_EQ(j["uploaded"].size(), 3u) << j.dump();
  EXPECT_EQ(j["uploaded"][0]["filename"], "Tom \"Jr\" coffee.png");
  EXPECT_EQ(j["uploaded"][1]["filename"], "100%25 %41.png");
  EXPECT_EQ(album_->added_names,
            (std::vector<std::string>{"Tom \"Jr\" coffee.png", "100%25 %41.png", "\"\r\n.png"}));
}

TEST_F(ServerTest, UploadWithoutFilesIsBadRequest) {
  expect_error(upload({{"other", "x", "", ""}}, 400), "invalid_argument");
  auto r = client_->Post("/api/photos", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  expect_error(json::parse(r->body), "invalid_argument");
}

TEST_F(ServerTest, TimelineListPagesByCursorAndPassesFilters) {
  upload({{"files", "IMG1", "one.jpg", "image/jpeg"}, {"files", "IMG2", "two.jpg", "image/jpeg"},
          {"files", "IMG3", "three.jpg", "image/jpeg"}});
  json first = get_json("/api/photos?per_page=2", 200);
  EXPECT_EQ(first["sort"], "taken");  // the default
  ASSERT_EQ(first["items"].size(), 2u);
  ASSERT_TRUE(first["next_cursor"].is_string());
  json second = get_json("/api/photos?per_page=2&cursor=" + first["next_cursor"].get<std::string>(), 200);
  ASSERT_EQ(second["items"].size(), 1u);
  EXPECT_EQ(second["items"][0]["id"], 1);
  EXPECT_TRUE(second["next_cursor"].is_null());
  EXPECT_EQ(album_->last_query.cursor, first["next_cursor"].get<std::string>());

  get_json("/api/photos?sort=added&date_from=2023-07&date_to=2023-07-14&limit=7", 200);
  EXPECT_EQ(album_->last_query.sort, "added");
  EXPECT_EQ(album_->last_query.date_from, "2023-07");
  EXPECT_EQ(album_->last_query.date_to, "2023-07-14");
  EXPECT_EQ(album_->last_query.limit, 7);
  expect_error(get_json("/api/photos?sort=name", 400), "invalid_argument");
  expect_error(get_json("/api/photos?limit=0", 400), "invalid_argument");
}

TEST_F(ServerTest, PreviewIsCachedByEtag) {
  upload({{"files", "IMG1", "one.jpg", "image/jpeg"}});
  auto r = client_->Get("/api/photos/1/preview");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_NE(r->get_header_value("Cache-Control").find("max-age"), std::string::npos);
  const std::string etag = r->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  const int calls = album_->preview_calls;
  auto again = client_->Get("/api/photos/1/preview", {{"If-None-Match", etag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_EQ(album_->preview_calls, calls);  // a 304 makes nothing
  expect_error(get_json("/api/photos/9/preview", 404), "not_found");
  EXPECT_EQ(get_json("/api/photos/1", 200)["preview_url"], "/api/photos/1/preview");
}

TEST_F(ServerTest, ListGetDeleteAndBytes) {
  upload({{"files", "IMG1", "a/one.jpg", "image/jpeg"}, {"files", "IMG2", "two.jpg", "image/jpeg"},
          {"files", "IMG3", "three.jpg", "image/jpeg"}});
  json page = get_json("/api/photos?page=1&per_page=2", 200);
  EXPECT_EQ(page["total"], 3);
  EXPECT_EQ(page["page"], 1);
  EXPECT_EQ(page["per_page"], 2);
  ASSERT_EQ(page["items"].size(), 2u);
  EXPECT_EQ(get_json("/api/photos?page=2&per_page=2", 200)["items"].size(), 1u);
  expect_error(get_json("/api/photos?per_page=0", 400), "invalid_argument");
  expect_error(get_json("/api/photos?page=abc", 400), "invalid_argument");
  // before=ID: the photos older than ID, whatever page says.
  json older = get_json("/api/photos?before=3&per_page=5&page=7", 200);
  ASSERT_EQ(older["items"].size(), 2u);
  EXPECT_EQ(older["items"][0]["id"], 2);
  EXPECT_EQ(older["items"][1]["id"], 1);
  EXPECT_EQ(older["page"], 1);
  expect_error(get_json("/api/photos?before=0", 400), "invalid_argument");
  expect_error(get_json("/api/photos?before=x", 400), "invalid_argument");

  json one = get_json("/api/photos/1", 200);
  EXPECT_EQ(one["filename"], "one.jpg");
  EXPECT_EQ(one["folder"], "a");
  EXPECT_EQ(one["thumbnail_url"], "/api/photos/1/thumbnail");
  EXPECT_TRUE(one["gps_lat"].is_null());
  EXPECT_EQ(one["vlm_error"], "");
  expect_error(get_json("/api/photos/99", 404), "not_found");
  expect_error(get_json("/api/photos/abc", 404), "not_found");
  expect_error(get_json("/api/photos/99999999999999999999999", 404), "not_found");

  auto t = client_->Get("/api/photos/1/thumbnail");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, 200);
  EXPECT_EQ(t->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_EQ(t->body, "IMG1");
  const std::string etag = t->get_header_value("ETag");
  EXPECT_FALSE(etag.empty());
  EXPECT_NE(t->get_header_value("Cache-Control").find("max-age"), std::string::npos);
  auto t304 = client_->Get("/api/photos/1/thumbnail", {{"If-None-Match", etag}});
  ASSERT_TRUE(t304);
  EXPECT_EQ(t304->status, 304);

  auto o = client_->Get("/api/photos/2/original");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 200);
  EXPECT_EQ(o->body, "IMG2");
  EXPECT_EQ(o->get_header_value("Content-Type"), "image/jpeg");

  auto d = client_->Delete("/api/photos/2");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 200);
  expect_error(get_json("/api/photos/2", 404), "not_found");
  auto d2 = client_->Delete("/api/photos/2");
  ASSERT_TRUE(d2);
  EXPECT_EQ(d2->status, 404);
  expect_error(json::parse(d2->body), "not_found");
  expect_error(get_json("/api/photos/2/original", 404), "not_found");
}

TEST_F(ServerTest, SearchParametersAndResults) {
  upload({{"files", "IMG1", "cat.jpg", "image/jpeg"}, {"files", "IMG2", "dog.jpg", "image/jpeg"}});
  json j = get_json("/api/search?q=cat&limit=5&min_score=0.1&date_from=2023-01-01&date_to=2023", 200);
  EXPECT_EQ(j["query"], "cat");
  EXPECT_EQ(j["mode"], "clip");
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0]["filename"], "cat.jpg");
  EXPECT_GT(j["items"][0]["score"].get<double>(), j["items"][1]["score"].get<double>());
  EXPECT_TRUE(j["items"][0].contains("clip_score"));
  EXPECT_EQ(album_->last_search.limit, 5);
  ASSERT_TRUE(album_->last_search.min_score.has_value());
  EXPECT_FLOAT_EQ(*album_->last_search.min_score, 0.1f);
  EXPECT_EQ(album_->last_search.date_from, "2023-01-01");
  EXPECT_EQ(album_->last_search.date_to, "2023");

  expect_error(get_json("/api/search", 400), "invalid_argument");
  expect_error(get_json("/api/search?q=%20%20", 400), "invalid_argument");
  expect_error(get_json("/api/search?q=x&mode=magic", 400), "invalid_argument");
  expect_error(get_json("/api/search?q=x&limit=0", 400), "invalid_argument");
  expect_error(get_json("/api/search?q=x&min_score=high", 400), "invalid_argument");
  expect_error(get_json("/api/search?q=x&date_from=yesterday", 400), "invalid_argument");
  // The right shape is not enough: real calendar dates, and date_from <= date_to.
  album_->last_search = {};
  for (const char* bad : {"date_from=2023-13-45", "date_from=2023-02-29", "date_to=2023-04-31",
                          "date_to=2023-00", "date_from=2024&date_to=2023-12-31",
                          "date_from=2023-06-02&date_to=2023-06-01"}) {
    json e = get_json(std::string("/api/search?q=cat&") + bad, 400);
    expect_error(e, "invalid_argument");
    EXPECT_NE(e["error"]["message"].get<std::string>().find("date_"), std::string::npos) << e;
  }
  EXPECT_EQ(album_->last_search.date_from, "");  // refused before the album was asked
  get_json("/api/search?q=cat&date_from=2024-02-29&date_to=2024-02-29", 200);
  EXPECT_EQ(album_->last_search.date_from, "2024-02-29");
  get_json("/api/search?q=cat&date_from=2023-05&date_to=2023", 200);
  EXPECT_EQ(album_->last_search.date_to, "2023");
  expect_error(get_json("/api/search?q=" + std::string(1001, 'a'), 400), "invalid_argument");

  // Without an explicit mode the persisted "enhanced search" setting decides.
  album_->set_settings({false, true}).ok();
  EXPECT_EQ(get_json("/api/search?q=cat", 200)["mode"], "hybrid");
  EXPECT_EQ(get_json("/api/search?q=cat&mode=clip", 200)["mode"], "clip");

  json sim = get_json("/api/photos/1/similar?limit=3", 200);
  ASSERT_EQ(sim["items"].size(), 1u);
  EXPECT_EQ(sim["items"][0]["id"], 1);
  expect_error(get_json("/api/photos/42/similar", 404), "not_found");

  album_->clip = false;
  expect_error(get_json("/api/search?q=cat", 503), "unavailable");
}

TEST_F(ServerTest, HandlerExceptionsBecomeJson500) {
  expect_error(get_json("/api/search?q=throw", 500), "internal");
  // The server keeps serving afterwards.
  EXPECT_EQ(get_json("/api/health", 200)["status"], "ok");
}

TEST_F(ServerTest, SettingsRoundTrip) {
  json s = get_json("/api/settings", 200);
  EXPECT_EQ(s["auto_analyze"], false);
  EXPECT_EQ(s["enhanced_search"], false);
  auto r = client_->Put("/api/settings", R"({"enhanced_search": true})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["enhanced_search"], true);
  EXPECT_EQ(get_json("/api/settings", 200)["enhanced_search"], true);
  EXPECT_EQ(get_json("/api/settings", 200)["auto_analyze"], false);
  for (const char* bad : {"not json", "[1]", R"({"enhanced_search": "yes"})", R"({"colour": true})"}) {
    auto b = client_->Put("/api/settings", bad, "application/json");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->status, 400) << bad;
    expect_error(json::parse(b->body), "invalid_argument");
  }
  EXPECT_EQ(get_json("/api/settings", 200)["enhanced_search"], true);
}

TEST_F(ServerTest, JobsAndAnalyze) {
  json j = get_json("/api/jobs", 200);
  EXPECT_EQ(j["pending"], 2);
  EXPECT_EQ(j["failed"], 1);
  ASSERT_EQ(j["recent_failures"].size(), 1u);
  EXPECT_EQ(j["recent_failures"][0]["error"], "decode failed");

  upload({{"files", "IMG1", "cat.jpg", "image/jpeg"}});
  auto r = client_->Post("/api/photos/1/analyze");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  expect_error(json::parse(r->body), "unavailable");
  album_->vlm = true;
  r = client_->Post("/api/photos/1/analyze");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(json::parse(r->body)["vlm_status"], "pending");
  r = client_->Post("/api/photos/9/analyze");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

// The upload panel's count of processed photos: it asks about exactly its
// batch's ids, any number of them, in requests of up to 1000 (a batch of 600
// here, more than the newest 500 the panel used to read).
TEST_F(ServerTest, PhotoStatesCountExactlyTheIdsAsked) {
  for (int batch = 0; batch < 6; ++batch) {  // 100 files a request (the server caps parts per request)
    httplib::MultipartFormDataItems items;
    for (int i = batch * 100 + 1; i <= batch * 100 + 100; ++i) {
      items.push_back({"files", "IMG" + std::to_string(i), std::to_string(i) + ".jpg", "image/jpeg"});
    }
    ASSERT_EQ(upload(items)["uploaded"].size(), 100u);
  }
  album_->set_states(2, PhotoStatus::kPending, VlmStatus::kNone);        // no search vector yet
  album_->set_states(300, PhotoStatus::kReady, VlmStatus::kRunning);     // being described
  album_->set_states(550, PhotoStatus::kReady, VlmStatus::kPending);     // description queued
  album_->set_states(551, PhotoStatus::kFailed, VlmStatus::kFailed);     // done, if badly
  album_->set_states(552, PhotoStatus::kNoModel, VlmStatus::kDone);
  auto states = [&](const json& ids, int expect_status) {
    auto r = client_->Post("/api/photos/states", json{{"ids", ids}}.dump(), "application/json");
    EXPECT_TRUE(r);
    if (!r) return json{};
    EXPECT_EQ(r->status, expect_status) << r->body;
    return json::parse(r->body);
  };
  json first = json::array(), rest = json::array();
  for (int i = 1; i <= 500; ++i) first.push_back(i);
  for (int i = 501; i <= 600; ++i) rest.push_back(i);
  rest.push_back(5000);  // never uploaded (or deleted since)
  json a = states(first, 200);
  EXPECT_EQ(a["processed"], 498);
  EXPECT_EQ(a["pending"], json({2, 300}));
  EXPECT_EQ(a["missing"], json::array());
  json b = states(rest, 200);
  EXPECT_EQ(b["processed"], 99);
  EXPECT_EQ(b["pending"], json({550}));
  EXPECT_EQ(b["missing"], json({5000}));
  // Only the ids asked about: the oldest photo alone, then the newest alone.
  EXPECT_EQ(states(json({2}), 200)["pending"], json({2}));
  EXPECT_EQ(states(json({600}), 200)["processed"], 1);
  // The most a request may ask about: 1000 ids (those not uploaded are missing).
  json most = json::array();
  for (int i = 1; i <= 1000; ++i) most.push_back(i);
  json m = states(most, 200);
  EXPECT_EQ(m["processed"], 597);
  EXPECT_EQ(m["missing"].size(), 400u);
  // More than 1000 ids, none, or not ids: invalid_argument, nothing counted.
  most.push_back(1001);
  expect_error(states(most, 400), "invalid_argument");
  expect_error(states(json::array(), 400), "invalid_argument");
  expect_error(states(json({1, "2"}), 400), "invalid_argument");
  expect_error(states(json({0}), 400), "invalid_argument");
  expect_error(states(json("1,2"), 400), "invalid_argument");
}

// What curl -X POST without -d sends: no Content-Length, no body. httplib
// would wait for the body until its read timeout; the reply comes at once
// (411) and says why, in the usual JSON shape.
TEST_F(ServerTest, PostWithoutContentLengthNamesTheFix) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req =
      "POST /api/photos/1/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  // Read the head, then the body its Content-Length announces (the server
  // may keep the connection open, so do not wait for EOF).
  std::string reply;
  char buf[4096];
  size_t head_end = std::string::npos;
  size_t want = std::string::npos;
  for (ssize_t n; reply.size() < want && (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    reply.append(buf, static_cast<size_t>(n));
    if (head_end == std::string::npos && (head_end = reply.find("\r\n\r\n")) != std::string::npos) {
      const size_t cl = reply.find("Content-Length: ");
      ASSERT_LT(cl, head_end) << reply;
      want = head_end + 4 + std::stoul(reply.substr(cl + 16));
    }
  }
  ::close(fd);
  ASSERT_EQ(reply.rfind("HTTP/1.1 411", 0), 0u) << reply;
  ASSERT_NE(head_end, std::string::npos) << reply;
  const json j = json::parse(reply.substr(head_end + 4));
  expect_error(j, "invalid_argument");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("Content-Length"), std::string::npos) << j;
}

TEST_F(ServerTest, StaticFilesAndTraversal) {
  auto r = client_->Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "<html>相册</html>");
  EXPECT_NE(r->get_header_value("Content-Type").find("text/html"), std::string::npos);
  r = client_->Get("/js/app.js");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("javascript"), std::string::npos);
  for (const char* bad : {"/../secret.txt", "/js/../../secret.txt", "/%2e%2e/secret.txt",
                          "/js/..%2f..%2fsecret.txt", "/nope.html", "/js/"}) {
    auto b = client_->Get(bad);
    ASSERT_TRUE(b) << bad;
    EXPECT_EQ(b->status, 404) << bad;
    EXPECT_EQ(b->body.find("secret"), std::string::npos) << bad;
  }
  json j = get_json("/api/nothing-here", 404);
  expect_error(j, "not_found");
}

// Ranges on the streamed originals are checked against the file size (Debian's
// httplib 0.11.4 does not for content providers: "bytes=99999999-" gave 206
// with Content-Length 18446744073609691129).
// Range applies to the photo files only; any other reply goes out whole with
// its real status (httplib used to cut JSON and errors to the requested bytes).
TEST_F(ServerTest, RangeIsIgnoredOutsideThePhotoFiles) {
  upload({{"files", "IMG1", "one.jpg", "image/jpeg"}});
  for (const char* range : {"bytes=0-5", "bytes=100000-", "bytes=0-1,4-5"}) {
    SCOPED_TRACE(range);
    auto h = client_->Get("/api/health", {{"Range", range}});
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
    EXPECT_FALSE(h->has_header("Content-Range"));
    EXPECT_TRUE(json::parse(h->body).contains("photos")) << h->body;
    auto missing = client_->Get("/api/photos/99", {{"Range", range}});
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
    expect_error(json::parse(missing->body), "not_found");
    auto page = client_->Get("/", {{"Range", range}});
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_EQ(page->body, "<html>相册</html>");
  }
  auto del = client_->Delete("/api/photos/1", {{"Range", "bytes=0-0"}});
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_TRUE(json::accept(del->body)) << del->body;  // whole, not cut to "{"
  EXPECT_GT(del->body.size(), 1u);
}

TEST_F(ServerTest, OriginalRangesAreCheckedAgainstTheSize) {
  const std::string bytes = "IMG0123456789";  // 13 bytes
  upload({{"files", bytes, "a.jpg", "image/jpeg"}});
  auto get = [&](const std::string& range, const char* path = "/api/photos/1/original") {
    auto r = client_->Get(path, {{"Range", range}});
    EXPECT_TRUE(r) << range;
    return r;
  };
  struct Case {
    const char* range;
    const char* content_range;
    std::string body;
  } partial[] = {
      {"bytes=0-3", "bytes 0-3/13", "IMG0"},
      {"bytes=10-", "bytes 10-12/13", "789"},
      {"bytes=12-12", "bytes 12-12/13", "9"},
      {"bytes=-4", "bytes 9-12/13", "6789"},
      {"bytes=-100", "bytes 0-12/13", bytes},        // suffix longer than the file
      {"bytes=5-99999999", "bytes 5-12/13", "23456789"},  // last clamped to the end
      {"bytes=0-1,99999999-", "bytes 0-1/13", "IM"},  // the unsatisfiable part is dropped
  };
  for (const auto& c : partial) {
    auto r = get(c.range);
    if (!r) continue;
    EXPECT_EQ(r->status, 206) << c.range;
    EXPECT_EQ(r->get_header_value("Content-Range"), c.content_range) << c.range;
    EXPECT_EQ(r->body, c.body) << c.range;
    EXPECT_EQ(r->get_header_value("Content-Length"), std::to_string(c.body.size())) << c.range;
    EXPECT_EQ(r->get_header_value("Content-Type"), "image/jpeg") << c.range;
  }
  for (const char* bad : {"bytes=99999999-", "bytes=13-", "bytes=13-20", "bytes=-0", "bytes=-",
                          "bytes=20-30,40-"}) {
    for (const char* path : {"/api/photos/1/original", "/api/photos/1/thumbnail"}) {
      auto r = get(bad, path);
      if (!r) continue;
      EXPECT_EQ(r->status, 416) << bad << " " << path;
      EXPECT_EQ(r->get_header_value("Content-Range"), "bytes */13") << bad << " " << path;
      EXPECT_EQ(r->get_header_value("Content-Length"), std::to_string(r->body.size()));
      expect_error(json::parse(r->body), "invalid_argument");
    }
  }
  // The exact head on the wire: one Content-Range, a small Content-Length.
  RawConn c(server_->port());
  ASSERT_TRUE(c.send("GET /api/photos/1/original HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Range: bytes=99999999-\r\nConnection: close\r\n\r\n"));
  const std::string reply = c.read_reply(5);
  EXPECT_EQ(reply.rfind("HTTP/1.1 416", 0), 0u) << reply;
  size_t n_content_range = 0;
  for (size_t at = 0; (at = reply.find("Content-Range:", at)) != std::string::npos; ++at) ++n_content_range;
  EXPECT_EQ(n_content_range, 1u) << reply;
  EXPECT_EQ(reply.find("18446744"), std::string::npos) << reply;

  // No Range: the whole file, and ranges are announced.
  auto whole = client_->Get("/api/photos/1/original");
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, bytes);
  EXPECT_EQ(whole->get_header_value("Accept-Ranges"), "bytes");
  EXPECT_FALSE(whole->has_header("Content-Range"));
  // Overlapping ranges asking for more than the file are ignored: one 200 copy.
  auto overlap = get("bytes=0-,0-,0-");
  ASSERT_TRUE(overlap);
  EXPECT_EQ(overlap->status, 200);
  EXPECT_EQ(overlap->body, bytes);
}

TEST_F(ServerTest, SeveralRangesGiveMultipartByteranges) {
  upload({{"files", "IMG0123456789", "a.jpg", "image/jpeg"}});
  auto r = client_->Get("/api/photos/1/original", {{"Range", "bytes=0-1, 5-6,-2"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  const std::string type = r->get_header_value("Content-Type");
  const std::string prefix = "multipart/byteranges; boundary=";
  ASSERT_EQ(type.rfind(prefix, 0), 0u) << type;
  const std::string b = type.substr(prefix.size());
  ASSERT_FALSE(b.empty());
  const std::string want = "--" + b + "\r\nContent-Type: image/jpeg\r\nContent-Range: bytes 0-1/13\r\n\r\nIM"
                           "\r\n--" + b + "\r\nContent-Type: image/jpeg\r\nContent-Range: bytes 5-6/13\r\n\r\n23"
                           "\r\n--" + b + "\r\nContent-Type: image/jpeg\r\nContent-Range: bytes 11-12/13\r\n\r\n89"
                           "\r\n--" + b + "--\r\n";
  EXPECT_EQ(r->body, want);
  EXPECT_EQ(r->get_header_value("Content-Length"), std::to_string(want.size()));
}

// A wrong method on an existing path is 405 with Allow, not "no route".
TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  auto methods = [](const std::string& allow) {
    std::set<std::string> out;
    std::stringstream ss(allow);
    for (std::string m; std::getline(ss, m, ',');) out.insert(m.substr(m.find_first_not_of(' ')));
    return out;
  };
  auto check = [&](const httplib::Result& r, const std::set<std::string>& allow, const char* what) {
    ASSERT_TRUE(r) << what;
    EXPECT_EQ(r->status, 405) << what << " " << r->body;
    EXPECT_EQ(methods(r->get_header_value("Allow")), allow) << what;
    EXPECT_NE(r->get_header_value("Content-Type").find("application/json"), std::string::npos);
    expect_error(json::parse(r->body), "invalid_argument");
  };
  check(client_->Post("/api/health", "", "text/plain"), {"GET", "HEAD"}, "POST /api/health");
  check(client_->Delete("/api/search"), {"GET", "HEAD"}, "DELETE /api/search");
  check(client_->Put("/api/photos/1", "x", "text/plain"), {"DELETE", "GET", "HEAD", "PATCH"}, "PUT /api/photos/1");
  check(client_->Get("/api/photos/1/analyze"), {"POST"}, "GET analyze");
  check(client_->Put("/api/photos", "x", "text/plain"), {"GET", "HEAD", "POST"}, "PUT /api/photos");
  check(client_->Post("/index.html", "x", "text/plain"), {"GET", "HEAD"}, "POST a static file");
  auto r = client_->Post("/api/health", "", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_NE(json::parse(r->body)["error"]["message"].get<std::string>().find("POST"), std::string::npos);
  // No route for any method is still 404.
  auto none = client_->Post("/api/nothing-here", "", "text/plain");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  EXPECT_FALSE(none->has_header("Allow"));
  expect_error(json::parse(none->body), "not_found");
}

// Slow clients that never finish their request head each hold a request thread;
// with the old 8 threads and 60 s reads, 8 of them stopped the server for a
// minute. Three times as many must leave it answering at once.
TEST_F(ServerTest, SlowClientsDoNotStarveOthers) {
  std::vector<std::unique_ptr<RawConn>> slow;
  const auto tc = std::chrono::steady_clock::now();
  for (int i = 0; i < 24; ++i) {
    slow.push_back(std::make_unique<RawConn>(server_->port()));
    ASSERT_TRUE(slow.back()->ok());
    ASSERT_TRUE(slow.back()->send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
  }
  // httplib's listen backlog of 5 dropped part of such a burst (retried after 1 s).
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - tc).count(), 0.9);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let them be picked up
  httplib::Client c("127.0.0.1", server_->port());
  c.set_connection_timeout(3);
  c.set_read_timeout(3);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c.Get("/api/health");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r) << "no answer while 24 clients stall";
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(secs, 2.0);
  slow.clear();  // closing them frees their threads at once
}

// The read timeout bounds each wait for data: a stalled request head is dropped
// after it, while an upload that keeps sending takes as long as it needs.
TEST(HttpServerTimeouts, StalledHeadIsDroppedButSlowUploadCompletes) {
  auto dir = fs::temp_directory_path() / ("sa_server_timeouts_" + std::to_string(::getpid()));
  testing::FakeAlbum album(dir.string());
  ServerOptions opt;
  opt.auth = false;  // these tests cover the album, not sign-in (auth_test.cpp does)
  opt.port = 0;
  opt.read_timeout_s = 1;
  HttpServer server(album, opt);
  ASSERT_TRUE(server.start().ok());

  RawConn stalled(server.port());
  ASSERT_TRUE(stalled.send("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
  const auto t0 = std::chrono::steady_clock::now();
  const std::string dropped = stalled.read_reply(10);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 4.0) << dropped;  // 1 s read timeout, not 10 s of our own
  EXPECT_EQ(dropped.find("200 OK"), std::string::npos) << dropped;

  // A multipart upload sent in pieces 0.5 s apart: 2.5 s in all, > the 1 s timeout.
  const std::string boundary = "----sa-slow-upload";
  const std::string body = "--" + boundary +
                           "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"slow.jpg\""
                           "\r\nContent-Type: image/jpeg\r\n\r\nIMG" + std::string(500, 's') +
                           "\r\n--" + boundary + "--\r\n";
  RawConn up(server.port());
  ASSERT_TRUE(up.send("POST /api/photos HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "Content-Type: multipart/form-data; boundary=" + boundary +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  const size_t piece = body.size() / 5 + 1;
  for (size_t at = 0; at < body.size(); at += piece) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_TRUE(up.send(body.substr(at, piece)));
  }
  const std::string reply = up.read_reply(10);
  ASSERT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
  const json j = json::parse(reply.substr(reply.find("\r\n\r\n") + 4));
  ASSERT_EQ(j["uploaded"].size(), 1u) << j;
  EXPECT_EQ(j["uploaded"][0]["filename"], "slow.jpg");
  server.stop();
  fs::remove_all(dir);
}

TEST(HttpServerLifecycle, BusyPortIsAClearError) {
  auto dir = fs::temp_directory_path() / "sa_server_busy";
  testing::FakeAlbum album(dir.string());
  ServerOptions opt;
  opt.auth = false;  // these tests cover the album, not sign-in (auth_test.cpp does)
  opt.port = 0;
  HttpServer a(album, opt);
  ASSERT_TRUE(a.start().ok());
  opt.port = a.port();
  HttpServer b(album, opt);
  Status s = b.start();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  opt.port = 70000;
  HttpServer c(album, opt);
  EXPECT_EQ(c.start().code(), StatusCode::kInvalidArgument);
  a.stop();
  a.stop();  // idempotent
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sa
