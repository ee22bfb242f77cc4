// JSON shapes of the album's types, shared by the HTTP API and the CLI's --json
// output so both speak the same fields. No httplib here.
#pragma once

#include <nlohmann/json.hpp>

#include "app/album.h"

namespace sa {

// {"id","hash","filename","folder","mime","size","width","height","taken_at","camera",
//  "gps_lat","gps_lon" (null when absent),"added_at","status","error","description",
//  "keywords","vlm_status","vlm_model","described_at","thumbnail_url","original_url"}
nlohmann::json photo_json(const PhotoInfo& p);

// photo_json + {"score","clip_score","desc_score","keyword_score"} (null when absent).
nlohmann::json hit_json(const SearchHit& h);

// Serialises with invalid UTF-8 replaced (never throws).
std::string dump_json(const nlohmann::json& j);

}  // namespace sa
