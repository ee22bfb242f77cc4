// The Album facade end to end: real images, the tiny Chinese-CLIP model, a
// temporary data directory, and a fake VLM client.
#include "app/album_impl.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>
#include <thread>

#include "../search/golden_util.h"
#include "core/file_util.h"
#include "core/sha256.h"
#include "image/image.h"
#include "store/store.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

constexpr double kIdleTimeout = 120;

std::string image_bytes(const std::string& file) {
  auto r = read_file(golden::data("images/" + file));
  EXPECT_TRUE(r.ok()) << file;
  return r.ok() ? *r : "";
}

std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  if (!fs::exists(dir)) return out;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Describes photos by their width (the test images all differ), or fails.
class FakeVlm : public VlmClient {
 public:
  explicit FakeVlm(std::map<int, VlmResult> by_width) : by_width_(std::move(by_width)) {}
  Result<VlmResult> describe(std::string_view jpeg) override {
    ++calls;
    if (fail_all) return Status::Unavailable("fake VLM is down");
    auto m = probe_image(jpeg, DecodeLimits{});
    if (!m.ok()) return m.status();
    if (m->format != "jpeg") return Status::InvalidArgument("expected a JPEG");
    if (std::max(m->width, m->height) > 1024) return Status::InvalidArgument("image too large for the VLM");
    auto it = by_width_.find(m->width);
    if (it == by_width_.end()) return Status::InvalidArgument("fake VLM has no description for this photo");
    return it->second;
  }
  std::atomic<int> calls{0};
  std::atomic<bool> fail_all{false};

 private:
  std::map<int, VlmResult> by_width_;
};

class AlbumTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = ChineseClip::load(golden::tiny_clip_dir());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    clip_ = std::shared_ptr<const ChineseClip>(std::move(*m));
    auto t = SentenceEmbedder::load(golden::data("text/tiny-bert-mean"));
    ASSERT_TRUE(t.ok()) << t.status().to_string();
    text_ = std::shared_ptr<const SentenceEmbedder>(std::move(*t));
    golden_ = new golden::Golden(golden::load());
  }
  static void TearDownTestSuite() {
    clip_.reset();
    text_.reset();
    delete golden_;
  }

  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("sa_album_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(root_);
    cfg_.data_dir = (root_ / "data").string();
    cfg_.embed_batch = 3;
    cfg_.vlm.api_key.clear();
    cfg_.vlm.base_url = "https://example.invalid/v1";  // not configured: no real VLM
  }
  void TearDown() override {
    album_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  AlbumDeps deps(bool with_clip = true) {
    AlbumDeps d;
    if (with_clip) {
      d.clip = clip_;
      d.clip_name = "tiny-b16";
    }
    return d;
  }
  void open(AlbumDeps d) {
    album_.reset();
    auto a = open_album(cfg_, std::move(d));
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    album_ = std::move(*a);
  }
  int64_t add(const std::string& file, const std::string& name = "") {
    auto r = album_->add_file(name.empty() ? file : name, image_bytes(file));
    EXPECT_TRUE(r.ok()) << file << ": " << r.status().to_string();
    return r.ok() ? r->id : 0;
  }
  // Adds the seven golden images; returns name -> id.
  std::map<std::string, int64_t> add_golden_images() {
    std::map<std::string, int64_t> ids;
    for (auto& im : golden_->images) ids[im.name] = add(im.file);
    return ids;
  }

  static inline std::shared_ptr<const ChineseClip> clip_;
  static inline std::shared_ptr<const SentenceEmbedder> text_;
  static inline golden::Golden* golden_ = nullptr;
  fs::path root_;
  Config cfg_;
  std::unique_ptr<AlbumImpl> album_;
};

