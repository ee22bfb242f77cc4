// Costs of signing in, through the real HttpServer over a real (empty, model-less)
// album with accounts on:
//   auth_hash_password      crypto_pwhash_str, Argon2id interactive (t=2, 64 MiB)
//   auth_verify_password    crypto_pwhash_str_verify of the right password
//   http_login              POST /api/auth/login, end to end (one Argon2 verify + a session row)
//   http_401                GET /api/photos without a cookie: the answer every
//                           unauthenticated request gets
//   http_401_bad_cookie     the same with an unknown session cookie (one hashed lookup)
//   http_signed_in_list     GET /api/photos with a valid session (the overhead of a signed-in call)
// Each HTTP workload runs over one kept-alive connection.
//
// Run: build/bench/bench_auth [--benchmark_format=json]
#include <benchmark/benchmark.h>
#include <httplib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "app/album_impl.h"
#include "auth/accounts.h"
#include "auth/secrets.h"
#include "server/http_server.h"
#include "store/users.h"

namespace {

namespace fs = std::filesystem;

struct Fixture {
  fs::path dir;
  std::unique_ptr<sa::AlbumImpl> album;
  std::unique_ptr<sa::UserStore> users;
  std::unique_ptr<sa::Accounts> accounts;
  std::unique_ptr<sa::HttpServer> server;
  std::string cookie;
  ~Fixture() {
    server.reset();
    album.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Fixture& fixture() {
  static std::unique_ptr<Fixture> f = [] {
    auto f = std::make_unique<Fixture>();
    f->dir = fs::temp_directory_path() / ("sa_bench_auth_" + std::to_string(::getpid()));
    fs::remove_all(f->dir);
    sa::Config cfg;
    cfg.data_dir = f->dir.string();
    sa::AlbumDeps deps;
    deps.start_workers = false;
    f->album = std::move(sa::open_album(cfg, std::move(deps)).value());
    f->users = std::move(sa::UserStore::open((f->dir / "album.db").string()).value());
    f->accounts = std::make_unique<sa::Accounts>(*f->users);
    (void)f->accounts->add_user("alice", "alice-password", true);
    sa::ServerOptions opt;
    opt.port = 0;
    f->server = std::make_unique<sa::HttpServer>(*f->album, opt, f->accounts.get());
    if (!f->server->start().ok()) std::abort();
    int retry = 0;
    f->cookie = "sa_session=" + f->accounts->login("alice", "alice-password", "", &retry).value().session_token;
    return f;
  }();
  return *f;
}

void auth_hash_password(benchmark::State& state) {
  (void)sa::init_secrets();
  for (auto _ : state) benchmark::DoNotOptimize(sa::hash_password("correct horse battery"));
  state.SetLabel("Argon2id t=2 m=64MiB p=1");
}
BENCHMARK(auth_hash_password)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void auth_verify_password(benchmark::State& state) {
  (void)sa::init_secrets();
  const std::string h = sa::hash_password("correct horse battery").value();
  for (auto _ : state) benchmark::DoNotOptimize(sa::verify_password(h, "correct horse battery"));
}
BENCHMARK(auth_verify_password)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void http_login(benchmark::State& state) {
  Fixture& f = fixture();
  httplib::Client c("127.0.0.1", f.server->port());
  c.set_keep_alive(true);
  for (auto _ : state) {
    auto r = c.Post("/api/auth/login", R"({"username":"alice","password":"alice-password"})", "application/json");
    if (!r || r->status != 200) state.SkipWithError("login failed");
  }
}
BENCHMARK(http_login)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void get_loop(benchmark::State& state, const httplib::Headers& h, int want) {
  Fixture& f = fixture();
  httplib::Client c("127.0.0.1", f.server->port());
  c.set_keep_alive(true);
  for (auto _ : state) {
    auto r = c.Get("/api/photos", h);
    if (!r || r->status != want) state.SkipWithError("unexpected status");
  }
}

void http_401(benchmark::State& state) { get_loop(state, {}, 401); }
BENCHMARK(http_401)->Unit(benchmark::kMicrosecond);

void http_401_bad_cookie(benchmark::State& state) {
  get_loop(state, {{"Cookie", "sa_session=not-a-session"}}, 401);
}
BENCHMARK(http_401_bad_cookie)->Unit(benchmark::kMicrosecond);

void http_signed_in_list(benchmark::State& state) { get_loop(state, {{"Cookie", fixture().cookie}}, 200); }
BENCHMARK(http_signed_in_list)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
