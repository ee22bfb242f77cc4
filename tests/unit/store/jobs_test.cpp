// Store: the job queue lifecycle, crash recovery, failure reasons.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "store_test_util.h"

namespace sa::testing {
namespace {

TEST_F(StoreTest, EnqueueSkipsDuplicatePending) {
  int64_t id = add("j");
  EXPECT_TRUE(*store_->enqueue_job(JobKind::kEmbed, id));
  EXPECT_FALSE(*store_->enqueue_job(JobKind::kEmbed, id));    // same pending job: skipped
  EXPECT_TRUE(*store_->enqueue_job(JobKind::kDescribe, id));  // another kind: queued
  EXPECT_EQ(store_->job_stats()->pending, 2);
  EXPECT_EQ(*store_->active_job_count(JobKind::kEmbed), 1);
  EXPECT_EQ(*store_->active_job_count(), 2);
  // An unknown kind string cannot reach the store any more (JobKind); it is
  // refused where strings come in (types_test.cpp: parse_job_kind).
  EXPECT_EQ(store_->enqueue_job(JobKind::kEmbed, 31337).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, JobLifecycle) {
  int64_t a = add("a"), b = add("b"), c = add("c");
  ASSERT_TRUE(store_->enqueue_job(JobKind::kEmbed, a).ok());
  ASSERT_TRUE(store_->enqueue_job(JobKind::kDescribe, b).ok());
  ASSERT_TRUE(store_->enqueue_job(JobKind::kEmbed, c).ok());

  std::vector<JobKind> embed = {JobKind::kEmbed};
  auto claimed = store_->claim_jobs(embed, 10);
  ASSERT_TRUE(claimed.ok()) << claimed.status().to_string();
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].photo_id, a);  // oldest first
  EXPECT_EQ((*claimed)[1].photo_id, c);
  EXPECT_EQ((*claimed)[0].state, JobState::kRunning);
  EXPECT_EQ((*claimed)[0].attempts, 1);
  EXPECT_TRUE(store_->claim_jobs(embed, 10)->empty());  // nothing left to claim

  // While running, the same work may be queued again (e.g. re-analyze).
  EXPECT_TRUE(*store_->enqueue_job(JobKind::kEmbed, a));

  ASSERT_TRUE(store_->complete_job((*claimed)[0].id).ok());
  ASSERT_TRUE(store_->fail_job((*claimed)[1].id, "decode error: truncated JPEG").ok());
  auto st = store_->job_stats();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->pending, 2);
  EXPECT_EQ(st->running, 0);
  EXPECT_EQ(st->done, 1);
  EXPECT_EQ(st->failed, 1);
  ASSERT_EQ(st->recent_failures.size(), 1u);
  EXPECT_EQ(st->recent_failures[0].job_id, (*claimed)[1].id);
  EXPECT_EQ(st->recent_failures[0].photo_id, c);
  EXPECT_EQ(st->recent_failures[0].kind, JobKind::kEmbed);
  EXPECT_EQ(st->recent_failures[0].error, "decode error: truncated JPEG");
  EXPECT_FALSE(st->recent_failures[0].at.empty());

  auto retried = store_->retry_failed_jobs();
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(*retried, 1);
  auto j = store_->get_job((*claimed)[1].id);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->state, JobState::kPending);
  EXPECT_EQ(j->error, "decode error: truncated JPEG");  // reason kept for display
  auto again = store_->claim_jobs(embed, 10);
  ASSERT_EQ(again->size(), 2u);
  auto it = std::find_if(again->begin(), again->end(), [&](const Job& x) { return x.photo_id == c; });
  ASSERT_NE(it, again->end());
  EXPECT_EQ(it->attempts, 2);

  // All kinds when the list is empty.
  auto rest = store_->claim_jobs({}, 10);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].kind, JobKind::kDescribe);

  EXPECT_EQ(*store_->purge_done_jobs(), 1);
  EXPECT_EQ(store_->job_stats()->done, 0);
  EXPECT_EQ(store_->complete_job(99999).code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->fail_job(99999, "x").code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->get_job(99999).status().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, FailWithRetryGoesBackToPending) {
  int64_t a = add("a");
  ASSERT_TRUE(store_->enqueue_job(JobKind::kDescribe, a).ok());
  auto j = (*store_->claim_jobs({}, 1))[0];
  ASSERT_TRUE(store_->fail_job(j.id, "HTTP 503", /*retry=*/true).ok());
  auto got = store_->get_job(j.id);
  EXPECT_EQ(got->state, JobState::kPending);
  EXPECT_EQ(got->error, "HTTP 503");
  EXPECT_EQ(got->attempts, 1);

  // If a twin was queued while this one ran, retrying drops this one.
  j = (*store_->claim_jobs({}, 1))[0];
  ASSERT_TRUE(*store_->enqueue_job(JobKind::kDescribe, a));
  ASSERT_TRUE(store_->fail_job(j.id, "HTTP 503", true).ok());
  EXPECT_EQ(store_->get_job(j.id).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store_->job_stats()->pending, 1);
}

