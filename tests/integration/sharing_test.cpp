// Per-user libraries for the organising routes (issue 14 on top of issue 12)
// and album sharing, against the real album and server with sign-in on:
// favourites, batch, trash (list/restore/empty), albums, ZIP download and
// duplicates never reach another user's photos or albums (404 / "not_found"
// in a batch); an album shared as viewer or contributor shows its photos to
// the recipient in the album and in search within the album, nowhere else;
// a viewer changes nothing (403); a contributor's photos stay theirs; the
// owner's delete removes a photo for everyone; leaving ends the share.
#include "owners_util.h"

namespace sa {
namespace {

using namespace owners_test;

std::string ids_body(const std::vector<int64_t>& ids) { return json{{"ids", ids}}.dump(); }

TEST(OwnersOrganise, FavouritesBatchTrashAlbumsZipDuplicatesStayPerUser) {
  TwoUsers s;
  auto a = s.upload(s.alice, {"a/chelsea.png", "a/coffee.png", "a/chelsea_small.png"});
  auto b = s.upload(s.bob, {"b/chelsea.png"});
  const int64_t a1 = a.at("a/chelsea.png"), a2 = a.at("a/coffee.png"), b1 = b.at("b/chelsea.png");
  const std::string pa1 = "/api/photos/" + std::to_string(a1);

  // Favourite: another user's photo is 404 and stays as it was.
  auto fav = s.client->Patch(pa1, s.bob, R"({"favorite":true})", "application/json");
  EXPECT_EQ(s.status(fav), 404);
  EXPECT_EQ(s.get(s.alice, pa1)["favorite"], false);
  // Batch: a mixed list is all or nothing, and names the other user's id as not found.
  auto batch = s.client->Post("/api/photos/batch", s.bob,
                              json{{"action", "favorite"}, {"ids", {b1, a1}}}.dump(), "application/json");
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->status, 404);
  EXPECT_EQ(json::parse(batch->body)["not_found"], json::array({a1}));
  EXPECT_EQ(s.get(s.bob, "/api/photos/" + std::to_string(b1))["favorite"], false);

  // Trash: bob can neither trash, list, restore nor empty alice's.
  EXPECT_EQ(s.status(s.client->Delete(pa1, s.bob)), 404);
  ASSERT_EQ(s.status(s.client->Delete(pa1, s.alice)), 200);
  EXPECT_EQ(s.get(s.bob, "/api/trash")["total"], 0);
  EXPECT_EQ(s.get(s.alice, "/api/trash")["total"], 1);
  EXPECT_EQ(s.status(s.client->Post("/api/trash/restore", s.bob, ids_body({a1}), "application/json")), 404);
  auto emptied = s.client->Delete("/api/trash", s.bob);
  ASSERT_TRUE(emptied);
  EXPECT_EQ(json::parse(emptied->body)["emptied"], 0);
  EXPECT_EQ(s.get(s.alice, "/api/trash")["total"], 1);
  ASSERT_EQ(s.status(s.client->Post("/api/trash/restore", s.alice, ids_body({a1}), "application/json")), 200);

