// Store: open/migrations, photos, vectors, settings.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <thread>

#include "store_test_util.h"

namespace sa::testing {
namespace {

TEST_F(StoreTest, OpenTwiceKeepsSchemaAndData) {
  EXPECT_EQ(store_->schema_version(), Store::latest_schema_version());
  int64_t id = add("h1");
  reopen();
  EXPECT_EQ(store_->schema_version(), Store::latest_schema_version());
  auto p = store_->get_photo(id);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->hash, "h1");
  reopen();  // a third open must not re-run migration 1 (it would fail on CREATE TABLE)
  EXPECT_EQ(store_->schema_version(), Store::latest_schema_version());
  EXPECT_EQ(*store_->count_photos(), 1);
}

TEST(StoreOpen, NotADatabaseIsAnError) {
  TempDir dir;
  std::string path = dir.file("junk.db");
  {
    std::ofstream f(path, std::ios::binary);
    f << std::string(4096, 'x');
  }
  auto s = Store::open(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption) << s.status().to_string();
}

TEST(StoreOpen, MissingDirectoryIsAnError) {
  auto s = Store::open("/nonexistent_dir_sa_test/x/album.db");
  ASSERT_FALSE(s.ok());
}

TEST(StoreOpen, InMemory) {
  auto s = Store::open(":memory:");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ((*s)->schema_version(), Store::latest_schema_version());
}

// Ids are never handed out twice, not even the highest one just deleted: a
// job still running for a deleted photo must not find a new photo (or a new
// job) under its id.
TEST_F(StoreTest, IdsOfDeletedPhotosAndJobsAreNotReused) {
  const int64_t a = add("a");
  const int64_t b = add("b");
  ASSERT_TRUE(*store_->enqueue_job(JobKind::kDescribe, b));
  auto claimed = store_->claim_jobs({}, 1);
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  const int64_t job = (*claimed)[0].id;
  ASSERT_TRUE(store_->delete_photo(b).ok());  // the highest id; its job goes with it
  reopen();                                   // and not only within one connection
  const int64_t c = add("c");
  EXPECT_GT(c, b);
  ASSERT_TRUE(*store_->enqueue_job(JobKind::kDescribe, c));
  auto next = store_->claim_jobs({}, 1);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_GT((*next)[0].id, job);
  // What the stale worker would do now finds nothing to change.
  EXPECT_EQ(store_->set_description(b, "旧的描述", {}, "m").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_photo(c)->description, "");
  EXPECT_EQ(store_->get_job(job).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->get_photo(a).ok());
}

// A database made by the first schema (ids could be reused) moves to the
// second with every row, id, vector, job and text-search entry, and deleting
// a photo still takes its vectors and jobs along.
TEST(StoreMigration, Version1DatabaseKeepsEverything) {
  TempDir dir;
  const std::string path = dir.file("album.db");
  int64_t a = 0, b = 0, c = 0;
  {
    StoreOptions v1;
    v1.migrate_up_to = 1;
    auto s = Store::open(path, v1);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    Store& st = **s;
    ASSERT_EQ(st.schema_version(), 1);
    a = insert_legacy_photo(path, "a", "beach.jpg");
    b = insert_legacy_photo(path, "b", "cat.jpg");
    c = insert_legacy_photo(path, "c", "mountain.jpg");
    const std::vector<float> v = {1, 2, 3};
    ASSERT_TRUE(st.put_vector(a, "clip", "m", v).ok());
    ASSERT_TRUE(st.put_vector(b, "clip", "m", v).ok());
    ASSERT_TRUE(st.set_description(b, "沙发上的橘猫", {"橘猫"}, "qwen").ok());
    ASSERT_TRUE(*st.enqueue_job(JobKind::kEmbed, c));
    ASSERT_TRUE(st.set_vlm_status(c, VlmStatus::kFailed, "HTTP 500").ok());
  }
  auto s = Store::open(path);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  Store& st = **s;
  EXPECT_EQ(st.schema_version(), Store::latest_schema_version());
  ASSERT_EQ(*st.count_photos(), 3);
  auto pb = st.get_photo(b);
  ASSERT_TRUE(pb.ok());
  EXPECT_EQ(pb->filename, "cat.jpg");
  EXPECT_EQ(pb->description, "沙发上的橘猫");
  EXPECT_EQ(pb->keywords, std::vector<std::string>{"橘猫"});
  EXPECT_EQ(st.get_photo(c)->vlm_error, "HTTP 500");
  EXPECT_TRUE(st.get_vector(a, "clip").ok());
  EXPECT_EQ(st.job_stats()->pending, 1);
  auto hits = st.search_text("橘猫");
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].photo_id, b);
  // The foreign keys still cascade, and the text index follows the new table.
  ASSERT_TRUE(st.delete_photo(c).ok());
  EXPECT_EQ(st.job_stats()->pending, 0);
  ASSERT_TRUE(st.delete_photo(b).ok());
  EXPECT_EQ(st.get_vector(b, "clip").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(st.search_text("橘猫")->empty());
  const int64_t d = st.insert_photo(make_photo("d", "新照片.jpg"))->id;
  EXPECT_GT(d, c);
  EXPECT_EQ(st.search_text("新照片")->size(), 1u);
}

