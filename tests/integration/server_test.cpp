// The real album behind the real HTTP server on 127.0.0.1 (free port) with the
// tiny Chinese-CLIP model: upload the test photos, wait for the embedding jobs,
// and check search against the ranking the golden embeddings imply, then similar,
// delete, restart, index rebuild and the error shapes.
#include <httplib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/album.h"
#include "core/file_util.h"
#include "server/http_server.h"

namespace sa {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kData = SA_TEST_DATA;
const std::string kModel = kData + "/clip/tiny-b16/hf-safetensors";

// Golden embeddings, L2-normalised, keyed by image file name / text.
struct Goldens {
  std::map<std::string, std::vector<double>> images;  // file -> unit vector
  std::vector<std::pair<std::string, std::vector<double>>> texts;
};

std::vector<double> unit(const json& arr) {
  std::vector<double> v = arr.get<std::vector<double>>();
  double n = 0;
  for (double x : v) n += x * x;
  n = std::sqrt(n);
  for (double& x : v) x /= n;
  return v;
}
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

const Goldens& goldens() {
  static const Goldens g = [] {
    Goldens g;
    auto text = read_file(kData + "/clip/tiny-b16/golden.json");
    EXPECT_TRUE(text.ok());
    json j = json::parse(*text);
    for (const auto& im : j["images"]) g.images[im["file"]] = unit(im["embedding"]);
    for (const auto& t : j["texts"]) g.texts.emplace_back(t["text"], unit(t["embedding"]));
    return g;
  }();
  return g;
}

// (file, cosine) sorted best first over `files`.
std::vector<std::pair<std::string, double>> golden_ranking(const std::vector<double>& q,
                                                           const std::vector<std::string>& files) {
  std::vector<std::pair<std::string, double>> r;
  for (const auto& f : files) r.emplace_back(f, dot(q, goldens().images.at(f)));
  std::sort(r.begin(), r.end(), [](auto& a, auto& b) { return a.second > b.second; });
  return r;
}

class AlbumServer {
 public:
  explicit AlbumServer(const std::string& data_dir, const std::string& model = kModel) {
    Config cfg;
    cfg.data_dir = data_dir;
    cfg.model = model;
    cfg.threads = 2;
    auto a = Album::open(cfg);
    EXPECT_TRUE(a.ok()) << a.status().to_string();
    album = std::move(*a);
    ServerOptions opt;
    opt.auth = false;  // these tests cover the album, not sign-in (auth_test.cpp does)
    opt.port = 0;
    opt.web_dir = std::string(SA_SOURCE_DIR) + "/web";
    opt.max_upload_bytes = 4 << 20;
    server = std::make_unique<HttpServer>(*album, opt);
    Status s = server->start();
    EXPECT_TRUE(s.ok()) << s.to_string();
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_read_timeout(60);
  }
  ~AlbumServer() {
    server.reset();  // the server goes first: it references the album
    album.reset();
  }

