// Album organising end to end with the tiny Chinese-CLIP model: the trash
// (search and similar at once, 30-day expiry with a fake clock, purge after a
// restart), favourites and albums in search, and duplicate groups on generated
// re-encodes, resizes and crops of the test photos.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>

#include "../search/golden_util.h"
#include "app/album_impl.h"
#include "core/file_util.h"
#include "image/image.h"
#include "search/duplicates.h"
#include "store/store.h"

namespace sa {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int64_t>;

constexpr double kIdleTimeout = 120;

std::string image_bytes(const std::string& file) {
  auto r = read_file(golden::data("images/" + file));
  EXPECT_TRUE(r.ok()) << file;
  return r.ok() ? *r : "";
}

// A settable clock shared with the album.
struct FakeClock {
  std::mutex mu;
  std::chrono::system_clock::time_point t =
      std::chrono::system_clock::from_time_t(1'767'225'600);  // 2026-01-01T00:00:00Z
  std::chrono::system_clock::time_point now() {
    std::lock_guard lk(mu);
    return t;
  }
  void advance(std::chrono::hours h) {
    std::lock_guard lk(mu);
    t += h;
  }
};

class OrganiseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto m = ChineseClip::load(golden::tiny_clip_dir());
    ASSERT_TRUE(m.ok()) << m.status().to_string();
    clip_ = std::shared_ptr<const ChineseClip>(std::move(*m));
  }
  static void TearDownTestSuite() { clip_.reset(); }
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() / ("sa_organise_" + std::to_string(rd()));
    fs::create_directories(root_);
    cfg_.data_dir = (root_ / "data").string();
    cfg_.vlm.base_url = "https://example.invalid/v1";
  }
  void TearDown() override {
    album_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  AlbumDeps deps(bool workers = true) {
    AlbumDeps d;
    d.clip = clip_;
    d.clip_name = "tiny-b16";
    d.external_sync_ms = 0;
    d.trash_purge_ms = 0;  // purge at open and after empty_trash() only
    d.clock = [this] { return clock_.now(); };
    d.start_workers = workers;
    return d;
  }
  void open(AlbumDeps d) {
    album_.reset();
    auto a = open_album(cfg_, std::move(d));
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    album_ = std::move(*a);
  }
  int64_t add(const std::string& name, const std::string& bytes) {
    auto r = album_->add_file(name, bytes);
    EXPECT_TRUE(r.ok()) << name << ": " << r.status().to_string();
    return r.ok() ? r->id : 0;
  }
  std::map<std::string, int64_t> add_images() {
    std::map<std::string, int64_t> ids;
    for (const char* f : {"pokemon.jpeg", "chelsea.png", "coffee.png", "camera.png", "chelsea_small.png"})
      ids[f] = add(f, image_bytes(f));
    EXPECT_TRUE(album_->wait_idle(kIdleTimeout));
    return ids;
  }
  Ids search_ids(const std::string& q, SearchOptions opt = {}) {
    opt.limit = 50;
    auto r = album_->search(q, opt);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    Ids out;
    if (r.ok())
      for (const auto& h : *r) out.push_back(h.photo.id);
    return out;
  }

  static inline std::shared_ptr<const ChineseClip> clip_;
  fs::path root_;
  Config cfg_;
  FakeClock clock_;
  std::unique_ptr<AlbumImpl> album_;
};

bool contains(const Ids& v, int64_t id) { return std::find(v.begin(), v.end(), id) != v.end(); }

TEST_F(OrganiseTest, TrashLeavesSearchAndSimilarAtOnceAndRestoreBringsItBack) {
  open(deps());
  auto ids = add_images();
  const int64_t cat = ids["chelsea.png"];
  ASSERT_TRUE(contains(search_ids("猫"), cat));
  auto sim = album_->similar(ids["chelsea_small.png"], 10);
  ASSERT_TRUE(sim.ok());
  ASSERT_EQ(sim->size(), 4u);

  const Ids one = {cat};
  auto r = album_->batch(BatchAction::kTrash, one);
  ASSERT_TRUE(r.ok() && r->not_found.empty());
  EXPECT_FALSE(contains(search_ids("猫"), cat));
  SearchOptions hybrid;
  hybrid.mode = SearchMode::kHybrid;
  EXPECT_FALSE(contains(search_ids("chelsea", hybrid), cat));  // the file name match too
  sim = album_->similar(ids["chelsea_small.png"], 10);
  ASSERT_EQ(sim->size(), 3u);
  for (const auto& h : *sim) EXPECT_NE(h.photo.id, cat);
  EXPECT_EQ(album_->list_photos(1, 50)->total, 4);
  EXPECT_EQ(album_->list_trash(1, 50)->total, 1);
  // Files and vectors are kept while it is in the trash.
  EXPECT_TRUE(album_->original_path(cat).ok());
  EXPECT_TRUE(album_->store().get_vector(cat, "clip").ok());

  r = album_->batch(BatchAction::kRestore, one);
  ASSERT_TRUE(r.ok() && r->not_found.empty());
  EXPECT_TRUE(contains(search_ids("猫"), cat));
  EXPECT_EQ(album_->similar(ids["chelsea_small.png"], 10)->size(), 4u);
  EXPECT_EQ(album_->list_trash(1, 50)->total, 0);
}

