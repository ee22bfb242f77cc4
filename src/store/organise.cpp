// Store: trash, favourites and albums (docs/organise.md).
//
// A photo in the trash keeps its row, files and vectors (so a restore is
// complete) but leaves every listing: list_photos*, get_photos (search and
// similar), album contents and counts. Only the album's purge deletes it.
#include <algorithm>
#include <limits>
#include <unordered_set>

#include "store/store.h"
#include "store/store_internal.h"

namespace sa {

using store_internal::kNowSql;
using store_internal::kPhotoColumns;
using store_internal::read_photo;

namespace {

constexpr size_t kMaxAlbumName = 200;

Result<std::string> clean_album_name(std::string_view name) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!name.empty() && is_space(name.front())) name.remove_prefix(1);
  while (!name.empty() && is_space(name.back())) name.remove_suffix(1);
  if (name.empty()) return Status::InvalidArgument("album name is empty");
  if (name.size() > kMaxAlbumName) {
    return Status::InvalidArgument("album name is longer than " + std::to_string(kMaxAlbumName) +
                                   " bytes");
  }
  return std::string(name);
}

// Album row + live photo count + cover (chosen, else newest photo not in the trash).
constexpr const char* kAlbumSelect =
    "SELECT a.id, a.name, "
    " coalesce((SELECT p.id FROM photos p WHERE p.id = a.cover_photo_id AND p.trashed_at IS NULL),"
    "          (SELECT max(ap.photo_id) FROM album_photos ap JOIN photos p ON p.id = ap.photo_id"
    "           WHERE ap.album_id = a.id AND p.trashed_at IS NULL), 0),"
    " (SELECT count(*) FROM album_photos ap JOIN photos p ON p.id = ap.photo_id"
    "  WHERE ap.album_id = a.id AND p.trashed_at IS NULL),"
    " a.created_at, a.updated_at FROM albums a";

AlbumInfo read_album(const Stmt& st) {
  AlbumInfo a;
  a.id = st.column_int64(0);
  a.name = st.column_text(1);
  a.cover_photo_id = st.column_int64(2);
  a.photo_count = st.column_int64(3);
  a.created_at = st.column_text(4);
  a.updated_at = st.column_text(5);
  return a;
}

Result<AlbumInfo> album_by_id(Db& db, int64_t id) {
  SA_ASSIGN_OR_RETURN(Stmt st, db.prepare(std::string(kAlbumSelect) + " WHERE a.id = ?"));
  st.bind(1, id);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound("album " + std::to_string(id) + " not found");
  return read_album(st);
}

Result<PhotoPage> read_page(Stmt& st, PhotoPage out) {
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.items.push_back(read_photo(st));
  }
  return out;
}

}  // namespace

Result<PhotoPage> Store::list_photos_filtered(const PhotoFilter& f, int page, int per_page,
                                              int64_t before_id) {
  PhotoPage out;
  out.page = before_id > 0 ? 1 : std::max(page, 1);
  out.per_page = std::clamp(per_page, 1, 1000);
  std::string where = " WHERE trashed_at IS NULL";
  if (f.favorite_only) where += " AND favorite = 1";
  if (f.album_id > 0) where += " AND id IN (SELECT photo_id FROM album_photos WHERE album_id = ?3)";
  std::lock_guard lock(mu_);
  if (f.album_id > 0) SA_RETURN_IF_ERROR(album_by_id(db_, f.album_id).status());
  SA_ASSIGN_OR_RETURN(Stmt c, db_.prepare("SELECT count(*) FROM photos" + where));
  if (f.album_id > 0) c.bind(3, f.album_id);
  SA_ASSIGN_OR_RETURN(bool crow, c.step());
  out.total = crow ? c.column_int64(0) : 0;
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string("SELECT ") + kPhotoColumns + " FROM photos" +
                                           where + " AND id < ?1 ORDER BY id DESC LIMIT ?2 OFFSET ?4"));
  st.bind(1, before_id > 0 ? before_id : std::numeric_limits<int64_t>::max());
  st.bind(2, static_cast<int64_t>(out.per_page));
  if (f.album_id > 0) st.bind(3, f.album_id);
  st.bind(4, static_cast<int64_t>(out.page - 1) * out.per_page);
  return read_page(st, std::move(out));
}

