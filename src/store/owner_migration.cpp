// Schema migration 7 (per-user libraries, issue 12): photos.hash is unique per
// owner instead of over the whole table, so the same bytes uploaded by two
// users are two photos.
//
// SQLite cannot drop a UNIQUE column constraint in place: the table is
// rebuilt (sqlite.org/lang_altertable.html, "other kinds of table schema
// changes"). The new table is made from the photos table's OWN stored
// definition with only "UNIQUE" taken off the hash column, so every column
// that earlier migrations -- on any branch -- added is kept, in the same
// order; the rows are copied with their ids; the table's indexes and triggers
// (FTS sync included) are recreated from their stored SQL; the AUTOINCREMENT
// counter keeps its high-water mark (ids are never reused, migration 2); and
// the migration runs with foreign keys off and must pass foreign_key_check
// (Migration::rebuilds_tables), so vectors, jobs and every other table that
// references photos(id) keep their rows.
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "store/store_internal.h"

namespace sa::store_internal {
namespace {

Result<std::string> scalar_text(Db& db, const std::string& sql) {
  SA_ASSIGN_OR_RETURN(Stmt st, db.prepare(sql));
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row) return Status::NotFound(sql);
  return st.column_text(0);
}

}  // namespace

Status unique_hash_per_owner(Db& db) {
  SA_ASSIGN_OR_RETURN(std::string table_sql,
                      scalar_text(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'photos'"));
  // "hash TEXT NOT NULL UNIQUE" (migrations 1 and 2) loses its UNIQUE.
  static const std::regex kUniqueHash(R"((\bhash\s+TEXT\s+NOT\s+NULL)\s+UNIQUE\b)", std::regex::icase);
  static const std::regex kName(R"(^\s*CREATE\s+TABLE\s+("photos"|photos|'photos'|`photos`)\s*\()",
                                std::regex::icase);
  const auto n_unique = std::distance(std::sregex_iterator(table_sql.begin(), table_sql.end(), kUniqueHash),
                                      std::sregex_iterator());
  if (n_unique != 1 || !std::regex_search(table_sql, kName)) {
    return Status::Corruption("migration 7: unexpected definition of table photos: " + table_sql);
  }
  std::string new_sql = std::regex_replace(table_sql, kUniqueHash, "$1");
  new_sql = std::regex_replace(new_sql, kName, "CREATE TABLE photos_v7(", std::regex_constants::format_first_only);

  // The table's own indexes and triggers (autoindexes have no SQL: the UNIQUE
  // one goes with the constraint).
  std::vector<std::string> recreate;
  {
    SA_ASSIGN_OR_RETURN(Stmt st, db.prepare(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'photos' AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL ORDER BY type, name"));
    while (true) {
      SA_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      recreate.push_back(st.column_text(0));
    }
  }
  int64_t seq = 0;
  {
    SA_ASSIGN_OR_RETURN(Stmt st, db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'photos'"));
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) seq = st.column_int64(0);
  }

  SA_RETURN_IF_ERROR(db.exec("DROP TABLE IF EXISTS photos_v7"));
  SA_RETURN_IF_ERROR(db.exec(new_sql).with_context("migration 7: new photos table"));
  SA_RETURN_IF_ERROR(db.exec("INSERT INTO photos_v7 SELECT * FROM photos"));
  SA_RETURN_IF_ERROR(db.exec("DROP TABLE photos"));
  // Legacy rename: only the table itself is renamed. The modern one also
  // re-checks every trigger and view of the schema, and any that names a
  // table missing at this moment (none should) would fail the migration.
  SA_RETURN_IF_ERROR(db.exec("PRAGMA legacy_alter_table = ON"));
  Status renamed = db.exec("ALTER TABLE photos_v7 RENAME TO photos");
  SA_RETURN_IF_ERROR(db.exec("PRAGMA legacy_alter_table = OFF"));
  SA_RETURN_IF_ERROR(renamed);
  for (const std::string& sql : recreate) {
    SA_RETURN_IF_ERROR(db.exec(sql).with_context("migration 7: recreating " + sql.substr(0, 60)));
  }
  // The high-water mark of ids, also of photos deleted before the rebuild.
  SA_ASSIGN_OR_RETURN(Stmt seq_st, db.prepare(
      "UPDATE sqlite_sequence SET seq = max(seq, ?1) WHERE name = 'photos'"));
  seq_st.bind(1, seq);
  SA_RETURN_IF_ERROR(seq_st.run());
  if (db.changes() == 0 && seq > 0) {
    SA_ASSIGN_OR_RETURN(Stmt ins, db.prepare("INSERT INTO sqlite_sequence(name, seq) VALUES ('photos', ?1)"));
    ins.bind(1, seq);
    SA_RETURN_IF_ERROR(ins.run());
  }
  // One photo per (bytes, owner); photos without an owner (no accounts yet)
  // count as one owner. hash first: "is any photo still using this file" is
  // a lookup on the same index.
  return db.exec(
      "CREATE UNIQUE INDEX photos_hash_owner ON photos(hash, coalesce(owner_id, 0))");
}

}  // namespace sa::store_internal