  json get(const std::string& path, int status = 200) {
    auto r = client->Get(path.c_str());
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, status) << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }
  // Polls /api/jobs until nothing is pending or running.
  void wait_jobs() {
    for (int i = 0; i < 600; ++i) {
      json j = get("/api/jobs");
      if (j["pending"] == 0 && j["running"] == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "jobs did not finish";
  }
  std::vector<std::string> search_files(const std::string& q, int limit = 20) {
    json j = get("/api/search?limit=" + std::to_string(limit) + "&q=" +
                 httplib::detail::encode_query_param(q));
    std::vector<std::string> out;
    for (const auto& it : j["items"]) out.push_back(it["filename"]);
    return out;
  }

  std::unique_ptr<Album> album;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<httplib::Client> client;
};

const std::vector<std::string> kImages = {"pokemon.jpeg", "chelsea.png", "coffee.png", "camera.png",
                                          "coffee_q90.jpg", "chelsea_exif6.jpg", "chelsea_small.png"};

std::string image_bytes(const std::string& file) {
  auto b = read_file(kData + "/images/" + file);
  EXPECT_TRUE(b.ok()) << file;
  return b.ok() ? *b : "";
}

class ServerIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sa_integ_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    data_ = (root_ / "album").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  // Uploads every test image under relative folders, plus the hostile cases.
  json upload_all(AlbumServer& s) {
    httplib::MultipartFormDataItems items;
    for (const auto& f : kImages) {
      const std::string folder = f.rfind("chelsea", 0) == 0 ? "相册/猫/" : "trip/day1/";
      items.push_back({"files", image_bytes(f), folder + f, "application/octet-stream"});
    }
    // A hostile name carrying a valid image that is not uploaded otherwise.
    items.push_back({"files", tiny_png(), "../../evil.png", "image/png"});
    items.push_back({"files", "this is not an image", "notes/readme.jpg", "image/jpeg"});
    items.push_back({"files", image_bytes("coffee.png"), "copy/coffee-again.png", "image/png"});
    auto r = s.client->Post("/api/photos", items);
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    return json::parse(r->body);
  }

  // A valid 1x1 RGB PNG (one red pixel).
  static std::string tiny_png() {
    static const unsigned char kPng[] = {
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90,
        0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x08, 0xd7, 0x63, 0xf8,
        0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0x18, 0xdd, 0x8d, 0xb0, 0x00, 0x00, 0x00,
        0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};
    return std::string(reinterpret_cast<const char*>(kPng), sizeof(kPng));
  }

  // Queries whose golden top-1 beats the runner-up clearly enough that a correct
  // engine (cosine >= 0.9999 to the goldens from files) cannot swap them.
  static std::vector<std::pair<std::string, std::string>> clear_queries(
      const std::vector<std::string>& files, double margin) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [text, emb] : goldens().texts) {
      if (text.empty() || text.find_first_not_of(" \t\n") == std::string::npos) continue;
      auto r = golden_ranking(emb, files);
      if (r[0].second - r[1].second >= margin) out.emplace_back(text, r[0].first);
    }
    return out;
  }

  fs::path root_;
  std::string data_;
};