Result<BatchResult> Store::apply_batch(BatchAction action, std::span<const int64_t> ids,
                                       int64_t album_id, std::string_view now,
                                       std::string_view trash_cutoff) {
  const bool album_action =
      action == BatchAction::kAddToAlbum || action == BatchAction::kRemoveFromAlbum;
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  if (album_action) SA_RETURN_IF_ERROR(album_by_id(db_, album_id).status());

  // Which ids qualify: restore needs a photo in the trash (not expired), every
  // other action one outside it.
  const char* check = action == BatchAction::kRestore
                          ? "SELECT 1 FROM photos WHERE id = ? AND trashed_at > ?"
                          : "SELECT 1 FROM photos WHERE id = ? AND trashed_at IS NULL";
  SA_ASSIGN_OR_RETURN(Stmt q, db_.prepare(check));
  BatchResult out;
  std::vector<int64_t> todo;
  std::unordered_set<int64_t> seen;
  for (int64_t id : ids) {
    if (!seen.insert(id).second) continue;
    q.reset();
    q.bind(1, id);
    if (action == BatchAction::kRestore) q.bind(2, trash_cutoff);
    SA_ASSIGN_OR_RETURN(bool row, q.step());
    if (row) {
      todo.push_back(id);
    } else {
      out.not_found.push_back(id);
    }
  }
  q = Stmt();
  if (!out.not_found.empty()) return out;  // tx rolls back: nothing changed

  std::string sql;
  switch (action) {
    case BatchAction::kTrash:
      sql = "UPDATE photos SET trashed_at = ?2 WHERE id = ?1";
      break;
    case BatchAction::kRestore:
      sql = "UPDATE photos SET trashed_at = NULL WHERE id = ?1";
      break;
    case BatchAction::kFavorite:
      sql = "UPDATE photos SET favorite = 1 WHERE id = ?1 AND favorite = 0";
      break;
    case BatchAction::kUnfavorite:
      sql = "UPDATE photos SET favorite = 0 WHERE id = ?1 AND favorite = 1";
      break;
    case BatchAction::kAddToAlbum:
      sql = "INSERT OR IGNORE INTO album_photos(album_id, photo_id, added_at) VALUES (?3, ?1, ?2)";
      break;
    case BatchAction::kRemoveFromAlbum:
      sql = "DELETE FROM album_photos WHERE photo_id = ?1 AND album_id = ?3";
      break;
  }
  SA_ASSIGN_OR_RETURN(Stmt up, db_.prepare(sql));
  for (int64_t id : todo) {
    up.reset();
    up.bind(1, id);
    if (action == BatchAction::kTrash || action == BatchAction::kAddToAlbum) up.bind(2, now);
    if (album_action) up.bind(3, album_id);
    SA_RETURN_IF_ERROR(up.run());
    out.changed += db_.changes();
  }
  up = Stmt();
  if (album_action) {
    SA_ASSIGN_OR_RETURN(Stmt touch, db_.prepare("UPDATE albums SET updated_at = ? WHERE id = ?"));
    touch.bind(1, now).bind(2, album_id);
    SA_RETURN_IF_ERROR(touch.run());
  }
  SA_RETURN_IF_ERROR(tx.commit());
  return out;
}

Result<PhotoPage> Store::list_trash(std::string_view cutoff, int page, int per_page) {
  PhotoPage out;
  out.page = std::max(page, 1);
  out.per_page = std::clamp(per_page, 1, 1000);
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt c, db_.prepare("SELECT count(*) FROM photos WHERE trashed_at > ?"));
  c.bind(1, cutoff);
  SA_ASSIGN_OR_RETURN(bool crow, c.step());
  out.total = crow ? c.column_int64(0) : 0;
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string("SELECT ") + kPhotoColumns +
                                           " FROM photos WHERE trashed_at > ? "
                                           "ORDER BY trashed_at DESC, id DESC LIMIT ? OFFSET ?"));
  st.bind(1, cutoff);
  st.bind(2, static_cast<int64_t>(out.per_page));
  st.bind(3, static_cast<int64_t>(out.page - 1) * out.per_page);
  return read_page(st, std::move(out));
}

Result<int64_t> Store::expire_all_trash() {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "UPDATE photos SET trashed_at = ? WHERE trashed_at IS NOT NULL AND trashed_at > ?"));
  st.bind(1, kTrashEmptiedAt).bind(2, kTrashEmptiedAt);
  SA_RETURN_IF_ERROR(st.run());
  return static_cast<int64_t>(db_.changes());
}

