// Album benchmarks (library level, no HTTP), with full-size random-weight models
// (ViT-B/16 image tower, RoBERTa-wwm-ext-base text tower, embed dim 512).
//
// Workloads:
//   import_12mp_{exact,reduced}/N   import_folder() of N generated 12 MP JPEGs (chelsea upscaled
//                        to 4000x3000 plus per-image Gaussian noise, Q90) until every
//                        photo is embedded: photos/s, and `encoder_busy_pct` = time in
//                        encode_images / time from the first claimed batch to the last;
//                        `tower_img_per_s` = the image tower alone at batch 8 in the same
//                        process right after, and `frac_of_tower` = photos_per_s / that;
//                        `cpu_ms_per_photo` (import, encoder included) against
//                        `tower_cpu_ms_per_img` (process CPU time, load-independent).
//                        `reduced` uses the opt-in reduced-cost decode (--reduced-decode);
//                        `exact_1thread` decodes on one thread, `exact_nice10` at
//                        AlbumDeps::import_nice = 10, for comparison.
//   search_clip_{10k,100k}    Album::search (mode clip, limit 20) over N photos whose
//                        vectors are random unit vectors put in the store; latency
//                        p50/p99 per query INCLUDING the text tower, and the text
//                        tower alone (`encode_ms`).
//   search_hybrid_{10k,100k}  the same in hybrid mode (CLIP top-100 + FTS/LIKE
//                        keyword candidates + fusion), no descriptions.
// `index_open_s` is the time Album open spent (index rebuilt from SQLite, first run).
//
// Run: build/bench/bench_album [--import-photos=N] [--search-sizes=10000,100000]
//                              [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include "bench_fixtures.h"
#include <vips/vips.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "app/album_impl.h"
#include "core/file_util.h"
#include "image/image.h"
#include "model/chinese_clip.h"
#include "model/random_weights.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int g_import_photos = 16;
std::vector<int> g_search_sizes = {10'000, 100'000};
using sa::bench::kEmbedDim;
using sa::bench::kModelName;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// CPU seconds this process has used (all threads, user + system).
double process_cpu_s() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::shared_ptr<const sa::ChineseClip> model() { return sa::bench::random_vitb16(); }

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("sa_bench_album_" + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

struct VipsUnref {
  void operator()(VipsImage* im) const { if (im) g_object_unref(im); }
};
using VipsPtr = std::unique_ptr<VipsImage, VipsUnref>;

// Writes n distinct 12 MP JPEGs into dir (returns false and prints why on failure).
bool make_12mp_jpegs(const fs::path& dir, int n) {
  if (!sa::image_init().ok()) return false;
  std::string src = std::string(SA_TEST_DATA) + "/images/chelsea.png";
  VipsImage* raw = vips_image_new_from_file(src.c_str(), nullptr);
  if (!raw) return false;
  VipsPtr base(raw);
  VipsImage* out = nullptr;
  if (vips_resize(base.get(), &out, 4000.0 / base->Xsize, "vscale", 3000.0 / base->Ysize, nullptr)) return false;
  VipsPtr big(out);
  for (int i = 0; i < n; ++i) {
    VipsImage *noise = nullptr, *sum = nullptr, *u8 = nullptr;
    if (vips_gaussnoise(&noise, big->Xsize, big->Ysize, "sigma", 6.0, "mean", 0.0, "seed", i + 1, nullptr)) return false;
    VipsPtr pn(noise);
    if (vips_add(big.get(), noise, &sum, nullptr)) return false;
    VipsPtr ps(sum);
    if (vips_cast_uchar(sum, &u8, nullptr)) return false;
    VipsPtr pu(u8);
    void* buf = nullptr;
    size_t len = 0;
    if (vips_jpegsave_buffer(u8, &buf, &len, "Q", 90, nullptr)) return false;
    std::string bytes(static_cast<const char*>(buf), len);
    g_free(buf);
    char name[32];
    std::snprintf(name, sizeof name, "IMG_%04d.jpg", i);
    if (!sa::write_file_atomic((dir / name).string(), bytes).ok()) return false;
  }
  return true;
}

// The image tower alone at batch 8 (what bench_engine's embed_image_vitb16_b8 times),
// in this process, right now: the yardstick import is measured against.
struct TowerRate {
  double images_per_s = 0;
  double cpu_ms_per_image = 0;  // process CPU per image (both engine threads)
  double cores_used = 0;        // CPU seconds per wall second while it ran
};
TowerRate tower_rate(const sa::ChineseClip& m, int batches) {
  const int res = m.image_resolution();
  std::vector<float> pixels(size_t(8) * 3 * res * res);
  std::mt19937 rng(1);
  std::normal_distribution<float> g;
  for (float& v : pixels) v = g(rng);
  std::vector<float> out(size_t(8) * m.embed_dim());
  (void)m.encode_images(pixels.data(), 8, out.data());  // warm-up
  const double c0 = process_cpu_s();
  auto t0 = Clock::now();
  for (int b = 0; b < batches; ++b) (void)m.encode_images(pixels.data(), 8, out.data());
  const double wall = since(t0), cpu = process_cpu_s() - c0;
  return {8.0 * batches / wall, 1e3 * cpu / (8.0 * batches), cpu / wall};
}

// The generated photos, made once per process and shared by the import workloads.
struct ImportPhotos {
  TempDir tmp;
  fs::path dir;
  int64_t bytes = 0;
  double generate_s = 0;
  bool ok = false;
};
const ImportPhotos& import_photos(int n) {
  static std::map<int, std::unique_ptr<ImportPhotos>> cache;
  auto& p = cache[n];
  if (p) return *p;
  p = std::make_unique<ImportPhotos>();
  p->dir = p->tmp.path / "photos";
  fs::create_directories(p->dir);
  auto g0 = Clock::now();
  p->ok = make_12mp_jpegs(p->dir, n);
  p->generate_s = since(g0);
  for (auto& e : fs::directory_iterator(p->dir)) p->bytes += static_cast<int64_t>(e.file_size());
  return *p;
}

struct ImportMode {
  bool reduced = false;
  int import_nice = sa::AlbumDeps{}.import_nice;
  int import_threads = sa::AlbumDeps{}.import_threads;
};

void BM_import_12mp(benchmark::State& state, ImportMode mode) {
  const int n = static_cast<int>(state.range(0));
  TempDir tmp;
  const ImportPhotos& ph = import_photos(n);
  if (!ph.ok) {
    state.SkipWithError("generating JPEGs with libvips failed");
    return;
  }
  const fs::path& photos = ph.dir;
  state.counters["generate_s"] = ph.generate_s;
  const int64_t bytes = ph.bytes;
  auto m = model();
  for (auto _ : state) {
    sa::Config cfg;
    cfg.data_dir = (tmp.path / ("data" + std::to_string(state.iterations()))).string();
    cfg.embed_batch = 8;
    cfg.reduced_decode = mode.reduced;
    sa::AlbumDeps deps;
    deps.clip = m;
    deps.clip_name = kModelName;
    deps.import_nice = mode.import_nice;
    deps.import_threads = mode.import_threads;
    auto album = sa::open_album(cfg, deps);
    if (!album.ok()) {
      state.SkipWithError(album.status().to_string().c_str());
      return;
    }
    const double c0 = process_cpu_s();
    auto t0 = Clock::now();
    auto rep = (*album)->import_folder(photos.string());
    double ingest_s = since(t0);
    if (!rep.ok() || rep->added != n) {
      state.SkipWithError("import failed");
      return;
    }
    if (!(*album)->wait_idle(3600)) {
      state.SkipWithError("embedding did not finish");
      return;
    }
    double total_s = since(t0);
    const double import_cpu_s = process_cpu_s() - c0;
    sa::EmbedStats es = (*album)->embed_stats();
    album->reset();  // workers stopped: the tower is timed alone
    // Tower rate just before and just after would bracket the import; after is enough
    // to cancel most of the machine's load drift, and before would warm nothing useful.
    const TowerRate tr = tower_rate(*m, 3);
    const double tower = tr.images_per_s;
    state.SetIterationTime(total_s);
    state.counters["photos_per_s"] = n / total_s;
    state.counters["tower_img_per_s"] = tower;
    state.counters["frac_of_tower"] = n / total_s / tower;
    state.counters["ingest_s"] = ingest_s;  // hash + decode + thumbnail + preprocess + store
    state.counters["total_s"] = total_s;
    state.counters["encode_s"] = es.encode_seconds;
    state.counters["encoder_busy_pct"] = es.busy_window_seconds > 0 ? 100.0 * es.encode_seconds / es.busy_window_seconds : 0;
    state.counters["worker_decode_s"] = es.decode_seconds;  // decodes the pixel cache did not save
    state.counters["worker_decodes"] = static_cast<double>(es.worker_decodes);
    state.counters["mean_batch"] = es.batches > 0 ? static_cast<double>(es.images) / es.batches : 0;
    state.counters["MB_per_photo"] = bytes / 1e6 / n;
    // Where the CPU went: per photo for the whole import (encoder included), per image
    // for the tower alone; their difference is what the import adds to each photo
    // (read, hash, decode, thumbnail, preprocess, store). On two cores the import can
    // reach at most tower_cpu_ms_per_img / cpu_ms_per_photo of the tower's rate
    // (`cpu_bound_frac`) unless the tower alone leaves cores idle (tower_cores_used < 2).
    state.counters["cpu_ms_per_photo"] = 1e3 * import_cpu_s / n;
    state.counters["import_cores_used"] = import_cpu_s / total_s;
    state.counters["tower_cpu_ms_per_img"] = tr.cpu_ms_per_image;
    state.counters["tower_cores_used"] = tr.cores_used;
    state.counters["ingest_cpu_ms_per_photo"] = 1e3 * import_cpu_s / n - tr.cpu_ms_per_image;
    state.counters["cpu_bound_frac"] = tr.cpu_ms_per_image / (1e3 * import_cpu_s / n);
  }
}

// A data dir with n photos and random unit vectors, opened as an album.
struct SearchFixture {
  TempDir tmp;
  std::unique_ptr<sa::AlbumImpl> album;
  double populate_s = 0, open_s = 0;
};

SearchFixture* search_fixture(int n) {
  static std::map<int, std::unique_ptr<SearchFixture>> cache;
  auto& f = cache[n];
  if (f) return f.get();
  f = std::make_unique<SearchFixture>();
  fs::path data = f->tmp.path / "data";
  fs::create_directories(data);
  auto t0 = Clock::now();
  if (!sa::bench::populate_random_album((data / "album.db").string(), n).ok()) return nullptr;
  f->populate_s = since(t0);
  sa::Config cfg;
  cfg.data_dir = data.string();
  sa::AlbumDeps deps;
  deps.clip = model();
  deps.clip_name = kModelName;
  deps.query_cache_entries = 0;  // kQueries repeat: time the text tower on every query
  auto t1 = Clock::now();
  auto album = sa::open_album(cfg, deps);
  if (!album.ok()) return nullptr;
  f->open_s = since(t1);
  f->album = std::move(*album);
  return f.get();
}

using sa::bench::kQueries;
using sa::bench::percentile;

void BM_search(benchmark::State& state, const std::string& mode) {
  const int n = static_cast<int>(state.range(0));
  SearchFixture* f = search_fixture(n);
  if (!f) {
    state.SkipWithError("building the search fixture failed");
    return;
  }
  auto m = model();
  sa::SearchOptions opt;
  opt.limit = 20;
  opt.mode = sa::parse_search_mode(mode).value();
  std::vector<double> lat, enc;
  size_t qi = 0;
  for (auto _ : state) {
    const std::string& q = kQueries[qi++ % kQueries.size()];
    auto t0 = Clock::now();
    auto hits = f->album->search(q, opt);
    double dt = since(t0);
    if (!hits.ok() || hits->size() != 20) {
      state.SkipWithError("search failed");
      return;
    }
    state.SetIterationTime(dt);
    lat.push_back(dt * 1e3);
    // The text tower alone, for the split.
    auto t1 = Clock::now();
    std::vector<float> out(kEmbedDim);
    (void)m->encode_texts({m->tokenize(q)}, out.data());
    enc.push_back(since(t1) * 1e3);
  }
  state.counters["p50_ms"] = percentile(lat, 0.5);
  state.counters["p99_ms"] = percentile(lat, 0.99);
  state.counters["encode_ms"] = percentile(enc, 0.5);
  state.counters["photos"] = n;
  state.counters["populate_s"] = f->populate_s;
  state.counters["index_open_s"] = f->open_s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--import-photos=", 16) == 0) {
      g_import_photos = std::max(1, std::atoi(argv[i] + 16));
    } else if (std::strncmp(argv[i], "--search-sizes=", 15) == 0) {
      g_search_sizes.clear();
      for (const char* p = argv[i] + 15; *p;) {
        g_search_sizes.push_back(std::atoi(p));
        const char* c = std::strchr(p, ',');
        if (!c) break;
        p = c + 1;
      }
    } else {
      rest.push_back(argv[i]);
    }
  }
  int rargc = static_cast<int>(rest.size());
  // The same photos for all (made once). Variants for A/B runs in one process:
  // `1thread` decodes on one thread (the default before issue 17's last round),
  // `nice10` at AlbumDeps::import_nice = 10 (run the bench at a nice below 10, or
  // there is nothing to lower).
  benchmark::RegisterBenchmark("import_12mp_exact", BM_import_12mp, ImportMode{false})
      ->Arg(g_import_photos)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
  benchmark::RegisterBenchmark("import_12mp_reduced", BM_import_12mp, ImportMode{true})
      ->Arg(g_import_photos)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
  benchmark::RegisterBenchmark("import_12mp_exact_1thread", BM_import_12mp, ImportMode{false, 0, 1})
      ->Arg(g_import_photos)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
  benchmark::RegisterBenchmark("import_12mp_exact_nice10", BM_import_12mp, ImportMode{false, 10, 0})
      ->Arg(g_import_photos)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);
  for (int n : g_search_sizes) {
    std::string tag = n % 1000 == 0 ? std::to_string(n / 1000) + "k" : std::to_string(n);
    benchmark::RegisterBenchmark(("search_clip_" + tag).c_str(), BM_search, std::string("clip"))
        ->Arg(n)->Iterations(100)->UseManualTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("search_hybrid_" + tag).c_str(), BM_search, std::string("hybrid"))
        ->Arg(n)->Iterations(50)->UseManualTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&rargc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
