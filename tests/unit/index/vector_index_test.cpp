// VectorIndex: add/search/remove, save/load, rebuild from the store when the
// file is missing, truncated, corrupt or stale.
#include "index/vector_index.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "core/file_util.h"

namespace sa {
namespace {

constexpr int kDim = 16;

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("sa_index_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::vector<float> random_vec(std::mt19937& rng, int dim = kDim) {
  std::normal_distribution<float> nd;
  std::vector<float> v(static_cast<size_t>(dim));
  for (float& x : v) x = nd(rng);
  return v;
}

std::vector<float> normalised(std::vector<float> v) {
  double ss = 0;
  for (float x : v) ss += double(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(ss));
  return v;
}

// An exact lookup (VectorIndex::set_exact_lookup) over a map of fp32 vectors.
ExactLookup map_lookup(const std::map<int64_t, std::vector<float>>* m) {
  return [m](int64_t id, std::span<float> out) {
    auto it = m->find(id);
    if (it == m->end() || it->second.size() != out.size()) return false;
    std::copy(it->second.begin(), it->second.end(), out.begin());
    return true;
  };
}

float dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
  return static_cast<float>(s);
}

TEST(VectorIndex, AddSearchRemove) {
  std::mt19937 rng(1);
  VectorIndex index(kDim);
  std::vector<int64_t> ids = {101, 7, 5000};
  std::vector<std::vector<float>> vecs;
  std::vector<float> flat;
  for (size_t i = 0; i < ids.size(); ++i) {
    vecs.push_back(random_vec(rng));
    flat.insert(flat.end(), vecs.back().begin(), vecs.back().end());
  }
  ASSERT_TRUE(index.add(ids, flat).ok());
  std::map<int64_t, std::vector<float>> fp32;
  for (size_t i = 0; i < ids.size(); ++i) fp32[ids[i]] = vecs[i];
  index.set_exact_lookup(map_lookup(&fp32));  // scores re-ranked on these
  EXPECT_EQ(index.size(), 3);
  EXPECT_TRUE(index.contains(7));
  EXPECT_FALSE(index.contains(8));

  // Querying with (a scaled copy of) a stored vector finds it first with cosine 1.
  std::vector<float> q = vecs[1];
  for (float& x : q) x *= 3.5f;
  auto r = index.search(q, 10);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->size(), 3u);  // k clamps to the index size
  EXPECT_EQ((*r)[0].id, 7);  // photo ids, not positions
  EXPECT_NEAR((*r)[0].score, 1.0f, 1e-5);
  for (size_t i = 0; i < r->size(); ++i) {
    size_t j = std::find(ids.begin(), ids.end(), (*r)[i].id) - ids.begin();
    ASSERT_LT(j, ids.size());
    EXPECT_NEAR((*r)[i].score, dot(normalised(vecs[j]), normalised(vecs[1])), 1e-5);
    if (i > 0) {
      EXPECT_GE((*r)[i - 1].score, (*r)[i].score);
    }
  }

  std::vector<int64_t> del = {7, 999};
  auto removed = index.remove(del);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  EXPECT_EQ(index.size(), 2);
  r = index.search(q, 10);
  ASSERT_EQ(r->size(), 2u);
  for (const auto& h : *r) EXPECT_NE(h.id, 7);
  // The others are still found under their own ids after the removal shifted them.
  auto r2 = index.search(vecs[2], 1);
  ASSERT_EQ(r2->size(), 1u);
  EXPECT_EQ((*r2)[0].id, 5000);
  EXPECT_NEAR((*r2)[0].score, 1.0f, 1e-5);
}

TEST(VectorIndex, ReAddReplacesInsteadOfDuplicating) {
  std::mt19937 rng(2);
  VectorIndex index(kDim);
  auto a = random_vec(rng), b = random_vec(rng);
  std::vector<int64_t> id = {42};
  ASSERT_TRUE(index.add(id, a).ok());
  ASSERT_TRUE(index.add(id, b).ok());
  std::map<int64_t, std::vector<float>> fp32 = {{42, b}};
  index.set_exact_lookup(map_lookup(&fp32));
  EXPECT_EQ(index.size(), 1);
  auto r = index.search(b, 5);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].id, 42);
  EXPECT_NEAR((*r)[0].score, 1.0f, 1e-5);
}

