#include "store/db.h"

#include <sqlite3.h>

#include <utility>

namespace sa {

namespace {

Status status_from_rc(int rc, std::string message) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return Status::AlreadyExists(std::move(message));
      return Status::InvalidArgument(std::move(message));
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return Status::Corruption(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(message));
    case SQLITE_FULL:
    case SQLITE_TOOBIG:
    case SQLITE_NOMEM:
      return Status::ResourceExhausted(std::move(message));
    case SQLITE_ERROR:
      return Status::Internal(std::move(message));
    default:
      return Status::IOError(std::move(message));
  }
}

}  // namespace

// ---- Db ----

Result<Db> Db::open(const std::string& path, int busy_timeout_ms) {
  Db db;
  db.path_ = path;
  // NOMUTEX: the owner (Store) serialises access itself; SQLite's own mutex
  // would only add a second lock.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db.db_ ? sqlite3_errmsg(db.db_) : sqlite3_errstr(rc);
    return status_from_rc(rc, "cannot open database '" + path + "': " + msg);
  }
  sqlite3_extended_result_codes(db.db_, 1);
  sqlite3_busy_timeout(db.db_, busy_timeout_ms);
  SA_RETURN_IF_ERROR(db.exec("PRAGMA foreign_keys=ON"));
  if (path != ":memory:" && !path.empty()) {
    // journal_mode returns a row; reading it also proves the file is a database
    // (a non-database file fails here with SQLITE_NOTADB).
    SA_ASSIGN_OR_RETURN(Stmt st, db.prepare("PRAGMA journal_mode=WAL"));
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    (void)row;
    SA_RETURN_IF_ERROR(db.exec("PRAGMA synchronous=NORMAL"));
  }
  return db;
}

Db::Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
  }
  return *this;
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

Status Db::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return status_from_rc(rc, msg + " (in: " + s.substr(0, 120) + ")");
  }
  return Status::OK();
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &st, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = sqlite3_errmsg(db_);
    if (st) sqlite3_finalize(st);
    return status_from_rc(rc, "prepare failed: " + msg + " (in: " + std::string(sql.substr(0, 120)) + ")");
  }
  return Stmt(st, this);
}

int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Db::changes() const { return sqlite3_changes(db_); }

Status Db::error(int rc, std::string_view what) const {
  std::string msg(what);
  msg += ": ";
  msg += db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return status_from_rc(rc, std::move(msg));
}

// ---- Stmt ----

Stmt::Stmt(Stmt&& o) noexcept : st_(std::exchange(o.st_, nullptr)), db_(o.db_) {}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (st_) sqlite3_finalize(st_);
    st_ = std::exchange(o.st_, nullptr);
    db_ = o.db_;
  }
  return *this;
}

Stmt::~Stmt() {
  if (st_) sqlite3_finalize(st_);
}

Stmt& Stmt::bind(int i, int64_t v) {
  sqlite3_bind_int64(st_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, double v) {
  sqlite3_bind_double(st_, i, v);
  return *this;
}
Stmt& Stmt::bind(int i, std::string_view text) {
  sqlite3_bind_text(st_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind(int i, std::optional<double> v) {
  if (v) return bind(i, *v);
  return bind_null(i);
}
Stmt& Stmt::bind_blob(int i, const void* data, size_t n) {
  // A zero-length blob must not bind as NULL: SQLite treats a null pointer as NULL.
  static const char kEmpty = 0;
  sqlite3_bind_blob64(st_, i, data ? data : &kEmpty, n, SQLITE_TRANSIENT);
  return *this;
}
Stmt& Stmt::bind_null(int i) {
  sqlite3_bind_null(st_, i);
  return *this;
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = db_->error(rc, "sqlite step");
  sqlite3_reset(st_);
  return s;
}

Status Stmt::run() {
  SA_ASSIGN_OR_RETURN(bool row, step());
  (void)row;
  // Reset at once so a finished statement never holds a read/write lock open
  // (a COMMIT or another connection's checkpoint would wait for it).
  sqlite3_reset(st_);
  return Status::OK();
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

bool Stmt::column_is_null(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }
int64_t Stmt::column_int64(int i) const { return sqlite3_column_int64(st_, i); }
double Stmt::column_double(int i) const { return sqlite3_column_double(st_, i); }
std::optional<double> Stmt::column_opt_double(int i) const {
  if (column_is_null(i)) return std::nullopt;
  return column_double(i);
}
std::string Stmt::column_text(int i) const {
  const unsigned char* p = sqlite3_column_text(st_, i);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(st_, i));
}
std::span<const uint8_t> Stmt::column_blob(int i) const {
  const void* p = sqlite3_column_blob(st_, i);
  int n = sqlite3_column_bytes(st_, i);
  if (!p || n <= 0) return {};
  return {static_cast<const uint8_t*>(p), static_cast<size_t>(n)};
}

// ---- Transaction ----

Result<Transaction> Transaction::begin(Db& db) {
  // IMMEDIATE takes the write lock now, so a transaction never fails halfway
  // with SQLITE_BUSY on its first write (busy_timeout waits here instead).
  SA_RETURN_IF_ERROR(db.exec("BEGIN IMMEDIATE"));
  return Transaction(&db);
}

Transaction::~Transaction() {
  if (db_) (void)db_->exec("ROLLBACK");
}

Status Transaction::commit() {
  if (!db_) return Status::Internal("transaction already finished");
  Status s = db_->exec("COMMIT");
  if (s.ok()) db_ = nullptr;
  return s;
}

}  // namespace sa
