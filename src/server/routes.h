// Internal to src/server: route registration and the helpers every route shares.
// Only src/server includes httplib.h.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "app/album.h"
#include "core/status.h"
#include "server/http_server.h"
#include "server/json_codec.h"
#include "server/router.h"
#include "search/duplicates.h"  // kDefaultDuplicateThreshold
#include "server/security.h"

namespace sa {

class Accounts;

struct RouteContext {
  Album& album;
  ServerOptions opt;
  Accounts* accounts = nullptr;  // null when opt.auth is false and no Accounts was given
  const RequestGuard* guard = nullptr;
};

using RouteHandler = std::function<void(const httplib::Request&, httplib::Response&)>;

// Wraps a handler so that nothing escapes it: an exception becomes a 500 JSON error.
RouteHandler guarded(RouteHandler h);

// Serialises with invalid UTF-8 replaced (never throws) and sets the JSON type.
void send_json(httplib::Response& res, const nlohmann::json& j, int status = 200);

// Integer query parameter: `def` when absent; InvalidArgument when not an integer
// or outside [lo, hi].
Result<int64_t> int_param(const httplib::Request& req, const char* name, int64_t def,
                          int64_t lo, int64_t hi);
// Whose photos the request acts on (per-user libraries, docs/security.md): the
// signed-in user's; with --auth off the first admin's once accounts exist,
// else everyone's (photos without an owner); with sign-in on and nobody
// signed in (only the public routes run so), nobody's (kNobodyOwner).
OwnerScope scope_of(const RouteContext& ctx, const httplib::Request& req);
inline constexpr int64_t kNobodyOwner = -1;

// The photo id captured by the route's first regex group; NotFound when it does not fit.
Result<int64_t> id_param(const httplib::Request& req);

// ?favorite=1 / ?album=ID (routes_organise.cpp).
Result<PhotoFilter> photo_filter_params(const httplib::Request& req);
// An album as JSON (routes_organise.cpp): id, name, role, owner, cover, counts, dates.
nlohmann::json album_json(const AlbumInfo& a);
// The album if the request's user owns it; otherwise answers (404 when they
// cannot see it, 403 when it is shared with them) and returns an error.
Result<AlbumInfo> owned_album_or_403(RouteContext& ctx, const httplib::Request& req, httplib::Response& res,
                                     int64_t id);

void register_organise_routes(Router& srv, RouteContext& ctx);
void register_download_routes(Router& srv, RouteContext& ctx);
// The body of a JSON request as an object. InvalidArgument unless the body is a
// JSON object (the pre-routing guard has already answered 415 for a body that
// is not application/json).
Result<nlohmann::json> json_body(const httplib::Request& req);

void register_auth_routes(Router& srv, RouteContext& ctx);
void register_photo_routes(Router& srv, RouteContext& ctx);
void register_search_routes(Router& srv, RouteContext& ctx);
void register_settings_routes(Router& srv, RouteContext& ctx);
void register_static_routes(Router& srv, RouteContext& ctx);
void register_sharing_routes(Router& srv, RouteContext& ctx);

}  // namespace sa
