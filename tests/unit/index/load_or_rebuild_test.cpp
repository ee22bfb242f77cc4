// VectorIndex::load_or_rebuild against a real Store: the index file is a cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <random>

#include "core/file_util.h"
#include "index/vector_index.h"

namespace sa {
namespace {

constexpr int kDim = 8;

class RebuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("sa_rebuild_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto s = Store::open((dir_ / "album.db").string());
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    store_ = std::move(s).value();
    index_path_ = (dir_ / "index" / "clip.faiss").string();
    for (int i = 0; i < 30; ++i) add_photo_with_vector("h" + std::to_string(i));
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  int64_t add_photo_with_vector(const std::string& hash, const std::string& model = "ViT-B-16") {
    PhotoInfo p;
    p.hash = hash;
    p.filename = hash + ".jpg";
    auto r = store_->insert_photo(p);
    EXPECT_TRUE(r.ok());
    std::normal_distribution<float> nd;
    std::vector<float> v(kDim);
    for (float& x : v) x = nd(rng_);
    EXPECT_TRUE(store_->put_vector(r->id, "clip", model, v).ok());
    vectors_[r->id] = v;
    return r->id;
  }
  std::unique_ptr<VectorIndex> load(IndexLoadOutcome* outcome, const std::string& model = "ViT-B-16",
                                    int dim = kDim) {
    auto r = VectorIndex::load_or_rebuild(index_path_, *store_, "clip", model, dim, outcome);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  // Every vector in the DB is found under its photo id with cosine 1.
  void expect_matches_db(const VectorIndex& index) {
    EXPECT_EQ(index.size(), static_cast<int64_t>(vectors_.size()));
    for (const auto& [id, v] : vectors_) {
      auto r = index.search(v, 1);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->size(), 1u);
      EXPECT_EQ((*r)[0].id, id);
      EXPECT_NEAR((*r)[0].score, 1.0f, index.error_bound());  // no exact lookup here
    }
  }

  std::filesystem::path dir_;
  std::string index_path_;
  std::unique_ptr<Store> store_;
  std::mt19937 rng_{7};
  std::map<int64_t, std::vector<float>> vectors_;
};

// The re-rank's lookup (VectorSet wires it): every candidate's stored fp32
// vector in one call, in the order asked, and "not found" for an id without
// a vector, with another model's, or unknown.
TEST_F(RebuildTest, StoreLookupReadsManyVectorsAtOnce) {
  const int64_t a = add_photo_with_vector("aaaa");
  const int64_t b = add_photo_with_vector("bbbb");
  const int64_t other = add_photo_with_vector("cccc", "other-model");
  ExactBatchLookup lookup = VectorIndex::store_lookup(*store_, "clip", "ViT-B-16");
  const std::vector<int64_t> ids = {b, 999999, a, other};
  std::vector<float> out(ids.size() * kDim, -1.0f);
  std::vector<bool> found(ids.size(), true);
  lookup(ids, out, &found);
  EXPECT_EQ(found, (std::vector<bool>{true, false, true, false}));
  EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + kDim), vectors_[b]);
  EXPECT_EQ(std::vector<float>(out.begin() + 2 * kDim, out.begin() + 3 * kDim), vectors_[a]);
}

TEST_F(RebuildTest, MissingFileIsRebuiltThenLoaded) {
  IndexLoadOutcome outcome;
  auto index = load(&outcome);
  ASSERT_TRUE(index);
  EXPECT_EQ(outcome, IndexLoadOutcome::kRebuiltMissing);
  expect_matches_db(*index);
  EXPECT_TRUE(file_exists(index_path_));  // the rebuild was saved

  auto again = load(&outcome);
  ASSERT_TRUE(again);
  EXPECT_EQ(outcome, IndexLoadOutcome::kLoaded);
  expect_matches_db(*again);
}

TEST_F(RebuildTest, TruncatedFileIsRebuilt) {
  IndexLoadOutcome outcome;
  ASSERT_TRUE(load(&outcome));
  std::string bytes = *read_file(index_path_);
  ASSERT_TRUE(write_file_atomic(index_path_, bytes.substr(0, bytes.size() * 2 / 3)).ok());
  auto index = load(&outcome);
  ASSERT_TRUE(index);
  EXPECT_EQ(outcome, IndexLoadOutcome::kRebuiltCorrupt);
  expect_matches_db(*index);
  load(&outcome);
  EXPECT_EQ(outcome, IndexLoadOutcome::kLoaded);  // repaired on disk
}