TEST_F(AlbumTest, AddsFilesAndEmbedsThemInTheBackground) {
  open(deps());
  EXPECT_TRUE(album_->has_clip_model());
  EXPECT_FALSE(album_->has_vlm());
  EXPECT_EQ(album_->model_name(), "tiny-b16");
  for (const char* sub : {"album.db", "originals", "thumbnails", "index"}) {
    EXPECT_TRUE(fs::exists(fs::path(cfg_.data_dir) / sub)) << sub;
  }
  auto ids = add_golden_images();
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  auto page = album_->list_photos(1, 50);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 7);
  for (auto& [name, id] : ids) {
    auto p = album_->get_photo(id);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->status, PhotoStatus::kReady) << name << ": " << p->error;
    auto v = album_->store().get_vector(id, "clip");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->model, "tiny-b16");
    EXPECT_NEAR(golden::dot(v->data, v->data), 1.0f, 1e-4);
    // The stored vector is the golden embedding of the file (decode + resize within tolerance).
    for (auto& im : golden_->images) {
      if (im.name == name) {
        EXPECT_GT(golden::dot(v->data, im.emb), 0.999f) << name;
      }
    }
    auto orig = album_->original_path(id);
    ASSERT_TRUE(orig.ok());
    EXPECT_EQ(*read_file(*orig), image_bytes(p->filename));
    auto thumb = album_->thumbnail_path(id);
    ASSERT_TRUE(thumb.ok());
    auto tm = probe_image(*read_file(*thumb), DecodeLimits{});
    ASSERT_TRUE(tm.ok()) << tm.status().to_string();
    EXPECT_EQ(tm->format, "jpeg");
    EXPECT_LE(std::max(tm->width, tm->height), 400);
  }
  JobStats js = album_->job_stats();
  EXPECT_EQ(js.pending, 0);
  EXPECT_EQ(js.running, 0);
  EXPECT_EQ(js.failed, 0);
  EmbedStats es = album_->embed_stats();
  EXPECT_EQ(es.images, 7);
  EXPECT_GE(es.batches, 3);  // embed_batch = 3
}

