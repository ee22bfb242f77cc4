#include "server/json_codec.h"

#include "vlm/vlm_error_code.h"

namespace sa {

nlohmann::json photo_json(const PhotoInfo& p) {
  nlohmann::json j = {
      {"id", p.id},
      {"hash", p.hash},
      {"filename", p.filename},
      {"folder", p.folder},
      {"mime", p.mime},
      {"size", p.size},
      {"width", p.width},
      {"height", p.height},
      {"taken_at", p.taken_at},
      {"taken_at_source", p.taken_at_source},
      {"camera", p.camera},
      {"added_at", p.added_at},
      {"status", to_string(p.status)},
      {"error", p.error},
      {"description", p.description},
      {"keywords", p.keywords},
      {"vlm_status", to_string(p.vlm_status)},
      {"vlm_error", p.vlm_error},
      // Stable code for the page (web/js/errors.js); vlm_error is for logs.
      {"vlm_error_code", p.vlm_status == VlmStatus::kFailed ? vlm_error_code(p.vlm_error) : ""},
      {"vlm_model", p.vlm_model},
      {"described_at", p.described_at},
      {"favorite", p.favorite},
      {"text", p.photo_text},
      {"trashed_at", p.trashed_at.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.trashed_at)},
      {"thumbnail_url", "/api/photos/" + std::to_string(p.id) + "/thumbnail"},
      {"original_url", "/api/photos/" + std::to_string(p.id) + "/original"},
      {"preview_url", "/api/photos/" + std::to_string(p.id) + "/preview"},
  };
  j["gps_lat"] = p.gps_lat ? nlohmann::json(*p.gps_lat) : nlohmann::json(nullptr);
  j["gps_lon"] = p.gps_lon ? nlohmann::json(*p.gps_lon) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json hit_json(const SearchHit& h) {
  nlohmann::json j = photo_json(h.photo);
  j["score"] = h.score;
  j["clip_score"] = h.clip_score;
  j["desc_score"] = h.desc_score ? nlohmann::json(*h.desc_score) : nlohmann::json(nullptr);
  j["keyword_score"] = h.keyword_score ? nlohmann::json(*h.keyword_score) : nlohmann::json(nullptr);
  if (h.desc_score || h.keyword_score) {  // hybrid: why it matched
    j["matched"] = {{"keywords", h.matched_keywords},
                    {"description", h.matched_description},
                    {"text", h.matched_text}};
  }
  return j;
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sa
