// Sharing an album with another user (docs/security.md, "Sharing"):
//   GET    /api/albums/{id}/shares            who it is shared with (owner only)
//   POST   /api/albums/{id}/shares            {"username","role":"viewer"|"contributor"} (owner only;
//                                             again for the same user changes the role)
//   DELETE /api/albums/{id}/shares/{user_id}  ends a share: the owner anyone's, a recipient their own
// An album the user cannot see is 404; one shared with them, for an owner's
// action, 403.
#include <charconv>

#include "auth/accounts.h"
#include "server/errors.h"
#include "server/routes.h"

namespace sa {
namespace {

nlohmann::json share_json(const AlbumShare& s) {
  return {{"user_id", s.user_id}, {"username", s.user_name}, {"role", to_string(s.role)},
          {"created_at", s.created_at}};
}

Result<int64_t> album_id_of(const httplib::Request& req) {
  auto id = id_param(req);
  if (!id.ok()) return Status::NotFound("no album with that id");
  return id;
}

Result<int64_t> user_id_of(const httplib::Request& req) {
  if (req.matches.size() < 3) return Status::NotFound("no user id in path");
  const std::string v = req.matches[2].str();
  int64_t x = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || ptr != v.data() + v.size() || x <= 0) return Status::NotFound("no user with id " + v);
  return x;
}

}  // namespace

void register_sharing_routes(Router& srv, RouteContext& ctx) {
  srv.Get(R"(/api/albums/([^/]+)/shares)", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto id = album_id_of(req);
    if (!id.ok()) return send_error(res, id.status());
    if (!owned_album_or_403(ctx, req, res, *id).ok()) return;
    auto shares = ctx.album.album_shares(*id, scope_of(ctx, req));
    if (!shares.ok()) return send_error(res, shares.status());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& s : *shares) items.push_back(share_json(s));
    send_json(res, {{"album_id", *id}, {"items", items}});
  }));

  srv.Post(R"(/api/albums/([^/]+)/shares)", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto id = album_id_of(req);
    if (!id.ok()) return send_error(res, id.status());
    if (!owned_album_or_403(ctx, req, res, *id).ok()) return;
    if (!ctx.accounts) return send_error(res, Status::Unavailable("sharing needs accounts (smart-album user add)"));
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    const auto name = body->find("username");
    const auto role_j = body->find("role");
    if (name == body->end() || !name->is_string()) {
      return send_error(res, Status::InvalidArgument("field 'username' must be a string"));
    }
    std::optional<AlbumRole> role = AlbumRole::kViewer;
    if (role_j != body->end()) {
      role = role_j->is_string() ? parse_album_role(role_j->get<std::string>()) : std::nullopt;
      if (!role || *role == AlbumRole::kOwner) {
        return send_error(res, Status::InvalidArgument("field 'role' must be 'viewer' or 'contributor'"));
      }
    }
    auto user = ctx.accounts->find_user(name->get<std::string>());
    if (!user.ok()) return send_error(res, Status::NotFound("no user named '" + name->get<std::string>() + "'"));
    const OwnerScope scope = scope_of(ctx, req);
    Status s = ctx.album.share_album(*id, user->id, *role, scope);
    if (!s.ok()) return send_error(res, s);
    AlbumShare out{user->id, user->name, *role, ""};
    if (auto all = ctx.album.album_shares(*id, scope); all.ok()) {
      for (const auto& sh : *all)
        if (sh.user_id == user->id) out = sh;
    }
    send_json(res, share_json(out), 201);
  }));

  srv.Delete(R"(/api/albums/([^/]+)/shares/([^/]+))", guarded([&ctx](const httplib::Request& req,
                                                                   httplib::Response& res) {
    auto id = album_id_of(req);
    if (!id.ok()) return send_error(res, id.status());
    auto user = user_id_of(req);
    if (!user.ok()) return send_error(res, user.status());
    const OwnerScope scope = scope_of(ctx, req);
    // Leaving an album shared with oneself is allowed; anything else is the owner's.
    if (*user != scope.owner_id && !owned_album_or_403(ctx, req, res, *id).ok()) return;
    Status s = ctx.album.unshare_album(*id, *user, scope);
    if (!s.ok()) return send_error(res, s);
    send_json(res, {{"album_id", *id}, {"user_id", *user}, {"deleted", true}});
  }));
}

}  // namespace sa
