// Store: taken_at + taken_at_source, the timeline list (sort, keyset cursor,
// date range) and the per-month counts; migration 4's backfill.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "store_test_util.h"

namespace sa::testing {
namespace {

int64_t add_taken(Store& st, const std::string& hash, const std::string& taken_at,
                  const std::string& source = "") {
  PhotoInfo p = make_photo(hash, hash + ".jpg");
  p.taken_at = taken_at;
  p.taken_at_source = source;
  auto r = st.insert_photo(p);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r->id : 0;
}

std::vector<int64_t> ids_of(const PhotoPage& pg) {
  std::vector<int64_t> out;
  for (const auto& p : pg.items) out.push_back(p.id);
  return out;
}

TEST_F(StoreTest, TakenAtSourceIsExifOrUploadTime) {
  const int64_t a = add_taken(*store_, "a", "2019-03-01T08:00:00");
  const int64_t b = add_taken(*store_, "b", "");
  EXPECT_EQ(store_->get_photo(a)->taken_at_source, "exif");
  auto pb = store_->get_photo(b);
  ASSERT_TRUE(pb.ok());
  EXPECT_EQ(pb->taken_at_source, "upload");
  // Local wall clock with its offset: "YYYY-MM-DDTHH:MM:SS+HH:MM".
  ASSERT_EQ(pb->taken_at.size(), 25u) << pb->taken_at;
  EXPECT_TRUE(pb->taken_at[19] == '+' || pb->taken_at[19] == '-') << pb->taken_at;
  EXPECT_EQ(pb->taken_at.substr(0, 2), "20");

  ASSERT_TRUE(store_->set_taken_at(b, "2020-06-01T12:00:00+08:00", "file").ok());
  EXPECT_EQ(store_->get_photo(b)->taken_at_source, "file");
  EXPECT_EQ(store_->get_photo(b)->taken_at, "2020-06-01T12:00:00+08:00");
  EXPECT_EQ(store_->set_taken_at(b, "2020", "guess").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->set_taken_at(999, "2020", "file").code(), StatusCode::kNotFound);
  PhotoInfo bad = make_photo("c");
  bad.taken_at_source = "guess";
  EXPECT_EQ(store_->insert_photo(bad).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, TakenOrderNewestFirstAcrossYears) {
  const int64_t y2019 = add_taken(*store_, "a", "2019-03-01T08:00:00");
  const int64_t y2023 = add_taken(*store_, "b", "2023-07-14T21:30:05+08:00");
  const int64_t y2021 = add_taken(*store_, "c", "2021-12-31T23:59:59");
  const int64_t y2023b = add_taken(*store_, "d", "2023-07-14T21:30:05+08:00");  // same time: id breaks the tie
  PhotoQuery q;
  auto pg = store_->query_photos(q);
  ASSERT_TRUE(pg.ok()) << pg.status().to_string();
  EXPECT_EQ(ids_of(*pg), (std::vector<int64_t>{y2023b, y2023, y2021, y2019}));
  EXPECT_EQ(pg->total, 4);
  EXPECT_TRUE(pg->next_cursor.empty());

  q.sort = "added";
  EXPECT_EQ(ids_of(*store_->query_photos(q)), (std::vector<int64_t>{y2023b, y2021, y2023, y2019}));
  q.sort = "name";
  EXPECT_EQ(store_->query_photos(q).status().code(), StatusCode::kInvalidArgument);
}

// Keyset paging: photos inserted (newer or older) or deleted while a reader
// walks the list neither repeat nor skip what was there when the walk began.
TEST_F(StoreTest, CursorIsStableUnderInsertsAndDeletes) {
  std::vector<int64_t> all;
  for (int i = 0; i < 30; ++i) {
    char t[32];
    std::snprintf(t, sizeof t, "2022-01-%02dT10:00:00", 1 + i % 28);
    all.push_back(add_taken(*store_, "p" + std::to_string(i), t));
  }
  PhotoQuery q;
  q.limit = 7;
  std::vector<int64_t> seen;
  std::set<int64_t> deleted;
  int round = 0;
  while (true) {
    auto pg = store_->query_photos(q);
    ASSERT_TRUE(pg.ok()) << pg.status().to_string();
    for (const auto& p : pg->items) seen.push_back(p.id);
    if (pg->next_cursor.empty()) break;
    q.cursor = pg->next_cursor;
    // Between pages: a newer photo, an older photo, and a delete of one not yet seen.
    add_taken(*store_, "new" + std::to_string(round), "2030-01-01T00:00:00");
    ++round;
    for (int64_t id : all) {
      if (std::find(seen.begin(), seen.end(), id) == seen.end() && !deleted.count(id)) {
        ASSERT_TRUE(store_->delete_photo(id).ok());
        deleted.insert(id);
        break;
      }
    }
  }
  // Each original photo not deleted is seen exactly once; nothing newer appears.
  std::set<int64_t> seen_set(seen.begin(), seen.end());
  EXPECT_EQ(seen_set.size(), seen.size()) << "a photo was shown twice";
  for (int64_t id : all) EXPECT_EQ(seen_set.count(id), deleted.count(id) ? 0u : 1u) << id;
  EXPECT_EQ(seen.size() + deleted.size(), all.size());

  q.cursor = "garbage";
  EXPECT_EQ(store_->query_photos(q).status().code(), StatusCode::kInvalidArgument);
  q.cursor = "2022-01-01T00:00:00|x";
  EXPECT_EQ(store_->query_photos(q).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, DateRangeIsInclusivePrefixes) {
  add_taken(*store_, "a", "2023-06-30T23:59:59");
  const int64_t b = add_taken(*store_, "b", "2023-07-01T00:00:00+08:00");
  const int64_t c = add_taken(*store_, "c", "2023-07-31T23:59:59");
  add_taken(*store_, "d", "2023-08-01T00:00:00");
  PhotoQuery q;
  q.date_from = "2023-07";
  q.date_to = "2023-07";
  auto pg = store_->query_photos(q);
  ASSERT_TRUE(pg.ok());
  EXPECT_EQ(ids_of(*pg), (std::vector<int64_t>{c, b}));
  EXPECT_EQ(pg->total, 2);
  q.date_from = "2023-07-31";
  q.date_to = "";
  EXPECT_EQ(store_->query_photos(q)->total, 2);  // c and d
  q.date_from = "";
  q.date_to = "2023-06-30";
  EXPECT_EQ(store_->query_photos(q)->total, 1);
}

TEST_F(StoreTest, TimelineCountsPerMonthNewestFirst) {
  add_taken(*store_, "a", "2023-07-14T10:00:00");
  add_taken(*store_, "b", "2023-07-01T10:00:00+08:00");
  add_taken(*store_, "c", "2019-12-31T10:00:00");
  auto t = store_->timeline();
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  ASSERT_EQ(t->size(), 2u);
  EXPECT_EQ((*t)[0].month, "2023-07");
  EXPECT_EQ((*t)[0].count, 2);
  EXPECT_EQ((*t)[1].month, "2019-12");
  EXPECT_EQ((*t)[1].count, 1);
}

// after a jump: the page just newer than a photo, newest first, and the cursor
// of the next newer page while there is one.
TEST_F(StoreTest, NewerPagesScrollUpFromACursor) {
  std::vector<int64_t> ids;  // oldest first
  for (int i = 0; i < 10; ++i) {
    char t[32];
    std::snprintf(t, sizeof t, "2020-01-%02dT10:00:00", i + 1);
    ids.push_back(add_taken(*store_, "n" + std::to_string(i), t));
  }
  PhotoQuery q;
  q.cursor = "2020-01-03T10:00:00|" + std::to_string(ids[2]);
  q.newer = true;
  q.limit = 4;
  auto pg = store_->query_photos(q);
  ASSERT_TRUE(pg.ok()) << pg.status().to_string();
  EXPECT_EQ(ids_of(*pg), (std::vector<int64_t>{ids[6], ids[5], ids[4], ids[3]}));
  ASSERT_FALSE(pg->next_cursor.empty());
  q.cursor = pg->next_cursor;
  pg = store_->query_photos(q);
  EXPECT_EQ(ids_of(*pg), (std::vector<int64_t>{ids[9], ids[8], ids[7]}));
  EXPECT_TRUE(pg->next_cursor.empty());
}

TEST_F(StoreTest, FoldersWithCounts) {
  add("a", "1.jpg");  // make_photo: folder trip/day1
  add("b", "2.jpg");
  PhotoInfo p = make_photo("c");
  p.folder = "";
  ASSERT_TRUE(store_->insert_photo(p).ok());
  auto f = store_->folders();
  ASSERT_TRUE(f.ok());
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ((*f)[0].first, "trip/day1");
  EXPECT_EQ((*f)[0].second, 2);
}

// Migration 4 on a database from before: EXIF dates are kept as 'exif', rows
// without one take their added_at as 'upload', and the list sorts by it.
TEST(StoreMigration, Version4BackfillsTakenAt) {
  TempDir dir;
  const std::string path = dir.file("album.db");
  int64_t a = 0, b = 0;
  {
    StoreOptions v2;
    v2.migrate_up_to = 2;
    auto s = Store::open(path, v2);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    ASSERT_EQ((*s)->schema_version(), 2);
  }
  a = insert_legacy_photo(path, "a", "old.jpg", "2015-05-05T05:05:05", "2022-01-01T00:00:00Z");
  b = insert_legacy_photo(path, "b", "nodate.png", "", "2022-02-02T02:02:02Z");
  auto s = Store::open(path);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  Store& st = **s;
  auto pa = st.get_photo(a), pb = st.get_photo(b);
  ASSERT_TRUE(pa.ok() && pb.ok());
  EXPECT_EQ(pa->taken_at, "2015-05-05T05:05:05");
  EXPECT_EQ(pa->taken_at_source, "exif");
  EXPECT_EQ(pb->taken_at, "2022-02-02T02:02:02Z");
  EXPECT_EQ(pb->taken_at_source, "upload");
  EXPECT_EQ(ids_of(*st.query_photos(PhotoQuery{})), (std::vector<int64_t>{b, a}));
}

// Migration 6 (issue 16): on a database from before it, the browse views'
// statements read its partial indexes -- covering where they only count or
// group -- and never sort the photos in a temporary b-tree, so pages, counts
// and groupings at 1M photos walk an index, not the table.
TEST(StoreMigration, Version6IndexesServeTheBrowseViews) {
  TempDir dir;
  const std::string path = dir.file("album.db");
  {
    StoreOptions v5;
    v5.migrate_up_to = 5;
    auto s = Store::open(path, v5);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    ASSERT_EQ((*s)->schema_version(), 5);
  }
  insert_legacy_photo(path, "a", "a.jpg", "2015-05-05T05:05:05");
  auto s = Store::open(path);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_GE((*s)->schema_version(), 6);
  s->reset();
  auto db = Db::open(path);
  ASSERT_TRUE(db.ok());
  auto plan = [&](const std::string& sql) {
    auto st = db->prepare("EXPLAIN QUERY PLAN " + sql);
    EXPECT_TRUE(st.ok()) << sql;
    std::string out;
    while (st.ok()) {
      auto row = st->step();
      if (!row.ok() || !*row) break;
      out += st->column_text(3) + "\n";
    }
    return out;
  };
  struct Case {
    std::string sql, index;
    bool covering;
  };
  const std::string cols = "SELECT id, hash, filename, description FROM photos WHERE trashed_at IS NULL";
  const std::vector<Case> cases = {
      {cols + " ORDER BY taken_at DESC, id DESC LIMIT 51 OFFSET 5000", "photos_live_taken", false},
      {cols + " AND (taken_at, id) < ('2020', 5) ORDER BY taken_at DESC, id DESC LIMIT 51", "photos_live_taken", false},
      {cols + " AND taken_at >= '2020' AND taken_at < '2021~' ORDER BY taken_at DESC, id DESC LIMIT 51",
       "photos_live_taken", false},
      {cols + " AND favorite = 1 ORDER BY taken_at DESC, id DESC LIMIT 51", "photos_live_favorite_taken", false},
      {cols + " AND owner_id = 3 ORDER BY taken_at DESC, id DESC LIMIT 51", "photos_live_owner_taken", false},
      {"SELECT count(*) FROM photos WHERE trashed_at IS NULL", "photos_live_", true},
      {"SELECT count(*) FROM photos WHERE trashed_at IS NULL AND taken_at >= '2020' AND taken_at < '2021~'",
       "photos_live_taken", true},
      {"SELECT count(*) FROM photos WHERE trashed_at IS NULL AND favorite = 1", "photos_live_favorite_taken", true},
      {"SELECT count(*) FROM photos WHERE trashed_at IS NULL AND owner_id = 3", "photos_live_owner_taken", true},
      // Store::timeline() and Store::folders() as they are written.
      {"SELECT substr(taken_at, 1, 7) AS m, count(*) FROM photos WHERE taken_at > '' AND trashed_at IS NULL "
       "GROUP BY m ORDER BY m DESC", "photos_live_taken", true},
      {"SELECT folder, count(*) FROM photos WHERE folder > '' AND trashed_at IS NULL GROUP BY folder ORDER BY folder",
       "photos_live_folder", true},
  };
  for (const Case& c : cases) {
    const std::string p = plan(c.sql);
    EXPECT_NE(p.find(c.index), std::string::npos) << c.sql << "\n" << p;
    if (c.covering) {
      EXPECT_NE(p.find("COVERING INDEX"), std::string::npos) << c.sql << "\n" << p;
    }
    EXPECT_EQ(p.find("TEMP B-TREE FOR ORDER BY"), std::string::npos) << c.sql << "\n" << p;
    EXPECT_EQ(p.find("TEMP B-TREE FOR RIGHT PART"), std::string::npos) << c.sql << "\n" << p;
  }
}

}  // namespace
}  // namespace sa::testing
