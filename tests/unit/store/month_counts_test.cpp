// Store::timeline from the per-month counts of migration 9 (photo_months, kept
// by triggers): after every kind of change -- insert, trash, restore, a new
// date, delete, an owner change (the first admin adopting photos, a raw
// UPDATE) -- the counts equal a GROUP BY over the photos table (the query the
// timeline ran before), for everyone's scope and for each owner's; and a
// database from before migration 9 gets its counts backfilled.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "store/users.h"
#include "store_test_util.h"

namespace sa::testing {
namespace {

constexpr const char* kNow = "2026-03-01T12:00:00Z";
constexpr const char* kCutoff = "2026-01-30T12:00:00Z";

using Months = std::map<std::string, int64_t>;

// The truth, straight from the photos table through a second connection.
Months grouped(const std::string& db_path, int64_t owner) {
  auto db = Db::open(db_path);
  EXPECT_TRUE(db.ok());
  Months out;
  if (!db.ok()) return out;
  auto st = db->prepare(
      "SELECT substr(taken_at, 1, 7), count(*) FROM photos WHERE taken_at > '' AND trashed_at IS NULL" +
      std::string(owner > 0 ? " AND owner_id = " + std::to_string(owner) : "") + " GROUP BY 1");
  EXPECT_TRUE(st.ok());
  if (!st.ok()) return out;
  while (*st->step()) out[st->column_text(0)] = st->column_int64(1);
  return out;
}

Months timeline(Store& s, int64_t owner) {
  auto t = s.timeline(OwnerScope{owner});
  EXPECT_TRUE(t.ok()) << t.status().to_string();
  Months out;
  if (!t.ok()) return out;
  std::string prev;
  for (const MonthCount& m : *t) {
    EXPECT_TRUE(prev.empty() || m.month < prev) << "newest month first";
    EXPECT_GT(m.count, 0) << m.month;
    prev = m.month;
    out[m.month] = m.count;
  }
  return out;
}

class MonthCountsTest : public StoreTest {
 protected:
  int64_t add_at(const std::string& hash, const std::string& taken_at, int64_t owner) {
    PhotoInfo p = make_photo(hash);
    p.taken_at = taken_at;
    p.owner_id = owner;
    auto r = store_->insert_photo(p);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? r->id : 0;
  }
  // Every scope agrees with the table.
  void check(const char* step) {
    for (int64_t owner : owners_) EXPECT_EQ(timeline(*store_, owner), grouped(path_, owner)) << step << ", owner " << owner;
    EXPECT_FALSE(grouped(path_, 0).empty()) << step;
  }
  std::vector<int64_t> owners_ = {0};
};

TEST_F(MonthCountsTest, StayRightThroughEveryChange) {
  // Photos without an owner (before any account), across months and years,
  // and some without a date.
  std::mt19937 rng(3);
  std::vector<int64_t> ids;
  const char* months[] = {"2019-03", "2023-07", "2023-08", "2024-12", "2025-01"};
  for (int i = 0; i < 60; ++i) {
    const std::string taken = i % 11 == 0 ? "" : std::string(months[i % 5]) + "-1" + std::to_string(i % 9) + "T10:00:00";
    ids.push_back(add_at("h" + std::to_string(i), taken, 0));
  }
  check("inserted without owner");

  // The first admin adopts them (UPDATE of owner_id), a second user gets more.
  auto users = UserStore::open(path_);
  ASSERT_TRUE(users.ok());
  auto alice = (*users)->create_user("alice", "x", /*admin=*/true);
  auto bob = (*users)->create_user("bob", "x", /*admin=*/false);
  ASSERT_TRUE(alice.ok() && bob.ok());
  owners_ = {0, *alice, *bob};
  check("adopted by the first admin");
  for (int i = 0; i < 20; ++i) ids.push_back(add_at("b" + std::to_string(i), std::string(months[i % 3]) + "-02T09:00:00", *bob));
  check("inserted for bob");

  // Trash some (one month emptied entirely for bob), then restore part of them.
  std::vector<int64_t> trash;
  for (size_t i = 0; i < ids.size(); i += 4) trash.push_back(ids[i]);
  ASSERT_TRUE(store_->apply_batch(BatchAction::kTrash, trash, 0, kNow, kCutoff).ok());
  check("trashed");
  std::vector<int64_t> back(trash.begin(), trash.begin() + static_cast<int64_t>(trash.size() / 2));
  ASSERT_TRUE(store_->apply_batch(BatchAction::kRestore, back, 0, kNow, kCutoff).ok());
  check("restored");
  // Trashing what is already in the trash changes nothing.
  ASSERT_TRUE(store_->apply_batch(BatchAction::kTrash, trash, 0, kNow, kCutoff).ok());
  check("trashed again");

  // New dates: into another month, from no date to one, into a new year.
  ASSERT_TRUE(store_->set_taken_at(ids[1], "2018-01-05T00:00:00", "file").ok());
  ASSERT_TRUE(store_->set_taken_at(ids[0], "2023-07-30T00:00:00", "file").ok());  // trashed: not counted
  ASSERT_TRUE(store_->set_taken_at(ids[11], "2030-02-01T00:00:00+08:00", "file").ok());
  check("dates changed");

  // Deletes: live, trashed, undated.
  for (size_t i : {size_t{2}, size_t{4}, size_t{22}, size_t{61}}) ASSERT_TRUE(store_->delete_photo(ids[i]).ok());
  check("deleted");

  // An owner change behind the store's back, and a photo moved out of the trash by SQL.
  {
    auto db = Db::open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->exec("UPDATE photos SET owner_id = " + std::to_string(*bob) + " WHERE id % 3 = 0").ok());
    ASSERT_TRUE(db->exec("UPDATE photos SET trashed_at = NULL, owner_id = NULL WHERE id = " + std::to_string(ids[8])).ok());
  }
  check("owners changed by SQL");

  // Everything gone: no months at all.
  for (int64_t id : ids) (void)store_->delete_photo(id);
  EXPECT_TRUE(timeline(*store_, 0).empty());
  EXPECT_TRUE(timeline(*store_, *bob).empty());
}

TEST_F(MonthCountsTest, BackfilledWhenTheMigrationRuns) {
  // A database at version 8 with photos: drop what migration 9 made and its row.
  for (int i = 0; i < 30; ++i) add_at("h" + std::to_string(i), "2022-0" + std::to_string(1 + i % 4) + "-01T00:00:00", 0);
  const Months want = grouped(path_, 0);
  ASSERT_EQ(want.size(), 4u);
  store_.reset();
  {
    auto db = Db::open(path_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->exec("DROP TRIGGER photo_months_ai; DROP TRIGGER photo_months_ad; DROP TRIGGER photo_months_au;"
                         "DROP TABLE photo_months; DELETE FROM schema_version WHERE version = 9;")
                    .ok());
  }
  reopen();
  EXPECT_EQ(timeline(*store_, 0), want);
  add_at("new", "2022-01-15T00:00:00", 0);
  EXPECT_EQ(timeline(*store_, 0), grouped(path_, 0));
}

}  // namespace
}  // namespace sa::testing
