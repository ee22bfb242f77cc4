// The organising routes on a real album behind the real HTTP server (tiny
// Chinese-CLIP model, SQLite, files on disk): trash, favourites, albums, batch
// atomicity, ZIP download byte-identical to the originals, duplicates; wrong
// ids and bodies answer with the JSON error shape.
#include <httplib.h>
#include <minizip/unzip.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
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

std::string image_bytes(const std::string& file) {
  auto b = read_file(kData + "/images/" + file);
  EXPECT_TRUE(b.ok()) << file;
  return b.ok() ? *b : "";
}

class OrganiseRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("sa_org_integ_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    Config cfg;
    cfg.data_dir = (root_ / "album").string();
    cfg.model = kData + "/clip/tiny-b16/hf-safetensors";
    cfg.threads = 2;
    auto a = Album::open(cfg);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    album_ = std::move(*a);
    ServerOptions opt;
    opt.port = 0;
    opt.web_dir = std::string(SA_SOURCE_DIR) + "/web";
    opt.auth = false;  // single-user mode; the owner rules are tested in owners' tests
    server_ = std::make_unique<HttpServer>(*album_, opt);
    ASSERT_TRUE(server_->start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(60);

    // Two photos share the name "cat.png" (different folders): the ZIP renames one.
    httplib::MultipartFormDataItems items;
    for (const auto& [file, name] : std::vector<std::pair<std::string, std::string>>{
             {"chelsea.png", "a/cat.png"}, {"chelsea_small.png", "b/cat.png"},
             {"coffee.png", "咖啡.png"}, {"camera.png", "camera.png"}, {"pokemon.jpeg", "pokemon.jpeg"}}) {
      items.push_back({"files", image_bytes(file), name, "application/octet-stream"});
      file_of_[name] = file;
    }
    auto r = client_->Post("/api/photos", items);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const json reply = json::parse(r->body);
    for (const auto& u : reply["uploaded"]) id_[u["filename"].get<std::string>()] = u["id"].get<int64_t>();
    ASSERT_EQ(id_.size(), 5u) << r->body;
    ASSERT_TRUE(album_->wait_idle(120));
  }
  void TearDown() override {
    server_.reset();
    album_.reset();
    fs::remove_all(root_);
  }

  json call(const std::string& method, const std::string& path, const std::string& body, int status) {
    httplib::Result r = method == "GET"      ? client_->Get(path.c_str())
                        : method == "POST"   ? client_->Post(path.c_str(), body, "application/json")
                        : method == "PATCH"  ? client_->Patch(path.c_str(), body, "application/json")
                        : method == "DELETE" ? client_->Delete(path.c_str(), body, "application/json")
                                             : client_->Put(path.c_str(), body, "application/json");
    EXPECT_TRUE(r) << method << " " << path;
    if (!r) return {};
    EXPECT_EQ(r->status, status) << method << " " << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }
  json get(const std::string& path, int status = 200) { return call("GET", path, "", status); }
  std::vector<int64_t> listed(const std::string& path) {
    std::vector<int64_t> ids;
    const json j = get(path);
    for (const auto& it : j["items"]) ids.push_back(it["id"]);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  std::string ids_json(std::initializer_list<int64_t> ids) { return json{{"ids", ids}}.dump(); }
  std::string sid(const std::string& name) { return std::to_string(id_.at(name)); }

  fs::path root_;
  std::unique_ptr<Album> album_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<httplib::Client> client_;
  std::map<std::string, int64_t> id_;
  std::map<std::string, std::string> file_of_;
};

void expect_error(const json& j, const std::string& code) {
  ASSERT_TRUE(j.contains("error")) << j.dump();
  EXPECT_EQ(j["error"]["code"], code) << j.dump();
  EXPECT_TRUE(j["error"]["message"].is_string());
}

TEST_F(OrganiseRoutes, TrashRestoreEmptyAndPermanentDelete) {
  const int64_t cat = id_["a/cat.png"], cup = id_["咖啡.png"];
  json d = call("DELETE", "/api/photos/" + std::to_string(cat), "", 200);
  EXPECT_EQ(d["trashed"], true);
  EXPECT_EQ(get("/api/photos")["total"], 4);
  json t = get("/api/trash");
  ASSERT_EQ(t["total"], 1);
  EXPECT_EQ(t["items"][0]["id"], cat);
  EXPECT_TRUE(t["items"][0]["trashed_at"].is_string());
  EXPECT_EQ(t["retention_days"], 30);
  // Details and thumbnail stay readable (the trash view shows them).
  EXPECT_TRUE(get("/api/photos/" + std::to_string(cat))["trashed_at"].is_string());
  // Not in search or similar.
  const json found = get("/api/search?q=%E7%8C%AB&limit=50&min_score=0");
  EXPECT_EQ(found["items"].size(), 4u);
  for (const auto& it : found["items"]) EXPECT_NE(it["id"], cat);
  const json sim = get("/api/photos/" + sid("b/cat.png") + "/similar");
  EXPECT_EQ(sim["items"].size(), 3u);
  for (const auto& it : sim["items"]) EXPECT_NE(it["id"], cat);
  // A second trash of the same photo, and unknown ids: 404.
  expect_error(call("DELETE", "/api/photos/" + std::to_string(cat), "", 404), "not_found");
  expect_error(call("DELETE", "/api/photos/999", "", 404), "not_found");
  expect_error(call("DELETE", "/api/photos/1?permanent=2", "", 400), "invalid_argument");

  // Restore: all or nothing.
  json bad = call("POST", "/api/trash/restore", ids_json({cat, 999}), 404);
  expect_error(bad, "not_found");
  EXPECT_EQ(bad["not_found"], json::array({999}));
  EXPECT_EQ(get("/api/trash")["total"], 1);
  expect_error(call("POST", "/api/trash/restore", "{}", 400), "invalid_argument");
  expect_error(call("POST", "/api/trash/restore", "nope", 400), "invalid_argument");
  call("POST", "/api/trash/restore", ids_json({cat}), 200);
  EXPECT_EQ(get("/api/photos")["total"], 5);

  // Empty: gone from the trash at once, files removed by the purge.
  call("DELETE", "/api/photos/" + std::to_string(cup), "", 200);
  const std::string orig = "/api/photos/" + std::to_string(cup) + "/original";
  ASSERT_EQ(client_->Get(orig.c_str())->status, 200);
  EXPECT_EQ(call("DELETE", "/api/trash", "", 200)["emptied"], 1);
  EXPECT_EQ(get("/api/trash")["total"], 0);
  int status = 200;
  for (int i = 0; i < 100 && status != 404; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = client_->Get(orig.c_str())->status;
  }
  EXPECT_EQ(status, 404);

  // ?permanent=1 skips the trash.
  call("DELETE", "/api/photos/" + sid("camera.png") + "?permanent=1", "", 200);
  get("/api/photos/" + sid("camera.png"), 404);
  EXPECT_EQ(get("/api/trash")["total"], 0);
}

TEST_F(OrganiseRoutes, FavouritesFilterListAndSearch) {
  const int64_t poke = id_["pokemon.jpeg"];
  json p = call("PATCH", "/api/photos/" + std::to_string(poke), R"({"favorite":true})", 200);
  EXPECT_EQ(p["favorite"], true);
  EXPECT_EQ(listed("/api/photos?favorite=1"), std::vector<int64_t>{poke});
  EXPECT_EQ(listed("/api/search?q=%E7%8C%AB&favorite=1&min_score=0"), std::vector<int64_t>{poke});
  EXPECT_EQ(get("/api/photos")["items"].size(), 5u);
  expect_error(call("PATCH", "/api/photos/" + std::to_string(poke), R"({"favorite":"yes"})", 400),
               "invalid_argument");
  expect_error(call("PATCH", "/api/photos/999", R"({"favorite":true})", 404), "not_found");
  expect_error(get("/api/photos?favorite=2", 400), "invalid_argument");
  call("PATCH", "/api/photos/" + std::to_string(poke), R"({"favorite":false})", 200);
  EXPECT_TRUE(listed("/api/photos?favorite=1").empty());
}

TEST_F(OrganiseRoutes, AlbumsCreateAddListSearchRenameDelete) {
  json a = call("POST", "/api/albums", R"({"name":"家里的猫"})", 201);
  const int64_t album = a["id"];
  EXPECT_EQ(a["photo_count"], 0);
  EXPECT_TRUE(a["cover_photo_id"].is_null());
  expect_error(call("POST", "/api/albums", R"({"name":"  "})", 400), "invalid_argument");
  expect_error(call("POST", "/api/albums", R"({"title":"x"})", 400), "invalid_argument");
  const std::string base = "/api/albums/" + std::to_string(album);
  const int64_t c1 = id_["a/cat.png"], c2 = id_["b/cat.png"];

  // Adding is all or nothing.
  json bad = call("POST", base + "/photos", ids_json({c1, 999}), 404);
  EXPECT_EQ(bad["not_found"], json::array({999}));
  EXPECT_EQ(get(base)["photo_count"], 0);
  call("POST", base + "/photos", ids_json({c1, c2}), 200);
  EXPECT_EQ(get(base)["photo_count"], 2);
  EXPECT_EQ(listed(base + "/photos"), (std::vector<int64_t>{c1, c2}));
  EXPECT_EQ(get(base + "/photos?per_page=1")["items"].size(), 1u);
  EXPECT_EQ(get(base + "/photos?per_page=1")["total"], 2);
  EXPECT_EQ(listed("/api/photos?album=" + std::to_string(album)), (std::vector<int64_t>{c1, c2}));
  EXPECT_EQ(listed("/api/search?q=%E5%92%96%E5%95%A1&min_score=0&album=" + std::to_string(album)),
            (std::vector<int64_t>{c1, c2}));
  json albums = get("/api/albums");
  ASSERT_EQ(albums["items"].size(), 1u);
  EXPECT_EQ(albums["items"][0]["name"], "家里的猫");
  EXPECT_EQ(albums["items"][0]["cover_url"], "/api/photos/" + std::to_string(c2) + "/thumbnail");

  json renamed = call("PATCH", base, json{{"name", "猫"}, {"cover_photo_id", c1}}.dump(), 200);
  EXPECT_EQ(renamed["name"], "猫");
  EXPECT_EQ(renamed["cover_photo_id"], c1);
  expect_error(call("PATCH", base, json{{"cover_photo_id", id_["camera.png"]}}.dump(), 400), "invalid_argument");
  expect_error(call("PATCH", base, "{}", 400), "invalid_argument");

  // A trashed photo leaves the album at once.
  call("DELETE", "/api/photos/" + std::to_string(c1), "", 200);
  EXPECT_EQ(listed(base + "/photos"), std::vector<int64_t>{c2});
  call("POST", "/api/trash/restore", ids_json({c1}), 200);

  call("DELETE", base + "/photos", ids_json({c2}), 200);
  EXPECT_EQ(listed(base + "/photos"), std::vector<int64_t>{c1});

  // Unknown albums.
  for (const char* p : {"/api/albums/999", "/api/albums/abc"}) expect_error(get(p, 404), "not_found");
  expect_error(get("/api/albums/999/photos", 404), "not_found");
  expect_error(call("POST", "/api/albums/999/photos", ids_json({c1}), 404), "not_found");
  expect_error(get("/api/search?q=x&album=999", 404), "not_found");

  // Deleting the album keeps the photos.
  call("DELETE", base, "", 200);
  get(base, 404);
  EXPECT_EQ(get("/api/photos")["total"], 5);
}

// 上传到相册: POST /api/photos?album=ID puts every stored file in the album, new
// or already in the library; an unknown album fails before any file is stored.
TEST_F(OrganiseRoutes, UploadIntoAnAlbumAddsNewAndDuplicatePhotos) {
  const int64_t album = call("POST", "/api/albums", R"({"name":"旅行"})", 201)["id"];
  const std::string base = "/api/albums/" + std::to_string(album);
  httplib::MultipartFormDataItems items = {
      {"files", image_bytes("coffee.png"), "again.png", "application/octet-stream"},  // a duplicate
      {"files", image_bytes("chelsea_exif6.jpg"), "cat.jpg", "application/octet-stream"}};  // new
  auto r = client_->Post(("/api/photos?album=" + std::to_string(album)).c_str(), items);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const json reply = json::parse(r->body);
  ASSERT_EQ(reply["uploaded"].size(), 2u) << r->body;
  EXPECT_TRUE(reply["uploaded"][0]["duplicate"].get<bool>());
  EXPECT_EQ(reply["uploaded"][0]["id"], id_["咖啡.png"]);
  const int64_t dog = reply["uploaded"][1]["id"];
  EXPECT_EQ(listed(base + "/photos"), (std::vector<int64_t>{id_["咖啡.png"], dog}));
  EXPECT_EQ(get("/api/photos")["total"], 6);

  // An unknown or malformed album: 404 / 400, and nothing is stored.
  httplib::MultipartFormDataItems one = {{"files", image_bytes("coffee_q90.jpg"), "x.jpg", "application/octet-stream"}};
  auto bad = client_->Post("/api/photos?album=999", one);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 404) << bad->body;
  bad = client_->Post("/api/photos?album=abc", one);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_EQ(get("/api/photos")["total"], 6);
}

