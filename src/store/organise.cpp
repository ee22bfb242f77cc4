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

// Album row + live photo count + cover (chosen, else newest photo not in the
// trash) + owner + the role of user ?9 (0: everyone's scope, who owns all).
constexpr const char* kAlbumSelect =
    "SELECT a.id, a.name, "
    " coalesce((SELECT p.id FROM photos p WHERE p.id = a.cover_photo_id AND p.trashed_at IS NULL),"
    "          (SELECT max(ap.photo_id) FROM album_photos ap JOIN photos p ON p.id = ap.photo_id"
    "           WHERE ap.album_id = a.id AND p.trashed_at IS NULL), 0),"
    " (SELECT count(*) FROM album_photos ap JOIN photos p ON p.id = ap.photo_id"
    "  WHERE ap.album_id = a.id AND p.trashed_at IS NULL),"
    " a.created_at, a.updated_at, coalesce(a.owner_id, 0),"
    " coalesce((SELECT u.name FROM users u WHERE u.id = a.owner_id), ''),"
    " CASE WHEN ?9 = 0 OR a.owner_id = ?9 THEN 'owner' ELSE"
    "  coalesce((SELECT s.role FROM album_shares s WHERE s.album_id = a.id AND s.user_id = ?9), '') END"
    " FROM albums a";

// The albums user ?9 may see: their own and those shared with them (all for 0).
constexpr const char* kAlbumVisible =
    " (?9 = 0 OR a.owner_id = ?9 OR"
    "  EXISTS (SELECT 1 FROM album_shares s WHERE s.album_id = a.id AND s.user_id = ?9))";

AlbumInfo read_album(const Stmt& st) {
  AlbumInfo a;
  a.id = st.column_int64(0);
  a.name = st.column_text(1);
  a.cover_photo_id = st.column_int64(2);
  a.photo_count = st.column_int64(3);
  a.created_at = st.column_text(4);
  a.updated_at = st.column_text(5);
  a.owner_id = st.column_int64(6);
  a.owner_name = st.column_text(7);
  a.role = parse_album_role(st.column_text(8)).value_or(AlbumRole::kViewer);
  return a;
}

// The album if `scope` may see it (its owner's, or shared with the user);
// NotFound otherwise, as for an album that does not exist.
Result<AlbumInfo> album_by_id(Db& db, int64_t id, const OwnerScope& scope = {}) {
  SA_ASSIGN_OR_RETURN(Stmt st, db.prepare(std::string(kAlbumSelect) + " WHERE a.id = ?1 AND" + kAlbumVisible));
  st.bind(1, id).bind(9, scope.owner_id);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound("album " + std::to_string(id) + " not found");
  return read_album(st);
}

// The album if `scope` owns it; NotFound for everyone else (the routes say
// 403 first to those who can see it).
Result<AlbumInfo> owned_album(Db& db, int64_t id, const OwnerScope& scope) {
  SA_ASSIGN_OR_RETURN(AlbumInfo a, album_by_id(db, id, scope));
  if (a.role != AlbumRole::kOwner) return Status::NotFound("album " + std::to_string(id) + " not found");
  return a;
}

