// Store: the photos table.
#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/time_util.h"
#include "store/store.h"
#include "store/store_internal.h"

namespace sa {

using store_internal::kNowSql;

namespace store_internal {

const char* const kPhotoColumns =
    "id, hash, filename, folder, mime, size, width, height, taken_at, camera, gps_lat, gps_lon, "
    "added_at, status, error, description, keywords, vlm_status, vlm_model, described_at, vlm_error, "
    "taken_at_source, favorite, coalesce(trashed_at, ''), photo_text, owner_id";

static std::vector<std::string> parse_keywords(const std::string& text) {
  std::vector<std::string> out;
  // Written by us as a JSON array of strings; anything else (hand-edited rows)
  // degrades to no keywords rather than an error.
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return out;
  for (const auto& v : j)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

PhotoInfo read_photo(const Stmt& st) {
  PhotoInfo p;
  p.id = st.column_int64(0);
  p.hash = st.column_text(1);
  p.filename = st.column_text(2);
  p.folder = st.column_text(3);
  p.mime = st.column_text(4);
  p.size = st.column_int64(5);
  p.width = static_cast<int>(st.column_int64(6));
  p.height = static_cast<int>(st.column_int64(7));
  p.taken_at = st.column_text(8);
  p.camera = st.column_text(9);
  p.gps_lat = st.column_opt_double(10);
  p.gps_lon = st.column_opt_double(11);
  p.added_at = st.column_text(12);
  // The schema's CHECK constraints admit only known strings; a row edited by
  // hand past them reads as failed / none rather than as an error.
  p.status = parse_photo_status(st.column_text(13)).value_or(PhotoStatus::kFailed);
  p.error = st.column_text(14);
  p.description = st.column_text(15);
  p.keywords = parse_keywords(st.column_text(16));
  p.vlm_status = parse_vlm_status(st.column_text(17)).value_or(VlmStatus::kNone);
  p.vlm_model = st.column_text(18);
  p.described_at = st.column_text(19);
  p.vlm_error = st.column_text(20);
  p.taken_at_source = st.column_text(21);
  p.favorite = st.column_int64(22) != 0;
  p.trashed_at = st.column_text(23);
  p.photo_text = st.column_text(24);
  p.owner_id = st.column_int64(25);  // NULL reads as 0
  return p;
}

}  // namespace store_internal

PhotoInfo read_photo_row(const Stmt& st) { return store_internal::read_photo(st); }

namespace {

using store_internal::kPhotoColumns;
using store_internal::read_photo;
std::string keywords_json(const std::vector<std::string>& keywords) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& k : keywords) j.push_back(k);
  // `replace` keeps invalid UTF-8 from throwing; the VLM output is untrusted.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Binds an owner id, or NULL for 0 (no owner).
void bind_owner(Stmt& st, int i, int64_t owner_id) {
  if (owner_id > 0) {
    st.bind(i, owner_id);
  } else {
    st.bind_null(i);
  }
}

// " AND owner_id = N" for a user's scope, "" for everyone's.
std::string owner_clause(const OwnerScope& scope, const char* column = "owner_id") {
  if (scope.everyone()) return "";
  return std::string(" AND ") + column + " = " + std::to_string(scope.owner_id);
}

Result<PhotoInfo> get_photo_where(Db& db, const char* where, auto bind_fn, const std::string& what) {
  std::string sql = std::string("SELECT ") + kPhotoColumns + " FROM photos WHERE " + where;
  SA_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
  bind_fn(st);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound(what + " not found");
  return read_photo(st);
}

}  // namespace

Result<InsertPhotoResult> Store::insert_photo(const PhotoInfo& p, std::span<const JobKind> jobs,
                                              const std::function<void(int64_t id)>& before_commit) {
  using namespace store_internal;
  if (p.hash.empty()) return Status::InvalidArgument("photo hash is empty");

  // Every photo has a date for the timeline: the camera's when it has one,
  // else now (local wall clock with its offset) as the upload time.
  std::string taken_at = p.taken_at;
  std::string source = p.taken_at_source;
  if (taken_at.empty()) {
    taken_at = local_iso_time(std::time(nullptr));
    source = "upload";
  } else if (source.empty()) {
    source = "exif";
  }
  if (!one_of(source, {"exif", "file", "upload"}))
    return Status::InvalidArgument("unknown taken_at source '" + source + "'");

  std::lock_guard lock(mu_);
  // The row and its jobs commit together or not at all (the destructor of an
  // uncommitted Transaction rolls back).
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  // ON CONFLICT DO NOTHING + changes() tells a duplicate from a new row in one
  // statement, so two uploads of the same bytes cannot both insert.
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "INSERT INTO photos(hash, filename, folder, mime, size, width, height, taken_at, camera, "
      "gps_lat, gps_lon, added_at, status, error, description, keywords, vlm_status, vlm_model, "
      "described_at, taken_at_source, owner_id) VALUES (?,?,?,?,?,?,?,?,?,?,?, coalesce(nullif(?, ''), ") +
      kNowSql + "),?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"));
  st.bind(1, p.hash).bind(2, p.filename).bind(3, p.folder).bind(4, p.mime).bind(5, p.size);
  st.bind(6, p.width).bind(7, p.height).bind(8, taken_at).bind(9, p.camera);
  st.bind(10, p.gps_lat).bind(11, p.gps_lon).bind(12, p.added_at).bind(13, to_string(p.status)).bind(14, p.error);
  st.bind(15, p.description).bind(16, keywords_json(p.keywords)).bind(17, to_string(p.vlm_status));
  st.bind(18, p.vlm_model).bind(19, p.described_at).bind(20, source);
  bind_owner(st, 21, p.owner_id);
  SA_RETURN_IF_ERROR(st.run());
  st = Stmt();
  if (db_.changes() == 1) {
    const int64_t id = db_.last_insert_rowid();
    for (JobKind k : jobs) SA_RETURN_IF_ERROR(insert_job(db_, k, id).status());
    if (before_commit) before_commit(id);
    SA_RETURN_IF_ERROR(tx.commit());
    return InsertPhotoResult{id, false};
  }

  SA_ASSIGN_OR_RETURN(Stmt q, db_.prepare("SELECT id FROM photos WHERE hash = ? AND owner_id IS ?"));
  q.bind(1, p.hash);
  bind_owner(q, 2, p.owner_id);
  SA_ASSIGN_OR_RETURN(bool row, q.step());
  if (!row) return Status::Internal("insert of '" + p.hash + "' neither inserted nor found");
  InsertPhotoResult dup{q.column_int64(0), true};
  q = Stmt();
  SA_RETURN_IF_ERROR(tx.commit());  // nothing written; ends the transaction
  return dup;
}