TEST_F(OrganiseRoutes, BatchIsAtomicAndSaysWhatWasNotFound) {
  const int64_t a = id_["a/cat.png"], b = id_["camera.png"];
  json bad = call("POST", "/api/photos/batch", json{{"action", "trash"}, {"ids", {a, 12345, b}}}.dump(), 404);
  expect_error(bad, "not_found");
  EXPECT_EQ(bad["not_found"], json::array({12345}));
  EXPECT_EQ(get("/api/photos")["total"], 5);

  json ok = call("POST", "/api/photos/batch", json{{"action", "favorite"}, {"ids", {a, b}}}.dump(), 200);
  EXPECT_EQ(ok["changed"], 2);
  EXPECT_EQ(ok["not_found"], json::array());
  call("POST", "/api/photos/batch", json{{"action", "trash"}, {"ids", {a, b}}}.dump(), 200);
  EXPECT_EQ(get("/api/trash")["total"], 2);
  call("POST", "/api/photos/batch", json{{"action", "restore"}, {"ids", {a, b}}}.dump(), 200);
  EXPECT_EQ(get("/api/trash")["total"], 0);

  json alb = call("POST", "/api/albums", R"({"name":"x"})", 201);
  call("POST", "/api/photos/batch",
       json{{"action", "add_to_album"}, {"ids", {a, b}}, {"album_id", alb["id"]}}.dump(), 200);
  EXPECT_EQ(get("/api/albums/" + std::to_string(alb["id"].get<int64_t>()))["photo_count"], 2);
  expect_error(call("POST", "/api/photos/batch", json{{"action", "add_to_album"}, {"ids", {a}}}.dump(), 400),
               "invalid_argument");
  expect_error(call("POST", "/api/photos/batch",
                    json{{"action", "add_to_album"}, {"ids", {a}}, {"album_id", 999}}.dump(), 404),
               "not_found");
  expect_error(call("POST", "/api/photos/batch", json{{"action", "explode"}, {"ids", {a}}}.dump(), 400),
               "invalid_argument");
  expect_error(call("POST", "/api/photos/batch", json{{"action", "trash"}, {"ids", json::array()}}.dump(), 400),
               "invalid_argument");
  expect_error(call("POST", "/api/photos/batch", json{{"action", "trash"}, {"ids", {"1"}}}.dump(), 400),
               "invalid_argument");
}