std::string owner_clause(const OwnerScope& scope) {
  return scope.everyone() ? std::string() : " AND owner_id = " + std::to_string(scope.owner_id);
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
  // One album: all its photos, whoever owns them, for anyone who may see the
  // album (owner, or shared with them); otherwise the user's own photos.
  if (f.album_id <= 0) where += owner_clause(f.scope);
  if (f.favorite_only) where += " AND favorite = 1";
  if (f.album_id > 0) where += " AND id IN (SELECT photo_id FROM album_photos WHERE album_id = ?3)";
  std::lock_guard lock(mu_);
  if (f.album_id > 0) SA_RETURN_IF_ERROR(album_by_id(db_, f.album_id, f.scope).status());
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
                                       std::string_view trash_cutoff, const OwnerScope& scope) {
  const bool album_action =
      action == BatchAction::kAddToAlbum || action == BatchAction::kRemoveFromAlbum;
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  // Albums: the owner adds their photos and removes any; a contributor adds
  // and removes their own; a viewer changes nothing (NotFound, as for an
  // album they cannot see: the route answers 403 first).
  bool any_owner = false;  // remove_from_album by the album's owner: any photo in it
  if (album_action) {
    SA_ASSIGN_OR_RETURN(AlbumInfo a, album_by_id(db_, album_id, scope));
    if (a.role == AlbumRole::kViewer) return Status::NotFound("album " + std::to_string(album_id) + " not found");
    any_owner = action == BatchAction::kRemoveFromAlbum && a.role == AlbumRole::kOwner;
  }

  // Which ids qualify: restore needs a photo in the trash (not expired), every
  // other action one outside it; and the photo must be the user's own.
  std::string check = action == BatchAction::kRestore
                          ? "SELECT 1 FROM photos WHERE id = ?1 AND trashed_at > ?2"
                          : "SELECT 1 FROM photos WHERE id = ?1 AND trashed_at IS NULL";
  if (any_owner) {
    check += " AND id IN (SELECT photo_id FROM album_photos WHERE album_id = " + std::to_string(album_id) + ")";
  } else {
    check += owner_clause(scope);
  }
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

Result<PhotoPage> Store::list_trash(std::string_view cutoff, int page, int per_page,
                                    const OwnerScope& scope) {
  PhotoPage out;
  out.page = std::max(page, 1);
  out.per_page = std::clamp(per_page, 1, 1000);
  const std::string mine = owner_clause(scope);
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt c, db_.prepare("SELECT count(*) FROM photos WHERE trashed_at > ?" + mine));
  c.bind(1, cutoff);
  SA_ASSIGN_OR_RETURN(bool crow, c.step());
  out.total = crow ? c.column_int64(0) : 0;
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string("SELECT ") + kPhotoColumns +
                                           " FROM photos WHERE trashed_at > ?" + mine +
                                           " ORDER BY trashed_at DESC, id DESC LIMIT ? OFFSET ?"));
  st.bind(1, cutoff);
  st.bind(2, static_cast<int64_t>(out.per_page));
  st.bind(3, static_cast<int64_t>(out.page - 1) * out.per_page);
  return read_page(st, std::move(out));
}

Result<int64_t> Store::expire_all_trash(const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "UPDATE photos SET trashed_at = ? WHERE trashed_at IS NOT NULL AND trashed_at > ?" + owner_clause(scope)));
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

Result<std::vector<AlbumInfo>> Store::list_albums(const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(kAlbumSelect) + " WHERE" + kAlbumVisible +
                                           " ORDER BY a.id DESC"));
  st.bind(9, scope.owner_id);
  std::vector<AlbumInfo> out;
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(read_album(st));
  }
  return out;
}

Result<AlbumInfo> Store::create_album(std::string_view name, const OwnerScope& scope) {
  SA_ASSIGN_OR_RETURN(std::string clean, clean_album_name(name));
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "INSERT INTO albums(name, created_at, updated_at, owner_id) VALUES (?, ") + kNowSql + ", " + kNowSql +
      ", nullif(?, 0))"));
  st.bind(1, clean).bind(2, scope.owner_id);
  SA_RETURN_IF_ERROR(st.run());
  return album_by_id(db_, db_.last_insert_rowid(), scope);
}

Result<AlbumInfo> Store::find_or_create_album(std::string_view name, const OwnerScope& scope) {
  SA_ASSIGN_OR_RETURN(std::string clean, clean_album_name(name));
  {
    std::lock_guard lock(mu_);
    SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT min(id) FROM albums WHERE name = ?" + owner_clause(scope)));
    st.bind(1, clean);
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (row && st.column_int64(0) > 0) return album_by_id(db_, st.column_int64(0), scope);
  }
  return create_album(clean, scope);
}

Result<AlbumInfo> Store::get_album(int64_t id, const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  return album_by_id(db_, id, scope);
}