TEST_F(ServerIntegration, UploadSearchSimilarDeleteRestartRebuild) {
  std::vector<std::string> files = kImages;
  files.push_back("evil.png");
  {
    AlbumServer s(data_);
    json up = upload_all(s);
    // 7 photos + evil uploaded, the copy is a duplicate, the text file is rejected.
    ASSERT_EQ(up["uploaded"].size(), 9u) << up.dump();
    ASSERT_EQ(up["rejected"].size(), 1u) << up.dump();
    EXPECT_EQ(up["rejected"][0]["filename"], "notes/readme.jpg");
    EXPECT_FALSE(up["rejected"][0]["error"].get<std::string>().empty());
    int dups = 0;
    for (const auto& u : up["uploaded"]) dups += u["duplicate"].get<bool>();
    EXPECT_EQ(dups, 1);
    // "../" never leaves the data dir, and never shows up in the stored folder.
    EXPECT_FALSE(fs::exists(root_ / "evil.png"));
    EXPECT_FALSE(fs::exists(fs::path(data_).parent_path().parent_path() / "evil.png"));
    json page = s.get("/api/photos?per_page=50");
    EXPECT_EQ(page["total"], 8);
    std::map<std::string, json> by_name;
    for (const auto& p : page["items"]) by_name[p["filename"]] = p;
    ASSERT_TRUE(by_name.count("evil.png")) << page.dump();
    EXPECT_EQ(by_name["evil.png"]["folder"].get<std::string>().find(".."), std::string::npos);
    EXPECT_EQ(by_name["chelsea.png"]["folder"], "相册/猫");
    EXPECT_EQ(by_name["camera.png"]["folder"], "trip/day1");

    // Thumbnails and originals come back with the right types.
    const int64_t chelsea = by_name["chelsea.png"]["id"];
    auto th = s.client->Get(("/api/photos/" + std::to_string(chelsea) + "/thumbnail").c_str());
    ASSERT_TRUE(th);
    EXPECT_EQ(th->status, 200);
    EXPECT_EQ(th->get_header_value("Content-Type"), "image/jpeg");
    EXPECT_EQ(th->body.substr(0, 2), "\xff\xd8");
    auto orig = s.client->Get(("/api/photos/" + std::to_string(chelsea) + "/original").c_str());
    ASSERT_TRUE(orig);
    EXPECT_EQ(orig->status, 200);
    EXPECT_EQ(orig->get_header_value("Content-Type"), "image/png");
    EXPECT_EQ(orig->body, image_bytes("chelsea.png"));

    s.wait_jobs();
    json health = s.get("/api/health");
    EXPECT_EQ(health["status"], "ok");
    EXPECT_TRUE(health["model"].is_string());
    EXPECT_EQ(health["photos"], 8);

    // Honest search: with the default anchors (set for released Chinese-CLIP) the
    // random test model matches nothing, so the default cut-off leaves nothing, for
    // nonsense and for a caption alike; min_score=0 still lists every photo, scored 0.
    json none = s.get("/api/search?q=asdfghjkl");
    EXPECT_TRUE(none["items"].empty()) << none.dump();
    EXPECT_NEAR(none["min_score"].get<double>(), 0.3, 1e-6);
    EXPECT_TRUE(s.get("/api/search?q=" + httplib::detail::encode_query_param("一只猫"))["items"].empty());
    json all = s.get("/api/search?limit=50&min_score=0&q=asdfghjkl");
    EXPECT_EQ(all["items"].size(), 8u);
    for (const auto& it : all["items"]) EXPECT_EQ(it["score"].get<double>(), 0.0);
    EXPECT_EQ(s.get("/api/search?q=x&min_score=2", 400)["error"]["code"], "invalid_argument");
    // The anchors are the album's settings: these spread the test model's cosines
    // (-0.4 .. 0) over [0,1]; kept across the restarts below.
    auto put = s.client->Put("/api/settings", R"({"min_score":0,"score_floor":-0.4,"score_ceiling":0})",
                             "application/json");
    ASSERT_TRUE(put);
    ASSERT_EQ(put->status, 200) << put->body;
    auto bad = s.client->Put("/api/settings", R"({"score_floor":0.5,"score_ceiling":0.1})", "application/json");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
  }

  // Ranking: evil.png has no golden, so rank among the golden images only and ask the
  // API for all photos; evil.png is dropped from the API list before comparing.
  const auto queries = clear_queries(kImages, 0.02);
  ASSERT_GE(queries.size(), 5u) << "too few clear-margin queries in the goldens";
  auto check_search = [&](AlbumServer& s, const std::vector<std::string>& present) {
    for (const auto& [text, top] : clear_queries(present, 0.02)) {
      auto got = s.search_files(text);
      got.erase(std::remove(got.begin(), got.end(), "evil.png"), got.end());
      ASSERT_FALSE(got.empty()) << text;
      EXPECT_EQ(got[0], top) << "query: " << text;
    }
    // Scores are the cosines the goldens give (files decode within 0.9999 cosine).
    const auto& [text, emb] = goldens().texts[4];  // 一只猫
    json j = s.get("/api/search?limit=20&q=" + httplib::detail::encode_query_param(text));
    EXPECT_EQ(j["mode"], "clip");
    for (const auto& it : j["items"]) {
      const std::string f = it["filename"];
      if (f == "evil.png") continue;
      EXPECT_NEAR(it["clip_score"].get<double>(), dot(emb, goldens().images.at(f)), 0.02) << f;
      EXPECT_NEAR(it["score"].get<double>(),
                  std::clamp((it["clip_score"].get<double>() + 0.4) / 0.4, 0.0, 1.0), 1e-5);
    }
  };
  {
    AlbumServer s(data_);  // restart: same data dir
    EXPECT_EQ(s.get("/api/photos")["total"], 8);
    s.wait_jobs();
    check_search(s, kImages);

    // Paging and min_score.
    json p1 = s.get("/api/search?q=%E4%B8%80%E5%8F%AA%E7%8C%AB&limit=3&offset=0");
    json p2 = s.get("/api/search?q=%E4%B8%80%E5%8F%AA%E7%8C%AB&limit=3&offset=3");
    ASSERT_EQ(p1["items"].size(), 3u);
    ASSERT_EQ(p2["items"].size(), 3u);
    EXPECT_GE(p1["items"][2]["score"].get<double>(), p2["items"][0]["score"].get<double>());
    const double cut = p1["items"][1]["score"].get<double>();
    json hi = s.get("/api/search?q=%E4%B8%80%E5%8F%AA%E7%8C%AB&min_score=" + std::to_string(cut - 1e-6));
    EXPECT_EQ(hi["items"].size(), 2u);

    // Similar: chelsea's nearest other photo is the one the goldens say.
    json page = s.get("/api/photos?per_page=50");
    std::map<std::string, int64_t> ids;
    for (const auto& p : page["items"]) ids[p["filename"]] = p["id"];
    std::vector<std::string> others;
    for (const auto& f : kImages) if (f != "chelsea.png") others.push_back(f);
    auto expect_sim = golden_ranking(goldens().images.at("chelsea.png"), others);
    json sim = s.get("/api/photos/" + std::to_string(ids["chelsea.png"]) + "/similar?limit=5");
    ASSERT_FALSE(sim["items"].empty());
    for (const auto& it : sim["items"]) EXPECT_NE(it["id"], ids["chelsea.png"]);
    EXPECT_EQ(sim["items"][0]["filename"], expect_sim[0].first);

    // Delete moves the photo to the trash: gone from the list and the search
    // results at once; ?permanent=1 then removes the details and the bytes too.
    const std::string coffee = "/api/photos/" + std::to_string(ids["coffee_q90.jpg"]);
    auto del = s.client->Delete(coffee.c_str());
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 200);
    EXPECT_EQ(s.get("/api/photos")["total"], 7);
    EXPECT_EQ(s.get("/api/trash")["total"], 1);
    for (const auto& [text, emb] : goldens().texts) {
      if (text.find_first_not_of(" \t\n") == std::string::npos) continue;  // empty query: 400
      auto got = s.search_files(text);
      EXPECT_EQ(std::count(got.begin(), got.end(), "coffee_q90.jpg"), 0) << text;
    }
    auto perm = s.client->Delete((coffee + "?permanent=1").c_str());
    ASSERT_TRUE(perm);
    EXPECT_EQ(perm->status, 200);
    json gone = s.get(coffee, 404);
    EXPECT_EQ(gone["error"]["code"], "not_found");
    s.get(coffee + "/thumbnail", 404);
    EXPECT_EQ(s.get("/api/photos")["total"], 7);
    EXPECT_EQ(s.get("/api/trash")["total"], 0);

    // Settings persist.
    auto put = s.client->Put("/api/settings", R"({"enhanced_search": true})", "application/json");
    ASSERT_TRUE(put);
    EXPECT_EQ(put->status, 200) << put->body;
  }
  std::vector<std::string> remaining = kImages;
  remaining.erase(std::find(remaining.begin(), remaining.end(), "coffee_q90.jpg"));

  // Index files deleted: rebuilt from the database; results unchanged.
  ASSERT_TRUE(fs::is_directory(fs::path(data_) / "index"));
  int removed = 0;
  for (const auto& e : fs::directory_iterator(fs::path(data_) / "index")) {
    if (e.is_regular_file()) removed += fs::remove(e.path());
  }
  EXPECT_GE(removed, 1);
  {
    AlbumServer s(data_);
    EXPECT_EQ(s.get("/api/settings")["enhanced_search"], true);
    auto put = s.client->Put("/api/settings", R"({"enhanced_search": false})", "application/json");
    ASSERT_TRUE(put);
    s.wait_jobs();
    check_search(s, remaining);
  }
  // Index files truncated: detected and rebuilt.
  int truncated = 0;
  for (const auto& e : fs::directory_iterator(fs::path(data_) / "index")) {
    if (!e.is_regular_file()) continue;
    fs::resize_file(e.path(), fs::file_size(e.path()) / 2);
    ++truncated;
  }
  EXPECT_GE(truncated, 1);
  {
    AlbumServer s(data_);
    s.wait_jobs();
    EXPECT_EQ(s.get("/api/photos")["total"], 7);
    check_search(s, remaining);
  }
}