TEST_F(OrganiseRoutes, ZipDownloadIsByteIdenticalWithNamesKept) {
  std::string ids;
  for (const auto& [name, id] : id_) ids += (ids.empty() ? "" : ",") + std::to_string(id);
  auto r = client_->Get(("/api/photos/download?ids=" + ids).c_str());
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/zip");
  EXPECT_NE(r->get_header_value("Content-Disposition").find("attachment"), std::string::npos);
  const std::string zip_path = (root_ / "dl.zip").string();
  ASSERT_TRUE(write_file_atomic(zip_path, r->body).ok());
  std::map<std::string, std::string> got;
  unzFile uf = unzOpen64(zip_path.c_str());
  ASSERT_NE(uf, nullptr);
  for (int rc = unzGoToFirstFile(uf); rc == UNZ_OK; rc = unzGoToNextFile(uf)) {
    char name[512];
    unz_file_info64 info;
    ASSERT_EQ(unzGetCurrentFileInfo64(uf, &info, name, sizeof name, nullptr, 0, nullptr, 0), UNZ_OK);
    ASSERT_EQ(unzOpenCurrentFile(uf), UNZ_OK);
    std::string data(info.uncompressed_size, '\0');
    ASSERT_EQ(unzReadCurrentFile(uf, data.data(), static_cast<unsigned>(data.size())), static_cast<int>(data.size()));
    ASSERT_EQ(unzCloseCurrentFile(uf), UNZ_OK);
    got[name] = data;
  }
  unzClose(uf);
  ASSERT_EQ(got.size(), 5u);
  ASSERT_TRUE(got.count("cat.png") && got.count("cat (1).png") && got.count("咖啡.png"));
  EXPECT_TRUE(got["咖啡.png"] == image_bytes("coffee.png"));
  EXPECT_TRUE(got["camera.png"] == image_bytes("camera.png"));
  EXPECT_TRUE(got["pokemon.jpeg"] == image_bytes("pokemon.jpeg"));
  // The two cats, in either order.
  const std::string big = image_bytes("chelsea.png"), small = image_bytes("chelsea_small.png");
  EXPECT_TRUE((got["cat.png"] == big && got["cat (1).png"] == small) ||
              (got["cat.png"] == small && got["cat (1).png"] == big));

  // A POST form carries long selections.
  auto p = client_->Post("/api/photos/download", "ids=" + sid("camera.png"), "application/x-www-form-urlencoded");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 200);
  EXPECT_GT(p->body.size(), image_bytes("camera.png").size());

  // Unknown or trashed ids: 404 naming them, before any byte of an archive.
  json bad = get("/api/photos/download?ids=" + sid("camera.png") + ",999", 404);
  expect_error(bad, "not_found");
  EXPECT_EQ(bad["not_found"], json::array({999}));
  call("DELETE", "/api/photos/" + sid("camera.png"), "", 200);
  get("/api/photos/download?ids=" + sid("camera.png"), 404);
  expect_error(get("/api/photos/download", 400), "invalid_argument");
  expect_error(get("/api/photos/download?ids=1,x", 400), "invalid_argument");
}

