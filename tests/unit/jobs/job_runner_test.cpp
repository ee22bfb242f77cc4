#include "jobs/job_runner.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <random>

#include "../search/golden_util.h"
#include "core/file_util.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

TEST(PixelCache, TakeRemovesAndChecksResolution) {
  PixelCache c(1000 * sizeof(float));
  EXPECT_TRUE(c.put(1, 10, std::vector<float>(300, 1.0f)));
  EXPECT_TRUE(c.put(2, 10, std::vector<float>(300, 2.0f)));
  EXPECT_TRUE(c.put(3, 12, std::vector<float>(300, 3.0f)));
  EXPECT_FALSE(c.put(4, 10, std::vector<float>(300, 4.0f)));  // full: keeps the older ones
  EXPECT_EQ(c.bytes(), 900 * sizeof(float));
  auto a = c.take(1, 10);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ((*a)[0], 1.0f);
  EXPECT_FALSE(c.take(1, 10).has_value());
  EXPECT_FALSE(c.take(3, 224).has_value());  // made for another model resolution: dropped
  EXPECT_FALSE(c.take(3, 12).has_value());
  c.erase(2);
  EXPECT_EQ(c.bytes(), 0u);
  EXPECT_TRUE(c.put(4, 10, std::vector<float>(300, 4.0f)));
}

// Two import threads waiting for room for one entry: the first reserves it, the
// second keeps waiting (it would otherwise decode a photo the cache then
// refuses, and the worker would decode it again); put() with the reservation
// and release() end it.
TEST(PixelCache, RoomIsReservedForOneWaiterAtATime) {
  const size_t entry = 300 * sizeof(float);
  PixelCache c(2 * entry);
  std::atomic<bool> cancel{false};
  ASSERT_TRUE(c.put(1, 10, std::vector<float>(300, 1.0f)));
  ASSERT_TRUE(c.wait_for_room(entry, cancel, 5.0));  // the last room, reserved
  EXPECT_EQ(c.bytes(), 2 * entry);
  EXPECT_TRUE(c.put(2, 10, std::vector<float>(300, 2.0f), entry));  // uses the reservation
  EXPECT_EQ(c.bytes(), 2 * entry);
  // A waiter gets the room a take() frees.
  std::thread taker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    (void)c.take(1, 10);
  });
  EXPECT_TRUE(c.wait_for_room(entry, cancel, 5.0));
  taker.join();
  EXPECT_EQ(c.bytes(), 2 * entry);
  c.release(entry);  // the photo turned out a duplicate: nothing put
  EXPECT_EQ(c.bytes(), entry);
  // Room for one: the first waiter reserves it, the second finds none.
  ASSERT_TRUE(c.wait_for_room(entry, cancel, 5.0));
  EXPECT_FALSE(c.wait_for_room(entry, cancel, 0.2));  // nothing taken meanwhile: stalls
  EXPECT_FALSE(c.put(3, 10, std::vector<float>(600, 3.0f), entry));  // too big even with its room
  EXPECT_EQ(c.bytes(), entry);  // the reservation ended anyway
}

class FakeVlm : public VlmClient {
 public:
  Result<VlmResult> describe(std::string_view jpeg) override {
    auto m = probe_image(jpeg, DecodeLimits{});
    if (!m.ok()) return m.status();
    return VlmResult{"宽 " + std::to_string(m->width) + " 的照片", {"测试"}, "fake-vl"};
  }
};

class JobRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = ChineseClip::load(golden::tiny_clip_dir());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    clip_ = m->release();
  }
  static void TearDownTestSuite() { delete clip_; }

  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("sa_jobs_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_ / "index");
    auto s = Store::open((dir_ / "album.db").string());
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    IngestOptions io;
    io.data_dir = dir_.string();
    ingest_ = std::make_unique<Ingestor>(*store_, io);
    auto vs = VectorSet::open(*store_, "clip", "tiny", clip_->embed_dim(), (dir_ / "index/clip.faiss").string());
    ASSERT_TRUE(vs.ok());
    clip_vectors_ = std::move(*vs);
    auto ds = VectorSet::open(*store_, "desc", "fake-text", 4, (dir_ / "index/desc.faiss").string());
    ASSERT_TRUE(ds.ok());
    desc_vectors_ = std::move(*ds);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  int64_t add(const std::string& file) {
    auto bytes = read_file(golden::data("images/" + file));
    auto r = ingest_->add(file, *bytes);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_TRUE(store_->enqueue_job(JobKind::kEmbed, r->id).ok());
    return r->id;
  }
  JobRunnerDeps deps() {
    JobRunnerDeps d;
    d.store = store_.get();
    d.ingest = ingest_.get();
    d.clip = clip_;
    d.clip_vectors = clip_vectors_.get();
    return d;
  }

  static inline ChineseClip* clip_ = nullptr;
  fs::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Ingestor> ingest_;
  std::unique_ptr<VectorSet> clip_vectors_, desc_vectors_;
};

