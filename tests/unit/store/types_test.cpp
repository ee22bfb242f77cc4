// The enum <-> string mapping of store/types.h: every value both ways, the
// exact strings the schema's CHECK constraints admit, unknown strings refused,
// and every value through a real row.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "store_test_util.h"

namespace sa::testing {
namespace {

template <typename E, typename Parse>
void expect_table(const std::vector<std::pair<E, std::string>>& table, Parse parse) {
  for (const auto& [v, name] : table) {
    EXPECT_EQ(to_string(v), name);
    ASSERT_TRUE(parse(name).has_value()) << name;
    EXPECT_EQ(*parse(name), v) << name;
    std::ostringstream os;
    os << v;
    EXPECT_EQ(os.str(), name);
  }
  for (const char* unknown : {"", "weird", "Pending", "PENDING", " pending", "pending ", "ready\n", "kReady"})
    EXPECT_FALSE(parse(unknown).has_value()) << "'" << unknown << "'";
}

TEST(StoreTypes, PhotoStatusStrings) {
  expect_table<PhotoStatus>({{PhotoStatus::kPending, "pending"},
                             {PhotoStatus::kReady, "ready"},
                             {PhotoStatus::kFailed, "failed"},
                             {PhotoStatus::kNoModel, "no_model"}},
                            parse_photo_status);
}

TEST(StoreTypes, VlmStatusStrings) {
  expect_table<VlmStatus>({{VlmStatus::kNone, "none"},
                           {VlmStatus::kPending, "pending"},
                           {VlmStatus::kRunning, "running"},
                           {VlmStatus::kDone, "done"},
                           {VlmStatus::kFailed, "failed"}},
                          parse_vlm_status);
}

TEST(StoreTypes, JobKindStrings) {
  expect_table<JobKind>({{JobKind::kEmbed, "embed"},
                         {JobKind::kDescribe, "describe"},
                         {JobKind::kEmbedDesc, "embed_desc"}},
                        parse_job_kind);
}

TEST(StoreTypes, JobStateStrings) {
  expect_table<JobState>({{JobState::kPending, "pending"},
                          {JobState::kRunning, "running"},
                          {JobState::kDone, "done"},
                          {JobState::kFailed, "failed"}},
                         parse_job_state);
}

TEST(StoreTypes, DefaultsOfANewRow) {
  PhotoInfo p;
  EXPECT_EQ(p.status, PhotoStatus::kPending);
  EXPECT_EQ(p.vlm_status, VlmStatus::kNone);
}

// Every value is written to and read back from SQLite (the CHECK constraints
// would refuse a string the mapping got wrong).
TEST_F(StoreTest, EveryStatusSurvivesARow) {
  for (PhotoStatus s : {PhotoStatus::kPending, PhotoStatus::kReady, PhotoStatus::kFailed, PhotoStatus::kNoModel}) {
    PhotoInfo p = make_photo("h-" + std::string(to_string(s)));
    p.status = s;
    auto r = store_->insert_photo(p);
    ASSERT_TRUE(r.ok()) << to_string(s) << ": " << r.status().to_string();
    EXPECT_EQ(store_->get_photo(r->id)->status, s);
    EXPECT_EQ(*store_->photo_ids_with_status(s), std::vector<int64_t>{r->id});
  }
  const int64_t id = add("vlm");
  for (VlmStatus s : {VlmStatus::kNone, VlmStatus::kPending, VlmStatus::kRunning, VlmStatus::kDone,
                      VlmStatus::kFailed}) {
    ASSERT_TRUE(store_->set_vlm_status(id, s).ok()) << to_string(s);
    EXPECT_EQ(store_->get_photo(id)->vlm_status, s);
  }
}

TEST_F(StoreTest, EveryJobKindSurvivesARow) {
  const int64_t id = add("jobs");
  for (JobKind k : {JobKind::kEmbed, JobKind::kDescribe, JobKind::kEmbedDesc}) {
    ASSERT_TRUE(*store_->enqueue_job(k, id)) << to_string(k);
    EXPECT_EQ(*store_->active_job_count(k), 1);
    const JobKind only[] = {k};
    auto claimed = store_->claim_jobs(only, 5);
    ASSERT_TRUE(claimed.ok());
    ASSERT_EQ(claimed->size(), 1u);
    EXPECT_EQ((*claimed)[0].kind, k);
    EXPECT_EQ((*claimed)[0].state, JobState::kRunning);
    ASSERT_TRUE(store_->fail_job((*claimed)[0].id, "no").ok());
    EXPECT_EQ(store_->get_job((*claimed)[0].id)->state, JobState::kFailed);
  }
  auto st = store_->job_stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->failed, 3);
  ASSERT_EQ(st->recent_failures.size(), 3u);
  std::vector<JobKind> kinds;
  for (const auto& f : st->recent_failures) kinds.push_back(f.kind);
  std::sort(kinds.begin(), kinds.end());
  EXPECT_EQ(kinds, (std::vector<JobKind>{JobKind::kEmbed, JobKind::kDescribe, JobKind::kEmbedDesc}));
}

}  // namespace
}  // namespace sa::testing
