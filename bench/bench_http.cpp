// Search latency through the HTTP API: the real HttpServer over a real album with
// a full-size random-weight Chinese-CLIP (ViT-B/16 + RoBERTa-base text tower, 512-d)
// and N photos whose vectors are random unit vectors put straight into the store.
//
// Workloads (per N in --search-sizes, default 10000,100000):
//   http_search_clip_{N}    GET /api/search?q=..&limit=20&mode=clip over a kept-alive
//                           connection: p50/p99 ms per request, end to end (HTTP parse,
//                           text tower, FAISS, SQLite lookups, JSON), and `album_ms`,
//                           the same query through Album::search without HTTP.
//   http_search_hybrid_{N}  the same with mode=hybrid (no descriptions stored).
//   http_list_page          GET /api/photos?page=..&per_page=50 (at the largest N);
//   http_list_page_deep     the same for the last 100 pages (OFFSET: linear in the depth).
//   http_list_cursor        200 pages in a row by next_cursor (how the web page scrolls).
//   http_list_favorites     /api/photos?favorite=1 (2 % of the photos are favourites).
//   http_timeline_months    /api/timeline (photos per month, all of them).
//   http_folders            /api/folders (photos per folder, 100 folders).
// Counters also give the populate time, the first open (index rebuilt from
// SQLite and saved; the index files are removed first unless --keep-index),
// the IVF layout's build when N >= ann_min_photos (ivf_build_s, ivf_lists),
// the restart (index file loaded) and its time to the first search answer,
// recall@10 of the index the server searches (approximate above the
// threshold) against an exact scan of the stored fp32 vectors, and the
// process's RSS now and at its peak (VmHWM, MB), model included.
//
// The model: a full-size random ViT-B-16 + RoBERTa-base built in memory, or
// with --checkpoint=FILE one loaded from FILE as `serve` loads a released
// checkpoint (written first, by a child process, as random fp16 official-layout
// safetensors via the engine's checkpoint writer if FILE does not exist).
// --ann-min-photos=N, --expected-misses=X, --probe-fraction=X set the index's
// approximate path as the config keys of the same names (default: Config's).
// --precision=fp32|int8 the towers' precision (as `serve --precision`; the text
// tower's share of a search: ~12 ms fp32, ~7 ms int8 for a short query).
//
// --data-root=DIR keeps each N's data directory in DIR/http_N and reuses it
// on the next run (populating 1M rows takes ~10 min on a busy 2-core VM): the
// first open then finds the saved index (rebuild_s is the load), unless the
// index file is removed first.
//
// Run: build/bench/bench_http [--search-sizes=10000,100000] [--data-root=DIR] [--checkpoint=FILE]
//        [--ann-min-photos=N] [--expected-misses=X] [--probe-fraction=X] [--keep-index]
//        [--precision=fp32|int8] [--benchmark_format=json]
#include <benchmark/benchmark.h>

#include "bench_fixtures.h"
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "app/album_impl.h"
#include "jobs/vector_set.h"
#include "model/checkpoint_writer.h"
#include "model/chinese_clip.h"
#include "model/clip_loader.h"
#include "model/random_weights.h"
#include "server/http_server.h"
#include "store/store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<int> g_sizes = {10'000, 100'000};
std::string g_data_root;   // --data-root: kept and reused
std::string g_checkpoint;  // --checkpoint: load the model from this file
bool g_keep_index = false;
sa::Config g_base;         // ann_* from the command line
using sa::bench::kModelName;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::shared_ptr<const sa::ChineseClip> model() {
  if (g_checkpoint.empty()) return sa::bench::random_vitb16();
  static std::shared_ptr<const sa::ChineseClip> m = [] {
    auto r = sa::ChineseClip::load(g_checkpoint, "", sa::Precision::kFp32);
    if (!r.ok()) {
      std::fprintf(stderr, "load %s: %s\n", g_checkpoint.c_str(), r.status().to_string().c_str());
      std::exit(1);
    }
    return std::shared_ptr<const sa::ChineseClip>(std::move(*r));
  }();
  return m;
}