TEST_F(StoreTest, RetryFailedByKindAndWithTwins) {
  int64_t a = add("a"), b = add("b");
  ASSERT_TRUE(store_->enqueue_job(JobKind::kEmbed, a).ok());
  ASSERT_TRUE(store_->enqueue_job(JobKind::kDescribe, b).ok());
  auto first = store_->claim_jobs({}, 10);
  ASSERT_TRUE(first.ok());
  for (const Job& j : *first) ASSERT_TRUE(store_->fail_job(j.id, "boom").ok());
  // A second failed embed of `a` and a pending one: retrying must not violate
  // the one-pending-per-photo rule.
  ASSERT_TRUE(store_->enqueue_job(JobKind::kEmbed, a).ok());
  std::vector<JobKind> embed = {JobKind::kEmbed};
  auto second = store_->claim_jobs(embed, 10);
  ASSERT_TRUE(second.ok());
  for (const Job& j : *second) ASSERT_TRUE(store_->fail_job(j.id, "boom2").ok());
  ASSERT_TRUE(store_->enqueue_job(JobKind::kEmbed, a).ok());

  auto n = store_->retry_failed_jobs(JobKind::kDescribe);
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  EXPECT_EQ(*n, 1);
  n = store_->retry_failed_jobs(JobKind::kEmbed);
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  auto st = *store_->job_stats();
  EXPECT_EQ(st.failed, 0);
  EXPECT_EQ(st.pending, 2);  // one embed of a, one describe of b
}

TEST_F(StoreTest, CrashRecoveryRunningBackToPending) {
  int64_t a = add("a"), b = add("b");
  ASSERT_TRUE(store_->enqueue_job(JobKind::kEmbed, a).ok());
  ASSERT_TRUE(store_->enqueue_job(JobKind::kDescribe, b).ok());
  ASSERT_TRUE(store_->set_vlm_status(b, VlmStatus::kRunning).ok());
  ASSERT_EQ(store_->claim_jobs({}, 10)->size(), 2u);
  EXPECT_EQ(store_->job_stats()->running, 2);

  // A second process opening without recovery leaves them alone.
  {
    StoreOptions no_recover;
    no_recover.recover_jobs = false;
    auto other = Store::open(path_, no_recover);
    ASSERT_TRUE(other.ok());
    EXPECT_EQ((*other)->job_stats()->running, 2);
  }

  reopen();  // as after a crash: the default open recovers
  auto st = *store_->job_stats();
  EXPECT_EQ(st.running, 0);
  EXPECT_EQ(st.pending, 2);
  EXPECT_EQ(store_->get_photo(b)->vlm_status, VlmStatus::kPending);
  auto claimed = store_->claim_jobs({}, 10);
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].attempts, 2);  // the interrupted attempt counts
}

TEST_F(StoreTest, ConcurrentClaimsNeverShareAJob) {
  constexpr int kJobs = 200, kThreads = 4;
  for (int i = 0; i < kJobs; ++i) ASSERT_TRUE(store_->enqueue_job(JobKind::kEmbed, add("p" + std::to_string(i))).ok());
  std::vector<std::vector<int64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (true) {
        auto c = store_->claim_jobs({}, 3);
        if (!c.ok() || c->empty()) break;
        for (const Job& j : *c) {
          got[t].push_back(j.id);
          (void)store_->complete_job(j.id);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  size_t total = 0;
  for (const auto& g : got) {
    total += g.size();
    all.insert(g.begin(), g.end());
  }
  EXPECT_EQ(total, static_cast<size_t>(kJobs));
  EXPECT_EQ(all.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(store_->job_stats()->done, kJobs);
}

TEST_F(StoreTest, ClaimFromTwoConnections) {
  // Two Store objects on one file stand in for two processes.
  auto other = Store::open(path_, {.busy_timeout_ms = 5000, .recover_jobs = false});
  ASSERT_TRUE(other.ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store_->enqueue_job(JobKind::kEmbed, add("q" + std::to_string(i))).ok());
  std::set<int64_t> ids;
  size_t total = 0;
  std::thread t1([&] {
    while (true) {
      auto c = store_->claim_jobs({}, 2);
      ASSERT_TRUE(c.ok()) << c.status().to_string();
      if (c->empty()) break;
      for (auto& j : *c) { ids.insert(j.id); ++total; }
    }
  });
  std::vector<int64_t> mine;
  while (true) {
    auto c = (*other)->claim_jobs({}, 2);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    if (c->empty()) break;
    for (auto& j : *c) mine.push_back(j.id);
  }
  t1.join();
  for (int64_t id : mine) EXPECT_EQ(ids.count(id), 0u);
  EXPECT_EQ(total + mine.size(), 20u);
}

}  // namespace
}  // namespace sa::testing