TEST(VectorIndex, BadInputIsAnError) {
  VectorIndex index(kDim);
  std::vector<int64_t> ids = {1, 2};
  std::vector<float> short_data(kDim);
  EXPECT_EQ(index.add(ids, short_data).code(), StatusCode::kInvalidArgument);
  std::vector<float> two(2 * kDim, 1.0f);
  std::vector<int64_t> dup = {3, 3};
  EXPECT_EQ(index.add(dup, two).code(), StatusCode::kInvalidArgument);
  std::vector<float> with_zero(2 * kDim, 0.0f);
  with_zero[0] = 1;  // row 0 fine, row 1 all zero
  EXPECT_EQ(index.add(ids, with_zero).code(), StatusCode::kInvalidArgument);
  std::vector<float> with_nan(2 * kDim, 1.0f);
  with_nan[kDim + 3] = std::nanf("");
  EXPECT_EQ(index.add(ids, with_nan).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index.size(), 0);  // nothing half-added

  std::vector<float> q(kDim - 1, 1.0f);
  EXPECT_EQ(index.search(q, 3).status().code(), StatusCode::kInvalidArgument);
  std::vector<float> zero(kDim, 0.0f);
  EXPECT_EQ(index.search(zero, 3).status().code(), StatusCode::kInvalidArgument);
  std::vector<float> ok(kDim, 1.0f);
  EXPECT_TRUE(index.search(ok, 3)->empty());  // empty index
  EXPECT_TRUE(index.search(ok, 0)->empty());
}

TEST(VectorIndex, SaveLoadPreservesIdsAndScores) {
  TempDir dir;
  std::mt19937 rng(3);
  VectorIndex index(kDim);
  std::vector<int64_t> ids;
  std::vector<float> flat;
  for (int i = 0; i < 50; ++i) {
    ids.push_back(1000 + 3 * i);
    auto v = random_vec(rng);
    flat.insert(flat.end(), v.begin(), v.end());
  }
  ASSERT_TRUE(index.add(ids, flat).ok());
  IndexMeta meta{"ViT-B-16", kDim, {50, 1147, 12345, 9}};
  std::string path = dir.file("sub/dir/clip.faiss");  // parent dirs are created
  ASSERT_TRUE(index.save(path, meta).ok());

  auto loaded = VectorIndex::load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  auto& [idx2, meta2] = *loaded;
  EXPECT_EQ(meta2.model, "ViT-B-16");
  EXPECT_EQ(meta2.dim, kDim);
  EXPECT_EQ(meta2.fingerprint, meta.fingerprint);
  EXPECT_EQ(idx2->size(), 50);
  for (int64_t id : ids) EXPECT_TRUE(idx2->contains(id));
  auto q = random_vec(rng);
  auto a = index.search(q, 10), b = idx2->search(q, 10);
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].id, (*b)[i].id);
    EXPECT_FLOAT_EQ((*a)[i].score, (*b)[i].score);
  }
  // The loaded index is fully functional (rev_map rebuilt): remove works.
  std::vector<int64_t> del = {ids[0]};
  EXPECT_EQ(*idx2->remove(del), 1);
  EXPECT_FALSE(idx2->contains(ids[0]));

  IndexMeta wrong_dim{"m", kDim + 1, {}};
  EXPECT_EQ(index.save(dir.file("x.faiss"), wrong_dim).code(), StatusCode::kInvalidArgument);
}

TEST(VectorIndex, LoadRejectsDamagedFiles) {
  TempDir dir;
  std::mt19937 rng(4);
  VectorIndex index(kDim);
  std::vector<int64_t> ids = {1, 2, 3};
  std::vector<float> flat;
  for (int i = 0; i < 3; ++i) {
    auto v = random_vec(rng);
    flat.insert(flat.end(), v.begin(), v.end());
  }
  ASSERT_TRUE(index.add(ids, flat).ok());
  std::string good = dir.file("good.faiss");
  ASSERT_TRUE(index.save(good, {"m", kDim, {3, 3, 6, 3}}).ok());
  std::string bytes = *read_file(good);

  EXPECT_EQ(VectorIndex::load(dir.file("absent.faiss")).status().code(), StatusCode::kNotFound);

  auto write = [&](const std::string& name, const std::string& data) {
    std::string p = dir.file(name);
    EXPECT_TRUE(write_file_atomic(p, data).ok());
    return p;
  };
  // Every truncation point: never a crash, always Corruption.
  for (size_t len : {size_t(0), size_t(4), size_t(12), size_t(40), bytes.size() / 2, bytes.size() - 1}) {
    auto r = VectorIndex::load(write("trunc.faiss", bytes.substr(0, len)));
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << len << ": " << r.status().to_string();
  }
  std::string flipped = bytes;
  flipped[flipped.size() - 5] ^= 0x5a;  // inside the FAISS payload
  EXPECT_EQ(VectorIndex::load(write("flip.faiss", flipped)).status().code(), StatusCode::kCorruption);
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  EXPECT_EQ(VectorIndex::load(write("magic.faiss", bad_magic)).status().code(), StatusCode::kCorruption);
  std::string huge_header = bytes;
  huge_header[8] = huge_header[9] = huge_header[10] = huge_header[11] = '\xff';
  EXPECT_EQ(VectorIndex::load(write("hdr.faiss", huge_header)).status().code(), StatusCode::kCorruption);
  size_t at = 0;
  // The payload alone (no header) is not accepted either.
  const size_t hlen = static_cast<uint8_t>(bytes[8]) | static_cast<uint8_t>(bytes[9]) << 8;
  EXPECT_EQ(VectorIndex::load(write("raw.faiss", bytes.substr(12 + hlen))).status().code(),
            StatusCode::kCorruption);
  // Nor a file of the FAISS format before fp16 storage, or of the fp16 one
  // before int8 storage (both are rebuilt).
  for (const char* magic : {"SAIDX001", "SAIDX002"}) {
    std::string old_format = bytes;
    old_format.replace(0, 8, magic);
    auto r = VectorIndex::load(write("old.faiss", old_format));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << magic;
    EXPECT_NE(r.status().to_string().find("older format"), std::string::npos) << r.status().to_string();
  }
  // A header whose quantisation error no unit vector can have.
  std::string bad_error = bytes;
  at = bad_error.find("\"quant_error\":");
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(bad_error[at + 14], '0');
  bad_error[at + 14] = '9';  // 0.00x -> 9.00x, same length
  EXPECT_EQ(VectorIndex::load(write("qerr.faiss", bad_error)).status().code(), StatusCode::kCorruption);
  // A header that claims more vectors than the payload holds.
  std::string more = bytes;
  at = more.find("\"vectors\":3");
  ASSERT_NE(at, std::string::npos);
  more[at + 10] = '9';
  EXPECT_EQ(VectorIndex::load(write("more.faiss", more)).status().code(), StatusCode::kCorruption);
}