TEST_F(ServerIntegration, ErrorShapes) {
  AlbumServer s(data_);
  auto expect_err = [&](const std::string& path, int status, const std::string& code) {
    json j = s.get(path, status);
    ASSERT_TRUE(j.contains("error")) << path << ": " << j.dump();
    EXPECT_EQ(j["error"]["code"], code) << path;
    EXPECT_TRUE(j["error"]["message"].is_string()) << path;
  };
  expect_err("/api/photos/12345", 404, "not_found");
  expect_err("/api/photos/12345/similar", 404, "not_found");
  expect_err("/api/photos/x/original", 404, "not_found");
  expect_err("/api/search", 400, "invalid_argument");
  expect_err("/api/search?q=cat&mode=nope", 400, "invalid_argument");
  expect_err("/api/photos?per_page=100000", 400, "invalid_argument");
  expect_err("/api/no-such-route", 404, "not_found");
  auto bad = s.client->Put("/api/settings", "{", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(json::parse(bad->body)["error"]["code"], "invalid_argument");
  // The page itself is served, and nothing outside web/ is.
  auto page = s.client->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("智能相册"), std::string::npos);
  auto trav = s.client->Get("/../CMakeLists.txt");
  ASSERT_TRUE(trav);
  EXPECT_EQ(trav->status, 404);
}