TEST_F(AlbumTest, DuplicatesReturnTheExistingPhoto) {
  open(deps());
  int64_t id = add("pokemon.jpeg");
  auto again = album_->add_file("copy/of/pokemon.jpeg", image_bytes("pokemon.jpeg"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->id, id);
  EXPECT_EQ(again->filename, "copy/of/pokemon.jpeg");
  EXPECT_EQ(album_->list_photos(1, 10)->total, 1);
}

TEST_F(AlbumTest, BadFilesAreRejectedWithReasonsAndLeaveNothingBehind) {
  cfg_.max_upload_bytes = 200'000;
  open(deps());
  auto r = album_->add_file("notes.jpg", "just some text, not a JPEG");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(r.status().message().empty());
  std::string jpeg = image_bytes("coffee_q90.jpg");
  r = album_->add_file("cut.jpg", jpeg.substr(0, jpeg.size() / 3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = album_->add_file("big.png", image_bytes("coffee.png"));  // 466 KB > 200 KB
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  // A good file in the same batch still goes in.
  EXPECT_GT(add("pokemon.jpeg"), 0);
  EXPECT_EQ(album_->list_photos(1, 10)->total, 1);
  EXPECT_EQ(files_under(fs::path(cfg_.data_dir) / "originals").size(), 1u);
  EXPECT_EQ(files_under(fs::path(cfg_.data_dir) / "thumbnails").size(), 1u);
}

TEST_F(AlbumTest, TraversalNamesAreStoredAsMetadataOnly) {
  open(deps());
  int64_t a = add("pokemon.jpeg", "../../etc/passwd");
  int64_t b = add("chelsea_small.png", "/abs/../..\\..\\x\\cat.png");
  auto pa = album_->get_photo(a);
  EXPECT_EQ(pa->filename, "passwd");
  EXPECT_EQ(pa->folder, "etc");
  auto pb = album_->get_photo(b);
  EXPECT_EQ(pb->filename, "cat.png");
  EXPECT_EQ(pb->folder, "abs/x");
  for (auto& f : files_under(root_)) EXPECT_EQ(f.rfind("data/", 0), 0u) << f;
  EXPECT_FALSE(fs::exists(root_ / "etc"));
  EXPECT_FALSE(fs::exists(fs::path(cfg_.data_dir) / "etc"));
}

TEST_F(AlbumTest, TextSearchFollowsTheGoldenEmbeddings) {
  open(deps());
  auto ids = add_golden_images();
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  std::map<int64_t, std::string> name_of;
  for (auto& [n, id] : ids) name_of[id] = n;
  SearchOptions opt;
  opt.limit = 7;
  int pairs = 0;
  for (auto& t : golden_->texts) {
    if (t.name.find_first_not_of(" \t\n") == std::string::npos) continue;
    auto hits = album_->search(t.name, opt);
    ASSERT_TRUE(hits.ok()) << hits.status().to_string();
    ASSERT_EQ(hits->size(), 7u);
    std::map<std::string, size_t> rank;
    for (size_t i = 0; i < hits->size(); ++i) {
      const std::string& n = name_of[(*hits)[i].photo.id];
      rank[n] = i;
      for (auto& im : golden_->images) {
        if (im.name == n) {
          EXPECT_NEAR((*hits)[i].clip_score, golden::dot(t.emb, im.emb), 0.01) << t.name << " " << n;
        }
      }
    }
    // Images embedded from files agree with the goldens to cosine >= 0.9999, so
    // pairs separated by more than 0.03 must keep their order.
    for (auto& [better, worse] : golden::separated_pairs(*golden_, t.emb, 0.03f)) {
      EXPECT_LT(rank[better], rank[worse]) << t.name << ": " << better << " before " << worse;
      ++pairs;
    }
  }
  EXPECT_GT(pairs, 50);
}

TEST_F(AlbumTest, SimilarExcludesThePhotoItself) {
  open(deps());
  auto ids = add_golden_images();
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  auto r = album_->similar(ids["chelsea"], 3);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 3u);
  for (auto& h : *r) EXPECT_NE(h.photo.id, ids["chelsea"]);
  // The rotated and the small copy of the same cat are its nearest neighbours.
  std::set<int64_t> top2 = {(*r)[0].photo.id, (*r)[1].photo.id};
  EXPECT_TRUE(top2.count(ids["chelsea_exif6"]));
  EXPECT_TRUE(top2.count(ids["chelsea_small"]));
  EXPECT_EQ(album_->similar(424242, 3).status().code(), StatusCode::kNotFound);
}

TEST_F(AlbumTest, DeleteRemovesRowFilesVectorsAndIndexEntry) {
  open(deps());
  auto ids = add_golden_images();
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  int64_t id = ids["pokemon"];
  std::string orig = *album_->original_path(id);
  std::string thumb = *album_->thumbnail_path(id);
  ASSERT_TRUE(album_->delete_photo(id).ok());
  EXPECT_EQ(album_->get_photo(id).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(orig));
  EXPECT_FALSE(fs::exists(thumb));
  EXPECT_EQ(album_->store().get_vector(id, "clip").status().code(), StatusCode::kNotFound);
  SearchOptions opt;
  opt.limit = 10;
  auto hits = album_->search("小火龙", opt);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 6u);
  for (auto& h : *hits) EXPECT_NE(h.photo.id, id);
  EXPECT_EQ(album_->delete_photo(id).code(), StatusCode::kNotFound);
  // The deletion survives a restart (the saved index agrees with the database).
  open(deps());
  EXPECT_EQ(album_->open_report().clip_index, IndexLoadOutcome::kLoaded);
  hits = album_->search("小火龙", opt);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 6u);
}

TEST_F(AlbumTest, PersistsAcrossReopen) {
  open(deps());
  auto ids = add_golden_images();
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  SearchOptions opt;
  opt.limit = 7;
  auto before = album_->search("一杯咖啡", opt);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(album_->set_settings(Settings{true, true}).ok());
  open(deps());
  EXPECT_EQ(album_->open_report().clip_index, IndexLoadOutcome::kLoaded);
  EXPECT_EQ(album_->open_report().embed_jobs_queued, 0);
  EXPECT_EQ(album_->list_photos(1, 50)->total, 7);
  auto after = album_->search("一杯咖啡", opt);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), before->size());
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ((*after)[i].photo.id, (*before)[i].photo.id);
    EXPECT_FLOAT_EQ((*after)[i].score, (*before)[i].score);
  }
  EXPECT_TRUE(album_->settings().auto_analyze);
  EXPECT_TRUE(album_->settings().enhanced_search);
}