TEST_F(OrganiseTest, TrashExpiresAfter30DaysWithAFakeClockAndThePurgeSurvivesARestart) {
  open(deps());
  auto ids = add_images();
  const int64_t cat = ids["chelsea.png"], cup = ids["coffee.png"];
  const std::string cat_file = *album_->original_path(cat);
  const std::string cat_thumb = *album_->thumbnail_path(cat);
  const Ids ic = {cat};
  ASSERT_TRUE(album_->batch(BatchAction::kTrash, ic).ok());
  clock_.advance(std::chrono::hours(24 * 10));
  const Ids iu = {cup};
  ASSERT_TRUE(album_->batch(BatchAction::kTrash, iu).ok());

  // Day 29 after the first: nothing has expired.
  clock_.advance(std::chrono::hours(24 * 19));
  EXPECT_EQ(*album_->purge_trash(), 0);
  EXPECT_EQ(album_->list_trash(1, 50)->total, 2);

  // Day 31: the cat has expired; it can no longer be restored.
  clock_.advance(std::chrono::hours(24 * 2));
  EXPECT_EQ(album_->list_trash(1, 50)->total, 1);
  EXPECT_EQ(album_->batch(BatchAction::kRestore, ic)->not_found, ic);

  // The server stops before its purge ran; the next start purges it.
  open(deps());
  for (int i = 0; i < 100 && fs::exists(cat_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(fs::exists(cat_file));
  EXPECT_FALSE(fs::exists(cat_thumb));
  EXPECT_EQ(album_->get_photo(cat).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(album_->store().get_vector(cat, "clip").status().code(), StatusCode::kNotFound);
  // The coffee is still in the trash, files and all.
  EXPECT_TRUE(album_->original_path(cup).ok());
  EXPECT_EQ(album_->list_trash(1, 50)->total, 1);
  // The index agrees with the database after the purge (no rebuild next time).
  album_.reset();
  open(deps(false));
  EXPECT_EQ(album_->open_report().clip_index, IndexLoadOutcome::kLoaded);
}

TEST_F(OrganiseTest, EmptyingTheTrashRemovesFilesAndVectors) {
  open(deps(false));  // no background purge: the test drives it
  album_->start_workers();
  auto ids = add_images();
  const int64_t cat = ids["chelsea.png"];
  const std::string file = *album_->original_path(cat);
  const Ids ic = {cat};
  ASSERT_TRUE(album_->batch(BatchAction::kTrash, ic).ok());
  EXPECT_EQ(*album_->empty_trash(), 1);
  EXPECT_EQ(album_->list_trash(1, 50)->total, 0);  // gone from the trash at once
  EXPECT_EQ(*album_->purge_trash(), 1);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ(album_->store().get_vector(cat, "clip").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(album_->list_photos(1, 50)->total, 4);
}

TEST_F(OrganiseTest, SearchWithinAnAlbumAndFavourites) {
  open(deps());
  auto ids = add_images();
  auto trip = album_->create_album("旅行");
  ASSERT_TRUE(trip.ok());
  const Ids in = {ids["coffee.png"], ids["camera.png"]};
  ASSERT_TRUE(album_->batch(BatchAction::kAddToAlbum, in, trip->id).ok());
  SearchOptions opt;
  opt.album_id = trip->id;
  Ids got = search_ids("猫", opt);
  std::sort(got.begin(), got.end());
  Ids want = in;
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  opt.mode = SearchMode::kHybrid;
  got = search_ids("猫", opt);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
  opt.album_id = 4242;
  EXPECT_EQ(album_->search("猫", opt).status().code(), StatusCode::kNotFound);

  const Ids fav = {ids["pokemon.jpeg"]};
  ASSERT_TRUE(album_->batch(BatchAction::kFavorite, fav).ok());
  SearchOptions f;
  f.favorite_only = true;
  EXPECT_EQ(search_ids("猫", f), fav);
  PhotoFilter pf;
  pf.favorite_only = true;
  EXPECT_EQ(album_->list_photos_filtered(pf, 1, 50)->total, 1);
  EXPECT_TRUE(album_->get_photo(fav[0])->favorite);
}

// Enhanced search finds a photo by the text in it and says why it matched.
TEST_F(OrganiseTest, HybridSearchFindsVisibleTextAndSaysWhyItMatched) {
  open(deps());
  auto ids = add_images();
  const int64_t receipt = ids["coffee.png"];
  ASSERT_TRUE(album_->store().set_description(receipt, "桌上的一杯咖啡和小票", {"咖啡", "小票"}, "fake",
                                             "星巴克 拿铁 增值税发票").ok());
  SearchOptions opt;
  opt.mode = SearchMode::kHybrid;
  opt.limit = 5;
  auto hits = album_->search("发票", opt);
  ASSERT_TRUE(hits.ok()) << hits.status().to_string();
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ((*hits)[0].photo.id, receipt);
  EXPECT_EQ((*hits)[0].matched_text, std::vector<std::string>{"发票"});
  EXPECT_TRUE((*hits)[0].matched_keywords.empty());
  hits = album_->search("咖啡 小票", opt);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].photo.id, receipt);
  EXPECT_EQ((*hits)[0].matched_keywords, (std::vector<std::string>{"咖啡", "小票"}));
  EXPECT_EQ((*hits)[0].matched_description, (std::vector<std::string>{"咖啡", "小票"}));
  // analyze --refresh needs a VLM.
  EXPECT_EQ(album_->analyze_all().status().code(), StatusCode::kUnavailable);
}

// Variants of one photo (re-encoded, resized, cropped) against different
// photos: prints the cosine ranges the default threshold was chosen from
// (docs/organise.md), and checks that duplicates() groups each photo with its
// variants and nothing else.
TEST_F(OrganiseTest, DuplicatesGroupReencodesResizesAndCropsButNotDifferentPhotos) {
  open(deps());
  const std::vector<std::string> bases = {"chelsea.png", "coffee.png", "camera.png", "pokemon.jpeg"};
  std::map<int64_t, int> group_of;
  std::map<int, int64_t> original_of;
  for (int g = 0; g < static_cast<int>(bases.size()); ++g) {
    const std::string bytes = image_bytes(bases[g]);
    auto img = decode_rgb(bytes, DecodeLimits{});
    ASSERT_TRUE(img.ok());
    const int side = std::max(img->width, img->height);
    // Crop: the centre 85 % of each side.
    RgbImage crop;
    crop.width = img->width * 85 / 100;
    crop.height = img->height * 85 / 100;
    const int x0 = (img->width - crop.width) / 2, y0 = (img->height - crop.height) / 2;
    for (int y = 0; y < crop.height; ++y) {
      const uint8_t* row = img->pixels.data() + (static_cast<size_t>(y + y0) * img->width + x0) * 3;
      crop.pixels.insert(crop.pixels.end(), row, row + crop.width * 3);
    }
    const std::vector<std::pair<std::string, std::string>> variants = {
        {bases[g], bytes},
        {"reencode_q60_" + bases[g] + ".jpg", *encode_jpeg(*img, side, 60)},
        {"resize_half_" + bases[g] + ".jpg", *encode_jpeg(*img, side / 2, 90)},
        {"crop85_" + bases[g] + ".jpg", *encode_jpeg(crop, side, 90)},
    };
    for (size_t v = 0; v < variants.size(); ++v) {
      const int64_t id = add(variants[v].first, variants[v].second);
      group_of[id] = g;
      if (v == 0) original_of[g] = id;
    }
  }
  ASSERT_TRUE(album_->wait_idle(kIdleTimeout));

  // The measurement.
  float min_same = 1, max_diff = -1;
  std::vector<std::pair<int64_t, std::vector<float>>> vecs;
  for (const auto& [id, g] : group_of) vecs.emplace_back(id, album_->store().get_vector(id, "clip")->data);
  for (size_t i = 0; i < vecs.size(); ++i) {
    for (size_t j = i + 1; j < vecs.size(); ++j) {
      float c = 0;
      for (size_t k = 0; k < vecs[i].second.size(); ++k) c += vecs[i].second[k] * vecs[j].second[k];
      if (group_of[vecs[i].first] == group_of[vecs[j].first]) {
        min_same = std::min(min_same, c);
      } else {
        max_diff = std::max(max_diff, c);
      }
    }
  }
  std::printf("[duplicates] tiny-b16: variants of one photo cos >= %.4f; different photos cos <= %.4f\n",
              min_same, max_diff);
  ASSERT_GT(min_same, max_diff) << "the model cannot tell variants from different photos";

  const float threshold = kDefaultDuplicateThreshold;  // the route's default
  ASSERT_GT(threshold, max_diff);
  ASSERT_LE(threshold, min_same);
  auto groups = album_->duplicates(threshold);
  ASSERT_TRUE(groups.ok()) << groups.status().to_string();
  ASSERT_EQ(groups->size(), bases.size());
  for (const auto& grp : *groups) {
    ASSERT_EQ(grp.photos.size(), 4u);
    const int g = group_of[grp.photos[0].id];
    for (const auto& p : grp.photos) EXPECT_EQ(group_of[p.id], g) << p.filename;
    // The keeper: the most pixels (the original and its q60 re-encode tie; the
    // earlier one, the original, wins).
    EXPECT_EQ(grp.photos[0].id, original_of[g]) << grp.photos[0].filename;
    EXPECT_GE(grp.min_similarity, threshold);
  }
  // A trashed photo leaves its group.
  const Ids one = {original_of[0]};
  ASSERT_TRUE(album_->batch(BatchAction::kTrash, one).ok());
  groups = album_->duplicates(threshold);
  ASSERT_TRUE(groups.ok());
  size_t total = 0;
  for (const auto& grp : *groups) total += grp.photos.size();
  EXPECT_EQ(total, bases.size() * 4 - 1);
}

}  // namespace
}  // namespace sa