TEST(VectorIndex, ConcurrentSearchAndAdd) {
  std::mt19937 rng(5);
  VectorIndex index(kDim);
  std::vector<std::vector<float>> vecs;
  for (int i = 0; i < 200; ++i) vecs.push_back(random_vec(rng));
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::thread reader([&] {
    while (!stop) {
      auto r = index.search(vecs[0], 5);
      if (!r.ok()) ++errors;
    }
  });
  for (int i = 0; i < 200; ++i) {
    std::vector<int64_t> id = {i + 1};
    ASSERT_TRUE(index.add(id, vecs[static_cast<size_t>(i)]).ok());
    if (i % 10 == 9) {
      std::vector<int64_t> del = {i - 3};
      ASSERT_TRUE(index.remove(del).ok());
    }
  }
  stop = true;
  reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(index.size(), 180);
}

}  // namespace
}  // namespace sa

// The single-query path (int8 scan, candidates within the error bound,
// re-rank on the fp32 vectors) must give exactly the ranking of a brute-force
// double-precision scan, ids mapped back.
TEST(VectorIndex, SearchMatchesBruteForce) {
  const int dim = 64, n = 3000, k = 25;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> x(static_cast<size_t>(n) * dim);
  for (float& v : x) v = nd(rng);
  std::vector<int64_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = 1000 + 3 * i;  // ids unrelated to positions
  sa::VectorIndex index(dim);
  ASSERT_TRUE(index.add(ids, x).ok());
  ASSERT_TRUE(index.remove(std::vector<int64_t>{ids[5], ids[77]}).ok());
  std::map<int64_t, std::vector<float>> fp32;
  for (int i = 0; i < n; ++i)
    fp32[ids[i]].assign(x.begin() + static_cast<size_t>(i) * dim, x.begin() + static_cast<size_t>(i + 1) * dim);
  index.set_exact_lookup(sa::map_lookup(&fp32));
  std::vector<float> q(dim);
  for (float& v : q) v = nd(rng);
  auto got = index.search(q, k);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), static_cast<size_t>(k));
  // Brute force on normalised rows and query.
  auto norm = [](const float* v, int d) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += double(v[j]) * v[j];
    return std::sqrt(s);
  };
  const double qn = norm(q.data(), dim);
  std::vector<std::pair<double, int64_t>> ref;
  for (int i = 0; i < n; ++i) {
    if (i == 5 || i == 77) continue;
    const float* r = &x[static_cast<size_t>(i) * dim];
    double dot = 0;
    for (int j = 0; j < dim; ++j) dot += double(r[j]) * q[j];
    ref.push_back({dot / (norm(r, dim) * qn), ids[i]});
  }
  std::sort(ref.begin(), ref.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (int i = 0; i < k; ++i) {
    EXPECT_EQ((*got)[i].id, ref[i].second) << "rank " << i;
    EXPECT_NEAR((*got)[i].score, ref[i].first, 1e-5) << "rank " << i;
  }
}