TEST_F(JobRunnerTest, EmbedsInBatchesIntoStoreAndIndex) {
  auto g = golden::load();
  std::map<int64_t, std::string> name_of;
  for (auto& im : g.images) name_of[add(im.file)] = im.name;
  JobRunnerDeps d = deps();
  d.embed_batch = 2;
  JobRunner runner(d);
  EXPECT_EQ(runner.active_kinds(), (std::vector<JobKind>{JobKind::kEmbed}));
  runner.start();
  ASSERT_TRUE(runner.wait_idle(120));
  EmbedStats st = runner.embed_stats();
  EXPECT_EQ(st.images, 7);
  EXPECT_EQ(st.batches, 4);
  EXPECT_GT(st.encode_seconds, 0);
  EXPECT_EQ(clip_vectors_->index().size(), 7);
  for (auto& [id, name] : name_of) {
    EXPECT_EQ(store_->get_photo(id)->status, PhotoStatus::kReady);
    auto v = store_->get_vector(id, "clip");
    ASSERT_TRUE(v.ok());
    for (auto& im : g.images) {
      if (im.name == name) {
        EXPECT_GT(golden::dot(v->data, im.emb), 0.999f) << name;
      }
    }
  }
  // wait_idle saved the index: a fresh load agrees with the database.
  runner.stop();
  IndexLoadOutcome o;
  auto again = VectorIndex::load_or_rebuild((dir_ / "index/clip.faiss").string(), *store_, "clip", "tiny",
                                            clip_->embed_dim(), &o);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(o, IndexLoadOutcome::kLoaded);
}

TEST_F(JobRunnerTest, AMissingOriginalFailsWithAReason) {
  int64_t good = add("pokemon.jpeg");
  int64_t bad = add("chelsea_small.png");
  ASSERT_TRUE(fs::remove(ingest_->original_path(*store_->get_photo(bad))));
  JobRunner runner(deps());
  runner.start();
  ASSERT_TRUE(runner.wait_idle(120));
  EXPECT_EQ(store_->get_photo(good)->status, PhotoStatus::kReady);
  auto p = store_->get_photo(bad);
  EXPECT_EQ(p->status, PhotoStatus::kFailed);
  EXPECT_NE(p->error.find("cannot read the original"), std::string::npos) << p->error;
  auto js = store_->job_stats(10);
  ASSERT_TRUE(js.ok());
  EXPECT_EQ(js->failed, 1);
  ASSERT_EQ(js->recent_failures.size(), 1u);
  EXPECT_EQ(js->recent_failures[0].photo_id, bad);
}

TEST_F(JobRunnerTest, JobsOfADeletedPhotoAreDropped) {
  int64_t id = add("pokemon.jpeg");
  ASSERT_TRUE(store_->delete_photo(id).ok());
  JobRunner runner(deps());
  runner.start();
  ASSERT_TRUE(runner.wait_idle(60));
  EXPECT_EQ(clip_vectors_->index().size(), 0);
}

TEST_F(JobRunnerTest, KindsWithoutAWorkerStayQueued) {
  int64_t id = add("pokemon.jpeg");
  JobRunnerDeps d;
  d.store = store_.get();
  d.ingest = ingest_.get();
  JobRunner runner(d);  // no model at all
  EXPECT_TRUE(runner.active_kinds().empty());
  runner.start();
  EXPECT_TRUE(runner.wait_idle(1));
  runner.stop();
  EXPECT_EQ(*store_->active_job_count(JobKind::kEmbed), 1);
  EXPECT_EQ(store_->get_photo(id)->status, PhotoStatus::kPending);
}

TEST_F(JobRunnerTest, DescribeThenEmbedTheDescription) {
  int64_t id = add("pokemon.jpeg");
  ASSERT_TRUE(store_->enqueue_job(JobKind::kDescribe, id).ok());
  FakeVlm vlm;
  std::vector<std::string> seen_texts;
  std::mutex mu;
  JobRunnerDeps d = deps();
  d.vlm = &vlm;
  d.vlm_concurrency = 2;
  d.desc_vectors = desc_vectors_.get();
  d.text_encoder = [&](const std::vector<std::string>& texts, std::vector<float>* out) {
    std::lock_guard<std::mutex> lk(mu);
    out->clear();
    for (auto& t : texts) {
      seen_texts.push_back(t);
      out->insert(out->end(), {0.5f, 0.5f, 0.5f, 0.5f});
    }
    return Status::OK();
  };
  JobRunner runner(d);
  EXPECT_EQ(runner.active_kinds(), (std::vector<JobKind>{JobKind::kEmbed, JobKind::kDescribe, JobKind::kEmbedDesc}));
  runner.start();
  ASSERT_TRUE(runner.wait_idle(120));
  auto p = store_->get_photo(id);
  EXPECT_EQ(p->vlm_status, VlmStatus::kDone);
  EXPECT_EQ(p->description, "宽 224 的照片");
  EXPECT_EQ(p->vlm_model, "fake-vl");
  ASSERT_EQ(seen_texts.size(), 1u);
  EXPECT_EQ(seen_texts[0], "宽 224 的照片 测试");
  auto v = store_->get_vector(id, "desc");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->model, "fake-text");
  EXPECT_EQ(desc_vectors_->index().size(), 1);
  auto hits = store_->search_text("测试", 10);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
}