TEST_F(AlbumTest, MissingOrTruncatedIndexIsRebuiltFromTheDatabase) {
  open(deps());
  add_golden_images();
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  SearchOptions opt;
  opt.limit = 7;
  auto before = album_->search("海边的日落", opt);
  ASSERT_TRUE(before.ok());
  album_.reset();
  const fs::path idx = fs::path(cfg_.data_dir) / "index" / "clip.faiss";
  ASSERT_TRUE(fs::exists(idx));

  fs::remove(idx);
  open(deps());
  EXPECT_EQ(album_->open_report().clip_index, IndexLoadOutcome::kRebuiltMissing);
  auto r1 = album_->search("海边的日落", opt);
  ASSERT_TRUE(r1.ok());
  ASSERT_EQ(r1->size(), 7u);
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ((*r1)[i].photo.id, (*before)[i].photo.id);
  album_.reset();

  fs::resize_file(idx, fs::file_size(idx) / 2);
  open(deps());
  EXPECT_EQ(album_->open_report().clip_index, IndexLoadOutcome::kRebuiltCorrupt);
  auto r2 = album_->search("海边的日落", opt);
  ASSERT_TRUE(r2.ok());
  ASSERT_EQ(r2->size(), 7u);
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ((*r2)[i].photo.id, (*before)[i].photo.id);
}

TEST_F(AlbumTest, PendingJobsResumeAfterRestart) {
  AlbumDeps d = deps();
  d.start_workers = false;
  open(std::move(d));
  auto ids = add_golden_images();
  EXPECT_FALSE(album_->wait_idle(0.05));
  EXPECT_EQ(album_->job_stats().pending, 7);
  EXPECT_EQ(album_->get_photo(ids["pokemon"])->status, PhotoStatus::kPending);
  album_.reset();  // "crash" with everything queued

  open(deps());
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  for (auto& [n, id] : ids) EXPECT_EQ(album_->get_photo(id)->status, PhotoStatus::kReady) << n;
  EXPECT_EQ(album_->job_stats().pending, 0);
}

TEST_F(AlbumTest, WithoutAModelPhotosWaitAndGetEmbeddedLater) {
  open(deps(/*with_clip=*/false));
  EXPECT_FALSE(album_->has_clip_model());
  int64_t id = add("pokemon.jpeg");
  EXPECT_TRUE(album_->wait_idle(5));
  EXPECT_EQ(album_->get_photo(id)->status, PhotoStatus::kNoModel);
  auto s = album_->search("猫", SearchOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find("no CLIP model loaded"), std::string::npos);
  EXPECT_EQ(album_->similar(id, 5).status().code(), StatusCode::kUnavailable);

  open(deps());
  EXPECT_EQ(album_->open_report().embed_jobs_queued, 1);
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  EXPECT_EQ(album_->get_photo(id)->status, PhotoStatus::kReady);
  auto hits = album_->search("猫", SearchOptions{});
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 1u);
}

// A server opening in the background (issue 16: a restart with 1M photos
// answers at once) reconciles the job queue after open returns, and the photo
// that lacks a vector is still queued and embedded.
TEST_F(AlbumTest, BackgroundOpenReconcilesAfterReturning) {
  open(deps(/*with_clip=*/false));
  int64_t id = add("pokemon.jpeg");
  EXPECT_TRUE(album_->wait_idle(5));
  EXPECT_EQ(album_->get_photo(id)->status, PhotoStatus::kNoModel);
  AlbumDeps d = deps();
  d.index_in_background = true;
  open(std::move(d));
  ASSERT_TRUE(album_->wait_indexes_ready(30));
  for (int i = 0; i < 3000 && !album_->reconciled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(album_->reconciled());
  EXPECT_EQ(album_->open_report().embed_jobs_queued, 1);
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  EXPECT_EQ(album_->get_photo(id)->status, PhotoStatus::kReady);
  auto hits = album_->search("猫", SearchOptions{});
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 1u);
}