Result<PhotoInfo> Store::get_photo(int64_t id) {
  std::lock_guard lock(mu_);
  return get_photo_where(db_, "id = ?", [&](Stmt& st) { st.bind(1, id); },
                         "photo " + std::to_string(id));
}

Result<PhotoInfo> Store::get_photo_by_hash(const std::string& hash, int64_t owner_id) {
  std::lock_guard lock(mu_);
  return get_photo_where(db_, "hash = ? AND owner_id IS ?",
                         [&](Stmt& st) {
                           st.bind(1, hash);
                           bind_owner(st, 2, owner_id);
                         },
                         "photo with hash " + hash);
}

Result<int64_t> Store::count_photos_with_hash(const std::string& hash) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT count(*) FROM photos WHERE hash = ?"));
  st.bind(1, hash);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.column_int64(0) : int64_t{0};
}

Result<std::vector<int64_t>> Store::photo_ids_of_owner(int64_t owner_id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT id FROM photos WHERE owner_id = ? ORDER BY id"));
  st.bind(1, owner_id);
  return store_internal::column_ids(st);
}

Result<bool> Store::has_photos_not_of(int64_t owner_id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT EXISTS(SELECT 1 FROM photos WHERE owner_id IS NULL OR owner_id < ?1 OR owner_id > ?1)"));
  st.bind(1, owner_id);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  return row && st.column_int64(0) != 0;
}