// Writes a random ViT-B-16 checkpoint to `path` in a child process (its
// memory never counts in this process's peak).
bool write_checkpoint(const std::string& path) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto spec = sa::clip_arch_spec("ViT-B-16");
    if (!spec.ok()) std::_Exit(1);
    sa::ClipWeights w = sa::random_clip_weights(spec->vision, spec->text, spec->embed_dim, 7);
    std::_Exit(sa::write_clip_checkpoint(w, path, sa::CheckpointDType::kF16).ok() ? 0 : 1);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

// A data dir with n photos + vectors, the album over it, and a server on a free port.
struct Fixture {
  fs::path dir;
  std::unique_ptr<sa::AlbumImpl> album;
  std::unique_ptr<sa::HttpServer> server;
  std::unique_ptr<httplib::Client> client;
  double populate_s = 0;
  double rebuild_s = 0;       // first open: until the index is rebuilt from SQLite (and saved)
  double load_open_s = 0;     // second open (a restart): until open_album returns
  double first_answer_s = 0;  // ... until the first search is answered (index still loading)
  double load_ready_s = 0;    // ... until the saved index file is loaded
  double ivf_build_s = 0;     // first open: the IVF layout's build after the rebuild (0: none)
  int ivf_lists = 0;
  double recall10 = -1;       // of the searched index against an exact scan (-1: not measured)
  bool keep = false;
  ~Fixture() {
    server.reset();
    album.reset();
    std::error_code ec;
    if (!keep) fs::remove_all(dir, ec);
  }
};