TEST_F(StoreTest, InsertGetRoundTrip) {
  PhotoInfo in = make_photo("abc", "beach.jpg");
  in.keywords = {"海边", "日落"};
  in.description = "海边的日落";
  auto r = store_->insert_photo(in);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->duplicate);
  EXPECT_GT(r->id, 0);

  auto p = store_->get_photo(r->id);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->id, r->id);
  EXPECT_EQ(p->filename, "beach.jpg");
  EXPECT_EQ(p->folder, "trip/day1");
  EXPECT_EQ(p->mime, "image/jpeg");
  EXPECT_EQ(p->size, 1234);
  EXPECT_EQ(p->width, 640);
  EXPECT_EQ(p->height, 480);
  EXPECT_EQ(p->taken_at, "2023-01-22T10:00:00");
  EXPECT_EQ(p->camera, "Canon EOS R5");
  ASSERT_TRUE(p->gps_lat && p->gps_lon);
  EXPECT_DOUBLE_EQ(*p->gps_lat, 31.23);
  EXPECT_DOUBLE_EQ(*p->gps_lon, 121.47);
  EXPECT_EQ(p->status, PhotoStatus::kPending);
  EXPECT_EQ(p->vlm_status, VlmStatus::kNone);
  EXPECT_EQ(p->keywords, (std::vector<std::string>{"海边", "日落"}));
  EXPECT_EQ(p->description, "海边的日落");
  // added_at defaults to now, UTC ISO 8601: "YYYY-MM-DDTHH:MM:SSZ".
  ASSERT_EQ(p->added_at.size(), 20u) << p->added_at;
  EXPECT_EQ(p->added_at[10], 'T');
  EXPECT_EQ(p->added_at.back(), 'Z');

  auto by_hash = store_->get_photo_by_hash("abc");
  ASSERT_TRUE(by_hash.ok());
  EXPECT_EQ(by_hash->id, r->id);
  EXPECT_EQ(store_->get_photo_by_hash("nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_photo(9999).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, NoGpsStaysNull) {
  PhotoInfo in = make_photo("nogps");
  in.gps_lat.reset();
  in.gps_lon.reset();
  auto r = store_->insert_photo(in);
  ASSERT_TRUE(r.ok());
  auto p = store_->get_photo(r->id);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->gps_lat.has_value());
  EXPECT_FALSE(p->gps_lon.has_value());
}

TEST_F(StoreTest, DuplicateHashReturnsExistingId) {
  int64_t id = add("same", "first.jpg");
  auto r = store_->insert_photo(make_photo("same", "second.jpg"));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->duplicate);
  EXPECT_EQ(r->id, id);
  EXPECT_EQ(*store_->count_photos(), 1);
  EXPECT_EQ(store_->get_photo(id)->filename, "first.jpg");  // unchanged
}