// Byte ranges, wrong methods, date filters and hostile names on a real album
// (ingest, SQLite, files on disk); no model needed.
TEST_F(ServerIntegration, RangesMethodsDatesAndNamesOnARealAlbum) {
  AlbumServer s(data_, /*model=*/"");
  const std::string png = image_bytes("coffee.png");
  const std::string size = std::to_string(png.size());
  // A valid é, a UTF-16 surrogate (ED A0 80) and an overlong '/' (C0 AF).
  const std::string hostile = "caf\xC3\xA9 \xED\xA0\x80 \xC0\xAF.png";
  const std::string long_stem(300, 'x');
  auto up = s.client->Post("/api/photos", httplib::MultipartFormDataItems{
      {"files", png, hostile, "image/png"},
      {"files", image_bytes("chelsea_small.png"), "trip/" + long_stem + "猫.jpeg", "image/png"}});
  ASSERT_TRUE(up);
  ASSERT_EQ(up->status, 200) << up->body;
  const json uj = json::parse(up->body);
  ASSERT_EQ(uj["uploaded"].size(), 2u) << uj;
  const std::string id0 = std::to_string(uj["uploaded"][0]["id"].get<int64_t>());
  const std::string id1 = std::to_string(uj["uploaded"][1]["id"].get<int64_t>());

  // Stored names are valid UTF-8 (the overlong '/' split nothing) and read as
  // the upload reply showed them.
  const std::string r3 = "\uFFFD\uFFFD\uFFFD", r2 = "\uFFFD\uFFFD";
  json p0 = s.get("/api/photos/" + id0);
  EXPECT_EQ(p0["filename"], "café " + r3 + " " + r2 + ".png");
  EXPECT_EQ(p0["folder"], "");
  EXPECT_EQ(p0["filename"], uj["uploaded"][0]["filename"]);
  json p1 = s.get("/api/photos/" + id1);
  const std::string f1 = p1["filename"];
  EXPECT_EQ(p1["folder"], "trip");
  EXPECT_LE(f1.size(), 255u);
  EXPECT_EQ(f1, std::string(250, 'x') + ".jpeg");  // the stem is cut, the extension kept

  // Ranges on the real original.
  const std::string orig = "/api/photos/" + id0 + "/original";
  auto r = s.client->Get(orig, {{"Range", "bytes=99999999-"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 416);
  EXPECT_EQ(r->get_header_value("Content-Range"), "bytes */" + size);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "invalid_argument");
  r = s.client->Get(orig, {{"Range", "bytes=-100"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, png.substr(png.size() - 100));
  r = s.client->Get(orig, {{"Range", "bytes=10-19"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->get_header_value("Content-Range"), "bytes 10-19/" + size);
  EXPECT_EQ(r->body, png.substr(10, 10));
  r = s.client->Get(orig);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, png);

  // A wrong method on a real route: 405 with Allow.
  auto m = s.client->Post("/api/health", "", "text/plain");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 405);
  EXPECT_EQ(m->get_header_value("Allow"), "GET, HEAD");
  EXPECT_EQ(json::parse(m->body)["error"]["code"], "invalid_argument");

  // Dates are checked (400) before the missing model is (503).
  EXPECT_EQ(s.get("/api/search?q=coffee&date_from=2023-13-45", 400)["error"]["code"], "invalid_argument");
  EXPECT_EQ(s.get("/api/search?q=coffee&date_from=2024&date_to=2023-06", 400)["error"]["code"],
            "invalid_argument");
  EXPECT_EQ(s.get("/api/search?q=coffee&date_from=2023-02-28&date_to=2024-02-29", 503)["error"]["code"],
            "unavailable");
}

TEST_F(ServerIntegration, WithoutModelUploadsWorkAndSearchSaysWhy) {
  AlbumServer s(data_, /*model=*/"");
  json h = s.get("/api/health");
  EXPECT_TRUE(h["model"].is_null());
  httplib::MultipartFormDataItems items = {
      {"files", image_bytes("coffee.png"), "coffee.png", "image/png"}};
  auto r = s.client->Post("/api/photos", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["uploaded"].size(), 1u);
  EXPECT_EQ(s.get("/api/photos")["total"], 1);
  json j = s.get("/api/search?q=coffee", 503);
  EXPECT_EQ(j["error"]["code"], "unavailable");
}

}  // namespace
}  // namespace sa
