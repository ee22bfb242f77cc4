// /api/auth/... (sign in and out, who am I, own password, first-run setup),
// /api/users... (admins) and /api/tokens... (each user's API tokens).
#include <algorithm>
#include <optional>

#include "auth/accounts.h"
#include "server/errors.h"
#include "server/routes.h"

namespace sa {
namespace {

nlohmann::json user_json(const User& u) {
  return {{"id", u.id}, {"username", u.name}, {"admin", u.admin}, {"created_at", u.created_at}};
}

nlohmann::json token_json(const ApiToken& t) {
  return {{"id", t.id}, {"user", t.user_name}, {"label", t.label}, {"created_at", t.created_at},
          {"last_used_at", t.last_used_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.last_used_at)}};
}

std::string str_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Accounts, or Unavailable when the server runs with --auth off.
Result<Accounts*> accounts_of(RouteContext& ctx) {
  if (!ctx.opt.auth || !ctx.accounts) return Status::Unavailable("sign-in is off on this server (--auth off)");
  return ctx.accounts;
}

// The signed-in user; otherwise answers (503 with --auth off, 401) and returns nullopt.
std::optional<User> signed_in(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  if (auto acc = accounts_of(ctx); !acc.ok()) {
    send_error(res, acc.status());
    return std::nullopt;
  }
  auto u = request_user(req);
  if (!u) send_error_code(res, 401, "unauthenticated", "not signed in");
  return u;
}

// The signed-in admin; otherwise answers (401, 403) and returns nullopt.
std::optional<User> admin_of(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto u = signed_in(ctx, req, res);
  if (u && !u->admin) {
    send_error_code(res, 403, "permission_denied", "only an admin may manage users");
    return std::nullopt;
  }
  return u;
}

// Accounts' errors as HTTP: bad credentials 401, lockout 429, the rest as usual.
void send_accounts_error(httplib::Response& res, const Status& s, int retry_after_s = 0) {
  if (s.code() == kBadCredentials) return send_error_code(res, 401, "unauthenticated", s.message());
  if (s.code() == StatusCode::kResourceExhausted) {
    res.set_header("Retry-After", std::to_string(std::max(1, retry_after_s)));
    return send_error_code(res, 429, "too_many_requests", s.message());
  }
  send_error(res, s);
}

// First-run setup is possible only on a loopback bind, from a loopback
// client, while no account exists.
bool setup_allowed(RouteContext& ctx, const httplib::Request& req) {
  if (!ctx.opt.auth || !ctx.accounts || !is_loopback_host(host_without_port(ctx.opt.host))) return false;
  if (!is_loopback_host(ctx.guard->client_addr(req))) return false;
  auto n = ctx.accounts->count_users();
  return n.ok() && *n == 0;
}

Result<int64_t> path_id(const httplib::Request& req, const char* what) {
  auto id = id_param(req);
  if (!id.ok()) return Status::NotFound(std::string("no ") + what + " with that id");
  return *id;
}

}  // namespace