TEST_F(StoreTest, InsertWithJobsIsOneTransaction) {
  const JobKind both[] = {JobKind::kEmbed, JobKind::kDescribe};
  auto r = store_->insert_photo(make_photo("tx"), both);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_FALSE(r->duplicate);
  EXPECT_EQ(*store_->active_job_count(JobKind::kEmbed), 1);
  EXPECT_EQ(*store_->active_job_count(JobKind::kDescribe), 1);
  auto dup = store_->insert_photo(make_photo("tx"), both);
  ASSERT_TRUE(dup.ok());
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->id, r->id);
  EXPECT_EQ(*store_->active_job_count(), 2);  // a duplicate queues nothing

  // The second job fails (a trigger added by another connection): the row and
  // the first job are gone with it.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw,
                         "CREATE TRIGGER no_describe BEFORE INSERT ON jobs WHEN NEW.kind = 'describe' "
                         "BEGIN SELECT RAISE(ABORT, 'injected'); END",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  EXPECT_FALSE(store_->insert_photo(make_photo("tx2"), both).ok());
  EXPECT_EQ(store_->get_photo_by_hash("tx2").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->count_photos(), 1);
  EXPECT_EQ(*store_->active_job_count(), 2);
  // The store is still usable afterwards.
  const JobKind embed[] = {JobKind::kEmbed};
  EXPECT_TRUE(store_->insert_photo(make_photo("tx3"), embed).ok());
  EXPECT_EQ(*store_->active_job_count(), 3);
}

TEST_F(StoreTest, InsertRejectsBadInput) {
  EXPECT_EQ(store_->insert_photo(make_photo("")).status().code(), StatusCode::kInvalidArgument);
  // Unknown status strings can no longer reach insert_photo (enums); they are
  // refused where strings come in (types_test.cpp: parse_* on unknown strings).
  EXPECT_EQ(*store_->count_photos(), 0);
}

TEST_F(StoreTest, ListPagedNewestFirst) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(add("h" + std::to_string(i), std::to_string(i) + ".jpg"));
  auto p1 = store_->list_photos(1, 3);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(p1->total, 7);
  EXPECT_EQ(p1->page, 1);
  EXPECT_EQ(p1->per_page, 3);
  ASSERT_EQ(p1->items.size(), 3u);
  EXPECT_EQ(p1->items[0].id, ids[6]);
  EXPECT_EQ(p1->items[2].id, ids[4]);
  auto p3 = store_->list_photos(3, 3);
  ASSERT_TRUE(p3.ok());
  ASSERT_EQ(p3->items.size(), 1u);
  EXPECT_EQ(p3->items[0].id, ids[0]);
  auto p9 = store_->list_photos(9, 3);
  ASSERT_TRUE(p9.ok());
  EXPECT_TRUE(p9->items.empty());
  EXPECT_EQ(p9->total, 7);
  auto clamped = store_->list_photos(0, 0);
  ASSERT_TRUE(clamped.ok());
  EXPECT_EQ(clamped->page, 1);
  EXPECT_EQ(clamped->per_page, 1);
}

// The cursor form: photos older than an id, unaffected by deletes and new
// uploads between two calls (a page number would shift by one).
TEST_F(StoreTest, ListBeforeIdIsACursor) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(add("h" + std::to_string(i)));
  auto first = store_->list_photos(1, 3);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 3u);
  const int64_t last_shown = first->items.back().id;  // ids[4]
  ASSERT_TRUE(store_->delete_photo(ids[6]).ok());
  add("new upload");
  auto next = store_->list_photos(1, 3, last_shown);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->items.size(), 3u);
  EXPECT_EQ(next->items[0].id, ids[3]);
  EXPECT_EQ(next->items[2].id, ids[1]);
  EXPECT_EQ(next->total, 7);
  auto end = store_->list_photos(1, 3, ids[0]);
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->items.empty());
}

TEST_F(StoreTest, GetPhotosKeepsOrderAndSkipsMissing) {
  int64_t a = add("a"), b = add("b"), c = add("c");
  std::vector<int64_t> want = {c, 999, a, b};
  auto r = store_->get_photos(want);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].id, c);
  EXPECT_EQ((*r)[1].id, a);
  EXPECT_EQ((*r)[2].id, b);
}

