// serve / import / search / analyze: thin layers over the Album facade.
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "app/album_impl.h"
#include "auth/accounts.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "server/http_server.h"
#include "server/json_codec.h"
#include "server/host_names.h"

namespace sa::cli {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
// The first SIGINT/SIGTERM asks the command to stop at the next safe point; a
// second one ends the process at once (the default action).
extern "C" void on_signal(int sig) {
  if (g_stop.exchange(true)) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
    return;
  }
  g_signal = sig;
}

// The conventional exit status of a command stopped by a signal (130 for SIGINT).
int interrupted_exit(const std::string& what) {
  fail("interrupted: " + what);
  return 128 + (g_signal.load() != 0 ? g_signal.load() : SIGINT);
}

// existing: the album must be there already (search, analyze), so a mistyped
// --data-dir is an error rather than a new, empty album.
// workers: false opens without background workers (jobs are only queued).
// background_index: the search indexes load (or rebuild) after open returns
// (serve: the server answers at once after a restart with a large library).
Result<std::unique_ptr<AlbumImpl>> open_for_cli(const Config& cfg, bool need_clip,
                                                bool existing = false, bool workers = true,
                                                bool background_index = false) {
  if (existing) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::path(cfg.data_dir) / "album.db", ec)) {
      return Status::NotFound("no album in " + cfg.data_dir +
                              ": import photos first (smart-album import --data-dir " +
                              cfg.data_dir + " FOLDER) or check --data-dir");
    }
  }
  AlbumDeps deps;
  deps.start_workers = workers;
  deps.drop_unrunnable_jobs = false;  // a server may be running with a model: leave its queue
  deps.index_in_background = background_index;
  SA_ASSIGN_OR_RETURN(auto album, open_album(cfg, std::move(deps)));
  const AlbumOpenReport& r = album->open_report();
  // A model that was asked for and cannot be loaded is an error, never a silent
  // model-less album (which would add photos without embeddings).
  if (!cfg.model.empty() && !r.clip_error.empty()) {
    return Status::Unavailable("cannot load the CLIP model '" + cfg.model + "': " + r.clip_error);
  }
  if (!cfg.text_model.empty() && !r.text_error.empty()) {
    return Status::Unavailable("cannot load the sentence model '" + cfg.text_model +
                               "': " + r.text_error);
  }
  if (need_clip && !album->has_clip_model()) {
    return Status::Unavailable(r.clip_error.empty() ? "no CLIP model: pass --model PATH or a known name"
                                                    : "cannot load the CLIP model: " + r.clip_error);
  }
  if (!r.clip_error.empty() && !need_clip) spdlog::warn("CLIP model not loaded: {}", r.clip_error);
  if (!r.text_error.empty()) spdlog::warn("sentence model not loaded: {}", r.text_error);
  return album;
}

struct WaitOutcome {
  bool interrupted = false;
  int64_t failed = 0;  // jobs that failed since `before`
  int64_t left = 0;    // jobs still queued or running
};

// Waits for the job queue to drain. The bar counts every job finished since
// `before` (a snapshot taken before this command queued its work, so jobs the
// workers finished meanwhile are counted too) plus those still outstanding.
// Failures since `before` are listed on stderr.
WaitOutcome wait_for_jobs(Album& album, const std::string& label, const JobStats& before) {
  WaitOutcome out;
  auto finished = [&](const JobStats& s) {
    return std::max<int64_t>(0, s.done - before.done) + std::max<int64_t>(0, s.failed - before.failed);
  };
  JobStats now = album.job_stats();
  // Drawn also when the workers finished everything during the import.
  if (now.pending + now.running > 0 || finished(now) > 0) {
    Progress bar(label);
    bar.show_rate("photos");
    while (true) {
      const int64_t left = now.pending + now.running;
      bar.update(finished(now), finished(now) + left);
      if (left == 0 || g_stop) break;
      // Idle can leave jobs queued that no worker of this run takes (their model is missing).
      const bool idle = album.wait_idle(0.25);
      now = album.job_stats();
      if (idle) {
        bar.update(finished(now), finished(now) + now.pending + now.running);
        break;
      }
    }
    bar.finish();
  }
  out.interrupted = g_stop.load();
  now = album.job_stats();
  out.left = now.pending + now.running;
  out.failed = std::max<int64_t>(0, now.failed - before.failed);
  if (out.failed > 0) {
    std::fprintf(stderr, "%lld job(s) failed\n", static_cast<long long>(out.failed));
    // recent_failures is newest first; list only this run's.
    for (size_t i = 0; i < now.recent_failures.size() && static_cast<int64_t>(i) < out.failed; ++i) {
      const JobFailure& f = now.recent_failures[i];
      std::fprintf(stderr, "  photo %lld (%s): %s\n", static_cast<long long>(f.photo_id),
                   std::string(to_string(f.kind)).c_str(), f.error.c_str());
    }
  }
  return out;
}