// A CLI import (or delete) by another process beside a running server: the
// server's searches see it without a restart.
TEST_F(AlbumTest, PicksUpWhatAnotherProcessChanged) {
  AlbumDeps server = deps();
  server.external_sync_ms = 0;  // this test runs the sync itself
  open(server);
  const int64_t first = add("pokemon.jpeg");
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  EXPECT_EQ(*album_->sync_external_changes(), 0);  // its own writes are not news
  auto count_hits = [&] {
    SearchOptions opt;
    opt.limit = 50;
    auto r = album_->search("猫", opt);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? r->size() : size_t{0};
  };
  ASSERT_EQ(count_hits(), 1u);

  int64_t cat = 0, coffee = 0;
  {  // another process with the model embeds what it imports itself
    AlbumDeps cli = deps();
    cli.external_sync_ms = 0;
    auto other = open_album(cfg_, cli);
    ASSERT_TRUE(other.ok()) << other.status().to_string();
    cat = (*other)->add_file("chelsea_small.png", image_bytes("chelsea_small.png"))->id;
    ASSERT_TRUE((*other)->wait_idle(kIdleTimeout));
    EXPECT_EQ((*other)->get_photo(cat)->status, PhotoStatus::kReady);
  }
  EXPECT_EQ(count_hits(), 1u);  // not in the server's index yet
  EXPECT_EQ(*album_->sync_external_changes(), 1);
  EXPECT_EQ(count_hits(), 2u);

  {  // and one without a model leaves its photo for the server to embed
    auto other = open_album(cfg_, deps(/*with_clip=*/false));
    ASSERT_TRUE(other.ok()) << other.status().to_string();
    coffee = (*other)->add_file("coffee_q90.jpg", image_bytes("coffee_q90.jpg"))->id;
    EXPECT_EQ((*other)->get_photo(coffee)->status, PhotoStatus::kNoModel);
  }
  EXPECT_EQ(*album_->sync_external_changes(), 1);
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  EXPECT_EQ(album_->get_photo(coffee)->status, PhotoStatus::kReady);
  EXPECT_EQ(count_hits(), 3u);

  {  // a delete by another process leaves the index too
    AlbumDeps cli = deps();
    cli.external_sync_ms = 0;
    auto other = open_album(cfg_, cli);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->delete_photo(first).ok());
  }
  EXPECT_EQ(*album_->sync_external_changes(), 1);
  EXPECT_EQ(count_hits(), 2u);
  EXPECT_EQ(*album_->sync_external_changes(), 0);  // nothing new since
}

// A CLI process without a model opened beside a server leaves the server's
// queued embed jobs alone (it used to complete them unrun and mark their
// photos 'no_model').
TEST_F(AlbumTest, ModellessSecondProcessLeavesTheQueueAlone) {
  AlbumDeps server = deps();
  server.start_workers = false;  // the job stays queued
  open(server);
  const int64_t id = add("pokemon.jpeg");
  ASSERT_EQ(*album_->store().active_job_count(JobKind::kEmbed), 1);
  {
    AlbumDeps cli = deps(/*with_clip=*/false);
    cli.drop_unrunnable_jobs = false;
    auto other = open_album(cfg_, cli);
    ASSERT_TRUE(other.ok()) << other.status().to_string();
  }
  EXPECT_EQ(*album_->store().active_job_count(JobKind::kEmbed), 1);
  EXPECT_EQ(album_->get_photo(id)->status, PhotoStatus::kPending);
  {  // a server without a model does drop them (nothing could run them)
    auto other = open_album(cfg_, deps(/*with_clip=*/false));
    ASSERT_TRUE(other.ok());
  }
  EXPECT_EQ(*album_->store().active_job_count(JobKind::kEmbed), 0);
  EXPECT_EQ(album_->get_photo(id)->status, PhotoStatus::kNoModel);
}