Result<std::vector<int64_t>> Store::trash_expired_ids(std::string_view cutoff) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT id FROM photos WHERE trashed_at IS NOT NULL AND trashed_at <= ? ORDER BY id"));
  st.bind(1, cutoff);
  return store_internal::column_ids(st);
}

Result<std::vector<int64_t>> Store::trashed_photo_ids() {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT id FROM photos WHERE trashed_at IS NOT NULL ORDER BY id"));
  return store_internal::column_ids(st);
}

Result<std::vector<AlbumInfo>> Store::list_albums() {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(kAlbumSelect) + " ORDER BY a.id DESC"));
  std::vector<AlbumInfo> out;
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(read_album(st));
  }
  return out;
}

Result<AlbumInfo> Store::create_album(std::string_view name) {
  SA_ASSIGN_OR_RETURN(std::string clean, clean_album_name(name));
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "INSERT INTO albums(name, created_at, updated_at) VALUES (?, ") + kNowSql + ", " + kNowSql + ")"));
  st.bind(1, clean);
  SA_RETURN_IF_ERROR(st.run());
  return album_by_id(db_, db_.last_insert_rowid());
}

Result<AlbumInfo> Store::find_or_create_album(std::string_view name) {
  SA_ASSIGN_OR_RETURN(std::string clean, clean_album_name(name));
  {
    std::lock_guard lock(mu_);
    SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT min(id) FROM albums WHERE name = ?"));
    st.bind(1, clean);
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (row && st.column_int64(0) > 0) return album_by_id(db_, st.column_int64(0));
  }
  return create_album(clean);
}

Result<AlbumInfo> Store::get_album(int64_t id) {
  std::lock_guard lock(mu_);
  return album_by_id(db_, id);
}

Result<AlbumInfo> Store::update_album(int64_t id, const std::optional<std::string>& name,
                                      std::optional<int64_t> cover_photo_id) {
  std::optional<std::string> clean;
  if (name) {
    SA_ASSIGN_OR_RETURN(std::string c, clean_album_name(*name));
    clean = std::move(c);
  }
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  SA_RETURN_IF_ERROR(album_by_id(db_, id).status());
  if (cover_photo_id && *cover_photo_id != 0) {
    SA_ASSIGN_OR_RETURN(Stmt in, db_.prepare(
        "SELECT 1 FROM album_photos ap JOIN photos p ON p.id = ap.photo_id "
        "WHERE ap.album_id = ? AND ap.photo_id = ? AND p.trashed_at IS NULL"));
    in.bind(1, id).bind(2, *cover_photo_id);
    SA_ASSIGN_OR_RETURN(bool row, in.step());
    if (!row) {
      return Status::InvalidArgument("photo " + std::to_string(*cover_photo_id) +
                                     " is not in album " + std::to_string(id));
    }
  }
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "UPDATE albums SET name = coalesce(?, name), "
      "cover_photo_id = CASE WHEN ? THEN nullif(?, 0) ELSE cover_photo_id END, "
      "updated_at = ") + kNowSql + " WHERE id = ?"));
  if (clean) {
    st.bind(1, *clean);
  } else {
    st.bind_null(1);
  }
  st.bind(2, static_cast<int64_t>(cover_photo_id.has_value()));
  st.bind(3, cover_photo_id.value_or(0));
  st.bind(4, id);
  SA_RETURN_IF_ERROR(st.run());
  SA_RETURN_IF_ERROR(tx.commit());
  return album_by_id(db_, id);
}

Status Store::delete_album(int64_t id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("DELETE FROM albums WHERE id = ?"));
  st.bind(1, id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("album " + std::to_string(id) + " not found");
  return Status::OK();
}

Result<std::vector<int64_t>> Store::album_photo_ids(int64_t album_id) {
  std::lock_guard lock(mu_);
  SA_RETURN_IF_ERROR(album_by_id(db_, album_id).status());
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT ap.photo_id FROM album_photos ap JOIN photos p ON p.id = ap.photo_id "
      "WHERE ap.album_id = ? AND p.trashed_at IS NULL ORDER BY ap.photo_id"));
  st.bind(1, album_id);
  return store_internal::column_ids(st);
}

}  // namespace sa