TEST_F(OrganiseRoutes, DuplicatesRoute) {
  // chelsea.png and chelsea_small.png are the same photo at two sizes: one
  // group at the default threshold, the larger kept.
  json d = get("/api/duplicates");
  ASSERT_TRUE(d["groups"].is_array());
  bool found = false;
  for (const auto& g : d["groups"]) {
    std::vector<int64_t> ids;
    for (const auto& p : g["photos"]) ids.push_back(p["id"]);
    if (std::count(ids.begin(), ids.end(), id_["a/cat.png"]) && std::count(ids.begin(), ids.end(), id_["b/cat.png"])) {
      found = true;
      EXPECT_EQ(g["keep"], id_["a/cat.png"]);  // the larger one
      EXPECT_EQ(g["photos"][0]["id"], id_["a/cat.png"]);
    }
    EXPECT_GE(g["min_similarity"].get<double>(), d["threshold"].get<double>());
  }
  EXPECT_TRUE(found) << d.dump();
  // A low threshold joins more photos.
  const json loose = get("/api/duplicates?threshold=0.5");
  EXPECT_GT(loose["photo_count"].get<int>(), d["photo_count"].get<int>());
  expect_error(get("/api/duplicates?threshold=0", 400), "invalid_argument");
  expect_error(get("/api/duplicates?threshold=abc", 400), "invalid_argument");
}

}  // namespace
}  // namespace sa
