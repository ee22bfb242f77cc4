// Store: trash, favourites, albums, batch atomicity, migration 5.
#include <gtest/gtest.h>

#include "store_test_util.h"

namespace sa::testing {
namespace {

constexpr const char* kNow = "2026-03-01T12:00:00Z";
constexpr const char* kCutoff = "2026-01-30T12:00:00Z";  // kNow - 30 days

std::vector<int64_t> listed(Store& s, const PhotoFilter& f = {}) {
  auto page = s.list_photos_filtered(f, 1, 100);
  EXPECT_TRUE(page.ok()) << page.status().to_string();
  std::vector<int64_t> ids;
  if (page.ok())
    for (const auto& p : page->items) ids.push_back(p.id);
  return ids;
}

using Ids = std::vector<int64_t>;

TEST_F(StoreTest, TrashHidesFromListsAndHydrationAndRestores) {
  const int64_t a = add("a"), b = add("b"), c = add("c");
  const Ids trash = {b};
  auto r = store_->apply_batch(BatchAction::kTrash, trash, 0, kNow, kCutoff);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->not_found.empty());
  EXPECT_EQ(r->changed, 1);

  EXPECT_EQ(listed(*store_), (Ids{c, a}));
  EXPECT_EQ(store_->list_photos(1, 50)->total, 2);
  const Ids all = {a, b, c};
  EXPECT_EQ(store_->get_photos(all)->size(), 2u);              // search/similar hydration
  EXPECT_EQ(store_->get_photos(all, true)->size(), 3u);
  auto pb = store_->get_photo(b);                               // details still readable
  ASSERT_TRUE(pb.ok());
  EXPECT_EQ(pb->trashed_at, kNow);

  auto t = store_->list_trash(kCutoff, 1, 50);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->total, 1);
  EXPECT_EQ(t->items[0].id, b);

  // Trashing it again: not found (it is not outside the trash); nothing changes.
  r = store_->apply_batch(BatchAction::kTrash, trash, 0, kNow, kCutoff);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->not_found, trash);

  r = store_->apply_batch(BatchAction::kRestore, trash, 0, kNow, kCutoff);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->not_found.empty());
  EXPECT_EQ(listed(*store_), (Ids{c, b, a}));
  EXPECT_TRUE(store_->get_photo(b)->trashed_at.empty());
  EXPECT_EQ(store_->list_trash(kCutoff, 1, 50)->total, 0);
}

TEST_F(StoreTest, ExpiredOrEmptiedTrashCannotBeRestoredAndIsListedForThePurge) {
  const int64_t a = add("a"), b = add("b");
  const Ids ia = {a}, ib = {b};
  ASSERT_TRUE(store_->apply_batch(BatchAction::kTrash, ia, 0, "2026-01-01T00:00:00Z", kCutoff).ok());
  ASSERT_TRUE(store_->apply_batch(BatchAction::kTrash, ib, 0, kNow, kCutoff).ok());
  // a was trashed before the cutoff: expired.
  EXPECT_EQ(*store_->trash_expired_ids(kCutoff), ia);
  EXPECT_EQ(store_->list_trash(kCutoff, 1, 50)->total, 1);
  EXPECT_EQ(store_->apply_batch(BatchAction::kRestore, ia, 0, kNow, kCutoff)->not_found, ia);

  EXPECT_EQ(*store_->expire_all_trash(), 2);  // a (expired, not purged yet) and b
  EXPECT_EQ(*store_->trash_expired_ids(kCutoff), (Ids{a, b}));
  EXPECT_EQ(store_->list_trash(kCutoff, 1, 50)->total, 0);
  EXPECT_EQ(store_->apply_batch(BatchAction::kRestore, ib, 0, kNow, kCutoff)->not_found, ib);
  EXPECT_EQ(*store_->trashed_photo_ids(), (Ids{a, b}));
}