Result<AlbumInfo> Store::update_album(int64_t id, const std::optional<std::string>& name,
                                      std::optional<int64_t> cover_photo_id, const OwnerScope& scope) {
  std::optional<std::string> clean;
  if (name) {
    SA_ASSIGN_OR_RETURN(std::string c, clean_album_name(*name));
    clean = std::move(c);
  }
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  SA_RETURN_IF_ERROR(owned_album(db_, id, scope).status());
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
  return album_by_id(db_, id, scope);
}

Status Store::delete_album(int64_t id, const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("DELETE FROM albums WHERE id = ?" + owner_clause(scope)));
  st.bind(1, id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("album " + std::to_string(id) + " not found");
  return Status::OK();
}

Result<std::vector<int64_t>> Store::album_photo_ids(int64_t album_id, const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_RETURN_IF_ERROR(album_by_id(db_, album_id, scope).status());
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT ap.photo_id FROM album_photos ap JOIN photos p ON p.id = ap.photo_id "
      "WHERE ap.album_id = ? AND p.trashed_at IS NULL ORDER BY ap.photo_id"));
  st.bind(1, album_id);
  return store_internal::column_ids(st);
}

// ---- sharing ----

Status Store::share_album(int64_t album_id, int64_t user_id, AlbumRole role, const OwnerScope& scope) {
  if (role == AlbumRole::kOwner) return Status::InvalidArgument("role must be 'viewer' or 'contributor'");
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  SA_ASSIGN_OR_RETURN(AlbumInfo a, owned_album(db_, album_id, scope));
  if (user_id == a.owner_id) return Status::InvalidArgument("the album's owner needs no share");
  SA_ASSIGN_OR_RETURN(Stmt u, db_.prepare("SELECT 1 FROM users WHERE id = ?"));
  u.bind(1, user_id);
  SA_ASSIGN_OR_RETURN(bool exists, u.step());
  if (!exists) return Status::NotFound("no user with id " + std::to_string(user_id));
  u = Stmt();
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "INSERT INTO album_shares(album_id, user_id, role, created_at) VALUES (?, ?, ?, ") + kNowSql +
      ") ON CONFLICT(album_id, user_id) DO UPDATE SET role = excluded.role"));
  st.bind(1, album_id).bind(2, user_id).bind(3, to_string(role));
  SA_RETURN_IF_ERROR(st.run());
  st = Stmt();
  return tx.commit();
}

Status Store::unshare_album(int64_t album_id, int64_t user_id, const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(AlbumInfo a, album_by_id(db_, album_id, scope));
  // The owner ends anyone's share; a recipient may leave the album themselves.
  if (a.role != AlbumRole::kOwner && user_id != scope.owner_id) {
    return Status::NotFound("album " + std::to_string(album_id) + " not found");
  }
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("DELETE FROM album_shares WHERE album_id = ? AND user_id = ?"));
  st.bind(1, album_id).bind(2, user_id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("album " + std::to_string(album_id) + " is not shared with user " +
                                                  std::to_string(user_id));
  return Status::OK();
}

Result<std::vector<AlbumShare>> Store::album_shares(int64_t album_id, const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_RETURN_IF_ERROR(owned_album(db_, album_id, scope).status());
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT s.user_id, u.name, s.role, s.created_at FROM album_shares s JOIN users u ON u.id = s.user_id "
      "WHERE s.album_id = ? ORDER BY u.name"));
  st.bind(1, album_id);
  std::vector<AlbumShare> out;
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back({st.column_int64(0), st.column_text(1),
                   parse_album_role(st.column_text(2)).value_or(AlbumRole::kViewer), st.column_text(3)});
  }
  return out;
}

Result<bool> Store::photo_in_visible_album(int64_t photo_id, int64_t user_id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT EXISTS(SELECT 1 FROM album_photos ap JOIN albums a ON a.id = ap.album_id "
      "JOIN photos p ON p.id = ap.photo_id "
      "WHERE ap.photo_id = ?1 AND p.trashed_at IS NULL AND (a.owner_id = ?2 OR EXISTS ("
      "SELECT 1 FROM album_shares s WHERE s.album_id = a.id AND s.user_id = ?2)))"));
  st.bind(1, photo_id).bind(2, user_id);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  return row && st.column_int64(0) != 0;
}

}  // namespace sa