void register_auth_routes(Router& srv, RouteContext& ctx) {
  srv.Post("/api/auth/login", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto acc = accounts_of(ctx);
    if (!acc.ok()) return send_error(res, acc.status());
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    int retry_after = 0;
    auto r = (*acc)->login(str_field(*body, "username"), str_field(*body, "password"),
                           ctx.guard->client_addr(req), &retry_after);
    if (!r.ok()) return send_accounts_error(res, r.status(), retry_after);
    set_session_cookie(res, r->session_token, ctx.guard->is_https(req));
    send_json(res, user_json(r->user));
  }));

  srv.Post("/api/auth/setup", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!setup_allowed(ctx, req)) {
      return send_error_code(res, 403, "permission_denied",
                             "setup is only possible on a loopback address while no account exists "
                             "(create accounts with: smart-album user add NAME --admin)");
    }
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    auto r = ctx.accounts->setup_first_admin(str_field(*body, "username"), str_field(*body, "password"));
    if (!r.ok()) return send_error(res, r.status());
    set_session_cookie(res, r->session_token, ctx.guard->is_https(req));
    send_json(res, user_json(r->user), 201);
  }));

  srv.Post("/api/auth/logout", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto acc = accounts_of(ctx);
    if (!acc.ok()) return send_error(res, acc.status());
    Status s = (*acc)->logout(session_cookie(req));
    if (!s.ok()) return send_error(res, s);
    clear_session_cookie(res, ctx.guard->is_https(req));
    send_json(res, {{"signed_out", true}});
  }));

  srv.Get("/api/auth/me", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!ctx.opt.auth) return send_json(res, {{"auth", false}, {"username", nullptr}, {"admin", true}});
    auto u = signed_in(ctx, req, res);
    if (!u) return;
    nlohmann::json j = user_json(*u);
    j["auth"] = true;
    send_json(res, j);
  }));

  srv.Put("/api/auth/password", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto u = signed_in(ctx, req, res);
    if (!u) return;
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    Status s = ctx.accounts->change_password(*u, str_field(*body, "current_password"),
                                             str_field(*body, "new_password"), session_cookie(req),
                                             ctx.guard->client_addr(req));
    // A wrong current password is a refused change (403), not a lost session (401).
    if (s.code() == kBadCredentials) return send_error_code(res, 403, "permission_denied", s.message());
    if (!s.ok()) return send_accounts_error(res, s, 60);
    send_json(res, {{"changed", true}});
  }));

  // ---- users (admins only) ----
  srv.Get("/api/users", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!admin_of(ctx, req, res)) return;
    auto users = ctx.accounts->list_users();
    if (!users.ok()) return send_error(res, users.status());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& u : *users) items.push_back(user_json(u));
    send_json(res, {{"items", items}});
  }));

  srv.Post("/api/users", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!admin_of(ctx, req, res)) return;
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    const auto adm = body->find("admin");
    auto u = ctx.accounts->add_user(str_field(*body, "username"), str_field(*body, "password"),
                                    adm != body->end() && adm->is_boolean() && adm->get<bool>());
    if (!u.ok()) return send_error(res, u.status());
    send_json(res, user_json(*u), 201);
  }));

  srv.Put(R"(/api/users/([^/]+)/password)", guarded([&ctx](const httplib::Request& req,
                                                          httplib::Response& res) {
    if (!admin_of(ctx, req, res)) return;
    auto id = path_id(req, "user");
    if (!id.ok()) return send_error(res, id.status());
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    Status s = ctx.accounts->set_password(*id, str_field(*body, "password"));
    if (!s.ok()) return send_error(res, s);
    send_json(res, {{"id", *id}, {"changed", true}});
  }));

  srv.Delete(R"(/api/users/([^/]+))", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    if (!admin_of(ctx, req, res)) return;
    auto id = path_id(req, "user");
    if (!id.ok()) return send_error(res, id.status());
    Status s = ctx.accounts->remove_user(*id);
    if (!s.ok()) return send_error(res, s);
    send_json(res, {{"deleted", *id}});
  }));

  // ---- API tokens (each user's own) ----
  srv.Get("/api/tokens", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto u = signed_in(ctx, req, res);
    if (!u) return;
    auto tokens = ctx.accounts->list_tokens(u->id);
    if (!tokens.ok()) return send_error(res, tokens.status());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& t : *tokens) items.push_back(token_json(t));
    send_json(res, {{"items", items}});
  }));

  srv.Post("/api/tokens", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto u = signed_in(ctx, req, res);
    if (!u) return;
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    const std::string label = str_field(*body, "label");
    auto t = ctx.accounts->create_token(u->id, label);
    if (!t.ok()) return send_error(res, t.status());
    send_json(res, {{"id", t->id}, {"label", label}, {"token", t->token}}, 201);
  }));

  srv.Delete(R"(/api/tokens/([^/]+))", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto u = signed_in(ctx, req, res);
    if (!u) return;
    auto id = path_id(req, "token");
    if (!id.ok()) return send_error(res, id.status());
    Status s = ctx.accounts->revoke_token(*id, u->id);
    if (!s.ok()) return send_error(res, s);
    send_json(res, {{"deleted", *id}});
  }));
}

}  // namespace sa
