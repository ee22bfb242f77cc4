// UserStore: users, sessions and API tokens (schema migration 3).
#include "store/users.h"

#include "store/store.h"
#include "store/store_internal.h"

namespace sa {

using store_internal::kNowSql;

namespace {

constexpr const char* kUserCols = "id, name, password_hash, admin, created_at";

User read_user(const Stmt& st) {
  User u;
  u.id = st.column_int64(0);
  u.name = st.column_text(1);
  u.password_hash = st.column_text(2);
  u.admin = st.column_int64(3) != 0;
  u.created_at = st.column_text(4);
  return u;
}

Result<User> one_user(Stmt& st, std::string_view what) {
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound(std::string(what));
  return read_user(st);
}

Result<int64_t> scalar(Db& db, std::string_view sql, int64_t bind1 = -1) {
  SA_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
  if (bind1 >= 0) st.bind(1, bind1);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.column_int64(0) : int64_t{0};
}

}  // namespace

Result<std::unique_ptr<UserStore>> UserStore::open(const std::string& path) {
  {
    StoreOptions so;
    so.recover_jobs = false;  // only the schema: a server may be working on this album
    SA_ASSIGN_OR_RETURN(auto migrated, Store::open(path, so));
    if (migrated->schema_version() < 3) return Status::Corruption("database '" + path + "' has no accounts tables");
  }
  SA_ASSIGN_OR_RETURN(Db db, Db::open(path));
  return std::unique_ptr<UserStore>(new UserStore(std::move(db)));
}

Result<int64_t> UserStore::create_user(std::string_view name, std::string_view password_hash, bool admin,
                                   bool only_if_none) {
  if (name.empty()) return Status::InvalidArgument("user name is empty");
  if (password_hash.empty()) return Status::InvalidArgument("password hash is empty");
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  if (only_if_none) {
    SA_ASSIGN_OR_RETURN(int64_t n, scalar(db_, "SELECT count(*) FROM users"));
    if (n > 0) return Status::AlreadyExists("an account already exists");
  }
  SA_ASSIGN_OR_RETURN(int64_t admins_before, scalar(db_, "SELECT count(*) FROM users WHERE admin = 1"));
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "INSERT INTO users(name, password_hash, admin, created_at) VALUES (?, ?, ?, ") + kNowSql + ")"));
  st.bind(1, name).bind(2, password_hash).bind(3, admin ? 1 : 0);
  Status s = st.run();
  if (s.code() == StatusCode::kAlreadyExists) {
    return Status::AlreadyExists("user '" + std::string(name) + "' already exists");
  }
  SA_RETURN_IF_ERROR(s);
  const int64_t id = db_.last_insert_rowid();
  st = Stmt();
  if (admin && admins_before == 0) {
    SA_ASSIGN_OR_RETURN(Stmt adopt, db_.prepare("UPDATE photos SET owner_id = ? WHERE owner_id IS NULL"));
    adopt.bind(1, id);
    SA_RETURN_IF_ERROR(adopt.run());
    adopt = Stmt();
    SA_ASSIGN_OR_RETURN(Stmt albums, db_.prepare("UPDATE albums SET owner_id = ? WHERE owner_id IS NULL"));
    albums.bind(1, id);
    SA_RETURN_IF_ERROR(albums.run());
  }
  SA_RETURN_IF_ERROR(tx.commit());
  return id;
}

Result<User> UserStore::get_user(int64_t id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string("SELECT ") + kUserCols + " FROM users WHERE id = ?"));
  st.bind(1, id);
  return one_user(st, "no user with id " + std::to_string(id));
}

Result<User> UserStore::get_user_by_name(std::string_view name) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string("SELECT ") + kUserCols + " FROM users WHERE name = ?"));
  st.bind(1, name);
  return one_user(st, "no user named '" + std::string(name) + "'");
}

Result<std::vector<User>> UserStore::list_users() {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string("SELECT ") + kUserCols + " FROM users ORDER BY id"));
  std::vector<User> out;
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(read_user(st));
  }
  return out;
}

Result<int64_t> UserStore::count_users() {
  std::lock_guard lock(mu_);
  return scalar(db_, "SELECT count(*) FROM users");
}

Result<int64_t> UserStore::count_admins() {
  std::lock_guard lock(mu_);
  return scalar(db_, "SELECT count(*) FROM users WHERE admin = 1");
}

Result<int64_t> UserStore::first_admin_id() {
  std::lock_guard lock(mu_);
  return scalar(db_, "SELECT coalesce(min(id), 0) FROM users WHERE admin = 1");
}

Result<int64_t> UserStore::count_photos_of(int64_t user_id) {
  std::lock_guard lock(mu_);
  return scalar(db_, "SELECT count(*) FROM photos WHERE owner_id = ?", user_id);
}