TEST_F(RebuildTest, GarbageFileIsRebuilt) {
  ASSERT_TRUE(make_dirs((dir_ / "index").string()).ok());
  ASSERT_TRUE(write_file_atomic(index_path_, "this is not an index").ok());
  IndexLoadOutcome outcome;
  auto index = load(&outcome);
  ASSERT_TRUE(index);
  EXPECT_EQ(outcome, IndexLoadOutcome::kRebuiltCorrupt);
  expect_matches_db(*index);
}

TEST_F(RebuildTest, StaleAfterDatabaseChanges) {
  IndexLoadOutcome outcome;
  ASSERT_TRUE(load(&outcome));

  // A photo added after the save.
  add_photo_with_vector("late");
  auto index = load(&outcome);
  EXPECT_EQ(outcome, IndexLoadOutcome::kRebuiltStale);
  expect_matches_db(*index);

  // A photo deleted after the save (vectors go by cascade).
  int64_t victim = vectors_.begin()->first;
  ASSERT_TRUE(store_->delete_photo(victim).ok());
  vectors_.erase(victim);
  index = load(&outcome);
  EXPECT_EQ(outcome, IndexLoadOutcome::kRebuiltStale);
  expect_matches_db(*index);
  EXPECT_FALSE(index->contains(victim));

  // A photo re-embedded after the save: same count, same ids, new vector.
  int64_t id = vectors_.begin()->first;
  std::vector<float> v(kDim, 0.0f);
  v[3] = 1;
  ASSERT_TRUE(store_->put_vector(id, "clip", "ViT-B-16", v).ok());
  vectors_[id] = v;
  index = load(&outcome);
  EXPECT_EQ(outcome, IndexLoadOutcome::kRebuiltStale);
  expect_matches_db(*index);
}

TEST_F(RebuildTest, OtherModelOrDimIsStale) {
  IndexLoadOutcome outcome;
  ASSERT_TRUE(load(&outcome));
  // Switching model: only vectors of the new model belong in the index.
  auto other = load(&outcome, "ViT-L-14", kDim);
  ASSERT_TRUE(other);
  EXPECT_EQ(outcome, IndexLoadOutcome::kRebuiltStale);
  EXPECT_EQ(other->size(), 0);
  auto wider = load(&outcome, "ViT-L-14", kDim * 2);
  ASSERT_TRUE(wider);
  EXPECT_EQ(outcome, IndexLoadOutcome::kRebuiltStale);
  EXPECT_EQ(wider->dim(), kDim * 2);
}

TEST_F(RebuildTest, SaveWithStoreFingerprintThenIncrementalAdd) {
  IndexLoadOutcome outcome;
  auto index = load(&outcome);
  ASSERT_TRUE(index);
  // The album's normal path: write the vector to the DB, add it to the index,
  // save with the DB's fingerprint -> next start loads without rebuilding.
  int64_t id = add_photo_with_vector("incremental");
  std::vector<int64_t> ids = {id};
  ASSERT_TRUE(index->add(ids, vectors_[id]).ok());
  ASSERT_TRUE(index->save(index_path_, *store_, "clip", "ViT-B-16").ok());
  auto again = load(&outcome);
  EXPECT_EQ(outcome, IndexLoadOutcome::kLoaded);
  expect_matches_db(*again);

  // Saved while a DB write had not reached the index: the count differs, so the
  // next start rebuilds instead of trusting the file.
  add_photo_with_vector("not-in-index");
  ASSERT_TRUE(index->save(index_path_, *store_, "clip", "ViT-B-16").ok());
  auto third = load(&outcome);
  EXPECT_EQ(outcome, IndexLoadOutcome::kRebuiltStale);
  expect_matches_db(*third);
}

TEST_F(RebuildTest, BadArguments) {
  EXPECT_FALSE(VectorIndex::load_or_rebuild(index_path_, *store_, "clip", "m", 0).ok());
  EXPECT_EQ(VectorIndex::load_or_rebuild(index_path_, *store_, "pixels", "m", kDim).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(IndexLoadOutcomeName, Names) {
  EXPECT_STREQ(index_load_outcome_name(IndexLoadOutcome::kLoaded), "loaded");
  EXPECT_STREQ(index_load_outcome_name(IndexLoadOutcome::kRebuiltStale), "rebuilt_stale");
}

}  // namespace
}  // namespace sa
