// Sign-in and exposure rules of the HTTP layer, over a fake album and real
// accounts (SQLite in a temp dir): 401 on every protected route (enumerated
// from the router), login/logout/me, lockout, tokens, Host allow-list,
// cross-site refusals, JSON-only bodies, security headers, first-run setup.
#include <httplib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <regex>
#include <set>
#include <nlohmann/json.hpp>

#include "auth/accounts.h"
#include "fake_album.h"
#include "server/host_names.h"
#include "server/http_server.h"
#include "store/users.h"

namespace sa {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class AuthServer {
 public:
  explicit AuthServer(ServerOptions opt = {}, bool with_users = true) {
    static std::atomic<int> counter{0};
    root = fs::temp_directory_path() / ("sa_auth_srv_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(counter++));
    fs::remove_all(root);
    fs::create_directories(root / "web");
    (void)write_file_atomic((root / "web" / "index.html").string(), "<html>相册</html>");
    album = std::make_unique<testing::FakeAlbum>((root / "photos").string());
    store = std::move(UserStore::open((root / "album.db").string()).value());
    accounts = std::make_unique<Accounts>(*store);
    if (with_users) {
      EXPECT_TRUE(accounts->add_user("alice", "alice-password", true).ok());
      EXPECT_TRUE(accounts->add_user("bob", "bob-password", false).ok());
    }
    opt.port = 0;
    opt.web_dir = (root / "web").string();
    server = std::make_unique<HttpServer>(*album, opt, accounts.get());
    Status s = server->start();
    EXPECT_TRUE(s.ok()) << s.to_string();
    client = std::make_unique<httplib::Client>("127.0.0.1", server->port());
  }
  ~AuthServer() {
    server.reset();
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  // Signs in and returns the cookie's value ("" on failure).
  std::string login(const std::string& user, const std::string& pw) {
    auto r = client->Post("/api/auth/login", json{{"username", user}, {"password", pw}}.dump(), "application/json");
    if (!r || r->status != 200) return "";
    const std::string c = r->get_header_value("Set-Cookie");
    const size_t b = c.find('='), e = c.find(';');
    return c.substr(b + 1, e - b - 1);
  }
  httplib::Headers cookie(const std::string& session) { return {{"Cookie", "sa_session=" + session}}; }

  fs::path root;
  std::unique_ptr<testing::FakeAlbum> album;
  std::unique_ptr<UserStore> store;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<httplib::Client> client;
};

std::string error_code(const httplib::Result& r) {
  if (!r) return "<no reply>";
  auto j = json::parse(r->body, nullptr, false);
  return j.is_object() && j.contains("error") ? j["error"]["code"].get<std::string>() : "<not an error>";
}

// A concrete path for a route pattern: every capture group becomes "1".
std::string sample_path(const std::string& pattern) {
  return std::regex_replace(pattern, std::regex(R"(\([^)]*\))"), "1");
}

TEST(AuthServer, EveryApiRouteButThePublicOnesAnswers401) {
  AuthServer s;
  const std::set<std::string> kPublic = {"GET /api/health", "POST /api/auth/login", "POST /api/auth/setup"};
  int checked = 0;
  for (const std::string& route : s.server->routes()) {
    const size_t sp = route.find(' ');
    const std::string method = route.substr(0, sp), pattern = route.substr(sp + 1);
    if (pattern.rfind("/api/", 0) != 0) continue;  // the page itself is public
    const std::string path = sample_path(pattern);
    ASSERT_TRUE(std::regex_match(path, std::regex(pattern))) << route;
    if (kPublic.count(method + " " + path)) continue;
    httplib::Request req;
    req.method = method;
    req.path = path;
    if (method != "GET" && method != "DELETE") {
      req.body = "{}";
      req.set_header("Content-Type", "application/json");
    }
    auto r = s.client->send(req);
    ASSERT_TRUE(r) << route;
    EXPECT_EQ(r->status, 401) << route << " -> " << r->body;
    EXPECT_EQ(error_code(r), "unauthenticated") << route;
    // A wrong token and a forged session are no better.
    req.set_header("Authorization", "Bearer sa_not-a-token");
    auto t = s.client->send(req);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->status, 401) << route;
    ++checked;
  }
  EXPECT_GE(checked, 15);  // photos, search, settings, jobs, auth, users, tokens
  // The photo list is really behind the check (not just an empty fake).
  ASSERT_TRUE(s.album->add_file("a.jpg", "IMG1").ok());
  auto r = s.client->Get("/api/photos");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->body.find("a.jpg"), std::string::npos);
  EXPECT_EQ(r->get_header_value("WWW-Authenticate").rfind("Bearer", 0), 0u);
  auto orig = s.client->Get("/api/photos/1/original");
  ASSERT_TRUE(orig);
  EXPECT_EQ(orig->status, 401);
  EXPECT_EQ(orig->body.find("IMG1"), std::string::npos);
}

TEST(AuthServer, HealthIsMinimalUntilSignedIn) {
  AuthServer s;
  auto r = s.client->Get("/api/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto j = json::parse(r->body);
  EXPECT_EQ(j.size(), 2u) << j.dump();
  EXPECT_EQ(j["status"], "ok");
  EXPECT_TRUE(j.contains("version"));
  const std::string sid = s.login("bob", "bob-password");
  ASSERT_FALSE(sid.empty());
  auto full = s.client->Get("/api/health", s.cookie(sid));
  ASSERT_TRUE(full);
  EXPECT_TRUE(json::parse(full->body).contains("photos"));
}

TEST(AuthServer, LoginMeLogoutAndCookieFlags) {
  AuthServer s;
  auto r = s.client->Post("/api/auth/login", R"({"username":"alice","password":"alice-password"})",
                          "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["username"], "alice");
  const std::string set = r->get_header_value("Set-Cookie");
  EXPECT_NE(set.find("sa_session="), std::string::npos);
  EXPECT_NE(set.find("HttpOnly"), std::string::npos);
  EXPECT_NE(set.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(set.find("Path=/"), std::string::npos);
  EXPECT_EQ(set.find("Secure"), std::string::npos);  // plain HTTP here
  const std::string sid = set.substr(11, set.find(';') - 11);
  auto me = s.client->Get("/api/auth/me", s.cookie(sid));
  ASSERT_TRUE(me);
  ASSERT_EQ(me->status, 200);
  auto mj = json::parse(me->body);
  EXPECT_EQ(mj["username"], "alice");
  EXPECT_EQ(mj["admin"], true);
  EXPECT_EQ(s.client->Get("/api/photos", s.cookie(sid))->status, 200);
  auto out = s.client->Post("/api/auth/logout", s.cookie(sid), "", "application/json");
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200);
  EXPECT_NE(out->get_header_value("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(s.client->Get("/api/auth/me", s.cookie(sid))->status, 401);
}

TEST(AuthServer, WrongPasswordAndUnknownUserLookTheSame) {
  AuthServer s;
  auto wrong = s.client->Post("/api/auth/login", R"({"username":"alice","password":"nope-nope"})", "application/json");
  auto unknown = s.client->Post("/api/auth/login", R"({"username":"zed","password":"nope-nope"})", "application/json");
  ASSERT_TRUE(wrong && unknown);
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(unknown->status, 401);
  EXPECT_EQ(wrong->body, unknown->body);
  EXPECT_TRUE(wrong->get_header_value("Set-Cookie").empty());
}

TEST(AuthServer, FiveFailuresLockOutWith429AndRetryAfter) {
  AuthServer s;
  for (int i = 0; i < LoginLimiter::kFreeFailures; ++i) {
    auto r = s.client->Post("/api/auth/login", R"({"username":"bob","password":"guess-guess"})", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << i;
  }
  // Locked: even the right password is refused, with a Retry-After.
  auto r = s.client->Post("/api/auth/login", R"({"username":"bob","password":"bob-password"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_GT(std::stoi(r->get_header_value("Retry-After")), 0);
  // Another name from the same address is locked too; an API call is not.
  auto other = s.client->Post("/api/auth/login", R"({"username":"alice","password":"alice-password"})",
                              "application/json");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 429);
}

TEST(AuthServer, BearerTokensWorkAndRevokedOnesDoNot) {
  AuthServer s;
  const std::string sid = s.login("bob", "bob-password");
  ASSERT_FALSE(sid.empty());
  auto made = s.client->Post("/api/tokens", s.cookie(sid), R"({"label":"backup"})", "application/json");
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 201) << made->body;
  const std::string token = json::parse(made->body)["token"];
  const int64_t id = json::parse(made->body)["id"];
  httplib::Headers bearer = {{"Authorization", "Bearer " + token}};
  auto me = s.client->Get("/api/auth/me", bearer);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(json::parse(me->body)["username"], "bob");
  auto list = s.client->Get("/api/tokens", bearer);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->body.find(token), std::string::npos);  // never shown again
  EXPECT_EQ(json::parse(list->body)["items"].size(), 1u);
  auto del = s.client->Delete("/api/tokens/" + std::to_string(id), s.cookie(sid));
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(s.client->Get("/api/auth/me", bearer)->status, 401);
}

TEST(AuthServer, AdminsManageUsersOthersGet403) {
  AuthServer s;
  const std::string bob = s.login("bob", "bob-password");
  const std::string alice = s.login("alice", "alice-password");
  ASSERT_FALSE(bob.empty());
  ASSERT_FALSE(alice.empty());
  EXPECT_EQ(s.client->Get("/api/users", s.cookie(bob))->status, 403);
  auto add = s.client->Post("/api/users", s.cookie(alice), R"({"username":"carol","password":"carol-password"})",
                            "application/json");
  ASSERT_TRUE(add);
  ASSERT_EQ(add->status, 201) << add->body;
  const int64_t carol = json::parse(add->body)["id"];
  EXPECT_FALSE(s.login("carol", "carol-password").empty());
  auto reset = s.client->Put("/api/users/" + std::to_string(carol) + "/password", s.cookie(alice),
                             R"({"password":"carol-new-password"})", "application/json");
  ASSERT_TRUE(reset);
  EXPECT_EQ(reset->status, 200);
  EXPECT_FALSE(s.login("carol", "carol-new-password").empty());
  auto users = s.client->Get("/api/users", s.cookie(alice));
  ASSERT_TRUE(users);
  EXPECT_EQ(json::parse(users->body)["items"].size(), 3u);
  EXPECT_EQ(users->body.find("argon2"), std::string::npos);
  EXPECT_EQ(s.client->Delete("/api/users/" + std::to_string(carol), s.cookie(alice))->status, 200);
  EXPECT_TRUE(s.login("carol", "carol-new-password").empty());
}

TEST(AuthServer, PasswordChangeKeepsThisSessionEndsOthers) {
  AuthServer s;
  const std::string a = s.login("bob", "bob-password");
  const std::string b = s.login("bob", "bob-password");
  auto bad = s.client->Put("/api/auth/password", s.cookie(a),
                           R"({"current_password":"wrong-wrong","new_password":"bob-password-2"})", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 403);
  auto ok = s.client->Put("/api/auth/password", s.cookie(a),
                          R"({"current_password":"bob-password","new_password":"bob-password-2"})", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(s.client->Get("/api/auth/me", s.cookie(a))->status, 200);
  EXPECT_EQ(s.client->Get("/api/auth/me", s.cookie(b))->status, 401);
}

TEST(AuthServer, ForeignHostIsRefusedEvenOnLoopback) {
  AuthServer s;
  const std::string sid = s.login("alice", "alice-password");
  httplib::Headers h = s.cookie(sid);
  h.emplace("Host", "evil.example:5000");
  auto r = s.client->Get("/api/photos", h);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 421);
  auto page = s.client->Get("/", {{"Host", "evil.example"}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 421);
  for (const char* ok : {"localhost:5000", "127.0.0.1", "[::1]:80", "192.168.1.20:5000"}) {
    auto g = s.client->Get("/api/health", {{"Host", ok}});
    ASSERT_TRUE(g);
    EXPECT_EQ(g->status, 200) << ok;
  }
}

TEST(AuthServer, AllowedHostAndPublicUrlAreAccepted) {
  ServerOptions opt;
  opt.allowed_hosts = {"album.lan"};
  opt.public_url = "https://photos.example.com";
  AuthServer s(opt);
  for (const char* host : {"album.lan:5000", "photos.example.com", "PHOTOS.example.com"}) {
    auto g = s.client->Get("/api/health", {{"Host", host}});
    ASSERT_TRUE(g);
    EXPECT_EQ(g->status, 200) << host;
  }
  EXPECT_EQ(s.client->Get("/api/health", {{"Host", "other.example.com"}})->status, 421);
  // An https public URL marks the cookie Secure.
  auto r = s.client->Post("/api/auth/login", R"({"username":"bob","password":"bob-password"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_NE(r->get_header_value("Set-Cookie").find("; Secure"), std::string::npos);
}

TEST(AuthServer, ForwardedHeadersCountOnlyFromATrustedProxy) {
  auto login_via = [](AuthServer& s, const std::string& user, const std::string& pw, httplib::Headers h) {
    return s.client->Post("/api/auth/login", h, json{{"username", user}, {"password", pw}}.dump(), "application/json");
  };
  {
    AuthServer s;  // no trusted proxy: X-Forwarded-* from the peer are ignored
    auto r = login_via(s, "bob", "bob-password", {{"X-Forwarded-Proto", "https"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("Set-Cookie").find("Secure"), std::string::npos);
    // Failures are counted for the real peer whatever X-Forwarded-For claims.
    for (int i = 0; i < LoginLimiter::kFreeFailures; ++i) {
      login_via(s, "name" + std::to_string(i), "wrong-password", {{"X-Forwarded-For", "10.0.0." + std::to_string(i)}});
    }
    EXPECT_EQ(login_via(s, "alice", "alice-password", {{"X-Forwarded-For", "10.9.9.9"}})->status, 429);
  }
  ServerOptions opt;
  opt.trusted_proxies = {"127.0.0.1"};
  AuthServer s(opt);
  auto r = login_via(s, "bob", "bob-password", {{"X-Forwarded-Proto", "https"}, {"X-Forwarded-For", "10.0.0.1"}});
  ASSERT_TRUE(r);
  EXPECT_NE(r->get_header_value("Set-Cookie").find("; Secure"), std::string::npos);
  // Behind the proxy each client address has its own count.
  for (int i = 0; i < LoginLimiter::kFreeFailures; ++i) {
    login_via(s, "name" + std::to_string(i), "wrong-password", {{"X-Forwarded-For", "203.0.113.7"}});
  }
  EXPECT_EQ(login_via(s, "alice", "alice-password", {{"X-Forwarded-For", "203.0.113.7"}})->status, 429);
  EXPECT_EQ(login_via(s, "alice", "alice-password", {{"X-Forwarded-For", "198.51.100.2"}})->status, 200);
  // The last hop is the one the proxy saw; an address the client wrote first does not help it.
  EXPECT_EQ(login_via(s, "alice", "alice-password", {{"X-Forwarded-For", "198.51.100.2, 203.0.113.7"}})->status, 429);
}

TEST(AuthServer, CrossSiteStateChangesAreRefused) {
  AuthServer s;
  const std::string sid = s.login("alice", "alice-password");
  const std::string own = "http://127.0.0.1:" + std::to_string(s.server->port());
  auto with = [&](std::initializer_list<std::pair<const std::string, std::string>> extra) {
    httplib::Headers h = s.cookie(sid);
    for (const auto& e : extra) h.emplace(e.first, e.second);
    return h;
  };
  auto foreign = s.client->Put("/api/settings", with({{"Origin", "http://evil.example"}}),
                               R"({"auto_analyze":true})", "application/json");
  ASSERT_TRUE(foreign);
  EXPECT_EQ(foreign->status, 403);
  EXPECT_EQ(error_code(foreign), "permission_denied");
  auto other_port = s.client->Post("/api/photos/1/analyze", with({{"Origin", "http://127.0.0.1:1"}}), "", "");
  ASSERT_TRUE(other_port);
  EXPECT_EQ(other_port->status, 403);
  auto fetch_meta = s.client->Delete("/api/photos/1", with({{"Sec-Fetch-Site", "cross-site"}}));
  ASSERT_TRUE(fetch_meta);
  EXPECT_EQ(fetch_meta->status, 403);
  // The page's own requests and scripts without Origin pass.
  auto same = s.client->Put("/api/settings", with({{"Origin", own}, {"Sec-Fetch-Site", "same-origin"}}),
                            R"({"auto_analyze":true})", "application/json");
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 200) << same->body;
  // A cross-site GET is a plain read (SameSite=Strict keeps the cookie away in browsers).
  auto get = s.client->Get("/api/settings", with({{"Sec-Fetch-Site", "cross-site"}}));
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
}

TEST(AuthServer, JsonRoutesRefuseOtherBodies) {
  AuthServer s;
  const std::string sid = s.login("alice", "alice-password");
  auto text = s.client->Put("/api/settings", s.cookie(sid), R"({"auto_analyze":true})", "text/plain");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->status, 415);
  auto form = s.client->Post("/api/auth/login", "username=alice&password=alice-password",
                             "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415);
  EXPECT_TRUE(form->get_header_value("Set-Cookie").empty());
}

TEST(AuthServer, SecurityHeadersOnEveryReply) {
  AuthServer s;
  const std::string sid = s.login("alice", "alice-password");
  std::vector<httplib::Result> replies;
  replies.push_back(s.client->Get("/"));
  replies.push_back(s.client->Get("/api/health"));
  replies.push_back(s.client->Get("/api/photos"));                    // 401
  replies.push_back(s.client->Get("/api/photos", s.cookie(sid)));     // 200
  replies.push_back(s.client->Get("/api/nothing", s.cookie(sid)));    // 404
  replies.push_back(s.client->Get("/api/health", {{"Host", "x.example"}}));  // 421
  for (const auto& r : replies) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff") << r->status;
    const std::string csp = r->get_header_value("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << r->status;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << r->status;
    EXPECT_EQ(r->get_header_value("Referrer-Policy"), "same-origin") << r->status;
  }
}

TEST(AuthServer, ClientCannotForgeTheInternalUserHeaders) {
  AuthServer s;
  auto r = s.client->Get("/api/auth/me", {{"X-Smart-Album-Internal-User-Id", "1"},
                                          {"X-Smart-Album-Internal-User-Name", "alice"},
                                          {"X-Smart-Album-Internal-User-Admin", "1"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST(AuthServer, FirstRunSetupOnlyWithZeroUsers) {
  AuthServer s({}, /*with_users=*/false);
  auto me = s.client->Get("/api/auth/me");
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 401);
  EXPECT_EQ(error_code(me), "setup_required");
  auto made = s.client->Post("/api/auth/setup", R"({"username":"妈妈","password":"family-password"})",
                             "application/json");
  ASSERT_TRUE(made);
  ASSERT_EQ(made->status, 201) << made->body;
  EXPECT_EQ(json::parse(made->body)["admin"], true);
  EXPECT_NE(made->get_header_value("Set-Cookie").find("sa_session="), std::string::npos);
  auto again = s.client->Post("/api/auth/setup", R"({"username":"evil","password":"evil-password"})",
                              "application/json");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 403);
  EXPECT_EQ(*s.accounts->count_users(), 1);
  EXPECT_EQ(error_code(s.client->Get("/api/auth/me")), "unauthenticated");
}

TEST(AuthServer, SetupIsRefusedWhenBoundBeyondLoopback) {
  ServerOptions opt;
  opt.host = "0.0.0.0";
  AuthServer s(opt, /*with_users=*/false);
  auto made = s.client->Post("/api/auth/setup", R"({"username":"root","password":"root-password"})",
                             "application/json");
  ASSERT_TRUE(made);
  EXPECT_EQ(made->status, 403);
  EXPECT_EQ(*s.accounts->count_users(), 0);
}

TEST(AuthServer, StartNeedsAccountsWhenAuthIsOn) {
  testing::FakeAlbum album((fs::temp_directory_path() / ("sa_auth_noacc_" + std::to_string(::getpid()))).string());
  ServerOptions opt;
  opt.port = 0;
  HttpServer server(album, opt);
  EXPECT_EQ(server.start().code(), StatusCode::kInvalidArgument);
}

TEST(HostNames, LoopbackAndLiterals) {
  EXPECT_TRUE(is_loopback_host("localhost"));
  EXPECT_TRUE(is_loopback_host("app.localhost"));
  EXPECT_TRUE(is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(is_loopback_host("127.8.9.10"));
  EXPECT_TRUE(is_loopback_host("::1"));
  EXPECT_TRUE(is_loopback_host("[::1]"));
  EXPECT_FALSE(is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(is_loopback_host("localhost.evil.example"));
  EXPECT_FALSE(is_loopback_host("192.168.1.2"));
  EXPECT_TRUE(is_ip_literal("192.168.1.2"));
  EXPECT_TRUE(is_ip_literal("[fe80::1]"));
  EXPECT_FALSE(is_ip_literal("evil.example"));
  EXPECT_EQ(host_without_port("Example.COM:8080"), "example.com");
  EXPECT_EQ(host_without_port("[::1]:5000"), "::1");
  EXPECT_EQ(host_without_port("localhost."), "localhost");
}

}  // namespace
}  // namespace sa