// The exit status after wait_for_jobs: 0, 128+signal, or 1 when jobs failed.
int wait_exit(const WaitOutcome& w, const std::string& what) {
  if (w.interrupted) {
    return interrupted_exit(std::to_string(w.left) + " " + what +
                            " job(s) still queued; they run at the next serve, import or analyze");
  }
  if (w.failed > 0) return fail(std::to_string(w.failed) + " " + what + " job(s) failed (listed above)");
  return 0;
}

void install_signal_handlers() {
  g_stop = false;
  g_signal = 0;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

}  // namespace

namespace {
std::string no_accounts_line(const Config& cfg) {
  return "no accounts yet and --host " + cfg.host + " is reachable from the network: create one first with "
         "`smart-album user add NAME --admin --data-dir " + cfg.data_dir + "`";
}
}  // namespace

namespace {
// import / search --user NAME: whose library. With several users the name is
// required (a photo must never land in, or be found from, the wrong library);
// with one user it is that user; without accounts, nobody's (no owner: the
// first admin created adopts the photos).
Result<OwnerScope> library_of(const Config& cfg, const std::string& user) {
  const std::string db_path = (std::filesystem::path(cfg.data_dir) / "album.db").string();
  SA_ASSIGN_OR_RETURN(auto users, UserStore::open(db_path));
  if (!user.empty()) {
    auto u = users->get_user_by_name(user);
    if (u.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("no user '" + user + "' (smart-album user list --data-dir " + cfg.data_dir + ")");
    }
    SA_RETURN_IF_ERROR(u.status());
    return OwnerScope{u->id};
  }
  SA_ASSIGN_OR_RETURN(std::vector<User> all, users->list_users());
  if (all.empty()) return OwnerScope{};
  if (all.size() == 1) return OwnerScope{all.front().id};
  return Status::InvalidArgument("this album has " + std::to_string(all.size()) +
                                 " users: say whose library with --user NAME");
}
}  // namespace

