// /api/health, /api/settings, /api/jobs: small state endpoints the page polls.
#include "server/errors.h"
#include "server/routes.h"
#include "vlm/vlm_error_code.h"

namespace sa {
namespace {

// The code of a failed embedding job (web/js/errors.js has its Chinese text).
constexpr const char* kCodeProcessingFailed = "processing_failed";

nlohmann::json settings_json(const Settings& s) {
  return {{"auto_analyze", s.auto_analyze}, {"enhanced_search", s.enhanced_search},
          {"min_score", s.min_score}, {"score_floor", s.score_floor},
          {"score_ceiling", s.score_ceiling},
          // Saved for the next start ("" = not chosen: fp32); /api/health says
          // what the loaded models run now.
          {"precision", s.precision}};
}

// A PUT body may carry any subset of the settings; unknown keys are rejected so a
// typo never silently does nothing.
Result<Settings> merge_settings(Settings cur, const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("body must be a JSON object");
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "precision") {
      if (!it.value().is_string() || (it.value() != "fp32" && it.value() != "int8")) {
        return Status::InvalidArgument("setting 'precision' must be \"fp32\" or \"int8\"");
      }
      cur.precision = it.value().get<std::string>();
      continue;
    }
    float* number = nullptr;
    if (it.key() == "min_score") number = &cur.min_score;
    else if (it.key() == "score_floor") number = &cur.score_floor;
    else if (it.key() == "score_ceiling") number = &cur.score_ceiling;
    if (number) {
      if (!it.value().is_number()) {
        return Status::InvalidArgument("setting '" + it.key() + "' must be a number");
      }
      *number = it.value().get<float>();
      continue;
    }
    bool* field = nullptr;
    if (it.key() == "auto_analyze") field = &cur.auto_analyze;
    else if (it.key() == "enhanced_search") field = &cur.enhanced_search;
    else return Status::InvalidArgument("unknown setting '" + it.key() + "'");
    if (!it.value().is_boolean()) {
      return Status::InvalidArgument("setting '" + it.key() + "' must be true or false");
    }
    *field = it.value().get<bool>();
  }
  return cur;
}

}  // namespace

void register_settings_routes(Router& srv, RouteContext& ctx) {
  srv.Get("/api/health", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    Album& a = ctx.album;
    nlohmann::json j = {{"status", "ok"}, {"version", kVersion}};
    // Anyone may ask whether the album is up; the rest is for signed-in users.
    if (ctx.opt.auth && !request_user(req)) return send_json(res, j);
    j["model"] = a.has_clip_model() ? nlohmann::json(a.model_name()) : nlohmann::json(nullptr);
    j["text_model"] = a.has_text_model() ? nlohmann::json(a.text_model_name()) : nlohmann::json(nullptr);
    j["vlm"] = a.has_vlm();
    // "fp32", or "int8 (<kernel>; self-check ...)" / "fp32 (int8 refused ...)".
    j["precision"] = {{"model", a.has_clip_model() ? nlohmann::json(a.model_precision()) : nlohmann::json(nullptr)},
                      {"text_model", a.has_text_model() ? nlohmann::json(a.text_model_precision()) : nlohmann::json(nullptr)}};
    auto page = a.list_photos(1, 1, 0, scope_of(ctx, req));
    j["photos"] = page.ok() ? page->total : 0;
    send_json(res, j);
  }));

  srv.Get("/api/settings", guarded([&ctx](const httplib::Request&, httplib::Response& res) {
    send_json(res, settings_json(ctx.album.settings()));
  }));

  srv.Put("/api/settings", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto s = merge_settings(ctx.album.settings(), req.body);
    if (!s.ok()) return send_error(res, s.status());
    Status st = ctx.album.set_settings(*s);
    if (!st.ok()) return send_error(res, st);
    send_json(res, settings_json(ctx.album.settings()));
  }));

  srv.Get("/api/jobs", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    const JobStats js = ctx.album.job_stats(scope_of(ctx, req));
    nlohmann::json failures = nlohmann::json::array();
    for (const auto& f : js.recent_failures) {
      // "error" is the stored text (logs, English); the page shows "code" only.
      const std::string code = f.kind == JobKind::kDescribe ? vlm_error_code(f.error) : kCodeProcessingFailed;
      failures.push_back({{"job_id", f.job_id}, {"photo_id", f.photo_id}, {"kind", to_string(f.kind)},
                          {"error", f.error}, {"code", code}, {"at", f.at}});
    }
    send_json(res, {{"pending", js.pending}, {"running", js.running}, {"done", js.done},
                    {"failed", js.failed}, {"recent_failures", failures}});
  }));
}

}  // namespace sa
