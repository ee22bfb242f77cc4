#include <charconv>
#include <exception>

#include "auth/accounts.h"
#include "server/errors.h"
#include "server/json_codec.h"
#include "server/routes.h"

namespace sa {

RouteHandler guarded(RouteHandler h) {
  return [h = std::move(h)](const httplib::Request& req, httplib::Response& res) {
    try {
      h(req, res);
    } catch (const std::exception& e) {
      send_error(res, Status::Internal(std::string("unexpected error: ") + e.what()));
    } catch (...) {
      send_error(res, Status::Internal("unexpected error"));
    }
  };
}

void send_json(httplib::Response& res, const nlohmann::json& j, int status) {
  res.status = status;
  res.set_content(dump_json(j), "application/json; charset=utf-8");
}

Result<int64_t> int_param(const httplib::Request& req, const char* name, int64_t def,
                          int64_t lo, int64_t hi) {
  if (!req.has_param(name)) return def;
  const std::string v = req.get_param_value(name);
  if (v.empty()) return def;
  int64_t x = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || ptr != v.data() + v.size()) {
    return Status::InvalidArgument(std::string("parameter '") + name + "' must be an integer");
  }
  if (x < lo || x > hi) {
    return Status::InvalidArgument(std::string("parameter '") + name + "' must be in [" +
                                   std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return x;
}

OwnerScope scope_of(const RouteContext& ctx, const httplib::Request& req) {
  if (auto u = request_user(req)) return OwnerScope{u->id};
  if (ctx.opt.auth) return OwnerScope{kNobodyOwner};  // fails closed: matches no photo
  if (!ctx.accounts) return OwnerScope{};
  // Single-user local mode: the album acts as the first admin once one exists
  // (who adopted the photos from before), so nothing changes hands.
  auto admin = ctx.accounts->first_admin_id();
  if (!admin.ok()) return OwnerScope{kNobodyOwner};
  return OwnerScope{*admin};
}

Result<nlohmann::json> json_body(const httplib::Request& req) {
  const std::string type = req.get_header_value("Content-Type");
  if (type.rfind("application/json", 0) != 0) {
    return Status::InvalidArgument("the body must be JSON (Content-Type: application/json)");
  }
  nlohmann::json j = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument("body must be a JSON object");
  return j;
}

Result<int64_t> id_param(const httplib::Request& req) {
  if (req.matches.size() < 2) return Status::NotFound("no photo id in path");
  const std::string v = req.matches[1].str();
  int64_t x = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || ptr != v.data() + v.size() || x <= 0) {
    return Status::NotFound("no photo with id " + v);
  }
  return x;
}

}  // namespace sa