int cmd_serve(const Config& cfg, const ServeArgs& a) {
  const bool loopback = is_loopback_host(host_without_port(cfg.host));
  if (a.auth == "off" && !loopback) {
    return fail("--auth off is only allowed on a loopback address (--host 127.0.0.1): anyone on the network "
                "could read and delete the album");
  }
  // Exposed without any account: refused before anything is created or loaded.
  const std::string db_path = (std::filesystem::path(cfg.data_dir) / "album.db").string();
  std::error_code ec;
  if (a.auth == "on" && !loopback && !std::filesystem::exists(db_path, ec)) {
    return fail(no_accounts_line(cfg));
  }
  auto album = open_for_cli(cfg, /*need_clip=*/false, /*existing=*/false, /*workers=*/true,
                            /*background_index=*/true);
  if (!album.ok()) return fail(album.status());
  // The accounts live in the album's database, through a second connection.
  auto users = UserStore::open(db_path);
  if (!users.ok()) return fail(users.status());
  Accounts accounts(**users);
  auto n_users = accounts.count_users();
  if (!n_users.ok()) return fail(n_users.status());
  if (a.auth == "on" && *n_users == 0 && !loopback) return fail(no_accounts_line(cfg));
  if (!(*album)->has_clip_model()) {
    spdlog::warn("search is disabled until a CLIP model is loaded (搜索需要模型): use --model");
  }
  ServerOptions opt;
  opt.host = cfg.host;
  opt.port = cfg.port;
  opt.web_dir = cfg.web_dir;
  opt.max_upload_bytes = cfg.max_upload_bytes;
  opt.auth = a.auth == "on";
  opt.allowed_hosts = a.allowed_hosts;
  opt.public_url = a.public_url;
  opt.trusted_proxies = a.trusted_proxies;
  opt.tls_cert = a.tls_cert;
  opt.tls_key = a.tls_key;
  opt.head_deadline_s = a.head_deadline_s;
  opt.max_connections_per_client = a.max_connections_per_client;
  HttpServer server(**album, opt, &accounts);
  Status s = server.start();
  if (!s.ok()) return fail(s);
  install_signal_handlers();
  // Tests and scripts read the bound port from this line (useful with --port 0).
  const char* scheme = a.tls_cert.empty() ? "http" : "https";
  std::printf("smart-album %s listening on %s://%s:%d\n", kVersion, scheme, cfg.host.c_str(), server.port());
  std::fflush(stdout);
  if (!opt.auth) {
    spdlog::warn("sign-in is off (--auth off): anyone who can reach {} uses the album", cfg.host);
  } else if (*n_users == 0) {
    spdlog::info("first run: open {}://127.0.0.1:{}/ to create the admin account (创建管理员账号)", scheme,
                 server.port());
  }
  if (!loopback && a.tls_cert.empty() && a.trusted_proxies.empty()) {
    spdlog::warn("passwords cross the network unencrypted: use --tls-cert/--tls-key or a reverse proxy "
                 "(docs/security.md)");
  }
  spdlog::info("data dir {}, model {}, text model {}, VLM {}", cfg.data_dir,
               (*album)->has_clip_model() ? (*album)->model_name() : "none",
               (*album)->has_text_model() ? (*album)->text_model_name() : "none",
               (*album)->has_vlm() ? cfg.vlm.model + " at " + cfg.vlm.base_url : "none");
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  spdlog::info("shutting down");
  server.stop();
  return 0;
}

