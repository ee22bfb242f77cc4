// Helpers shared by the Store's implementation files. Not part of the API.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "store/types.h"
#include "core/status.h"
#include "store/db.h"

namespace sa::store_internal {

// SQL for the current time as UTC ISO 8601, e.g. 2026-11-25T19:10:01Z.
inline constexpr const char* kNowSql = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

inline bool one_of(std::string_view v, std::initializer_list<std::string_view> allowed) {
  for (std::string_view a : allowed)
    if (v == a) return true;
  return false;
}

inline bool valid_photo_status(std::string_view s) {
  return one_of(s, {"pending", "ready", "failed", "no_model"});
}
inline bool valid_vlm_status(std::string_view s) {
  return one_of(s, {"none", "pending", "running", "done", "failed"});
}
inline bool valid_vector_kind(std::string_view s) { return one_of(s, {"clip", "desc"}); }
inline bool valid_job_kind(std::string_view s) { return one_of(s, {"embed", "describe", "embed_desc"}); }

// The photos columns read_photo() expects, in order (photos.cpp).
extern const char* const kPhotoColumns;
PhotoInfo read_photo(const Stmt& st);

// Steps st to the end, collecting column 0 of every row as an id.
inline Result<std::vector<int64_t>> column_ids(Stmt& st) {
  std::vector<int64_t> ids;
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    ids.push_back(st.column_int64(0));
  }
  return ids;
}

}  // namespace sa::store_internal