Fixture* fixture(int n) {
  static std::map<int, std::unique_ptr<Fixture>> cache;
  auto& f = cache[n];
  if (f) return f.get();
  f = std::make_unique<Fixture>();
  std::random_device rd;
  f->keep = !g_data_root.empty();
  f->dir = f->keep ? fs::path(g_data_root) / ("http_" + std::to_string(n))
                   : fs::temp_directory_path() / ("sa_bench_http_" + std::to_string(rd()));
  const fs::path data = f->dir / "data";
  fs::create_directories(data);
  auto t0 = Clock::now();
  if (!fs::exists(f->dir / "populated")) {
    fs::remove(data / "album.db");
    if (!sa::bench::populate_random_album((data / "album.db").string(), n).ok()) return nullptr;
    // Favourites for the filtered list: every 50th photo.
    sqlite3* db = nullptr;
    if (sqlite3_open((data / "album.db").c_str(), &db) != SQLITE_OK ||
        sqlite3_exec(db, "UPDATE photos SET favorite = 1 WHERE id % 50 = 0", nullptr, nullptr, nullptr) != SQLITE_OK) {
      sqlite3_close(db);
      return nullptr;
    }
    sqlite3_close(db);
    std::FILE* mark = std::fopen((f->dir / "populated").c_str(), "w");
    if (mark) std::fclose(mark);
  }
  f->populate_s = since(t0);
  sa::Config cfg = g_base;
  cfg.data_dir = data.string();
  // A true rebuild at the first open (the saved index of an earlier run
  // would make it a load).
  if (!g_keep_index) {
    std::error_code ec;
    fs::remove(data / "index" / "clip.faiss", ec);
    fs::remove(data / "index" / "desc.faiss", ec);
  }
  sa::AlbumDeps deps;
  deps.clip = model();
  deps.clip_name = kModelName;
  deps.query_cache_entries = 0;  // kQueries repeat: time the text tower on every query
  deps.index_in_background = true;  // as `serve` opens it
  // Twice: the first open rebuilds the index from SQLite (and saves it), the
  // second is a restart that finds the saved file.
  for (int round = 0; round < 2; ++round) {
    f->client.reset();
    f->server.reset();
    f->album.reset();
    t0 = Clock::now();
    auto album = sa::open_album(cfg, deps);
    if (!album.ok()) return nullptr;
    if (round == 1) f->load_open_s = since(t0);
    f->album = std::move(*album);
    if (round == 0) {
      if (!f->album->wait_indexes_ready(3600)) return nullptr;
      f->rebuild_s = since(t0);
      // Above the threshold the IVF layout is built next (in the background;
      // the server searches the flat index meanwhile) and saved with it.
      // (The build starts just after the index is ready: wait for the layout
      // itself, not only for a build in flight.)
      const sa::VectorSet* vs = f->album->clip_vectors();
      auto t1 = Clock::now();
      if (vs && cfg.ann_min_photos > 0 && vs->index().size() >= cfg.ann_min_photos) {
        while (!vs->index().ivf_info().active && since(t1) < 3600)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        vs->wait_ann(3600);
        f->ivf_build_s = since(t1);
        f->ivf_lists = vs->index().ivf_info().lists;
      }
    }
    sa::ServerOptions opt;
    opt.auth = false;  // measures search over HTTP, not sign-in
    opt.port = 0;
    f->server = std::make_unique<sa::HttpServer>(*f->album, opt);
    if (!f->server->start().ok()) return nullptr;
    f->client = std::make_unique<httplib::Client>("127.0.0.1", f->server->port());
    f->client->set_keep_alive(true);
    f->client->set_read_timeout(120);
    if (round == 1) {
      auto r = f->client->Get("/api/search?limit=20&q=%E4%B8%80%E5%8F%AA%E7%8C%AB");
      if (!r || r->status != 200) return nullptr;
      f->first_answer_s = since(t0);
      if (!f->album->wait_indexes_ready(3600)) return nullptr;
      f->load_ready_s = since(t0);
      // The saved layout comes back with the file; searches below use it.
      const sa::VectorSet* vs = f->album->clip_vectors();
      if (vs && f->ivf_lists > 0) {
        auto t1 = Clock::now();
        while (!vs->index().ivf_info().active && since(t1) < 3600)
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
  return f.get();
}

using sa::bench::kQueries;

// recall@10 of the index the server searches, over kQueries, against an exact
// scan of the fp32 vectors in the store (one pass for all queries).
double measure_recall(Fixture& f) {
  const sa::VectorSet* vs = f.album->clip_vectors();
  if (!vs) return -1;
  const int dim = vs->dim();
  const size_t nq = kQueries.size();
  std::vector<float> qs(nq * static_cast<size_t>(dim));
  for (size_t i = 0; i < nq; ++i) {
    std::vector<std::vector<int32_t>> ids = {model()->tokenize(kQueries[i])};
    if (!model()->encode_texts(ids, qs.data() + i * dim).ok()) return -1;
    sa::l2_normalize_rows(qs.data() + i * dim, 1, dim);
  }
  // Exact: a min-heap of the best 10 per query.
  using Entry = std::pair<double, int64_t>;
  std::vector<std::vector<Entry>> best(nq);
  std::vector<int64_t> ids;
  std::vector<float> data;
  int64_t after = 0;
  while (true) {
    ids.clear();
    data.clear();
    auto n = f.album->store().read_vectors("clip", kModelName, dim, after, 8192, &ids, &data);
    if (!n.ok()) return -1;
    if (*n == 0) break;
    after = ids.back();
    for (size_t r = 0; r < ids.size(); ++r) {
      const float* v = data.data() + r * dim;
      double ss = 0;
      for (int j = 0; j < dim; ++j) ss += double(v[j]) * v[j];
      const double inv = ss > 0 ? 1 / std::sqrt(ss) : 0;
      for (size_t i = 0; i < nq; ++i) {
        double d = 0;
        const float* q = qs.data() + i * dim;
        for (int j = 0; j < dim; ++j) d += double(q[j]) * v[j];
        auto& h = best[i];
        const Entry e{d * inv, ids[r]};
        auto worse = [](const Entry& a, const Entry& b) { return a.first > b.first; };
        if (h.size() < 10) {
          h.push_back(e);
          std::push_heap(h.begin(), h.end(), worse);
        } else if (e.first > h.front().first) {
          std::pop_heap(h.begin(), h.end(), worse);
          h.back() = e;
          std::push_heap(h.begin(), h.end(), worse);
        }
      }
    }
  }
  double hit = 0;
  for (size_t i = 0; i < nq; ++i) {
    auto got = vs->index().search(std::span<const float>(qs.data() + i * dim, dim), 10);
    if (!got.ok()) return -1;
    for (const auto& g : *got)
      for (const auto& e : best[i]) hit += e.second == g.id ? 1 : 0;
  }
  return hit / (10.0 * static_cast<double>(nq));
}

// A line of /proc/self/status in MB ("VmRSS:" now, "VmHWM:" the peak so far).
double rss_mb(const char* key) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return 0;
  char line[256];
  double kb = 0;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, std::strlen(key)) == 0) kb = std::atof(line + std::strlen(key));
  }
  std::fclose(f);
  return kb / 1024;
}
using sa::bench::percentile;

