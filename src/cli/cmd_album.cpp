// serve / import / search / analyze: thin layers over the Album facade.
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "app/album_impl.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "server/http_server.h"
#include "server/json_codec.h"

namespace sa::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop = true; }

// existing: the album must be there already (search, analyze), so a mistyped
// --data-dir is an error rather than a new, empty album.
Result<std::unique_ptr<AlbumImpl>> open_for_cli(const Config& cfg, bool need_clip,
                                                bool existing = false) {
  if (existing) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path(cfg.data_dir) / "album.db", ec)) {
      return Status::NotFound("no album in " + cfg.data_dir +
                              ": import photos first (smart-album import --data-dir " +
                              cfg.data_dir + " FOLDER) or check --data-dir");
    }
  }
  SA_ASSIGN_OR_RETURN(auto album, open_album(cfg));
  const AlbumOpenReport& r = album->open_report();
  if (need_clip && !album->has_clip_model()) {
    return Status::Unavailable(r.clip_error.empty() ? "no CLIP model: pass --model PATH or a known name"
                                                    : "cannot load the CLIP model: " + r.clip_error);
  }
  if (!r.clip_error.empty() && !need_clip) spdlog::warn("CLIP model not loaded: {}", r.clip_error);
  if (!r.text_error.empty()) spdlog::warn("sentence model not loaded: {}", r.text_error);
  return album;
}

// Waits for the job queue to drain, drawing a bar over the jobs outstanding at the start.
void wait_for_jobs(Album& album, const std::string& label) {
  const JobStats start = album.job_stats();
  const int64_t total = start.pending + start.running;
  if (total == 0) return;
  Progress bar(label);
  while (!g_stop) {
    const bool idle = album.wait_idle(0.25);
    const JobStats now = album.job_stats();
    const int64_t left = now.pending + now.running;
    bar.update(std::max<int64_t>(0, total - left), std::max(total, left));
    if (idle) break;
  }
  bar.finish();
  const JobStats end = album.job_stats();
  if (end.failed > start.failed) {
    std::fprintf(stderr, "%lld job(s) failed\n", static_cast<long long>(end.failed - start.failed));
    for (const auto& f : end.recent_failures) {
      std::fprintf(stderr, "  photo %lld (%s): %s\n", static_cast<long long>(f.photo_id),
                   f.kind.c_str(), f.error.c_str());
    }
  }
}

void install_signal_handlers() {
  g_stop = false;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

}  // namespace

int cmd_serve(const Config& cfg) {
  auto album = open_for_cli(cfg, /*need_clip=*/false);
  if (!album.ok()) return fail(album.status());
  if (!(*album)->has_clip_model()) {
    spdlog::warn("search is disabled until a CLIP model is loaded (搜索需要模型): use --model");
  }
  ServerOptions opt;
  opt.host = cfg.host;
  opt.port = cfg.port;
  opt.web_dir = cfg.web_dir;
  opt.max_upload_bytes = cfg.max_upload_bytes;
  HttpServer server(**album, opt);
  Status s = server.start();
  if (!s.ok()) return fail(s);
  install_signal_handlers();
  // Tests and scripts read the bound port from this line (useful with --port 0).
  std::printf("smart-album %s listening on http://%s:%d\n", kVersion, cfg.host.c_str(), server.port());
  std::fflush(stdout);
  spdlog::info("data dir {}, model {}, text model {}, VLM {}", cfg.data_dir,
               (*album)->has_clip_model() ? (*album)->model_name() : "none",
               (*album)->has_text_model() ? (*album)->text_model_name() : "none",
               (*album)->has_vlm() ? cfg.vlm.model + " at " + cfg.vlm.base_url : "none");
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  spdlog::info("shutting down");
  server.stop();
  return 0;
}

int cmd_import(const Config& cfg, const std::vector<std::string>& folders, bool wait) {
  auto album = open_for_cli(cfg, /*need_clip=*/false);
  if (!album.ok()) return fail(album.status());
  install_signal_handlers();
  Album::ImportReport sum;
  for (const std::string& dir : folders) {
    Progress bar("import " + dir);
    std::mutex mu;  // the callback may come from decoding threads
    auto r = (*album)->import_folder(dir, [&](int64_t done, int64_t total, const std::string& name) {
      std::lock_guard<std::mutex> lock(mu);
      bar.update(done, total, name);
    });
    bar.finish();
    if (!r.ok()) return fail(r.status().with_context(dir));
    sum.added += r->added;
    sum.duplicates += r->duplicates;
    sum.rejected += r->rejected;
    for (auto& e : r->errors) sum.errors.push_back(e);
  }
  for (const auto& [path, reason] : sum.errors) {
    std::fprintf(stderr, "rejected %s: %s\n", path.c_str(), reason.c_str());
  }
  std::printf("imported %lld new, %lld duplicates, %lld rejected\n",
              static_cast<long long>(sum.added), static_cast<long long>(sum.duplicates),
              static_cast<long long>(sum.rejected));
  std::fflush(stdout);
  if (!(*album)->has_clip_model()) {
    std::fprintf(stderr, "no CLIP model: photos will be embedded when `serve` or `import` runs with --model\n");
  } else if (wait) {
    wait_for_jobs(**album, "embedding");
  }
  return 0;
}

int cmd_search(const Config& cfg, const SearchArgs& a) {
  auto album = open_for_cli(cfg, /*need_clip=*/true, /*existing=*/true);
  if (!album.ok()) return fail(album.status());
  SearchOptions opt;
  opt.limit = a.limit;
  opt.offset = a.offset;
  opt.mode = a.mode;
  auto hits = (*album)->search(a.query, opt);
  if (!hits.ok()) return fail(hits.status());
  if (a.json) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& h : *hits) items.push_back(hit_json(h));
    std::printf("%s\n", dump_json({{"query", a.query}, {"mode", opt.mode}, {"items", items}}).c_str());
  } else {
    int rank = opt.offset;
    for (const auto& h : *hits) {
      const std::string name = h.photo.folder.empty() ? h.photo.filename
                                                      : h.photo.folder + "/" + h.photo.filename;
      std::printf("%3d  %.4f  #%-6lld %s%s%s\n", ++rank, h.score, static_cast<long long>(h.photo.id),
                  name.c_str(), h.photo.taken_at.empty() ? "" : "  ", h.photo.taken_at.c_str());
    }
    if (hits->empty()) std::fprintf(stderr, "no photos found\n");
  }
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write to stdout");
}

int cmd_analyze(const Config& cfg, bool wait) {
  auto album = open_for_cli(cfg, /*need_clip=*/false, /*existing=*/true);
  if (!album.ok()) return fail(album.status());
  if (!(*album)->has_vlm()) {
    return fail(Status::Unavailable(
        "no VLM configured: set QWEN_API_KEY (or DASHSCOPE_API_KEY), or --vlm-base-url for a local server"));
  }
  auto n = (*album)->analyze_missing();
  if (!n.ok()) return fail(n.status());
  std::printf("queued %lld photo(s) for description\n", static_cast<long long>(*n));
  std::fflush(stdout);
  install_signal_handlers();
  if (wait) wait_for_jobs(**album, "describing");
  return 0;
}

}  // namespace sa::cli