TEST_F(StoreTest, BatchIsAllOrNothing) {
  const int64_t a = add("a"), b = add("b");
  const Ids mixed = {a, 999, b, 998};
  auto r = store_->apply_batch(BatchAction::kFavorite, mixed, 0, kNow, kCutoff);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->not_found, (Ids{999, 998}));
  EXPECT_EQ(r->changed, 0);
  EXPECT_FALSE(store_->get_photo(a)->favorite);
  EXPECT_FALSE(store_->get_photo(b)->favorite);

  r = store_->apply_batch(BatchAction::kTrash, mixed, 0, kNow, kCutoff);
  EXPECT_EQ(r->not_found.size(), 2u);
  EXPECT_EQ(listed(*store_).size(), 2u);

  const Ids both = {a, b, a};  // repeats count once
  r = store_->apply_batch(BatchAction::kFavorite, both, 0, kNow, kCutoff);
  EXPECT_TRUE(r->not_found.empty());
  EXPECT_EQ(r->changed, 2);
  EXPECT_TRUE(store_->get_photo(a)->favorite);
}

TEST_F(StoreTest, FavouriteFilter) {
  const int64_t a = add("a"), b = add("b"), c = add("c");
  const Ids fav = {a, c};
  ASSERT_TRUE(store_->apply_batch(BatchAction::kFavorite, fav, 0, kNow, kCutoff).ok());
  PhotoFilter f;
  f.favorite_only = true;
  EXPECT_EQ(listed(*store_, f), (Ids{c, a}));
  EXPECT_EQ(store_->list_photos_filtered(f, 1, 50)->total, 2);
  const Ids unfav = {c};
  ASSERT_TRUE(store_->apply_batch(BatchAction::kUnfavorite, unfav, 0, kNow, kCutoff).ok());
  EXPECT_EQ(listed(*store_, f), (Ids{a}));
  // A trashed favourite leaves the favourites too.
  const Ids ia = {a};
  ASSERT_TRUE(store_->apply_batch(BatchAction::kTrash, ia, 0, kNow, kCutoff).ok());
  EXPECT_TRUE(listed(*store_, f).empty());
  (void)b;
}

TEST_F(StoreTest, AlbumsHoldPhotosWithoutOwningThem) {
  const int64_t a = add("a"), b = add("b"), c = add("c");
  auto trip = store_->create_album("  厦门 2023 ");
  ASSERT_TRUE(trip.ok()) << trip.status().to_string();
  EXPECT_EQ(trip->name, "厦门 2023");
  EXPECT_EQ(trip->photo_count, 0);
  EXPECT_EQ(trip->cover_photo_id, 0);
  auto cats = store_->create_album("猫");
  ASSERT_TRUE(cats.ok());
  EXPECT_EQ(store_->create_album(" ").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->create_album(std::string(201, 'x')).status().code(), StatusCode::kInvalidArgument);

  const Ids ab = {a, b};
  auto r = store_->apply_batch(BatchAction::kAddToAlbum, ab, trip->id, kNow, kCutoff);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->changed, 2);
  const Ids bc = {b, c};
  ASSERT_TRUE(store_->apply_batch(BatchAction::kAddToAlbum, bc, cats->id, kNow, kCutoff).ok());
  // Adding again changes nothing; an unknown album is NotFound.
  EXPECT_EQ(store_->apply_batch(BatchAction::kAddToAlbum, ab, trip->id, kNow, kCutoff)->changed, 0);
  EXPECT_EQ(store_->apply_batch(BatchAction::kAddToAlbum, ab, 777, kNow, kCutoff).status().code(),
            StatusCode::kNotFound);

  PhotoFilter in_trip;
  in_trip.album_id = trip->id;
  EXPECT_EQ(listed(*store_, in_trip), (Ids{b, a}));
  EXPECT_EQ(*store_->album_photo_ids(cats->id), (Ids{b, c}));
  auto t = store_->get_album(trip->id);
  EXPECT_EQ(t->photo_count, 2);
  EXPECT_EQ(t->cover_photo_id, b);  // automatic: newest

  // Cover: a photo of the album; 0 goes back to automatic.
  EXPECT_EQ(store_->update_album(trip->id, std::nullopt, c).status().code(), StatusCode::kInvalidArgument);
  t = store_->update_album(trip->id, std::string("厦门"), a);
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  EXPECT_EQ(t->name, "厦门");
  EXPECT_EQ(t->cover_photo_id, a);

  // A trashed photo leaves the album's listing, count and cover, and comes back with a restore.
  const Ids ia = {a};
  ASSERT_TRUE(store_->apply_batch(BatchAction::kTrash, ia, 0, kNow, kCutoff).ok());
  t = store_->get_album(trip->id);
  EXPECT_EQ(t->photo_count, 1);
  EXPECT_EQ(t->cover_photo_id, b);
  EXPECT_EQ(listed(*store_, in_trip), (Ids{b}));
  EXPECT_EQ(store_->apply_batch(BatchAction::kAddToAlbum, ia, cats->id, kNow, kCutoff)->not_found, ia);
  ASSERT_TRUE(store_->apply_batch(BatchAction::kRestore, ia, 0, kNow, kCutoff).ok());
  EXPECT_EQ(store_->get_album(trip->id)->cover_photo_id, a);

  const Ids ib = {b};
  ASSERT_TRUE(store_->apply_batch(BatchAction::kRemoveFromAlbum, ib, trip->id, kNow, kCutoff).ok());
  EXPECT_EQ(listed(*store_, in_trip), (Ids{a}));

  // Albums newest first; deleting one keeps every photo and the other album.
  auto all = store_->list_albums();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, cats->id);
  ASSERT_TRUE(store_->delete_album(trip->id).ok());
  EXPECT_EQ(store_->delete_album(trip->id).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_album(trip->id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->list_photos_filtered(in_trip, 1, 50).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->count_photos(), 3);
  EXPECT_EQ(*store_->album_photo_ids(cats->id), (Ids{b, c}));

  // A permanently deleted photo leaves its albums.
  ASSERT_TRUE(store_->delete_photo(c).ok());
  EXPECT_EQ(*store_->album_photo_ids(cats->id), (Ids{b}));
}