// The server's own thread does the same without being asked.
TEST_F(AlbumTest, SyncThreadPicksUpAnotherProcessesPhotos) {
  AlbumDeps server = deps();
  server.external_sync_ms = 50;
  open(server);
  int64_t id = 0;
  {
    auto other = open_album(cfg_, deps(/*with_clip=*/false));
    ASSERT_TRUE(other.ok()) << other.status().to_string();
    id = (*other)->add_file("coffee_q90.jpg", image_bytes("coffee_q90.jpg"))->id;
  }
  for (int i = 0; i < 2000 && album_->get_photo(id)->status != PhotoStatus::kReady; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(album_->get_photo(id)->status, PhotoStatus::kReady);
  auto r = album_->search("咖啡", SearchOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 1u);
}

TEST_F(AlbumTest, MissingModelPathIsNotFatal) {
  cfg_.model = (root_ / "no-such-model").string();
  auto a = Album::open(cfg_);
  ASSERT_TRUE(a.ok()) << a.status().to_string();
  EXPECT_FALSE((*a)->has_clip_model());
  EXPECT_EQ((*a)->search("猫", SearchOptions{}).status().code(), StatusCode::kUnavailable);
}

TEST_F(AlbumTest, ImportsAFolderIncrementally) {
  fs::path src = root_ / "import" / "trip";
  fs::create_directories(src / "day2");
  fs::copy_file(golden::data("images/pokemon.jpeg"), src / "pokemon.jpeg");
  fs::copy_file(golden::data("images/chelsea_small.png"), src / "day2" / "cat.png");
  ASSERT_TRUE(write_file_atomic((src / "day2" / "readme.txt").string(), "not a photo").ok());
  open(deps());
  std::vector<std::string> seen;
  auto rep = album_->import_folder(src.string(), [&](int64_t done, int64_t total, const std::string& name) {
    EXPECT_EQ(total, 3);
    EXPECT_EQ(done, static_cast<int64_t>(seen.size()) + 1);
    seen.push_back(name);
  });
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  EXPECT_EQ(rep->added, 2);
  EXPECT_EQ(rep->rejected, 1);
  ASSERT_EQ(rep->errors.size(), 1u);
  EXPECT_NE(rep->errors[0].first.find("readme.txt"), std::string::npos);
  EXPECT_EQ(seen.size(), 3u);
  auto page = album_->list_photos(1, 10);
  std::set<std::string> folders;
  for (auto& p : page->items) folders.insert(p.folder + "/" + p.filename);
  EXPECT_EQ(folders, (std::set<std::string>{"trip/pokemon.jpeg", "trip/day2/cat.png"}));

  fs::copy_file(golden::data("images/coffee_q90.jpg"), src / "coffee.jpg");
  rep = album_->import_folder(src.string());
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->added, 1);
  EXPECT_EQ(rep->duplicates, 2);
  EXPECT_EQ(album_->import_folder((root_ / "nope").string()).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
}

// "." and "trip/" are recorded under the folder's own name, as "/abs/trip" is;
// a broken link is reported in the report, not dropped silently.
TEST_F(AlbumTest, ImportNamesTheFolderFromItsPathAndReportsSkipped) {
  fs::path src = root_ / "import" / "trip";
  fs::create_directories(src);
  fs::copy_file(golden::data("images/pokemon.jpeg"), src / "pokemon.jpeg");
  fs::create_symlink(src / "gone.jpg", src / "broken.jpg");
  open(deps(/*with_clip=*/false));
  const fs::path cwd = fs::current_path();
  fs::current_path(src);
  auto rep = album_->import_folder(".");
  fs::current_path(cwd);
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  EXPECT_EQ(rep->added, 1);
  EXPECT_EQ(rep->total, 1);
  EXPECT_FALSE(rep->cancelled);
  ASSERT_EQ(rep->skipped.size(), 1u);
  EXPECT_EQ(rep->skipped[0].first, (src / "broken.jpg").string());
  EXPECT_NE(rep->skipped[0].second.find("broken symbolic link"), std::string::npos);
  auto page = album_->list_photos(1, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].folder, "trip");

  fs::create_directories(root_ / "import" / "day2");
  fs::copy_file(golden::data("images/coffee_q90.jpg"), root_ / "import" / "day2" / "coffee.jpg");
  rep = album_->import_folder((root_ / "import" / "day2").string() + "/");
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->added, 1);
  page = album_->list_photos(1, 10);
  std::set<std::string> names;
  for (auto& p : page->items) names.insert(p.folder + "/" + p.filename);
  EXPECT_EQ(names, (std::set<std::string>{"trip/pokemon.jpeg", "day2/coffee.jpg"}));
}