// A VLM that answers only when cancelled (a hung server): stop() cancels it,
// and the interrupted describe job goes back to pending, not to failed.
class HungVlm : public VlmClient {
 public:
  Result<VlmResult> describe(std::string_view) override {
    entered = true;
    while (!cancelled) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return Status::Unavailable("VLM request cancelled");
  }
  void cancel(bool on) override {
    cancelled = on;
    if (on) ++cancels;
  }
  std::atomic<bool> entered{false}, cancelled{false};
  std::atomic<int> cancels{0};
};

TEST_F(JobRunnerTest, StopCancelsAHungDescribeAndKeepsItsJob) {
  int64_t id = add("pokemon.jpeg");
  ASSERT_TRUE(store_->enqueue_job(JobKind::kDescribe, id).ok());
  HungVlm vlm;
  JobRunnerDeps d = deps();
  d.clip = nullptr;  // describe only
  d.clip_vectors = nullptr;
  d.vlm = &vlm;
  d.vlm_concurrency = 1;
  {
    JobRunner runner(d);
    runner.start();
    while (!vlm.entered) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    runner.stop();  // returns: the hung call was cancelled
  }
  EXPECT_EQ(vlm.cancels, 1);
  EXPECT_FALSE(vlm.cancelled);  // usable again by a next run
  EXPECT_EQ(*store_->active_job_count(JobKind::kDescribe), 1);
  EXPECT_EQ(store_->job_stats()->failed, 0);
  auto p = store_->get_photo(id);
  EXPECT_EQ(p->vlm_status, VlmStatus::kPending);
  EXPECT_EQ(p->vlm_error, "");
}

// Photos that arrive one by one while the encoder is busy (an import) are encoded
// as whole batches, not claimed one or two at a time as they come.
TEST_F(JobRunnerTest, TrickledJobsFillAWholeBatchWhileTheEncoderIsBusy) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::vector<int> sizes;
  JobRunnerDeps d = deps();
  d.embed_batch = 4;
  d.before_encode = [&](int n) {
    std::unique_lock<std::mutex> lk(mu);
    sizes.push_back(n);
    cv.notify_all();
    cv.wait(lk, [&] { return release; });  // the first batch holds the encoder
  };
  JobRunner runner(d);
  runner.start();
  add("pokemon.jpeg");
  runner.notify();
  {
    std::unique_lock<std::mutex> lk(mu);
    ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(60), [&] { return !sizes.empty(); }));
  }
  // Four more, one at a time, each announced as an import does.
  for (auto f : {"chelsea.png", "coffee.png", "camera.png", "chelsea_small.png"}) {
    add(f);
    runner.notify();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a worker would claim now
  }
  {
    std::lock_guard<std::mutex> lk(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(runner.wait_idle(120));
  std::lock_guard<std::mutex> lk(mu);
  EXPECT_EQ(sizes, (std::vector<int>{1, 4}));
  EXPECT_EQ(runner.embed_stats().images, 5);
}

TEST_F(JobRunnerTest, StopLeavesUnfinishedJobsPending) {
  for (auto f : {"pokemon.jpeg", "chelsea.png", "coffee.png", "camera.png", "chelsea_small.png"}) add(f);
  JobRunnerDeps d = deps();
  d.embed_batch = 1;
  {
    JobRunner runner(d);
    runner.start();
    runner.stop();  // immediately: whatever was not stored must still be queued
  }
  int64_t ready = store_->photo_ids_with_status(PhotoStatus::kReady)->size();
  EXPECT_EQ(*store_->active_job_count(JobKind::kEmbed) + ready, 5);
  auto js = store_->job_stats(10);
  EXPECT_EQ(js->running, 0);
  EXPECT_EQ(js->failed, 0);
  JobRunner again(d);
  again.start();
  ASSERT_TRUE(again.wait_idle(120));
  EXPECT_EQ(store_->photo_ids_with_status(PhotoStatus::kReady)->size(), 5u);
}

}  // namespace
}  // namespace sa
