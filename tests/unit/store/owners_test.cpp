// Per-user libraries in the store (issue 12): schema migration 7 (hash unique
// per owner), and every listing, count and search narrowed by an OwnerScope.
#include <gtest/gtest.h>

#include <algorithm>

#include "store/store.h"
#include "store/users.h"
#include "store_test_util.h"

namespace sa {
namespace {

using testing::insert_legacy_photo;
using testing::make_photo;
using testing::TempDir;

std::string hash_of(char c) { return std::string(64, c); }

// Two users (the first an admin) beside the photo Store on one database file.
class OwnersTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    auto u = UserStore::open(path_);
    ASSERT_TRUE(u.ok()) << u.status().to_string();
    users_ = std::move(u).value();
    auto a = users_->create_user("alice", "x", /*admin=*/true);
    auto b = users_->create_user("bob", "x", /*admin=*/false);
    ASSERT_TRUE(a.ok() && b.ok());
    alice_ = *a;
    bob_ = *b;
  }
  int64_t add_for(int64_t owner, const std::string& hash, const std::string& name = "a.jpg",
                  const std::string& folder = "trip") {
    PhotoInfo p = make_photo(hash, name);
    p.owner_id = owner;
    p.folder = folder;
    auto r = store_->insert_photo(p, std::vector<JobKind>{JobKind::kEmbed});
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_FALSE(r.ok() && r->duplicate);
    return r.ok() ? r->id : 0;
  }
  std::unique_ptr<UserStore> users_;
  int64_t alice_ = 0, bob_ = 0;
};

TEST_F(OwnersTest, SameBytesOfTwoOwnersAreTwoPhotosAndDuplicatesStayPerOwner) {
  PhotoInfo p = make_photo(hash_of('a'));
  p.owner_id = alice_;
  auto a1 = store_->insert_photo(p);
  p.owner_id = bob_;
  auto b1 = store_->insert_photo(p);
  ASSERT_TRUE(a1.ok() && b1.ok()) << b1.status().to_string();
  EXPECT_FALSE(b1->duplicate);
  EXPECT_NE(a1->id, b1->id);
  // The same owner again: the duplicate is that owner's own photo.
  auto b2 = store_->insert_photo(p);
  ASSERT_TRUE(b2.ok());
  EXPECT_TRUE(b2->duplicate);
  EXPECT_EQ(b2->id, b1->id);
  p.owner_id = alice_;
  auto a2 = store_->insert_photo(p);
  ASSERT_TRUE(a2.ok());
  EXPECT_TRUE(a2->duplicate);
  EXPECT_EQ(a2->id, a1->id);
  // Photos without an owner (an album without accounts) dedupe among themselves.
  p.owner_id = 0;
  auto n1 = store_->insert_photo(p);
  auto n2 = store_->insert_photo(p);
  ASSERT_TRUE(n1.ok() && n2.ok());
  EXPECT_FALSE(n1->duplicate);
  EXPECT_TRUE(n2->duplicate);
  EXPECT_EQ(n1->id, n2->id);

  EXPECT_EQ(*store_->count_photos_with_hash(hash_of('a')), 3);
  EXPECT_EQ(store_->get_photo_by_hash(hash_of('a'), bob_)->id, b1->id);
  EXPECT_EQ(store_->get_photo_by_hash(hash_of('a'), alice_)->id, a1->id);
  EXPECT_EQ(store_->get_photo_by_hash(hash_of('a'), 0)->id, n1->id);
  EXPECT_EQ(store_->get_photo(b1->id)->owner_id, bob_);
  EXPECT_EQ(store_->get_photo(n1->id)->owner_id, 0);
  ASSERT_TRUE(store_->delete_photo(a1->id).ok());
  EXPECT_EQ(*store_->count_photos_with_hash(hash_of('a')), 2);
  EXPECT_EQ(store_->get_photo_by_hash(hash_of('a'), alice_).status().code(), StatusCode::kNotFound);
}

