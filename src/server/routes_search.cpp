// /api/search (text -> photos) and /api/photos/{id}/similar (photo -> photos).
#include <cmath>
#include <cstdlib>

#include "search/date_filter.h"
#include "server/errors.h"
#include "server/json_codec.h"
#include "server/routes.h"

namespace sa {
namespace {

constexpr size_t kMaxQueryBytes = 1000;

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string trimmed_param(const httplib::Request& req, const char* name) {
  return req.has_param(name) ? trim(req.get_param_value(name)) : "";
}

Result<SearchOptions> parse_search_options(RouteContext& ctx, const httplib::Request& req) {
  SearchOptions o;
  SA_ASSIGN_OR_RETURN(int64_t limit, int_param(req, "limit", 20, 1, 500));
  SA_ASSIGN_OR_RETURN(int64_t offset, int_param(req, "offset", 0, 0, 100'000));
  o.limit = static_cast<int>(limit);
  o.offset = static_cast<int>(offset);
  const std::string mode = req.has_param("mode") ? req.get_param_value("mode") : "";
  if (mode.empty()) {
    o.mode = ctx.album.settings().enhanced_search ? SearchMode::kHybrid : SearchMode::kClip;
  } else if (auto m = parse_search_mode(mode)) {
    o.mode = *m;
  } else {
    return Status::InvalidArgument("parameter 'mode' must be 'clip' or 'hybrid'");
  }
  if (req.has_param("min_score") && !req.get_param_value("min_score").empty()) {
    const std::string v = req.get_param_value("min_score");
    char* end = nullptr;
    const float x = std::strtof(v.c_str(), &end);
    if (end != v.c_str() + v.size() || !std::isfinite(x)) {
      return Status::InvalidArgument("parameter 'min_score' must be a number");
    }
    if (!(x >= 0 && x <= 1)) return Status::InvalidArgument("parameter 'min_score' must be in [0, 1]");
    o.min_score = x;
  } else {
    o.min_score = ctx.album.settings().min_score;  // the album's calibrated cut-off
  }
  // Real calendar dates, date_from not after date_to (the Searcher checks the
  // same; checking here names the parameter before any model work).
  // folder=A/B: photos in that folder or below it (as the page's folder filter).
  o.folder = trimmed_param(req, "folder");
  while (!o.folder.empty() && o.folder.back() == '/') o.folder.pop_back();
  o.date_from = trimmed_param(req, "date_from");
  o.date_to = trimmed_param(req, "date_to");
  SA_RETURN_IF_ERROR(check_date_range(o.date_from, o.date_to));
  SA_ASSIGN_OR_RETURN(PhotoFilter f, photo_filter_params(req));  // ?favorite=1, ?album=ID
  o.favorite_only = f.favorite_only;
  o.album_id = f.album_id;
  o.scope = scope_of(ctx, req);
  return o;
}

}  // namespace

void register_search_routes(Router& srv, RouteContext& ctx) {
  srv.Get("/api/search", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    const std::string q = trim(req.has_param("q") ? req.get_param_value("q") : "");
    if (q.empty()) return send_error(res, Status::InvalidArgument("parameter 'q' is required"));
    if (q.size() > kMaxQueryBytes) {
      return send_error(res, Status::InvalidArgument("query is too long (max 1000 bytes)"));
    }
    auto opt = parse_search_options(ctx, req);
    if (!opt.ok()) return send_error(res, opt.status());
    auto hits = ctx.album.search(q, *opt);
    if (!hits.ok()) return send_error(res, hits.status());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& h : *hits) items.push_back(hit_json(h));
    send_json(res, {{"query", q}, {"mode", to_string(opt->mode)}, {"limit", opt->limit},
                    {"offset", opt->offset}, {"min_score", *opt->min_score}, {"items", items}});
  }));

  srv.Get(R"(/api/photos/([^/]+)/similar)", guarded([&ctx](const httplib::Request& req,
                                                          httplib::Response& res) {
    auto id = id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    auto limit = int_param(req, "limit", 20, 1, 500);
    if (!limit.ok()) return send_error(res, limit.status());
    auto hits = ctx.album.similar(*id, static_cast<int>(*limit), scope_of(ctx, req));
    if (!hits.ok()) return send_error(res, hits.status());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& h : *hits) items.push_back(hit_json(h));
    send_json(res, {{"id", *id}, {"items", items}});
  }));
}

}  // namespace sa