void BM_http_search(benchmark::State& state, const std::string& mode) {
  const int n = static_cast<int>(state.range(0));
  Fixture* f = fixture(n);
  if (!f) {
    state.SkipWithError("building the fixture failed");
    return;
  }
  std::vector<double> lat, direct;
  size_t qi = 0;
  sa::SearchOptions opt;
  opt.limit = 20;
  opt.mode = sa::parse_search_mode(mode).value();
  for (auto _ : state) {
    const std::string& q = kQueries[qi++ % kQueries.size()];
    const std::string path = "/api/search?limit=20&mode=" + mode + "&q=" + httplib::detail::encode_query_param(q);
    auto t0 = Clock::now();
    auto r = f->client->Get(path.c_str());
    const double dt = since(t0);
    if (!r || r->status != 200) {
      state.SkipWithError("search request failed");
      return;
    }
    state.SetIterationTime(dt);
    lat.push_back(dt * 1e3);
    auto t1 = Clock::now();
    auto hits = f->album->search(q, opt);
    direct.push_back(since(t1) * 1e3);
    if (!hits.ok()) {
      state.SkipWithError("album search failed");
      return;
    }
  }
  state.counters["p50_ms"] = percentile(lat, 0.5);
  state.counters["p99_ms"] = percentile(lat, 0.99);
  state.counters["album_p50_ms"] = percentile(direct, 0.5);
  state.counters["photos"] = n;
  state.counters["populate_s"] = f->populate_s;
  state.counters["rebuild_s"] = f->rebuild_s;
  state.counters["restart_open_s"] = f->load_open_s;
  state.counters["restart_first_answer_s"] = f->first_answer_s;
  state.counters["restart_index_ready_s"] = f->load_ready_s;
  state.counters["ivf_build_s"] = f->ivf_build_s;
  state.counters["ivf_lists"] = f->ivf_lists;
  if (f->recall10 < 0) f->recall10 = measure_recall(*f);
  state.counters["recall10"] = f->recall10;
  state.counters["rss_mb"] = rss_mb("VmRSS:");
  state.counters["peak_rss_mb"] = rss_mb("VmHWM:");
}

void BM_http_list_page(benchmark::State& state, int first_page) {
  Fixture* f = fixture(static_cast<int>(state.range(0)));
  if (!f) {
    state.SkipWithError("building the fixture failed");
    return;
  }
  std::vector<double> lat;
  int page = 1;
  for (auto _ : state) {
    const std::string path = "/api/photos?per_page=50&page=" + std::to_string(first_page + page++ % 100);
    auto t0 = Clock::now();
    auto r = f->client->Get(path.c_str());
    const double dt = since(t0);
    if (!r || r->status != 200) {
      state.SkipWithError("list request failed");
      return;
    }
    state.SetIterationTime(dt);
    lat.push_back(dt * 1e3);
  }
  state.counters["p50_ms"] = percentile(lat, 0.5);
  state.counters["p99_ms"] = percentile(lat, 0.99);
  state.counters["peak_rss_mb"] = rss_mb("VmHWM:");
}

