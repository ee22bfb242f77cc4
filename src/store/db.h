// Thin RAII wrappers over the SQLite C API with Status errors.
//
// Db owns one sqlite3* connection; Stmt owns one prepared sqlite3_stmt*.
// Neither is thread-safe by itself: the Store serialises all use of its one
// connection behind a mutex (see store.h). Both are move-only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sa {

class Stmt;

class Db {
 public:
  // Opens (creating if needed) a database file; ":memory:" gives a private
  // in-memory database. Sets busy_timeout (ms), foreign_keys=ON and, for files,
  // journal_mode=WAL + synchronous=NORMAL. IOError / Corruption on failure.
  static Result<Db> open(const std::string& path, int busy_timeout_ms = 5000);

  Db() = default;
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs one or more statements with no parameters and no result rows.
  Status exec(std::string_view sql);
  // Compiles one statement. InvalidArgument names the SQL on a syntax error.
  Result<Stmt> prepare(std::string_view sql);

  int64_t last_insert_rowid() const;
  int changes() const;  // rows changed by the last INSERT/UPDATE/DELETE
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  // Maps the connection's last error (or `rc`) to a Status with `what` as context.
  Status error(int rc, std::string_view what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Bind indices are 1-based like SQLite's.
// Typical use:
//   SA_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT x FROM t WHERE id=?"));
//   st.bind(1, id);
//   SA_ASSIGN_OR_RETURN(bool row, st.step());
//   if (row) x = st.column_int64(0);
class Stmt {
 public:
  Stmt() = default;
  Stmt(Stmt&& o) noexcept;
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Binders copy their argument (SQLITE_TRANSIENT), so temporaries are safe.
  Stmt& bind(int i, int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v);
  Stmt& bind(int i, std::string_view text);
  Stmt& bind(int i, const char* text) { return bind(i, std::string_view(text)); }
  Stmt& bind(int i, const std::string& text) { return bind(i, std::string_view(text)); }
  Stmt& bind(int i, std::optional<double> v);  // NULL when empty
  Stmt& bind_blob(int i, const void* data, size_t n);
  Stmt& bind_null(int i);

  // Advances: true = a row is available, false = done. Errors (constraint
  // violations, busy past the timeout) come back as Status; a UNIQUE violation
  // is AlreadyExists.
  Result<bool> step();
  // step() expecting no row (INSERT/UPDATE/DELETE).
  Status run();
  // Resets for re-execution and clears bindings.
  void reset();

  bool column_is_null(int i) const;
  int64_t column_int64(int i) const;
  double column_double(int i) const;
  std::optional<double> column_opt_double(int i) const;
  std::string column_text(int i) const;                 // "" for NULL
  std::span<const uint8_t> column_blob(int i) const;    // valid until the next step/reset

 private:
  friend class Db;
  Stmt(sqlite3_stmt* st, const Db* db) : st_(st), db_(db) {}
  sqlite3_stmt* st_ = nullptr;
  const Db* db_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT scope. Rolls back in the destructor unless
// commit() succeeded. Not nestable (SQLite has no nested BEGIN).
class Transaction {
 public:
  static Result<Transaction> begin(Db& db);
  Transaction(Transaction&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_ = nullptr;
};

}  // namespace sa