// Cancelling (as the CLI does on SIGINT) stops before the next file: what was
// added is complete and counted, the rest is left for the next import.
TEST_F(AlbumTest, ImportStopsWhenCancelled) {
  fs::path src = root_ / "many";
  fs::create_directories(src);
  const std::string jpeg = image_bytes("pokemon.jpeg");
  for (int i = 0; i < 12; ++i) {
    // Bytes after the JPEG end marker: a distinct file that decodes the same.
    ASSERT_TRUE(write_file_atomic((src / ("p" + std::to_string(100 + i) + ".jpg")).string(),
                                  jpeg + std::to_string(i)).ok());
  }
  AlbumDeps d = deps(/*with_clip=*/false);
  d.import_threads = 1;
  open(std::move(d));
  std::atomic<bool> cancel{false};
  int64_t calls = 0;
  auto rep = album_->import_folder(
      src.string(),
      [&](int64_t done, int64_t, const std::string&) {
        calls = done;
        if (done == 3) cancel = true;
      },
      cancel);
  ASSERT_TRUE(rep.ok()) << rep.status().to_string();
  EXPECT_TRUE(rep->cancelled);
  EXPECT_EQ(rep->added, 3);
  EXPECT_EQ(rep->total, 12);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(album_->list_photos(1, 50)->total, 3);
  // The next import finishes the job.
  rep = album_->import_folder(src.string());
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->cancelled);
  EXPECT_EQ(rep->added, 9);
  EXPECT_EQ(rep->duplicates, 3);
}

TEST_F(AlbumTest, SettingsDefaultsFollowTheVlm) {
  open(deps());
  EXPECT_FALSE(album_->settings().auto_analyze);
  EXPECT_FALSE(album_->settings().enhanced_search);
  EXPECT_EQ(album_->analyze(1).code(), StatusCode::kNotFound);  // no such photo: that first
  const int64_t id = add("pokemon.jpeg");
  EXPECT_EQ(album_->analyze(id).code(), StatusCode::kUnavailable);  // then: no VLM
  EXPECT_EQ(album_->analyze_missing().status().code(), StatusCode::kUnavailable);

  AlbumDeps d = deps();
  d.vlm_factory = [](const VlmConfig&) { return std::make_unique<FakeVlm>(std::map<int, VlmResult>{}); };
  open(std::move(d));
  EXPECT_TRUE(album_->has_vlm());
  EXPECT_TRUE(album_->settings().auto_analyze);
  ASSERT_TRUE(album_->set_settings(Settings{false, true}).ok());
  EXPECT_FALSE(album_->settings().auto_analyze);
  EXPECT_TRUE(album_->settings().enhanced_search);
}