TEST_F(OwnersTest, ListingsCountsAndSearchesSeeOnlyTheOwnersPhotos) {
  const int64_t a1 = add_for(alice_, hash_of('1'), "sunset_beach.jpg", "alice-trip");
  const int64_t a2 = add_for(alice_, hash_of('2'), "cat.jpg", "alice-trip");
  const int64_t b1 = add_for(bob_, hash_of('3'), "sunset_city.jpg", "bob-trip");
  const OwnerScope alice{alice_}, bob{bob_}, everyone{};

  auto ids = [](const PhotoPage& pg) {
    std::vector<int64_t> out;
    for (const auto& p : pg.items) out.push_back(p.id);
    return out;
  };
  auto la = store_->list_photos(1, 50, 0, alice);
  ASSERT_TRUE(la.ok());
  EXPECT_EQ(la->total, 2);
  EXPECT_EQ(ids(*la), (std::vector<int64_t>{a2, a1}));
  EXPECT_EQ(ids(*store_->list_photos(1, 50, 0, bob)), std::vector<int64_t>{b1});
  EXPECT_EQ(store_->list_photos(1, 50, 0, everyone)->total, 3);
  EXPECT_EQ(*store_->count_photos(bob), 1);
  EXPECT_EQ(*store_->count_photos(everyone), 3);

  PhotoQuery q;
  q.filter.scope = bob;
  auto qb = store_->query_photos(q);
  ASSERT_TRUE(qb.ok());
  EXPECT_EQ(qb->total, 1);
  EXPECT_EQ(ids(*qb), std::vector<int64_t>{b1});

  auto tb = store_->timeline(bob);
  ASSERT_TRUE(tb.ok());
  ASSERT_EQ(tb->size(), 1u);
  EXPECT_EQ((*tb)[0].count, 1);
  EXPECT_EQ((*store_->timeline(alice))[0].count, 2);

  auto fa = store_->folders(alice);
  ASSERT_TRUE(fa.ok());
  ASSERT_EQ(fa->size(), 1u);
  EXPECT_EQ((*fa)[0].first, "alice-trip");

  // Keyword search, both paths (FTS5 trigram for 3+ characters, LIKE below).
  for (const char* term : {"sunset", "su"}) {
    auto ta = store_->search_text(term, 10, alice);
    ASSERT_TRUE(ta.ok());
    ASSERT_EQ(ta->size(), 1u) << term;
    EXPECT_EQ((*ta)[0].photo_id, a1);
    auto tb2 = store_->search_text(term, 10, bob);
    ASSERT_EQ(tb2->size(), 1u) << term;
    EXPECT_EQ((*tb2)[0].photo_id, b1);
    EXPECT_EQ(store_->search_text(term, 10, everyone)->size(), 2u);
  }

  // Jobs: each photo queued one embed job.
  auto ja = store_->job_stats(10, alice);
  ASSERT_TRUE(ja.ok());
  EXPECT_EQ(ja->pending, 2);
  EXPECT_EQ(store_->job_stats(10, bob)->pending, 1);
  EXPECT_EQ(store_->job_stats(10, everyone)->pending, 3);
  auto jobs = store_->claim_jobs({}, 10);
  ASSERT_TRUE(jobs.ok());
  for (const Job& j : *jobs) {
    if (j.photo_id == b1) ASSERT_TRUE(store_->fail_job(j.id, "bob's failure").ok());
  }
  auto failures_a = store_->job_stats(10, alice);
  EXPECT_EQ(failures_a->failed, 0);
  EXPECT_TRUE(failures_a->recent_failures.empty());
  auto failures_b = store_->job_stats(10, bob);
  EXPECT_EQ(failures_b->failed, 1);
  ASSERT_EQ(failures_b->recent_failures.size(), 1u);
  EXPECT_EQ(failures_b->recent_failures[0].photo_id, b1);

  EXPECT_EQ(*store_->photo_ids_without_description(bob), std::vector<int64_t>{b1});
  EXPECT_EQ(*store_->photo_ids_of_owner(alice_), (std::vector<int64_t>{a1, a2}));
  EXPECT_TRUE(*store_->has_photos_not_of(alice_));
  ASSERT_TRUE(store_->delete_photo(b1).ok());
  EXPECT_FALSE(*store_->has_photos_not_of(alice_));
  EXPECT_TRUE(*store_->has_photos_not_of(bob_));
}