Status UserStore::set_password_hash(int64_t user_id, std::string_view password_hash,
                                std::string_view keep_session_hash) {
  if (password_hash.empty()) return Status::InvalidArgument("password hash is empty");
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("UPDATE users SET password_hash = ? WHERE id = ?"));
  st.bind(1, password_hash).bind(2, user_id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("no user with id " + std::to_string(user_id));
  st = Stmt();
  SA_ASSIGN_OR_RETURN(Stmt del, db_.prepare("DELETE FROM sessions WHERE user_id = ? AND token_hash != ?"));
  del.bind(1, user_id).bind(2, keep_session_hash);
  SA_RETURN_IF_ERROR(del.run());
  del = Stmt();
  return tx.commit();
}

Status UserStore::delete_user(int64_t user_id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
  // Their albums go with them (albums group photos; the photos themselves
  // must have been removed first, which the photos foreign key enforces).
  SA_ASSIGN_OR_RETURN(Stmt albums, db_.prepare("DELETE FROM albums WHERE owner_id = ?"));
  albums.bind(1, user_id);
  SA_RETURN_IF_ERROR(albums.run());
  albums = Stmt();
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("DELETE FROM users WHERE id = ?"));
  st.bind(1, user_id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("no user with id " + std::to_string(user_id));
  st = Stmt();
  return tx.commit();
}

Status UserStore::create_session(int64_t user_id, std::string_view token_hash) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "INSERT INTO sessions(token_hash, user_id, created_at, last_used_at) VALUES (?, ?, ") +
      kNowSql + ", " + kNowSql + ")"));
  st.bind(1, token_hash).bind(2, user_id);
  return st.run();
}

Result<User> UserStore::session_user(std::string_view token_hash, int64_t max_idle_s) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT u.id, u.name, u.password_hash, u.admin, u.created_at, s.id,"
      "       (julianday('now') - julianday(s.last_used_at)) * 86400.0 "
      "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?"));
  st.bind(1, token_hash);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound("no such session");
  User u = read_user(st);
  const int64_t session_id = st.column_int64(5);
  const double idle_s = st.column_double(6);
  st = Stmt();
  if (idle_s > static_cast<double>(max_idle_s)) {
    SA_ASSIGN_OR_RETURN(Stmt del, db_.prepare("DELETE FROM sessions WHERE id = ?"));
    del.bind(1, session_id);
    SA_RETURN_IF_ERROR(del.run());
    return Status::NotFound("session expired");
  }
  if (idle_s > 60.0) {
    SA_ASSIGN_OR_RETURN(Stmt touch, db_.prepare(std::string(
        "UPDATE sessions SET last_used_at = ") + kNowSql + " WHERE id = ?"));
    touch.bind(1, session_id);
    SA_RETURN_IF_ERROR(touch.run());
  }
  return u;
}

Status UserStore::delete_session(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("DELETE FROM sessions WHERE token_hash = ?"));
  st.bind(1, token_hash);
  return st.run();
}

Result<int64_t> UserStore::create_token(int64_t user_id, std::string_view token_hash, std::string_view label) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(std::string(
      "INSERT INTO api_tokens(token_hash, user_id, label, created_at) VALUES (?, ?, ?, ") + kNowSql + ")"));
  st.bind(1, token_hash).bind(2, user_id).bind(3, label);
  SA_RETURN_IF_ERROR(st.run());
  return db_.last_insert_rowid();
}

Result<User> UserStore::token_user(std::string_view token_hash) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT u.id, u.name, u.password_hash, u.admin, u.created_at, t.id,"
      "       t.last_used_at = '' OR (julianday('now') - julianday(t.last_used_at)) * 86400.0 > 60 "
      "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?"));
  st.bind(1, token_hash);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound("no such token");
  User u = read_user(st);
  const int64_t token_id = st.column_int64(5);
  const bool stale = st.column_int64(6) != 0;
  st = Stmt();
  if (stale) {
    SA_ASSIGN_OR_RETURN(Stmt touch, db_.prepare(std::string(
        "UPDATE api_tokens SET last_used_at = ") + kNowSql + " WHERE id = ?"));
    touch.bind(1, token_id);
    SA_RETURN_IF_ERROR(touch.run());
  }
  return u;
}

Result<std::vector<ApiToken>> UserStore::list_tokens(int64_t user_id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT t.id, t.user_id, u.name, t.label, t.created_at, t.last_used_at "
      "FROM api_tokens t JOIN users u ON u.id = t.user_id "
      "WHERE ? = 0 OR t.user_id = ? ORDER BY t.id"));
  st.bind(1, user_id).bind(2, user_id);
  std::vector<ApiToken> out;
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    ApiToken t;
    t.id = st.column_int64(0);
    t.user_id = st.column_int64(1);
    t.user_name = st.column_text(2);
    t.label = st.column_text(3);
    t.created_at = st.column_text(4);
    t.last_used_at = st.column_text(5);
    out.push_back(std::move(t));
  }
  return out;
}

Status UserStore::delete_token(int64_t id, int64_t user_id) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("DELETE FROM api_tokens WHERE id = ? AND (? = 0 OR user_id = ?)"));
  st.bind(1, id).bind(2, user_id).bind(3, user_id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("no token with id " + std::to_string(id));
  return Status::OK();
}

}  // namespace sa