TEST_F(AlbumTest, HybridRanksTheDescribedMatchFirst) {
  // Widths of the test images identify them to the fake VLM.
  std::map<int, VlmResult> descs;
  descs[600] = VlmResult{"木桌上放着一杯热咖啡，旁边有勺子", {"咖啡", "木桌"}, "fake-vl"};   // coffee
  descs[512] = VlmResult{"黑白照片里一个男人拿着相机站在街头", {"相机", "黑白"}, "fake-vl"};     // camera
  AlbumDeps d = deps();
  d.text = text_;
  d.text_name = "tiny-bert";
  FakeVlm* fake = nullptr;
  d.vlm_factory = [&](const VlmConfig&) {
    auto f = std::make_unique<FakeVlm>(descs);
    fake = f.get();
    return f;
  };
  open(std::move(d));
  ASSERT_TRUE(album_->has_text_model());
  std::map<std::string, int64_t> ids;
  for (const char* f : {"pokemon.jpeg", "chelsea.png", "coffee.png", "camera.png"}) ids[f] = add(f);
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  EXPECT_EQ(fake->calls.load(), 4);  // auto_analyze is on with a VLM

  auto coffee = album_->get_photo(ids["coffee.png"]);
  EXPECT_EQ(coffee->vlm_status, VlmStatus::kDone);
  EXPECT_EQ(coffee->vlm_model, "fake-vl");
  EXPECT_EQ(coffee->keywords, (std::vector<std::string>{"咖啡", "木桌"}));
  EXPECT_TRUE(album_->store().get_vector(ids["coffee.png"], "desc").ok());
  // No description for these: the failure keeps its reason.
  auto pokemon = album_->get_photo(ids["pokemon.jpeg"]);
  EXPECT_EQ(pokemon->vlm_status, VlmStatus::kFailed);
  EXPECT_NE(album_->store().vlm_error(ids["pokemon.jpeg"])->find("no description"), std::string::npos);
  EXPECT_FALSE(album_->job_stats().recent_failures.empty());

  SearchOptions opt;
  opt.limit = 4;
  opt.mode = SearchMode::kClip;
  auto plain = album_->search("拿着相机", opt);
  ASSERT_TRUE(plain.ok());
  EXPECT_NE((*plain)[0].photo.id, ids["camera.png"]);  // the random CLIP prefers pokemon
  opt.mode = SearchMode::kHybrid;
  auto hy = album_->search("拿着相机", opt);
  ASSERT_TRUE(hy.ok()) << hy.status().to_string();
  ASSERT_EQ(hy->size(), 4u);
  EXPECT_EQ((*hy)[0].photo.id, ids["camera.png"]);
  EXPECT_FLOAT_EQ(*(*hy)[0].keyword_score, 1.0f);
  ASSERT_TRUE((*hy)[0].desc_score.has_value());
  // Undescribed photos keep their CLIP order among themselves.
  std::vector<float> undescribed;
  for (auto& h : *hy) {
    if (!h.desc_score) undescribed.push_back(h.clip_score);
  }
  ASSERT_EQ(undescribed.size(), 2u);
  EXPECT_GE(undescribed[0], undescribed[1]);

  auto kw = album_->search("咖啡", opt);
  ASSERT_TRUE(kw.ok());
  EXPECT_EQ((*kw)[0].photo.id, ids["coffee.png"]);

  // Retry: analyze again after the VLM learnt about pokemon.
  fake->fail_all = true;
  ASSERT_TRUE(album_->analyze(ids["coffee.png"]).ok());
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  EXPECT_EQ(album_->get_photo(ids["coffee.png"])->vlm_status, VlmStatus::kFailed);
  EXPECT_NE(album_->store().vlm_error(ids["coffee.png"])->find("down"), std::string::npos);
  fake->fail_all = false;
  auto n = album_->analyze_missing();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 3);  // pokemon, chelsea (never described) and coffee (failed)
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  EXPECT_EQ(album_->get_photo(ids["coffee.png"])->vlm_status, VlmStatus::kDone);
}

TEST_F(AlbumTest, ConcurrentUploadsAndSearches) {
  open(deps());
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (auto& im : golden_->images) {
    ts.emplace_back([&, file = im.file] {
      auto r = album_->add_file(file, image_bytes(file));
      if (r.ok()) ++ok;
      (void)album_->search("猫", SearchOptions{});
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 7);
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));
  EXPECT_EQ(album_->search("猫", SearchOptions{})->size(), 7u);
}

}  // namespace
}  // namespace sa