TEST_F(StoreTest, DeleteCascadesToVectorsJobsAndFts) {
  int64_t id = add("del", "sunset.jpg");
  int64_t other = add("keep", "other.jpg");
  std::vector<float> v = {1, 2, 3};
  ASSERT_TRUE(store_->put_vector(id, "clip", "m", v).ok());
  ASSERT_TRUE(store_->put_vector(other, "clip", "m", v).ok());
  ASSERT_TRUE(store_->enqueue_job(JobKind::kEmbed, id).ok());
  ASSERT_TRUE(store_->set_description(id, "海边的日落", {"日落"}, "qwen").ok());

  auto gone = store_->delete_photo(id);
  ASSERT_TRUE(gone.ok()) << gone.status().to_string();
  EXPECT_EQ(gone->hash, "del");  // the row comes back so files can be removed
  EXPECT_EQ(gone->filename, "sunset.jpg");
  EXPECT_EQ(store_->get_photo(id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_vector(id, "clip").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->get_vector(other, "clip").ok());
  EXPECT_EQ(store_->job_stats()->pending, 0);
  EXPECT_TRUE(store_->search_text("日落")->empty());
  EXPECT_TRUE(store_->search_text("sunset")->empty());
  EXPECT_EQ(store_->delete_photo(id).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, StatusAndDescriptionUpdates) {
  int64_t id = add("s");
  ASSERT_TRUE(store_->set_photo_status(id, PhotoStatus::kFailed, "decode error").ok());
  auto p = store_->get_photo(id);
  EXPECT_EQ(p->status, PhotoStatus::kFailed);
  EXPECT_EQ(p->error, "decode error");
  EXPECT_EQ(store_->set_photo_status(777, PhotoStatus::kReady).code(), StatusCode::kNotFound);
  EXPECT_EQ(*store_->photo_ids_with_status(PhotoStatus::kFailed), std::vector<int64_t>{id});
  EXPECT_TRUE(store_->photo_ids_with_status(PhotoStatus::kReady)->empty());

  EXPECT_EQ(*store_->photo_ids_without_description(), std::vector<int64_t>{id});
  ASSERT_TRUE(store_->set_vlm_status(id, VlmStatus::kFailed, "HTTP 500").ok());
  EXPECT_EQ(*store_->vlm_error(id), "HTTP 500");
  EXPECT_EQ(store_->get_photo(id)->vlm_status, VlmStatus::kFailed);
  // Unknown status strings: parse_photo_status / parse_vlm_status (types_test.cpp).

  ASSERT_TRUE(store_->set_description(id, "一只猫", {"猫", "宠物"}, "qwen-vl-plus").ok());
  p = store_->get_photo(id);
  EXPECT_EQ(p->description, "一只猫");
  EXPECT_EQ(p->keywords, (std::vector<std::string>{"猫", "宠物"}));
  EXPECT_EQ(p->vlm_status, VlmStatus::kDone);
  EXPECT_EQ(p->vlm_model, "qwen-vl-plus");
  EXPECT_FALSE(p->described_at.empty());
  EXPECT_EQ(*store_->vlm_error(id), "");
  EXPECT_TRUE(store_->photo_ids_without_description()->empty());
  EXPECT_EQ(store_->set_description(555, "x", {}, "m").code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, KeywordsWithQuotesAndInvalidUtf8DoNotBreak) {
  int64_t id = add("k");
  ASSERT_TRUE(store_->set_description(id, "d", {"say \"hi\"", std::string("bad\xff")}, "m").ok());
  auto p = store_->get_photo(id);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->keywords.size(), 2u);
  EXPECT_EQ(p->keywords[0], "say \"hi\"");
}

TEST_F(StoreTest, VectorRoundTrip) {
  int64_t id = add("v");
  std::vector<float> v = {0.5f, -0.25f, 1e-7f, 3.0f};
  ASSERT_TRUE(store_->put_vector(id, "clip", "ViT-B-16", v).ok());
  auto got = store_->get_vector(id, "clip");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->model, "ViT-B-16");
  EXPECT_EQ(got->data, v);  // bit-exact
  EXPECT_EQ(store_->get_vector(id, "desc").status().code(), StatusCode::kNotFound);

  std::vector<float> v2 = {1, 1};
  ASSERT_TRUE(store_->put_vector(id, "clip", "other", v2).ok());  // replace
  got = store_->get_vector(id, "clip");
  EXPECT_EQ(got->model, "other");
  EXPECT_EQ(got->data, v2);

  EXPECT_EQ(store_->put_vector(id, "pixels", "m", v).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->put_vector(id, "clip", "m", {}).code(), StatusCode::kInvalidArgument);
  std::vector<float> nan = {1, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_EQ(store_->put_vector(id, "clip", "m", nan).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->put_vector(4242, "clip", "m", v).code(), StatusCode::kNotFound);

  ASSERT_TRUE(store_->delete_vector(id, "clip").ok());
  EXPECT_EQ(store_->get_vector(id, "clip").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->delete_vector(id, "clip").ok());  // idempotent
}

TEST_F(StoreTest, GetVectorsReadsABatch) {
  // More ids than one statement binds (500), some without a vector, one of the
  // other kind only, and ids that are no photo at all.
  std::vector<int64_t> ids;
  for (int i = 0; i < 1203; ++i) {
    int64_t id = add("gv" + std::to_string(i));
    ids.push_back(id);
    if (i % 3 == 0) continue;  // no vector
    std::vector<float> v = {float(i), 1.0f};
    ASSERT_TRUE(store_->put_vector(id, i == 7 ? "desc" : "clip", i % 2 ? "m1" : "m2", v).ok());
  }
  ids.push_back(999'999);
  auto got = store_->get_vectors(ids, "clip");
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  size_t expected = 0;
  for (int i = 0; i < 1203; ++i) {
    auto it = got->find(ids[i]);
    if (i % 3 == 0 || i == 7) {
      EXPECT_EQ(it, got->end()) << i;
      continue;
    }
    ++expected;
    ASSERT_NE(it, got->end()) << i;
    EXPECT_EQ(it->second.model, i % 2 ? "m1" : "m2");
    EXPECT_EQ(it->second.data, (std::vector<float>{float(i), 1.0f}));
    // The same as one at a time.
    auto one = store_->get_vector(ids[i], "clip");
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(one->data, it->second.data);
  }
  EXPECT_EQ(got->size(), expected);
  auto desc = store_->get_vectors(ids, "desc");
  ASSERT_TRUE(desc.ok());
  ASSERT_EQ(desc->size(), 1u);
  EXPECT_EQ(desc->begin()->first, ids[7]);
  EXPECT_TRUE(store_->get_vectors({}, "clip")->empty());
  EXPECT_EQ(store_->get_vectors(ids, "pixels").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, ForEachVectorBatchesAndFilters) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 10; ++i) {
    int64_t id = add("fe" + std::to_string(i));
    ids.push_back(id);
    std::vector<float> v = {float(i), float(i) + 0.5f, -float(i)};
    // Two photos of another model and one of another dim are not streamed.
    std::string kind = i == 5 ? "desc" : "clip", model = i == 3 ? "old" : "m";
    if (i == 4) v = {1, 2};
    ASSERT_TRUE(store_->put_vector(id, kind, model, v).ok());
  }
  std::vector<int64_t> seen;
  std::vector<size_t> batch_sizes;
  Status s = store_->for_each_vector("clip", "m", 3,
      [&](std::span<const int64_t> bid, std::span<const float> data) {
        EXPECT_EQ(data.size(), bid.size() * 3);
        for (size_t r = 0; r < bid.size(); ++r) {
          int i = static_cast<int>(std::find(ids.begin(), ids.end(), bid[r]) - ids.begin());
          EXPECT_FLOAT_EQ(data[r * 3 + 0], float(i));
          EXPECT_FLOAT_EQ(data[r * 3 + 1], float(i) + 0.5f);
          EXPECT_FLOAT_EQ(data[r * 3 + 2], -float(i));
          seen.push_back(bid[r]);
        }
        batch_sizes.push_back(bid.size());
        return Status::OK();
      }, 3);
  ASSERT_TRUE(s.ok()) << s.to_string();
  std::vector<int64_t> want = {ids[0], ids[1], ids[2], ids[6], ids[7], ids[8], ids[9]};
  EXPECT_EQ(seen, want);
  EXPECT_EQ(batch_sizes, (std::vector<size_t>{3, 3, 1}));

  // An error from the callback stops the walk and comes back.
  int calls = 0;
  s = store_->for_each_vector("clip", "m", 3, [&](auto, auto) {
    ++calls;
    return Status::Internal("stop");
  }, 2);
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(calls, 1);

  auto missing = store_->photo_ids_missing_vector("clip", "m");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(*missing, (std::vector<int64_t>{ids[3], ids[5]}));
  auto n = store_->delete_vectors_not_of_model("clip", "m");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(store_->get_vector(ids[3], "clip").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->get_vector(ids[5], "desc").ok());
}

TEST_F(StoreTest, FingerprintChangesOnEveryVectorChange) {
  int64_t a = add("a"), b = add("b");
  std::vector<float> v = {1, 0};
  auto fp0 = *store_->vector_fingerprint("clip", "m");
  EXPECT_EQ(fp0.count, 0);
  ASSERT_TRUE(store_->put_vector(a, "clip", "m", v).ok());
  ASSERT_TRUE(store_->put_vector(b, "clip", "m", v).ok());
  auto fp1 = *store_->vector_fingerprint("clip", "m");
  EXPECT_EQ(fp1.count, 2);
  EXPECT_EQ(fp1.max_id, std::max(a, b));
  EXPECT_EQ(fp1.id_sum, a + b);
  EXPECT_NE(fp1, fp0);
  EXPECT_EQ(*store_->vector_fingerprint("clip", "m"), fp1);  // stable when nothing changes

  // Re-embedding one photo keeps count/ids but must still change the fingerprint.
  std::vector<float> v2 = {0, 1};
  ASSERT_TRUE(store_->put_vector(a, "clip", "m", v2).ok());
  auto fp2 = *store_->vector_fingerprint("clip", "m");
  EXPECT_EQ(fp2.count, fp1.count);
  EXPECT_NE(fp2, fp1);

  // A desc vector does not touch the clip fingerprint.
  ASSERT_TRUE(store_->put_vector(a, "desc", "bce", v).ok());
  EXPECT_EQ(*store_->vector_fingerprint("clip", "m"), fp2);

  // Cascaded delete (photo removed) changes it too; survives reopen.
  ASSERT_TRUE(store_->delete_photo(b).ok());
  auto fp3 = *store_->vector_fingerprint("clip", "m");
  EXPECT_EQ(fp3.count, 1);
  EXPECT_NE(fp3, fp2);
  reopen();
  EXPECT_EQ(*store_->vector_fingerprint("clip", "m"), fp3);
}

TEST_F(StoreTest, Settings) {
  EXPECT_FALSE(store_->get_setting("x")->has_value());
  ASSERT_TRUE(store_->set_setting("x", "1").ok());
  EXPECT_EQ(**store_->get_setting("x"), "1");
  ASSERT_TRUE(store_->set_setting("x", "2").ok());
  EXPECT_EQ(**store_->get_setting("x"), "2");
  EXPECT_EQ(store_->set_setting("", "v").code(), StatusCode::kInvalidArgument);

  EXPECT_TRUE(store_->get_bool("flag", true));
  EXPECT_FALSE(store_->get_bool("flag", false));
  ASSERT_TRUE(store_->set_bool("flag", true).ok());
  EXPECT_TRUE(store_->get_bool("flag", false));
  ASSERT_TRUE(store_->set_setting("flag", "garbage").ok());
  EXPECT_FALSE(store_->get_bool("flag", false));

  Settings s = store_->settings();
  EXPECT_FALSE(s.auto_analyze);
  EXPECT_FALSE(s.enhanced_search);
  ASSERT_TRUE(store_->set_settings({.auto_analyze = true, .enhanced_search = false}).ok());
  reopen();
  s = store_->settings();
  EXPECT_TRUE(s.auto_analyze);
  EXPECT_FALSE(s.enhanced_search);
}

TEST_F(StoreTest, ConcurrentInsertsOfTheSameHashYieldOneRow) {
  constexpr int kThreads = 8;
  std::vector<InsertPhotoResult> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] { results[t] = *store_->insert_photo(make_photo("race")); });
  for (auto& th : threads) th.join();
  int fresh = 0;
  for (const auto& r : results) {
    fresh += r.duplicate ? 0 : 1;
    EXPECT_EQ(r.id, results[0].id);
  }
  EXPECT_EQ(fresh, 1);
  EXPECT_EQ(*store_->count_photos(), 1);
}

}  // namespace
}  // namespace sa::testing