int cmd_import(const Config& cfg, const std::vector<std::string>& folders, bool wait,
               const std::string& album_name, const std::string& user) {
  // Workers start once the job counts are noted: the embedding bar and the
  // failure count then cover exactly the jobs of this run and earlier leftovers.
  auto album = open_for_cli(cfg, /*need_clip=*/false, /*existing=*/false, /*workers=*/false);
  if (!album.ok()) return fail(album.status());
  auto scope = library_of(cfg, user);
  if (!scope.ok()) return fail(scope.status());
  install_signal_handlers();
  const JobStats before = (*album)->job_stats();
  (*album)->start_workers();
  Album::ImportReport sum;
  int64_t tried = 0;
  for (const std::string& dir : folders) {
    if (g_stop) break;
    Progress bar("import " + dir);
    bar.show_rate("photos");
    std::mutex mu;  // the callback may come from decoding threads
    auto r = (*album)->import_folder(
        dir,
        [&](int64_t done, int64_t total, const std::string& name) {
          std::lock_guard<std::mutex> lock(mu);
          bar.update(done, total, name);
        },
        g_stop, *scope);
    bar.finish();
    if (!r.ok()) return fail(r.status().with_context(dir));
    sum.added += r->added;
    sum.duplicates += r->duplicates;
    sum.rejected += r->rejected;
    sum.total += r->total;
    tried += r->added + r->duplicates + r->rejected;
    for (auto& e : r->errors) sum.errors.push_back(e);
    for (auto& e : r->skipped) sum.skipped.push_back(e);
    sum.photo_ids.insert(sum.photo_ids.end(), r->photo_ids.begin(), r->photo_ids.end());
  }
  for (const auto& [path, reason] : sum.skipped) {
    std::fprintf(stderr, "skipped %s: %s\n", path.c_str(), reason.c_str());
  }
  for (const auto& [path, reason] : sum.errors) {
    std::fprintf(stderr, "rejected %s: %s\n", path.c_str(), reason.c_str());
  }
  std::string line = "imported " + std::to_string(sum.added) + " new, " + std::to_string(sum.duplicates) +
                     " duplicates, " + std::to_string(sum.rejected) + " rejected";
  if (!sum.skipped.empty()) line += ", " + std::to_string(sum.skipped.size()) + " skipped";
  std::printf("%s\n", line.c_str());
  if (!album_name.empty() && !sum.photo_ids.empty()) {
    auto a = (*album)->add_to_named_album(album_name, sum.photo_ids, *scope);
    if (!a.ok()) return fail(a.status().with_context("album '" + album_name + "'"));
    std::printf("album \"%s\" (id %lld) now holds %lld photo(s)\n", a->name.c_str(),
                static_cast<long long>(a->id), static_cast<long long>(a->photo_count));
  }
  std::fflush(stdout);
  if (g_stop) {
    return interrupted_exit("stopped after " + std::to_string(tried) + " of " + std::to_string(sum.total) +
                            " file(s) found; what was imported is kept, run the same import again to finish");
  }
  if (!(*album)->has_clip_model()) {
    if (sum.added > 0) {
      std::fprintf(stderr, "no CLIP model: the new photos are embedded by a running `serve --model` "
                           "within seconds, or by the next `serve` or `import` with --model\n");
    }
  } else if (wait) {
    return wait_exit(wait_for_jobs(**album, "embedding", before), "embedding");
  }
  return 0;
}

int cmd_search(const Config& cfg, const SearchArgs& a) {
  auto album = open_for_cli(cfg, /*need_clip=*/true, /*existing=*/true);
  if (!album.ok()) return fail(album.status());
  auto scope = library_of(cfg, a.user);
  if (!scope.ok()) return fail(scope.status());
  SearchOptions opt;
  opt.scope = *scope;
  opt.limit = a.limit;
  opt.offset = a.offset;
  std::optional<SearchMode> mode = parse_search_mode(a.mode);
  if (!mode) return fail(Status::InvalidArgument("--mode must be clip or hybrid"));
  opt.mode = *mode;
  auto hits = (*album)->search(a.query, opt);
  if (!hits.ok()) return fail(hits.status());
  if (a.json) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& h : *hits) items.push_back(hit_json(h));
    std::printf("%s\n", dump_json({{"query", a.query}, {"mode", to_string(opt.mode)}, {"items", items}}).c_str());
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

int cmd_analyze(const Config& cfg, bool wait, bool refresh) {
  // Workers start only to wait: --no-wait queues and returns, nothing is sent to the VLM.
  auto album = open_for_cli(cfg, /*need_clip=*/false, /*existing=*/true, /*workers=*/false);
  if (!album.ok()) return fail(album.status());
  if (!(*album)->has_vlm()) {
    return fail(Status::Unavailable(
        "no VLM configured: set QWEN_API_KEY (or DASHSCOPE_API_KEY), or --vlm-base-url for a local server"));
  }
  install_signal_handlers();
  const JobStats before = (*album)->job_stats();
  // --refresh: described photos too (to fill in the visible text of older descriptions).
  auto n = refresh ? (*album)->analyze_all() : (*album)->analyze_missing();
  if (!n.ok()) return fail(n.status());
  std::printf("queued %lld photo(s) for description\n", static_cast<long long>(*n));
  std::fflush(stdout);
  if (!wait) return 0;
  (*album)->start_workers();
  return wait_exit(wait_for_jobs(**album, "describing", before), "description");
}

}  // namespace sa::cli