TEST_F(StoreTest, FindOrCreateAlbumReusesTheName) {
  auto a = store_->find_or_create_album("旅行");
  ASSERT_TRUE(a.ok());
  auto b = store_->find_or_create_album(" 旅行");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(store_->list_albums()->size(), 1u);
}

// Migration 5 rebuilds the FTS table (adding photo_text): rows from before it
// must still be found, and later writes keep the index in sync.
TEST(StoreMigration5, KeepsTheTextIndexOfExistingPhotos) {
  TempDir dir;
  const std::string path = dir.file("album.db");
  int64_t cat = 0;
  {
    StoreOptions v4;
    v4.migrate_up_to = 4;
    auto s = Store::open(path, v4);
    ASSERT_TRUE(s.ok());
    cat = (*s)->insert_photo(make_photo("h1", "sofa.jpg"))->id;
    ASSERT_TRUE((*s)->set_description(cat, "沙发上的橘猫", {"橘猫"}, "qwen").ok());
  }
  auto s = Store::open(path);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  auto hits = (*s)->search_text("沙发上");
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].photo_id, cat);
  auto p = (*s)->get_photo(cat);
  EXPECT_FALSE(p->favorite);
  EXPECT_TRUE(p->trashed_at.empty());
  const int64_t dog = (*s)->insert_photo(make_photo("h2", "dog.jpg"))->id;
  ASSERT_TRUE((*s)->set_description(dog, "草地上的小狗", {"小狗"}, "qwen").ok());
  hits = (*s)->search_text("草地上");
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].photo_id, dog);
}

// The visible text the VLM read is stored beside the description and found by
// the text search, through FTS5 (3+ characters) and LIKE (shorter terms).
TEST_F(StoreTest, VisibleTextIsStoredAndSearchable) {
  const int64_t a = add("a", "IMG_001.jpg"), b = add("b", "IMG_002.jpg");
  ASSERT_TRUE(store_->set_description(a, "一张餐厅的小票", {"小票"}, "qwen", "星巴克 拿铁 增值税发票").ok());
  ASSERT_TRUE(store_->set_description(b, "海边的日落", {"日落"}, "qwen").ok());
  EXPECT_EQ(store_->get_photo(a)->photo_text, "星巴克 拿铁 增值税发票");
  EXPECT_EQ(store_->get_photo(b)->photo_text, "");
  for (const char* q : {"增值税", "发票", "星巴克"}) {
    auto hits = store_->search_text(q);
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 1u) << q;
    EXPECT_EQ((*hits)[0].photo_id, a) << q;
    EXPECT_GT((*hits)[0].score, 0.5f) << q;
  }
  // A new description without text clears the old text (and its index entry).
  ASSERT_TRUE(store_->set_description(a, "一张小票", {"小票"}, "qwen").ok());
  EXPECT_TRUE(store_->search_text("增值税")->empty());
}

}  // namespace
}  // namespace sa::testing