  // Albums: alice's album does not exist for bob.
  auto created = s.client->Post("/api/albums", s.alice, R"({"name":"家"})", "application/json");
  ASSERT_TRUE(created && created->status == 201);
  const int64_t album = json::parse(created->body)["id"];
  const std::string pal = "/api/albums/" + std::to_string(album);
  ASSERT_EQ(s.status(s.client->Post(pal + "/photos", s.alice, ids_body({a1, a2}), "application/json")), 200);
  EXPECT_TRUE(s.get(s.bob, "/api/albums")["items"].empty());
  EXPECT_EQ(s.get(s.alice, "/api/albums")["items"].size(), 1u);
  s.get(s.bob, pal, 404);
  s.get(s.bob, pal + "/photos", 404);
  s.get(s.bob, "/api/photos?album=" + std::to_string(album), 404);
  s.get(s.bob, "/api/search?min_score=0&q=cat&album=" + std::to_string(album), 404);
  EXPECT_EQ(s.status(s.client->Patch(pal, s.bob, R"({"name":"x"})", "application/json")), 404);
  EXPECT_EQ(s.status(s.client->Delete(pal, s.bob)), 404);
  EXPECT_EQ(s.status(s.client->Post(pal + "/photos", s.bob, ids_body({b1}), "application/json")), 404);
  s.get(s.bob, pal + "/shares", 404);
  // bob's own album cannot take alice's photo.
  auto mine = s.client->Post("/api/albums", s.bob, R"({"name":"bob's"})", "application/json");
  ASSERT_TRUE(mine && mine->status == 201);
  const std::string pbl = "/api/albums/" + std::to_string(json::parse(mine->body)["id"].get<int64_t>());
  auto steal = s.client->Post(pbl + "/photos", s.bob, ids_body({a2}), "application/json");
  ASSERT_TRUE(steal);
  EXPECT_EQ(steal->status, 404);
  EXPECT_EQ(json::parse(steal->body)["not_found"], json::array({a2}));
  EXPECT_EQ(s.get(s.alice, pal)["name"], "家");

  // ZIP download: another user's id is a missing photo.
  EXPECT_EQ(s.status(s.client->Get("/api/photos/download?ids=" + std::to_string(a1), s.bob)), 404);
  EXPECT_EQ(s.status(s.client->Get("/api/photos/download?ids=" + std::to_string(b1), s.bob)), 200);

  // Duplicates: bob's group never holds alice's photos (their chelsea.png is his too).
  s.wait_jobs(s.alice);
  s.wait_jobs(s.bob);
  std::set<int64_t> mine_a = {a1, a2, a.at("a/chelsea_small.png")};
  json dup_b = s.get(s.bob, "/api/duplicates?threshold=0.5");
  for (const auto& g : dup_b["items"]) {
    for (const auto& p : g["photos"]) EXPECT_EQ(p["id"], b1) << dup_b.dump();
  }
  json dup_a = s.get(s.alice, "/api/duplicates?threshold=0.5");
  for (const auto& g : dup_a["items"]) {
    for (const auto& p : g["photos"]) EXPECT_TRUE(mine_a.count(p["id"].get<int64_t>())) << dup_a.dump();
  }
}

TEST(OwnersSharing, ViewerSeesTheAlbumOnlyAndChangesNothing) {
  TwoUsers s;
  auto a = s.upload(s.alice, {"a/chelsea.png", "a/coffee.png", "a/camera.png"});
  auto b = s.upload(s.bob, {"b/pokemon.jpeg"});
  const int64_t a1 = a.at("a/chelsea.png"), a2 = a.at("a/coffee.png"), a3 = a.at("a/camera.png");
  const int64_t b1 = b.at("b/pokemon.jpeg");
  auto created = s.client->Post("/api/albums", s.alice, R"({"name":"猫"})", "application/json");
  ASSERT_TRUE(created && created->status == 201);
  const int64_t album = json::parse(created->body)["id"];
  const std::string pal = "/api/albums/" + std::to_string(album);
  ASSERT_EQ(s.status(s.client->Post(pal + "/photos", s.alice, ids_body({a1, a2}), "application/json")), 200);

  auto share = s.client->Post(pal + "/shares", s.alice, R"({"username":"bob","role":"viewer"})", "application/json");
  ASSERT_TRUE(share);
  ASSERT_EQ(share->status, 201) << share->body;
  EXPECT_EQ(json::parse(share->body)["role"], "viewer");
  json shares = s.get(s.alice, pal + "/shares");
  ASSERT_EQ(shares["items"].size(), 1u);
  EXPECT_EQ(shares["items"][0]["username"], "bob");

  // In bob's album list, with his role and its owner.
  json albums = s.get(s.bob, "/api/albums");
  ASSERT_EQ(albums["items"].size(), 1u);
  EXPECT_EQ(albums["items"][0]["role"], "viewer");
  EXPECT_EQ(albums["items"][0]["owner"], "alice");
  EXPECT_EQ(albums["items"][0]["photo_count"], 2);
  EXPECT_EQ(s.ids_of(s.get(s.bob, pal + "/photos")["items"]), (std::set<int64_t>{a1, a2}));
  // Its photos can be viewed (details, files); alice's other photo cannot.
  for (int64_t id : {a1, a2}) {
    const std::string p = "/api/photos/" + std::to_string(id);
    s.get(s.bob, p);
    for (const char* sub : {"/thumbnail", "/original", "/preview"}) s.get(s.bob, p + sub);
  }
  s.get(s.bob, "/api/photos/" + std::to_string(a3), 404);
  s.get(s.bob, "/api/photos/" + std::to_string(a3) + "/thumbnail", 404);
  // Nowhere else: not in his timeline, his search, similar, favourites, trash.
  EXPECT_EQ(s.ids_of(s.get(s.bob, "/api/photos")["items"]), std::set<int64_t>{b1});
  s.wait_jobs(s.alice);
  s.wait_jobs(s.bob);
  for (const char* mode : {"clip", "hybrid"}) {
    const std::string q = std::string("/api/search?min_score=0&limit=50&mode=") + mode + "&q=" +
                          httplib::detail::encode_query_param("猫");
    EXPECT_EQ(s.ids_of(s.get(s.bob, q)["items"]), std::set<int64_t>{b1}) << mode;
    // Search within the album: its photos, whoever owns them.
    EXPECT_EQ(s.ids_of(s.get(s.bob, q + "&album=" + std::to_string(album))["items"]),
              (std::set<int64_t>{a1, a2})) << mode;
  }
  s.get(s.bob, "/api/photos/" + std::to_string(a1) + "/similar", 404);
  json sim = s.get(s.bob, "/api/photos/" + std::to_string(b1) + "/similar?limit=50");
  EXPECT_TRUE(s.ids_of(sim["items"]).empty()) << sim.dump();
  EXPECT_EQ(s.status(s.client->Patch("/api/photos/" + std::to_string(a1), s.bob, R"({"favorite":true})",
                                     "application/json")),
            404);
  EXPECT_EQ(s.status(s.client->Delete("/api/photos/" + std::to_string(a1), s.bob)), 404);
  EXPECT_EQ(s.status(s.client->Post("/api/photos/" + std::to_string(a1) + "/analyze", s.bob, "",
                                    "application/json")),
            404);

  // A viewer changes nothing: 403 (the album is visible to them).
  EXPECT_EQ(s.status(s.client->Post(pal + "/photos", s.bob, ids_body({b1}), "application/json")), 403);
  EXPECT_EQ(s.status(s.client->Delete(pal + "/photos", s.bob, ids_body({a1}), "application/json")), 403);
  EXPECT_EQ(s.status(s.client->Patch(pal, s.bob, R"({"name":"mine"})", "application/json")), 403);
  EXPECT_EQ(s.status(s.client->Delete(pal, s.bob)), 403);
  s.get(s.bob, pal + "/shares", 403);
  EXPECT_EQ(s.status(s.client->Post(pal + "/shares", s.bob, R"({"username":"carol"})", "application/json")), 403);
  // Uploading into it (上传到相册): 403 for the viewer, 404 for carol; nothing stored.
  const httplib::MultipartFormDataItems file = {{"files", image_bytes("coffee_q90.jpg"), "x/coffee_q90.jpg", "image/jpeg"}};
  EXPECT_EQ(s.status(s.client->Post("/api/photos?album=" + std::to_string(album), s.bob, file)), 403);
  EXPECT_EQ(s.status(s.client->Post("/api/photos?album=" + std::to_string(album), s.carol, file)), 404);
  EXPECT_EQ(s.get(s.bob, "/api/photos")["total"], 1);
  EXPECT_EQ(s.get(s.carol, "/api/photos")["total"], 0);
  EXPECT_EQ(s.get(s.alice, pal)["name"], "猫");
  EXPECT_EQ(s.ids_of(s.get(s.alice, pal + "/photos")["items"]), (std::set<int64_t>{a1, a2}));

  // carol, not shared with: nothing at all.
  EXPECT_TRUE(s.get(s.carol, "/api/albums")["items"].empty());
  s.get(s.carol, pal, 404);
  s.get(s.carol, pal + "/photos", 404);
  s.get(s.carol, "/api/photos/" + std::to_string(a1) + "/thumbnail", 404);

  // The owner's delete removes a photo for everyone; a trashed one leaves the album too.
  ASSERT_EQ(s.status(s.client->Delete("/api/photos/" + std::to_string(a2) + "?permanent=1", s.alice)), 200);
  EXPECT_EQ(s.ids_of(s.get(s.bob, pal + "/photos")["items"]), std::set<int64_t>{a1});
  s.get(s.bob, "/api/photos/" + std::to_string(a2), 404);
  ASSERT_EQ(s.status(s.client->Delete("/api/photos/" + std::to_string(a1), s.alice)), 200);  // to the trash
  EXPECT_TRUE(s.get(s.bob, pal + "/photos")["items"].empty());
  s.get(s.bob, "/api/photos/" + std::to_string(a1) + "/original", 404);

  // Leaving: the album is gone for bob, still alice's.
  ASSERT_EQ(s.status(s.client->Delete(pal + "/shares/" + std::to_string(s.bob_id), s.bob)), 200);
  EXPECT_TRUE(s.get(s.bob, "/api/albums")["items"].empty());
  s.get(s.bob, pal, 404);
  s.get(s.alice, pal);
}

TEST(OwnersSharing, ContributorsAddTheirOwnPhotosWhichStayTheirs) {
  TwoUsers s;
  auto a = s.upload(s.alice, {"a/chelsea.png"});
  auto b = s.upload(s.bob, {"b/pokemon.jpeg", "b/coffee.png"});
  const int64_t a1 = a.at("a/chelsea.png"), b1 = b.at("b/pokemon.jpeg"), b2 = b.at("b/coffee.png");
  auto created = s.client->Post("/api/albums", s.alice, R"({"name":"全家"})", "application/json");
  ASSERT_TRUE(created && created->status == 201);
  const int64_t album = json::parse(created->body)["id"];
  const std::string pal = "/api/albums/" + std::to_string(album);
  ASSERT_EQ(s.status(s.client->Post(pal + "/photos", s.alice, ids_body({a1}), "application/json")), 200);
  // Unknown user and bad role are refused; sharing again changes the role.
  EXPECT_EQ(s.status(s.client->Post(pal + "/shares", s.alice, R"({"username":"nobody"})", "application/json")), 404);
  EXPECT_EQ(s.status(s.client->Post(pal + "/shares", s.alice, R"({"username":"bob","role":"owner"})",
                                    "application/json")),
            400);
  ASSERT_EQ(s.status(s.client->Post(pal + "/shares", s.alice, R"({"username":"bob"})", "application/json")), 201);
  ASSERT_EQ(s.status(s.client->Post(pal + "/shares", s.alice, R"({"username":"bob","role":"contributor"})",
                                    "application/json")),
            201);
  EXPECT_EQ(s.get(s.bob, "/api/albums")["items"][0]["role"], "contributor");

  // bob adds his photo; it is in the album for both, and still his alone.
  ASSERT_EQ(s.status(s.client->Post(pal + "/photos", s.bob, ids_body({b1}), "application/json")), 200);
  EXPECT_EQ(s.ids_of(s.get(s.alice, pal + "/photos")["items"]), (std::set<int64_t>{a1, b1}));
  EXPECT_EQ(s.ids_of(s.get(s.bob, pal + "/photos")["items"]), (std::set<int64_t>{a1, b1}));
  EXPECT_EQ(s.album->get_photo(b1)->owner_id, s.bob_id);
  EXPECT_EQ(s.ids_of(s.get(s.alice, "/api/photos")["items"]), std::set<int64_t>{a1});
  s.get(s.alice, "/api/photos/" + std::to_string(b1) + "/thumbnail");      // viewable in her album
  s.get(s.alice, "/api/photos/" + std::to_string(b2) + "/thumbnail", 404);  // his others are not
  EXPECT_EQ(s.status(s.client->Delete("/api/photos/" + std::to_string(b1), s.alice)), 404);
  // Uploading into the album: the new photo is his, and in the album.
  const httplib::MultipartFormDataItems file = {{"files", image_bytes("camera.png"), "up/camera.png", "image/png"}};
  auto up = s.client->Post("/api/photos?album=" + std::to_string(album), s.bob, file);
  ASSERT_TRUE(up && up->status == 200) << (up ? up->body : "");
  json upj = json::parse(up->body);
  ASSERT_EQ(upj["uploaded"].size(), 1u) << up->body;
  const int64_t b3 = upj["uploaded"][0]["id"];
  EXPECT_EQ(s.album->get_photo(b3)->owner_id, s.bob_id);
  EXPECT_EQ(s.ids_of(s.get(s.alice, pal + "/photos")["items"]), (std::set<int64_t>{a1, b1, b3}));
  ASSERT_EQ(s.status(s.client->Delete(pal + "/photos", s.bob, ids_body({b3}), "application/json")), 200);
  // He cannot add her photos that are not his, nor rename or delete the album.
  auto steal = s.client->Post(pal + "/photos", s.bob, ids_body({b2, a1}), "application/json");
  ASSERT_TRUE(steal);
  EXPECT_EQ(steal->status, 404);
  EXPECT_EQ(json::parse(steal->body)["not_found"], json::array({a1}));
  EXPECT_EQ(s.status(s.client->Patch(pal, s.bob, R"({"name":"x"})", "application/json")), 403);
  EXPECT_EQ(s.status(s.client->Delete(pal, s.bob)), 403);
  // He removes his own photo again; the owner removes anyone's.
  ASSERT_EQ(s.status(s.client->Post(pal + "/photos", s.bob, ids_body({b2}), "application/json")), 200);
  ASSERT_EQ(s.status(s.client->Delete(pal + "/photos", s.bob, ids_body({b2}), "application/json")), 200);
  ASSERT_EQ(s.status(s.client->Delete(pal + "/photos", s.alice, ids_body({b1}), "application/json")), 200);
  EXPECT_EQ(s.ids_of(s.get(s.bob, pal + "/photos")["items"]), std::set<int64_t>{a1});
  // Ending the share (the owner) takes the album from bob.
  ASSERT_EQ(s.status(s.client->Delete(pal + "/shares/" + std::to_string(s.bob_id), s.alice)), 200);
  s.get(s.bob, pal, 404);
  EXPECT_TRUE(s.get(s.alice, pal + "/shares")["items"].empty());
}

}  // namespace
}  // namespace sa