Result<std::vector<PhotoInfo>> Store::get_photos(std::span<const int64_t> ids, bool include_trashed) {
  std::lock_guard lock(mu_);
  std::vector<PhotoInfo> out;
  out.reserve(ids.size());
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string("SELECT ") + kPhotoColumns +
                                           " FROM photos WHERE id = ?" +
                                           (include_trashed ? "" : " AND trashed_at IS NULL")));
  for (int64_t id : ids) {
    st.reset();
    st.bind(1, id);
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) out.push_back(read_photo(st));
  }
  return out;
}

Result<PhotoPage> Store::list_photos(int page, int per_page, int64_t before_id, const OwnerScope& scope) {
  PhotoFilter f;
  f.scope = scope;
  return list_photos_filtered(f, page, per_page, before_id);
}

Result<int64_t> Store::count_photos(const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt c, db_.prepare("SELECT count(*) FROM photos WHERE 1" + owner_clause(scope)));
  SA_ASSIGN_OR_RETURN(bool row, c.step());
  return row ? c.column_int64(0) : int64_t{0};
}

Result<PhotoInfo> Store::delete_photo(int64_t id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  SA_ASSIGN_OR_RETURN(PhotoInfo p, get_photo_where(db_, "id = ?", [&](Stmt& st) { st.bind(1, id); },
                                                   "photo " + std::to_string(id)));
  SA_ASSIGN_OR_RETURN(Stmt del, db_.prepare("DELETE FROM photos WHERE id = ?"));
  del.bind(1, id);
  SA_RETURN_IF_ERROR(del.run());
  del = Stmt();
  SA_RETURN_IF_ERROR(tx.commit());
  return p;
}

Status Store::set_photo_status(int64_t id, PhotoStatus status, std::string_view error) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("UPDATE photos SET status = ?, error = ? WHERE id = ?"));
  st.bind(1, to_string(status)).bind(2, error).bind(3, id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("photo " + std::to_string(id) + " not found");
  return Status::OK();
}

Result<std::vector<int64_t>> Store::photo_ids_with_status(PhotoStatus status) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT id FROM photos WHERE status = ? ORDER BY id"));
  st.bind(1, to_string(status));
  return store_internal::column_ids(st);
}

Status Store::set_vlm_status(int64_t id, VlmStatus vlm_status, std::string_view error) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("UPDATE photos SET vlm_status = ?, vlm_error = ? WHERE id = ?"));
  st.bind(1, to_string(vlm_status)).bind(2, error).bind(3, id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("photo " + std::to_string(id) + " not found");
  return Status::OK();
}

Status Store::set_description(int64_t id, std::string_view description,
                              const std::vector<std::string>& keywords, std::string_view vlm_model,
                              std::string_view photo_text) {
  std::lock_guard lock(mu_);
  // photo_text comes with migration 5; a database opened with migrate_up_to
  // below it (migration tests) has no such column.
  SA_ASSIGN_OR_RETURN(Stmt col, db_.prepare(
      "SELECT count(*) FROM pragma_table_info('photos') WHERE name = 'photo_text'"));
  SA_ASSIGN_OR_RETURN(bool crow, col.step());
  const bool has_text = crow && col.column_int64(0) > 0;
  col = Stmt();
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "UPDATE photos SET description = ?, keywords = ?, vlm_model = ?, vlm_status = 'done', "
      "vlm_error = '', ") + (has_text ? "photo_text = ?4, " : "") + "described_at = " + kNowSql +
      " WHERE id = ?5"));
  st.bind(1, description).bind(2, keywords_json(keywords)).bind(3, vlm_model).bind(5, id);
  if (has_text) st.bind(4, photo_text);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("photo " + std::to_string(id) + " not found");
  return Status::OK();
}

Result<std::string> Store::vlm_error(int64_t id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT vlm_error FROM photos WHERE id = ?"));
  st.bind(1, id);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound("photo " + std::to_string(id) + " not found");
  return st.column_text(0);
}

Result<std::vector<int64_t>> Store::photo_ids_not_trashed(const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT id FROM photos WHERE trashed_at IS NULL" +
                                           owner_clause(scope) + " ORDER BY id"));
  return store_internal::column_ids(st);
}

Result<std::vector<int64_t>> Store::photo_ids_without_description(const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT id FROM photos WHERE vlm_status IN ('none', 'failed')" + owner_clause(scope) + " ORDER BY id"));
  return store_internal::column_ids(st);
}

}  // namespace sa
