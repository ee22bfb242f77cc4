// Per-user libraries (issue 12) against the real album and the real HTTP
// server with sign-in on: user A never sees user B's photos through any route
// (list, detail, original/thumbnail/preview, search in both modes, similar,
// analyze, delete, jobs, timeline, folders); another user's id is 404, never
// 403; the same bytes uploaded by both are two photos sharing one file, which
// B's delete leaves to A; --auth off acts as the first admin; and the CLI's
// `import --user NAME`.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "app/album.h"
#include "auth/accounts.h"
#include "core/file_util.h"
#include "server/http_server.h"
#include "owners_util.h"
#include "store/store.h"
#include "store/users.h"

extern char** environ;

namespace sa {
namespace {

using namespace owners_test;

TEST(Owners, NoRouteShowsAnotherUsersPhotos) {
  TwoUsers s;
  auto a = s.upload(s.alice, {"alice-trip/chelsea.png", "alice-trip/coffee.png", "alice-trip/camera.png",
                              "alice-trip/chelsea_small.png", "alice-trip/coffee_q90.jpg"});
  // bob's chelsea.png has the same bytes as alice's.
  auto b = s.upload(s.bob, {"bob-trip/chelsea.png", "bob-trip/pokemon.jpeg"});
  ASSERT_EQ(a.size(), 5u);
  ASSERT_EQ(b.size(), 2u);
  s.wait_jobs(s.alice);
  s.wait_jobs(s.bob);
  std::set<int64_t> mine_a, mine_b;
  for (auto& [n, id] : a) mine_a.insert(id);
  for (auto& [n, id] : b) mine_b.insert(id);
  ASSERT_TRUE(disjoint(mine_a, mine_b)) << "the same bytes of two users must be two photos";

  // Lists (both forms), totals, health.
  EXPECT_EQ(s.ids_of(s.get(s.alice, "/api/photos?per_page=100")["items"]), mine_a);
  EXPECT_EQ(s.ids_of(s.get(s.bob, "/api/photos?per_page=100")["items"]), mine_b);
  EXPECT_EQ(s.get(s.bob, "/api/photos")["total"], 2);
  EXPECT_EQ(s.ids_of(s.get(s.bob, "/api/photos?before=1000000")["items"]), mine_b);
  EXPECT_EQ(s.get(s.bob, "/api/photos?before=1000000")["total"], 2);
  EXPECT_EQ(s.get(s.bob, "/api/health")["photos"], 2);

  // Jobs: each user's own embed jobs only.
  json ja = s.get(s.alice, "/api/jobs"), jb = s.get(s.bob, "/api/jobs");
  EXPECT_EQ(ja["done"].get<int64_t>() + ja["failed"].get<int64_t>(), 5);
  EXPECT_EQ(jb["done"].get<int64_t>() + jb["failed"].get<int64_t>(), 2);

  // Timeline and folders.
  int64_t months_b = 0;
  for (const auto& m : s.get(s.bob, "/api/timeline")) months_b += m["count"].get<int64_t>();
  EXPECT_EQ(months_b, 2);
  json fb = s.get(s.bob, "/api/folders");
  ASSERT_EQ(fb.size(), 1u) << fb.dump();
  EXPECT_EQ(fb[0]["folder"], "bob-trip");
  EXPECT_EQ(fb[0]["count"], 2);

  // Every per-photo route: another user's id is 404 (as an id that never was).
  for (int64_t id : mine_a) {
    const std::string p = "/api/photos/" + std::to_string(id);
    json e = s.get(s.bob, p, 404);
    EXPECT_EQ(e["error"]["code"], "not_found") << e.dump();
    for (const char* sub : {"/thumbnail", "/original", "/preview", "/similar"}) s.get(s.bob, p + sub, 404);
    EXPECT_EQ(s.status(s.client->Post(p + "/analyze", s.bob, "", "application/json")), 404);
    EXPECT_EQ(s.status(s.client->Delete(p, s.bob)), 404);
    s.get(s.alice, p);  // still there for its owner
  }
  // The owner reaches them.
  const int64_t b_chelsea = b.at("bob-trip/chelsea.png");
  const int64_t a_chelsea = a.at("alice-trip/chelsea.png");
  s.get(s.bob, "/api/photos/" + std::to_string(b_chelsea));
  for (const char* sub : {"/thumbnail", "/original", "/preview"}) {
    s.get(s.bob, "/api/photos/" + std::to_string(b_chelsea) + sub);
  }

  // Similar: never another user's photo.
  json sim_b = s.get(s.bob, "/api/photos/" + std::to_string(b_chelsea) + "/similar?limit=50");
  std::set<int64_t> sim_ids = s.ids_of(sim_b["items"]);
  EXPECT_EQ(sim_ids, std::set<int64_t>{b.at("bob-trip/pokemon.jpeg")});
  json sim_a = s.get(s.alice, "/api/photos/" + std::to_string(a_chelsea) + "/similar?limit=50");
  EXPECT_EQ(s.ids_of(sim_a["items"]).size(), 4u);
  EXPECT_TRUE(disjoint(s.ids_of(sim_a["items"]), mine_b));

  // Search, both modes, everything (min_score=0): exactly the user's own photos.
  for (const char* mode : {"clip", "hybrid"}) {
    for (const char* q : {"猫", "一只猫", "chelsea", "咖啡"}) {
      const std::string path = std::string("/api/search?min_score=0&limit=100&mode=") + mode +
                               "&q=" + httplib::detail::encode_query_param(q);
      EXPECT_EQ(s.ids_of(s.get(s.bob, path)["items"]), mine_b) << mode << " " << q;
      EXPECT_EQ(s.ids_of(s.get(s.alice, path)["items"]), mine_a) << mode << " " << q;
      // The filter is applied before the top k: bob's best photo is his top 1
      // even though alice's photos rank above it overall.
      json top = s.get(s.bob, std::string("/api/search?min_score=0&limit=1&mode=") + mode + "&q=" +
                                 httplib::detail::encode_query_param(q));
      json all = s.get(s.bob, path);
      ASSERT_EQ(top["items"].size(), 1u) << mode << " " << q;
      EXPECT_EQ(top["items"][0]["id"], all["items"][0]["id"]);
    }
  }
  // A keyword only bob's photo has (its folder name) finds nothing for alice.
  json kw = s.get(s.alice, "/api/search?mode=hybrid&min_score=0&q=bob-trip");
  EXPECT_TRUE(disjoint(s.ids_of(kw["items"]), mine_b));

  // Analyze: bob's own photo is not 404 (503: no VLM here), alice's was above.
  EXPECT_EQ(s.status(s.client->Post("/api/photos/" + std::to_string(b_chelsea) + "/analyze", s.bob, "",
                                    "application/json")),
            503);
}

TEST(Owners, SameBytesAreTwoPhotosAndADeleteLeavesTheOtherOwnersFile) {
  TwoUsers s;
  auto a = s.upload(s.alice, {"a/chelsea.png"});
  auto b = s.upload(s.bob, {"b/chelsea.png"});
  const int64_t ida = a.at("a/chelsea.png"), idb = b.at("b/chelsea.png");
  ASSERT_NE(ida, idb);
  // The same owner again: a duplicate of their own photo.
  httplib::MultipartFormDataItems again = {{"files", image_bytes("chelsea.png"), "x/chelsea.png", "image/png"}};
  auto r = s.client->Post("/api/photos", s.alice, again);
  ASSERT_TRUE(r && r->status == 200);
  json j = json::parse(r->body);
  EXPECT_EQ(j["uploaded"][0]["id"], ida);
  EXPECT_EQ(j["uploaded"][0]["duplicate"], true);
  const std::string pa = "/api/photos/" + std::to_string(ida);
  const std::string pb = "/api/photos/" + std::to_string(idb);
  // Both previews made (one file, by hash).
  s.get(s.alice, pa + "/preview");
  s.get(s.bob, pb + "/preview");
  s.wait_jobs(s.bob);

  // Deleted for good (DELETE alone moves it to the trash, files untouched).
  ASSERT_EQ(s.status(s.client->Delete(pb + "?permanent=1", s.bob)), 200);
  s.get(s.bob, pb, 404);
  // alice's photo and every file of it are intact and readable.
  const std::string bytes = image_bytes("chelsea.png");
  auto orig = s.client->Get(pa + "/original", s.alice);
  ASSERT_TRUE(orig);
  EXPECT_EQ(orig->status, 200);
  EXPECT_EQ(orig->body, bytes);
  auto thumb = s.client->Get(pa + "/thumbnail", s.alice);
  ASSERT_TRUE(thumb);
  EXPECT_EQ(thumb->status, 200);
  EXPECT_FALSE(thumb->body.empty());
  EXPECT_EQ(s.status(s.client->Get(pa + "/preview", s.alice)), 200);
  // Her search still finds it (her vector untouched by his delete).
  s.wait_jobs(s.alice);
  json hits = s.get(s.alice, "/api/search?min_score=0&q=" + httplib::detail::encode_query_param("猫"));
  EXPECT_EQ(s.ids_of(hits["items"]), std::set<int64_t>{ida});

  // The last owner's delete removes the files.
  const auto p = s.album->get_photo(ida);
  ASSERT_TRUE(p.ok());
  const fs::path originals = fs::path(s.root) / "album" / "originals";
  auto count_files = [&] {
    int n = 0;
    for (auto& e : fs::recursive_directory_iterator(originals))
      if (e.is_regular_file()) ++n;
    return n;
  };
  EXPECT_EQ(count_files(), 1);
  ASSERT_EQ(s.status(s.client->Delete(pa + "?permanent=1", s.alice)), 200);
  EXPECT_EQ(count_files(), 0);
}

// --auth off (single-user local mode): the server acts as the first admin
// once accounts exist -- her photos, and new ones become hers.
TEST(Owners, AuthOffActsAsTheFirstAdmin) {
  TwoUsers s(/*auth=*/false);
  httplib::Headers nobody;
  auto anon = s.upload(nobody, {"x/coffee.png"});
  ASSERT_EQ(anon.size(), 1u);
  const int64_t id = anon.begin()->second;
  EXPECT_EQ(s.album->get_photo(id)->owner_id, s.alice_id);
  // A photo of bob's (added through the album for him) is not there for this mode.
  auto bobs = s.album->add_file("y/camera.png", image_bytes("camera.png"), OwnerScope{s.bob_id});
  ASSERT_TRUE(bobs.ok());
  EXPECT_EQ(s.ids_of(s.get(nobody, "/api/photos")["items"]), std::set<int64_t>{id});
  s.get(nobody, "/api/photos/" + std::to_string(bobs->id), 404);
}

// `import --user NAME`: required with several users, implied with one.
TEST(Owners, CliImportIntoAUsersLibrary) {
  const std::string root = temp_root("cli");
  const std::string data = root + "/data", photos = root + "/photos";
  fs::create_directories(photos);
  fs::copy_file(kData + "/images/coffee.png", photos + "/coffee.png");
  auto run = [&](std::vector<std::string> args, const std::string& input = "") {
    static int n = 0;
    const std::string in = root + "/in" + std::to_string(n), err = root + "/err" + std::to_string(n++);
    EXPECT_TRUE(write_file_atomic(in, input).ok());
    std::vector<std::string> argv_s = {SA_BINARY};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& x : argv_s) argv.push_back(x.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    EXPECT_EQ(posix_spawn(&pid, argv_s[0].c_str(), &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int st = 0;
    ::waitpid(pid, &st, 0);
    auto e = read_file(err);
    return std::make_pair(WIFEXITED(st) ? WEXITSTATUS(st) : -1, e.ok() ? *e : std::string());
  };
  ASSERT_EQ(run({"user", "add", "mama", "--admin", "--password-stdin", "--data-dir", data}, "family-password\n").first, 0);
  // One user: the import is hers without saying so.
  auto one = run({"import", "--data-dir", data, photos});
  ASSERT_EQ(one.first, 0) << one.second;
  ASSERT_EQ(run({"user", "add", "kid", "--password-stdin", "--data-dir", data}, "kid-password\n").first, 0);
  // Two users: --user is required (one line on stderr), and names the library.
  auto missing = run({"import", "--data-dir", data, photos});
  EXPECT_NE(missing.first, 0);
  EXPECT_NE(missing.second.find("--user"), std::string::npos) << missing.second;
  auto unknown = run({"import", "--data-dir", data, "--user", "nobody", photos});
  EXPECT_NE(unknown.first, 0);
  auto kid = run({"import", "--data-dir", data, "--user", "kid", photos});
  ASSERT_EQ(kid.first, 0) << kid.second;
  // The same file is now one photo of each user.
  auto users = UserStore::open(data + "/album.db");
  ASSERT_TRUE(users.ok());
  const int64_t mama = (*users)->get_user_by_name("mama")->id, kid_id = (*users)->get_user_by_name("kid")->id;
  auto store = Store::open(data + "/album.db");
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*(*store)->count_photos(OwnerScope{mama}), 1);
  EXPECT_EQ(*(*store)->count_photos(OwnerScope{kid_id}), 1);
  EXPECT_EQ(*(*store)->count_photos(), 2);
  std::error_code ec;
  fs::remove_all(root, ec);
}

}  // namespace
}  // namespace sa