// GET of one path, or (cursor) the next page after the previous answer's next_cursor.
void BM_http_get(benchmark::State& state, const std::string& path, bool cursor) {
  Fixture* f = fixture(static_cast<int>(state.range(0)));
  if (!f) {
    state.SkipWithError("building the fixture failed");
    return;
  }
  std::vector<double> lat;
  std::string next;
  for (auto _ : state) {
    std::string p = path;
    if (cursor && !next.empty()) p += "&cursor=" + httplib::detail::encode_query_param(next);
    auto t0 = Clock::now();
    auto r = f->client->Get(p.c_str());
    const double dt = since(t0);
    if (!r || r->status != 200) {
      state.SkipWithError(("GET " + p + " failed").c_str());
      return;
    }
    state.SetIterationTime(dt);
    lat.push_back(dt * 1e3);
    if (cursor) {
      auto j = nlohmann::json::parse(r->body, nullptr, false);
      next = j.is_object() && j.contains("next_cursor") && j["next_cursor"].is_string()
                 ? j["next_cursor"].get<std::string>() : std::string();
    }
  }
  state.counters["p50_ms"] = percentile(lat, 0.5);
  state.counters["p99_ms"] = percentile(lat, 0.99);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--search-sizes=", 15) == 0) {
      g_sizes.clear();
      for (const char* p = argv[i] + 15; *p;) {
        g_sizes.push_back(std::atoi(p));
        const char* c = std::strchr(p, ',');
        if (!c) break;
        p = c + 1;
      }
    } else if (std::strncmp(argv[i], "--data-root=", 12) == 0) {
      g_data_root = argv[i] + 12;
    } else if (std::strncmp(argv[i], "--checkpoint=", 13) == 0) {
      g_checkpoint = argv[i] + 13;
    } else if (std::strncmp(argv[i], "--ann-min-photos=", 17) == 0) {
      g_base.ann_min_photos = std::atoll(argv[i] + 17);
    } else if (std::strncmp(argv[i], "--expected-misses=", 18) == 0) {
      g_base.ann_expected_misses = std::atof(argv[i] + 18);
    } else if (std::strncmp(argv[i], "--probe-fraction=", 17) == 0) {
      g_base.ann_probe_fraction = std::atof(argv[i] + 17);
    } else if (std::strncmp(argv[i], "--precision=", 12) == 0) {
      g_base.precision = argv[i] + 12;
    } else if (std::strcmp(argv[i], "--keep-index") == 0) {
      g_keep_index = true;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!g_checkpoint.empty() && !fs::exists(g_checkpoint)) {
    if (!write_checkpoint(g_checkpoint)) {
      std::fprintf(stderr, "writing %s failed\n", g_checkpoint.c_str());
      return 1;
    }
  }
  int rargc = static_cast<int>(rest.size());
  for (int n : g_sizes) {
    std::string tag = n % 1000 == 0 ? std::to_string(n / 1000) + "k" : std::to_string(n);
    benchmark::RegisterBenchmark(("http_search_clip_" + tag).c_str(), BM_http_search, std::string("clip"))
        ->Arg(n)->Iterations(100)->UseManualTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("http_search_hybrid_" + tag).c_str(), BM_http_search, std::string("hybrid"))
        ->Arg(n)->Iterations(50)->UseManualTime()->Unit(benchmark::kMillisecond);
  }
  if (!g_sizes.empty()) {
    const int largest = *std::max_element(g_sizes.begin(), g_sizes.end());
    benchmark::RegisterBenchmark("http_list_page", BM_http_list_page, 1)
        ->Arg(largest)->Iterations(200)->UseManualTime()->Unit(benchmark::kMillisecond);
    // Pages deep in the library (OFFSET near the end).
    benchmark::RegisterBenchmark("http_list_page_deep", BM_http_list_page, std::max(1, largest / 50 - 100))
        ->Arg(largest)->Iterations(100)->UseManualTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("http_list_cursor", BM_http_get, std::string("/api/photos?per_page=50"), true)
        ->Arg(largest)->Iterations(200)->UseManualTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("http_list_favorites", BM_http_get, std::string("/api/photos?per_page=50&favorite=1"), true)
        ->Arg(largest)->Iterations(50)->UseManualTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("http_timeline_months", BM_http_get, std::string("/api/timeline"), false)
        ->Arg(largest)->Iterations(20)->UseManualTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("http_folders", BM_http_get, std::string("/api/folders"), false)
        ->Arg(largest)->Iterations(20)->UseManualTime()->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&rargc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
