// Helpers shared by the Store's implementation files. Not part of the API.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <vector>

#include "store/types.h"
#include "core/status.h"
#include "store/db.h"
#include "store/types.h"

namespace sa::store_internal {

// SQL for the current time as UTC ISO 8601, e.g. 2026-11-25T19:10:01Z.
inline constexpr const char* kNowSql = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')";

inline bool one_of(std::string_view v, std::initializer_list<std::string_view> allowed) {
  for (std::string_view a : allowed)
    if (v == a) return true;
  return false;
}

inline bool valid_vector_kind(std::string_view s) { return one_of(s, {"clip", "desc"}); }

// Queues a (kind, photo_id) job unless an identical one is pending (jobs.cpp);
// true if a row was added. The caller holds the store mutex. A missing photo is
// the foreign key's error (InvalidArgument "FOREIGN KEY ...").
Result<bool> insert_job(Db& db, JobKind kind, int64_t photo_id);

// Schema migration 7 (owner_migration.cpp): photos.hash unique per owner.
// Runs inside the migration's transaction with foreign keys off.
Status unique_hash_per_owner(Db& db);
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

namespace sa {
struct PhotoInfo;
// photos.cpp: a row selected with photos.cpp's column list (kPhotoColumns) as a PhotoInfo.
PhotoInfo read_photo_row(const Stmt& st);
}  // namespace sa