// A database made by the schema before migration 7 (version 4: hash UNIQUE
// over the table) keeps every row, id, vector, job and index, loses only the
// table-wide uniqueness, and never reuses the id of a photo deleted before.
TEST(OwnerMigration, FromVersion4KeepsRowsIdsIndexesAndTriggers) {
  TempDir dir;
  const std::string path = dir.file("album.db");
  int64_t keep1 = 0, keep2 = 0, gone = 0;
  {
    StoreOptions old;
    old.migrate_up_to = 4;
    auto s = Store::open(path, old);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    ASSERT_EQ((*s)->schema_version(), 4);
    keep1 = insert_legacy_photo(path, hash_of('1'), "海边日落.jpg", "2023-01-01T10:00:00");
    keep2 = insert_legacy_photo(path, hash_of('2'), "mountain_view.jpg");
    gone = insert_legacy_photo(path, hash_of('3'), "deleted.jpg");
    ASSERT_TRUE((*s)->put_vector(keep1, "clip", "m", std::vector<float>{1, 0, 0}).ok());
    ASSERT_TRUE((*s)->enqueue_job(JobKind::kEmbed, keep2).ok());
    // The same bytes a second time are refused by the old schema.
    EXPECT_FALSE(Db::open(path)->exec("INSERT INTO photos(hash, added_at) VALUES ('" + hash_of('1') +
                                      "', 'x')").ok());
    // The highest id: AUTOINCREMENT remembers it (Store::delete_photo reads the
    // newest schema's columns, so plain SQL here).
    ASSERT_TRUE(Db::open(path)->exec("DELETE FROM photos WHERE id = " + std::to_string(gone)).ok());
  }
  int64_t owner = 0;
  {
    auto u = UserStore::open(path);  // migrates to the newest schema
    ASSERT_TRUE(u.ok()) << u.status().to_string();
    auto a = (*u)->create_user("admin", "x", true);  // adopts the photos without owner
    ASSERT_TRUE(a.ok());
    owner = *a;
  }
  auto s = Store::open(path);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  Store& st = **s;
  EXPECT_GE(st.schema_version(), 7);

  auto p1 = st.get_photo(keep1);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->filename, "海边日落.jpg");
  EXPECT_EQ(p1->taken_at, "2023-01-01T10:00:00");
  EXPECT_EQ(p1->owner_id, owner);
  EXPECT_EQ(st.get_photo(keep2)->owner_id, owner);
  EXPECT_EQ(*st.count_photos(), 2);
  auto v = st.get_vector(keep1, "clip");
  ASSERT_TRUE(v.ok()) << v.status().to_string();
  EXPECT_EQ(v->data, (std::vector<float>{1, 0, 0}));
  EXPECT_EQ(st.job_stats()->pending, 1);

  // FTS triggers and content survived: old rows are found, new rows are indexed.
  auto hits = st.search_text("mountain", 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].photo_id, keep2);

  // Another owner may now add the same bytes; the ids never reuse a deleted one.
  auto other = UserStore::open(path);
  auto b = (*other)->create_user("bob", "x", false);
  ASSERT_TRUE(b.ok());
  PhotoInfo dup = make_photo(hash_of('1'), "copy_of_sunset.jpg");
  dup.owner_id = *b;
  auto ins = st.insert_photo(dup);
  ASSERT_TRUE(ins.ok()) << ins.status().to_string();
  EXPECT_FALSE(ins->duplicate);
  EXPECT_GT(ins->id, gone);
  EXPECT_EQ(st.search_text("copy_of_sunset", 10)->size(), 1u);
  dup.owner_id = owner;
  auto same_owner = st.insert_photo(dup);
  ASSERT_TRUE(same_owner.ok());
  EXPECT_TRUE(same_owner->duplicate);
  EXPECT_EQ(same_owner->id, keep1);

  // The schema: no table-wide UNIQUE on hash; the indexes of earlier
  // migrations are back; foreign keys hold (deleting cascades to vectors).
  auto db = Db::open(path);
  ASSERT_TRUE(db.ok());
  auto sql = db->prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'photos'");
  ASSERT_TRUE(sql.ok() && *sql->step());
  EXPECT_EQ(sql->column_text(0).find("UNIQUE"), std::string::npos) << sql->column_text(0);
  for (const char* index : {"photos_taken_at", "photos_owner", "photos_taken_id", "photos_hash_owner"}) {
    auto q = db->prepare("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?");
    q->bind(1, index);
    ASSERT_TRUE(*q->step());
    EXPECT_EQ(q->column_int64(0), 1) << index;
  }
  for (const char* trigger : {"photos_fts_ai", "photos_fts_au", "photos_fts_ad"}) {
    auto q = db->prepare("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name = ?");
    q->bind(1, trigger);
    ASSERT_TRUE(*q->step());
    EXPECT_EQ(q->column_int64(0), 1) << trigger;
  }
  ASSERT_TRUE(st.delete_photo(keep1).ok());
  EXPECT_EQ(st.get_vector(keep1, "clip").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(st.search_text("海边日落", 10)->empty());
}

}  // namespace
}  // namespace sa
