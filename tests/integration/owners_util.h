// Shared by the per-user library tests (owners_test.cpp, sharing_test.cpp):
// the real album with the tiny CLIP model, its accounts (alice the first
// admin, bob and carol users) and the real server, each user with a token.
#pragma once

#include <unistd.h>

#include <httplib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "app/album.h"
#include "auth/accounts.h"
#include "core/file_util.h"
#include "server/http_server.h"
#include "store/users.h"

namespace sa::owners_test {

using nlohmann::json;
namespace fs = std::filesystem;

inline const std::string kData = SA_TEST_DATA;
inline const std::string kModel = kData + "/clip/tiny-b16/hf-safetensors";

inline std::string image_bytes(const std::string& file) {
  auto b = read_file(kData + "/images/" + file);
  EXPECT_TRUE(b.ok()) << file;
  return b.ok() ? *b : "";
}

inline std::string temp_root(const std::string& tag) {
  const fs::path p = fs::temp_directory_path() /
                     ("sa_owners_" + tag + "_" + std::to_string(::getpid()) + "_" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

// The album, its accounts (alice the first admin, bob a user) and a server
// with sign-in on. Each user talks through a Bearer token.
class TwoUsers {
 public:
  explicit TwoUsers(bool auth = true) {
    root = temp_root(auth ? "on" : "off");
    Config cfg;
    cfg.data_dir = root + "/album";
    cfg.model = kModel;
    cfg.threads = 2;
    auto a = Album::open(cfg);
    EXPECT_TRUE(a.ok()) << a.status().to_string();
    album = std::move(*a);
    users = std::move(UserStore::open(cfg.data_dir + "/album.db").value());
    accounts = std::make_unique<Accounts>(*users);
    auto al = accounts->add_user("alice", "alice-password", true);
    auto bo = accounts->add_user("bob", "bob-password", false);
    EXPECT_TRUE(al.ok() && bo.ok());
    alice_id = al->id;
    bob_id = bo->id;
    carol_id = accounts->add_user("carol", "carol-password", false).value().id;
    carol = {{"Authorization", "Bearer " + accounts->create_token(carol_id, "t").value().token}};
    alice = {{"Authorization", "Bearer " + accounts->create_token(alice_id, "t").value().token}};
    bob = {{"Authorization", "Bearer " + accounts->create_token(bob_id, "t").value().token}};
    ServerOptions opt;
    opt.auth = auth;
    opt.port = 0;
    server = std::make_unique<HttpServer>(*album, opt, accounts.get());
    Status s = server->start();
    EXPECT_TRUE(s.ok()) << s.to_string();
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    client->set_read_timeout(60);
  }
  ~TwoUsers() {
    server.reset();
    album.reset();
    accounts.reset();
    users.reset();
    std::error_code ec;
    fs::remove_all(root, ec);
  }

  // GET as `who`; the status must be `want`.
  json get(const httplib::Headers& who, const std::string& path, int want = 200) {
    auto r = client->Get(path, who);
    EXPECT_TRUE(r) << path;
    if (!r) return {};
    EXPECT_EQ(r->status, want) << path << ": " << r->body;
    return json::parse(r->body, nullptr, false);
  }
  int status(const httplib::Result& r) { return r ? r->status : -1; }

  // Uploads files (relative names) as `who`: name -> id.
  std::map<std::string, int64_t> upload(const httplib::Headers& who, const std::vector<std::string>& names) {
    httplib::MultipartFormDataItems items;
    for (const auto& n : names) {
      items.push_back({"files", image_bytes(fs::path(n).filename().string()), n, "application/octet-stream"});
    }
    auto r = client->Post("/api/photos", who, items);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
    std::map<std::string, int64_t> out;
    if (!r) return out;
    json j = json::parse(r->body);
    EXPECT_TRUE(j["rejected"].empty()) << r->body;
    for (const auto& u : j["uploaded"]) out[u["filename"]] = u["id"];
    return out;
  }
  void wait_jobs(const httplib::Headers& who) {
    for (int i = 0; i < 600; ++i) {
      json j = get(who, "/api/jobs");
      if (j["pending"] == 0 && j["running"] == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "jobs did not finish";
  }
  std::set<int64_t> ids_of(const json& items) {
    std::set<int64_t> out;
    for (const auto& it : items) out.insert(it["id"].get<int64_t>());
    return out;
  }

  std::string root;
  std::unique_ptr<Album> album;
  std::unique_ptr<UserStore> users;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<httplib::Client> client;
  int64_t alice_id = 0, bob_id = 0, carol_id = 0;
  httplib::Headers alice, bob, carol;
};

inline bool disjoint(const std::set<int64_t>& a, const std::set<int64_t>& b) {
  for (int64_t x : a)
    if (b.count(x)) return false;
  return true;
}

}  // namespace sa::owners_test
