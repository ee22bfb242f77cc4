// Organising routes (docs/organise.md): PATCH /api/photos/{id} (favourite),
// /api/photos/batch, /api/trash..., /api/albums..., /api/duplicates.
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <vector>

#include "server/errors.h"
#include "server/json_codec.h"
#include "server/routes.h"

namespace sa {
namespace {

// {"ids":[1,2,...]}: positive integers, at least one.
Result<std::vector<int64_t>> ids_field(const nlohmann::json& j) {
  if (!j.contains("ids") || !j["ids"].is_array()) {
    return Status::InvalidArgument("field 'ids' must be an array of photo ids");
  }
  std::vector<int64_t> ids;
  for (const auto& v : j["ids"]) {
    if (!v.is_number_integer() || v.get<int64_t>() <= 0) {
      return Status::InvalidArgument("field 'ids' must hold positive integers");
    }
    ids.push_back(v.get<int64_t>());
  }
  if (ids.empty()) return Status::InvalidArgument("field 'ids' is empty");
  return ids;
}

Result<BatchAction> parse_action(const std::string& s) {
  if (s == "trash") return BatchAction::kTrash;
  if (s == "restore") return BatchAction::kRestore;
  if (s == "favorite") return BatchAction::kFavorite;
  if (s == "unfavorite") return BatchAction::kUnfavorite;
  if (s == "add_to_album") return BatchAction::kAddToAlbum;
  if (s == "remove_from_album") return BatchAction::kRemoveFromAlbum;
  return Status::InvalidArgument(
      "field 'action' must be one of trash, restore, favorite, unfavorite, add_to_album, "
      "remove_from_album");
}

}  // namespace

nlohmann::json album_json(const AlbumInfo& a) {
  return {{"id", a.id},
          {"role", to_string(a.role)},
          {"owner", a.owner_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.owner_name)},
          {"name", a.name},
          {"cover_photo_id", a.cover_photo_id > 0 ? nlohmann::json(a.cover_photo_id) : nlohmann::json(nullptr)},
          {"cover_url", a.cover_photo_id > 0
                            ? nlohmann::json("/api/photos/" + std::to_string(a.cover_photo_id) + "/thumbnail")
                            : nlohmann::json(nullptr)},
          {"photo_count", a.photo_count},
          {"created_at", a.created_at},
          {"updated_at", a.updated_at}};
}

Result<AlbumInfo> owned_album_or_403(RouteContext& ctx, const httplib::Request& req, httplib::Response& res,
                                     int64_t id) {
  auto a = ctx.album.get_album(id, scope_of(ctx, req));
  if (!a.ok()) {
    send_error(res, a.status());
    return a.status();
  }
  if (a->role != AlbumRole::kOwner) {
    send_error_code(res, 403, "permission_denied", "only the album's owner may do this");
    return Status::NotFound("not the owner");
  }
  return a;
}

namespace {

nlohmann::json page_json(const PhotoPage& p) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& ph : p.items) items.push_back(photo_json(ph));
  return {{"total", p.total}, {"page", p.page}, {"per_page", p.per_page}, {"items", items}};
}

// Runs a batch; 404 with "not_found": [...] when some ids do not qualify.
void run_batch(RouteContext& ctx, const httplib::Request& req, httplib::Response& res, BatchAction action,
               const std::vector<int64_t>& ids, int64_t album_id, const std::string& name) {
  const OwnerScope scope = scope_of(ctx, req);
  if (album_id > 0) {
    // A viewer of a shared album sees it but may not change it: 403 (those who
    // cannot see it get 404 from the batch, as for a missing album).
    auto a = ctx.album.get_album(album_id, scope);
    if (a.ok() && a->role == AlbumRole::kViewer) {
      return send_error_code(res, 403, "permission_denied", "this album is shared with you to view only");
    }
  }
  auto r = ctx.album.batch(action, ids, album_id, scope);
  if (!r.ok()) return send_error(res, r.status());
  if (!r->not_found.empty()) {
    nlohmann::json body = {
        {"error",
         {{"code", "not_found"},
          {"message", std::to_string(r->not_found.size()) + " of the photos were not found" +
                          (action == BatchAction::kRestore ? " in the trash" : "") +
                          "; nothing was changed"}}},
        {"not_found", r->not_found}};
    return send_json(res, body, 404);
  }
  send_json(res, {{"action", name}, {"ids", ids}, {"changed", r->changed}, {"not_found", nlohmann::json::array()}});
}

Result<int64_t> album_id_param(const httplib::Request& req) {
  auto id = id_param(req);
  if (!id.ok()) return Status::NotFound("no album with id " + req.matches[1].str());
  return id;
}

}  // namespace

// ?favorite=1 and ?album=ID of GET /api/photos and /api/search.
Result<PhotoFilter> photo_filter_params(const httplib::Request& req) {
  PhotoFilter f;
  SA_ASSIGN_OR_RETURN(int64_t fav, int_param(req, "favorite", 0, 0, 1));
  SA_ASSIGN_OR_RETURN(int64_t album, int_param(req, "album", 0, 1, std::numeric_limits<int64_t>::max()));
  f.favorite_only = fav == 1;
  f.album_id = album;
  return f;
}

void register_organise_routes(Router& srv, RouteContext& ctx) {
  srv.Patch(R"(/api/photos/([^/]+))", guarded([&ctx](const httplib::Request& req,
                                                    httplib::Response& res) {
    auto id = id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    if (!body->contains("favorite") || !(*body)["favorite"].is_boolean()) {
      return send_error(res, Status::InvalidArgument("field 'favorite' must be true or false"));
    }
    const std::vector<int64_t> ids = {*id};
    const OwnerScope scope = scope_of(ctx, req);
    auto r = ctx.album.batch((*body)["favorite"].get<bool>() ? BatchAction::kFavorite
                                                              : BatchAction::kUnfavorite, ids, 0, scope);
    if (!r.ok()) return send_error(res, r.status());
    if (!r->not_found.empty()) return send_error(res, Status::NotFound("no photo with id " + std::to_string(*id)));
    auto p = ctx.album.get_photo(*id, scope);
    if (!p.ok()) return send_error(res, p.status());
    send_json(res, photo_json(*p));
  }));

  srv.Post("/api/photos/batch", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    if (!body->contains("action") || !(*body)["action"].is_string()) {
      return send_error(res, Status::InvalidArgument("field 'action' is required"));
    }
    const std::string name = (*body)["action"].get<std::string>();
    auto action = parse_action(name);
    if (!action.ok()) return send_error(res, action.status());
    auto ids = ids_field(*body);
    if (!ids.ok()) return send_error(res, ids.status());
    int64_t album_id = 0;
    if (*action == BatchAction::kAddToAlbum || *action == BatchAction::kRemoveFromAlbum) {
      if (!body->contains("album_id") || !(*body)["album_id"].is_number_integer()) {
        return send_error(res, Status::InvalidArgument("field 'album_id' is required for " + name));
      }
      album_id = (*body)["album_id"].get<int64_t>();
    }
    run_batch(ctx, req, res, *action, *ids, album_id, name);
  }));

  // ---- trash ----
  srv.Get("/api/trash", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto page = int_param(req, "page", 1, 1, 1'000'000'000);
    if (!page.ok()) return send_error(res, page.status());
    auto per_page = int_param(req, "per_page", 50, 1, 500);
    if (!per_page.ok()) return send_error(res, per_page.status());
    auto r = ctx.album.list_trash(static_cast<int>(*page), static_cast<int>(*per_page), scope_of(ctx, req));
    if (!r.ok()) return send_error(res, r.status());
    nlohmann::json j = page_json(*r);
    j["retention_days"] = 30;
    send_json(res, j);
  }));
  srv.Post("/api/trash/restore", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    auto ids = ids_field(*body);
    if (!ids.ok()) return send_error(res, ids.status());
    run_batch(ctx, req, res, BatchAction::kRestore, *ids, 0, "restore");
  }));
  srv.Delete("/api/trash", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto n = ctx.album.empty_trash(scope_of(ctx, req));
    if (!n.ok()) return send_error(res, n.status());
    send_json(res, {{"emptied", *n}});
  }));

  // ---- albums ----
  srv.Get("/api/albums", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto r = ctx.album.list_albums(scope_of(ctx, req));
    if (!r.ok()) return send_error(res, r.status());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& a : *r) items.push_back(album_json(a));
    send_json(res, {{"items", items}});
  }));
  srv.Post("/api/albums", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    if (!body->contains("name") || !(*body)["name"].is_string()) {
      return send_error(res, Status::InvalidArgument("field 'name' must be a string"));
    }
    auto a = ctx.album.create_album((*body)["name"].get<std::string>(), scope_of(ctx, req));
    if (!a.ok()) return send_error(res, a.status());
    send_json(res, album_json(*a), 201);
  }));
  srv.Get(R"(/api/albums/([^/]+))", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto id = album_id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    auto a = ctx.album.get_album(*id, scope_of(ctx, req));
    if (!a.ok()) return send_error(res, a.status());
    send_json(res, album_json(*a));
  }));
  srv.Patch(R"(/api/albums/([^/]+))", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto id = album_id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    if (!owned_album_or_403(ctx, req, res, *id).ok()) return;
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    std::optional<std::string> name;
    std::optional<int64_t> cover;
    if (body->contains("name")) {
      if (!(*body)["name"].is_string()) return send_error(res, Status::InvalidArgument("field 'name' must be a string"));
      name = (*body)["name"].get<std::string>();
    }
    if (body->contains("cover_photo_id")) {
      const auto& c = (*body)["cover_photo_id"];
      if (c.is_null()) {
        cover = 0;
      } else if (c.is_number_integer() && c.get<int64_t>() >= 0) {
        cover = c.get<int64_t>();
      } else {
        return send_error(res, Status::InvalidArgument("field 'cover_photo_id' must be a photo id or null"));
      }
    }
    if (!name && !cover) {
      return send_error(res, Status::InvalidArgument("nothing to change: send 'name' and/or 'cover_photo_id'"));
    }
    auto a = ctx.album.update_album(*id, name, cover, scope_of(ctx, req));
    if (!a.ok()) return send_error(res, a.status());
    send_json(res, album_json(*a));
  }));
  srv.Delete(R"(/api/albums/([^/]+))", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto id = album_id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    if (!owned_album_or_403(ctx, req, res, *id).ok()) return;
    Status s = ctx.album.delete_album(*id, scope_of(ctx, req));
    if (!s.ok()) return send_error(res, s);
    send_json(res, {{"deleted", *id}});
  }));
  srv.Get(R"(/api/albums/([^/]+)/photos)", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto id = album_id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    auto page = int_param(req, "page", 1, 1, 1'000'000'000);
    if (!page.ok()) return send_error(res, page.status());
    auto per_page = int_param(req, "per_page", 50, 1, 500);
    if (!per_page.ok()) return send_error(res, per_page.status());
    auto before = int_param(req, "before", 0, 1, std::numeric_limits<int64_t>::max());
    if (!before.ok()) return send_error(res, before.status());
    auto f = photo_filter_params(req);
    if (!f.ok()) return send_error(res, f.status());
    f->album_id = *id;
    f->scope = scope_of(ctx, req);
    auto r = ctx.album.list_photos_filtered(*f, static_cast<int>(*page), static_cast<int>(*per_page), *before);
    if (!r.ok()) return send_error(res, r.status());
    send_json(res, page_json(*r));
  }));
  for (bool add : {true, false}) {
    auto handler = guarded([&ctx, add](const httplib::Request& req, httplib::Response& res) {
      auto id = album_id_param(req);
      if (!id.ok()) return send_error(res, id.status());
      auto body = json_body(req);
      if (!body.ok()) return send_error(res, body.status());
      auto ids = ids_field(*body);
      if (!ids.ok()) return send_error(res, ids.status());
      run_batch(ctx, req, res, add ? BatchAction::kAddToAlbum : BatchAction::kRemoveFromAlbum, *ids, *id,
                add ? "add_to_album" : "remove_from_album");
    });
    if (add) {
      srv.Post(R"(/api/albums/([^/]+)/photos)", handler);
    } else {
      srv.Delete(R"(/api/albums/([^/]+)/photos)", handler);
    }
  }

  // ---- duplicates ----
  srv.Get("/api/duplicates", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    float threshold = kDefaultDuplicateThreshold;
    if (req.has_param("threshold") && !req.get_param_value("threshold").empty()) {
      const std::string v = req.get_param_value("threshold");
      char* end = nullptr;
      threshold = std::strtof(v.c_str(), &end);
      if (end != v.c_str() + v.size() || !std::isfinite(threshold) || threshold <= 0 || threshold > 1) {
        return send_error(res, Status::InvalidArgument("parameter 'threshold' must be a number in (0, 1]"));
      }
    }
    auto groups = ctx.album.duplicates(threshold, scope_of(ctx, req));
    if (!groups.ok()) return send_error(res, groups.status());
    nlohmann::json items = nlohmann::json::array();
    int64_t n_photos = 0;
    for (const auto& g : *groups) {
      nlohmann::json photos = nlohmann::json::array();
      for (const auto& p : g.photos) photos.push_back(photo_json(p));
      n_photos += static_cast<int64_t>(g.photos.size());
      items.push_back({{"keep", g.photos.front().id},
                       {"min_similarity", g.min_similarity},
                       {"photos", photos}});
    }
    send_json(res, {{"threshold", threshold}, {"groups", items}, {"photo_count", n_photos}});
  }));
}

}  // namespace sa
