// Store: open + schema migrations. Table-specific methods live in photos.cpp,
// vectors.cpp, jobs.cpp, settings.cpp and text_search.cpp.
#include "store/store.h"
#include "store/store_internal.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace sa {

namespace {

struct Migration {
  int version;
  const char* sql;
  // Rebuilds a table that others reference: runs with foreign_keys off (or
  // DROP TABLE would cascade), then must pass PRAGMA foreign_key_check.
  bool rebuilds_tables = false;
  // Work that SQL alone cannot do, run after `sql` in the same transaction.
  Status (*apply)(Db&) = nullptr;
};

// Numbered migrations, applied in order, each in its own transaction together
// with its row in schema_version. Never edit a migration that has shipped; add
// a new one. docs/storage.md describes every table.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE photos(
  id           INTEGER PRIMARY KEY,
  hash         TEXT NOT NULL UNIQUE,
  filename     TEXT NOT NULL DEFAULT '',
  folder       TEXT NOT NULL DEFAULT '',
  mime         TEXT NOT NULL DEFAULT '',
  size         INTEGER NOT NULL DEFAULT 0,
  width        INTEGER NOT NULL DEFAULT 0,
  height       INTEGER NOT NULL DEFAULT 0,
  taken_at     TEXT NOT NULL DEFAULT '',
  camera       TEXT NOT NULL DEFAULT '',
  gps_lat      REAL,
  gps_lon      REAL,
  added_at     TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'pending'
               CHECK(status IN ('pending','ready','failed','no_model')),
  error        TEXT NOT NULL DEFAULT '',
  description  TEXT NOT NULL DEFAULT '',
  keywords     TEXT NOT NULL DEFAULT '[]',
  vlm_status   TEXT NOT NULL DEFAULT 'none'
               CHECK(vlm_status IN ('none','pending','running','done','failed')),
  vlm_error    TEXT NOT NULL DEFAULT '',
  vlm_model    TEXT NOT NULL DEFAULT '',
  described_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX photos_taken_at ON photos(taken_at);
CREATE INDEX photos_status ON photos(status);
CREATE INDEX photos_vlm_status ON photos(vlm_status);

CREATE TABLE vectors(
  photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
  kind     TEXT NOT NULL CHECK(kind IN ('clip','desc')),
  model    TEXT NOT NULL,
  dim      INTEGER NOT NULL CHECK(dim > 0),
  data     BLOB NOT NULL,
  PRIMARY KEY(photo_id, kind)
);
CREATE INDEX vectors_kind_model ON vectors(kind, model, photo_id);

-- Per-kind change counter: a saved FAISS index records it, so any change to
-- the vectors after the save (cascaded deletes included) marks the file stale.
CREATE TABLE vector_generation(kind TEXT PRIMARY KEY, generation INTEGER NOT NULL);
INSERT INTO vector_generation VALUES('clip', 0), ('desc', 0);
CREATE TRIGGER vectors_ai AFTER INSERT ON vectors BEGIN
  UPDATE vector_generation SET generation = generation + 1 WHERE kind = new.kind;
END;
CREATE TRIGGER vectors_au AFTER UPDATE ON vectors BEGIN
  UPDATE vector_generation SET generation = generation + 1 WHERE kind IN (old.kind, new.kind);
END;
CREATE TRIGGER vectors_ad AFTER DELETE ON vectors BEGIN
  UPDATE vector_generation SET generation = generation + 1 WHERE kind = old.kind;
END;

CREATE TABLE jobs(
  id         INTEGER PRIMARY KEY,
  kind       TEXT NOT NULL CHECK(kind IN ('embed','describe','embed_desc')),
  photo_id   INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
  state      TEXT NOT NULL DEFAULT 'pending'
             CHECK(state IN ('pending','running','done','failed')),
  attempts   INTEGER NOT NULL DEFAULT 0,
  error      TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
-- At most one pending job per (kind, photo): enqueue is INSERT OR IGNORE.
CREATE UNIQUE INDEX jobs_one_pending ON jobs(kind, photo_id) WHERE state = 'pending';
CREATE INDEX jobs_state ON jobs(state, kind, id);
CREATE INDEX jobs_photo ON jobs(photo_id);

CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Full-text search. trigram matches any substring of 3+ characters, which is
-- what Chinese text needs without a word segmenter; shorter terms use LIKE.
-- keywords are indexed as space-joined words, not as JSON.
CREATE VIRTUAL TABLE photos_fts USING fts5(
  filename, folder, description, keywords, tokenize = 'trigram');
CREATE TRIGGER photos_fts_ai AFTER INSERT ON photos BEGIN
  INSERT INTO photos_fts(rowid, filename, folder, description, keywords)
  VALUES (new.id, new.filename, new.folder, new.description,
          CASE WHEN json_valid(new.keywords)
               THEN (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.keywords))
               ELSE new.keywords END);
END;
CREATE TRIGGER photos_fts_au AFTER UPDATE OF filename, folder, description, keywords ON photos BEGIN
  DELETE FROM photos_fts WHERE rowid = old.id;
  INSERT INTO photos_fts(rowid, filename, folder, description, keywords)
  VALUES (new.id, new.filename, new.folder, new.description,
          CASE WHEN json_valid(new.keywords)
               THEN (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.keywords))
               ELSE new.keywords END);
END;
CREATE TRIGGER photos_fts_ad AFTER DELETE ON photos BEGIN
  DELETE FROM photos_fts WHERE rowid = old.id;
END;
)sql"},
    // Ids are never reused. Without AUTOINCREMENT SQLite gives a new row the
    // id of a just-deleted highest row: a describe job still running for a
    // deleted photo then wrote its result onto the next upload (same id), and
    // a finished job of a deleted photo completed the new job that got its
    // id. Both tables are rebuilt with AUTOINCREMENT, rows and ids kept.
    {2, R"sql(
CREATE TABLE photos_v2(
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  hash         TEXT NOT NULL UNIQUE,
  filename     TEXT NOT NULL DEFAULT '',
  folder       TEXT NOT NULL DEFAULT '',
  mime         TEXT NOT NULL DEFAULT '',
  size         INTEGER NOT NULL DEFAULT 0,
  width        INTEGER NOT NULL DEFAULT 0,
  height       INTEGER NOT NULL DEFAULT 0,
  taken_at     TEXT NOT NULL DEFAULT '',
  camera       TEXT NOT NULL DEFAULT '',
  gps_lat      REAL,
  gps_lon      REAL,
  added_at     TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'pending'
               CHECK(status IN ('pending','ready','failed','no_model')),
  error        TEXT NOT NULL DEFAULT '',
  description  TEXT NOT NULL DEFAULT '',
  keywords     TEXT NOT NULL DEFAULT '[]',
  vlm_status   TEXT NOT NULL DEFAULT 'none'
               CHECK(vlm_status IN ('none','pending','running','done','failed')),
  vlm_error    TEXT NOT NULL DEFAULT '',
  vlm_model    TEXT NOT NULL DEFAULT '',
  described_at TEXT NOT NULL DEFAULT ''
);
INSERT INTO photos_v2(id, hash, filename, folder, mime, size, width, height, taken_at, camera,
                      gps_lat, gps_lon, added_at, status, error, description, keywords,
                      vlm_status, vlm_error, vlm_model, described_at)
  SELECT id, hash, filename, folder, mime, size, width, height, taken_at, camera,
         gps_lat, gps_lon, added_at, status, error, description, keywords,
         vlm_status, vlm_error, vlm_model, described_at FROM photos;
DROP TABLE photos;
ALTER TABLE photos_v2 RENAME TO photos;
CREATE INDEX photos_taken_at ON photos(taken_at);
CREATE INDEX photos_status ON photos(status);
CREATE INDEX photos_vlm_status ON photos(vlm_status);
CREATE TRIGGER photos_fts_ai AFTER INSERT ON photos BEGIN
  INSERT INTO photos_fts(rowid, filename, folder, description, keywords)
  VALUES (new.id, new.filename, new.folder, new.description,
          CASE WHEN json_valid(new.keywords)
               THEN (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.keywords))
               ELSE new.keywords END);
END;
CREATE TRIGGER photos_fts_au AFTER UPDATE OF filename, folder, description, keywords ON photos BEGIN
  DELETE FROM photos_fts WHERE rowid = old.id;
  INSERT INTO photos_fts(rowid, filename, folder, description, keywords)
  VALUES (new.id, new.filename, new.folder, new.description,
          CASE WHEN json_valid(new.keywords)
               THEN (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.keywords))
               ELSE new.keywords END);
END;
CREATE TRIGGER photos_fts_ad AFTER DELETE ON photos BEGIN
  DELETE FROM photos_fts WHERE rowid = old.id;
END;

CREATE TABLE jobs_v2(
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  kind       TEXT NOT NULL CHECK(kind IN ('embed','describe','embed_desc')),
  photo_id   INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
  state      TEXT NOT NULL DEFAULT 'pending'
             CHECK(state IN ('pending','running','done','failed')),
  attempts   INTEGER NOT NULL DEFAULT 0,
  error      TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
INSERT INTO jobs_v2(id, kind, photo_id, state, attempts, error, created_at, updated_at)
  SELECT id, kind, photo_id, state, attempts, error, created_at, updated_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
CREATE UNIQUE INDEX jobs_one_pending ON jobs(kind, photo_id) WHERE state = 'pending';
CREATE INDEX jobs_state ON jobs(state, kind, id);
CREATE INDEX jobs_photo ON jobs(photo_id);
)sql", true},
    // Accounts (issue 12): users with Argon2id password hashes, sessions and
    // API tokens stored as BLAKE2b hashes of the secret (a copied database
    // gives no usable cookie or token), and an owner for every photo. Photos
    // from before accounts have owner_id NULL until the first admin is created,
    // who then adopts them (Store::create_user).
    {3, R"sql(
CREATE TABLE users(
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  admin         INTEGER NOT NULL DEFAULT 0 CHECK(admin IN (0, 1)),
  created_at    TEXT NOT NULL
);
CREATE TABLE sessions(
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  token_hash   TEXT NOT NULL UNIQUE,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at   TEXT NOT NULL,
  last_used_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE api_tokens(
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  token_hash   TEXT NOT NULL UNIQUE,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  label        TEXT NOT NULL DEFAULT '',
  created_at   TEXT NOT NULL,
  last_used_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
ALTER TABLE photos ADD COLUMN owner_id INTEGER REFERENCES users(id);
CREATE INDEX photos_owner ON photos(owner_id, id);
)sql"},
    // Browsing (issue 13): every photo has a taken_at to sort the timeline by,
    // and says where it came from. Rows from before: an EXIF date they have is
    // 'exif'; the others take their added_at (UTC) as 'upload'. The index serves
    // ORDER BY taken_at DESC, id DESC and the keyset cursor (taken_at, id) < (?, ?).
    {4, R"sql(
ALTER TABLE photos ADD COLUMN taken_at_source TEXT NOT NULL DEFAULT ''
  CHECK(taken_at_source IN ('', 'exif', 'file', 'upload'));
UPDATE photos SET taken_at_source = 'exif' WHERE taken_at != '';
UPDATE photos SET taken_at = added_at, taken_at_source = 'upload' WHERE taken_at = '';
CREATE INDEX photos_taken_id ON photos(taken_at, id);
)sql"},
    // Organising (issue 14): trash, favourites, albums, and the visible text of
    // a photo (read by the VLM) beside its description, indexed for search.
    // trashed_at NULL = not in the trash; a photo trashed at or before
    // now - 30 days (or at Store::kTrashEmptiedAt, after "empty the trash") is
    // purged with its files and vectors by the album's background purge.
    {5, R"sql(
ALTER TABLE photos ADD COLUMN favorite INTEGER NOT NULL DEFAULT 0;
ALTER TABLE photos ADD COLUMN trashed_at TEXT;
ALTER TABLE photos ADD COLUMN photo_text TEXT NOT NULL DEFAULT '';
CREATE INDEX photos_trashed_at ON photos(trashed_at) WHERE trashed_at IS NOT NULL;
CREATE INDEX photos_favorite ON photos(id) WHERE favorite = 1;

CREATE TABLE albums(
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  name           TEXT NOT NULL,
  cover_photo_id INTEGER REFERENCES photos(id) ON DELETE SET NULL,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);
CREATE TABLE album_photos(
  album_id INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
  photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
  added_at TEXT NOT NULL,
  PRIMARY KEY(album_id, photo_id)
);
CREATE INDEX album_photos_photo ON album_photos(photo_id);

-- The FTS table gains the photo's visible text (photo_text).
DROP TRIGGER IF EXISTS photos_fts_ai;
DROP TRIGGER IF EXISTS photos_fts_au;
DROP TRIGGER IF EXISTS photos_fts_ad;
DROP TABLE photos_fts;
CREATE VIRTUAL TABLE photos_fts USING fts5(
  filename, folder, description, keywords, photo_text, tokenize = 'trigram');
INSERT INTO photos_fts(rowid, filename, folder, description, keywords, photo_text)
  SELECT id, filename, folder, description,
         CASE WHEN json_valid(keywords)
              THEN (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(keywords))
              ELSE keywords END,
         photo_text
  FROM photos;
CREATE TRIGGER photos_fts_ai AFTER INSERT ON photos BEGIN
  INSERT INTO photos_fts(rowid, filename, folder, description, keywords, photo_text)
  VALUES (new.id, new.filename, new.folder, new.description,
          CASE WHEN json_valid(new.keywords)
               THEN (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.keywords))
               ELSE new.keywords END, new.photo_text);
END;
CREATE TRIGGER photos_fts_au AFTER UPDATE OF filename, folder, description, keywords, photo_text
ON photos BEGIN
  DELETE FROM photos_fts WHERE rowid = old.id;
  INSERT INTO photos_fts(rowid, filename, folder, description, keywords, photo_text)
  VALUES (new.id, new.filename, new.folder, new.description,
          CASE WHEN json_valid(new.keywords)
               THEN (SELECT coalesce(group_concat(value, ' '), '') FROM json_each(new.keywords))
               ELSE new.keywords END, new.photo_text);
END;
CREATE TRIGGER photos_fts_ad AFTER DELETE ON photos BEGIN
  DELETE FROM photos_fts WHERE rowid = old.id;
END;
)sql"},
    // A million photos (issue 16): every list, count and grouping the browse
    // views run over the live (not trashed) photos reads a partial index of
    // them instead of the table (rows carry descriptions and text: the index
    // is ~10x smaller to walk), and none sorts in a temporary b-tree:
    // - timeline pages (ORDER BY taken_at, id; date ranges), their total count
    //   and the per-month counts (substr(taken_at, 1, 7) from the index);
    // - the same for one owner's photos (owner filter) and for favourites;
    // - the folders view (GROUP BY folder).
    // The columns a filter tests (trashed_at, favorite) are in the index too,
    // although constant in it: SQLite counts an index as covering only when
    // it holds every column the statement names, and otherwise reads each
    // row from the table. They come after (taken_at, id), which keeps the
    // index's order the pages' order. The trash keeps photos_trashed_at (5);
    // sort=added pages use the rowid.
    {6, R"sql(
CREATE INDEX photos_live_taken ON photos(taken_at, id, trashed_at) WHERE trashed_at IS NULL;
CREATE INDEX photos_live_owner_taken ON photos(owner_id, taken_at, id, trashed_at) WHERE trashed_at IS NULL;
CREATE INDEX photos_live_favorite_taken ON photos(taken_at, id, favorite, trashed_at)
  WHERE favorite = 1 AND trashed_at IS NULL;
CREATE INDEX photos_live_folder ON photos(folder, trashed_at) WHERE trashed_at IS NULL;
)sql"},
    // Per-user libraries (issue 12): the same bytes uploaded by two users are
    // two photos. UNIQUE(hash) becomes a unique index on (hash, owner); the
    // table rebuild is in owner_migration.cpp.
    {7, "", true, &store_internal::unique_hash_per_owner},
    // Per-user albums and sharing (issues 12 + 14): every album has an owner
    // (albums from before: the first admin, else adopted with the photos when
    // the first admin is created), and may be shared with other users as viewer
    // or contributor. A contributor's photos in it stay theirs (photos.owner_id).
    {8, R"sql(
ALTER TABLE albums ADD COLUMN owner_id INTEGER REFERENCES users(id);
UPDATE albums SET owner_id = (SELECT min(id) FROM users WHERE admin = 1);
CREATE INDEX albums_owner ON albums(owner_id, id);
CREATE TABLE album_shares(
  album_id   INTEGER NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role       TEXT NOT NULL CHECK(role IN ('viewer', 'contributor')),
  created_at TEXT NOT NULL,
  PRIMARY KEY(album_id, user_id)
);
CREATE INDEX album_shares_user ON album_shares(user_id, album_id);
)sql"},
    // The timeline's per-month counts at a million photos (issue 16): grouping
    // every live photo's taken_at took ~0.5 s of CPU per request even from the
    // covering index of migration 6. photo_months keeps the counts, per owner
    // (coalesce(owner_id, 0)) and month (substr(taken_at, 1, 7)), of the
    // photos that are not in the trash and have a taken_at; triggers keep it
    // right through insert, delete, trash/restore (trashed_at), a new date and
    // an owner change, so Store::timeline reads O(months) rows. A month whose
    // count reaches 0 is deleted. A later migration that rebuilds the photos
    // table must create these triggers again (DROP TABLE drops them).
    {9, R"sql(
CREATE TABLE photo_months(
  owner INTEGER NOT NULL,
  month TEXT NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY(owner, month)
) WITHOUT ROWID;
INSERT INTO photo_months(owner, month, n)
  SELECT coalesce(owner_id, 0), substr(taken_at, 1, 7), count(*) FROM photos
  WHERE taken_at > '' AND trashed_at IS NULL GROUP BY 1, 2;
CREATE TRIGGER photo_months_ai AFTER INSERT ON photos
WHEN new.taken_at > '' AND new.trashed_at IS NULL BEGIN
  INSERT INTO photo_months(owner, month, n)
  VALUES (coalesce(new.owner_id, 0), substr(new.taken_at, 1, 7), 1)
  ON CONFLICT(owner, month) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER photo_months_ad AFTER DELETE ON photos
WHEN old.taken_at > '' AND old.trashed_at IS NULL BEGIN
  UPDATE photo_months SET n = n - 1
  WHERE owner = coalesce(old.owner_id, 0) AND month = substr(old.taken_at, 1, 7);
  DELETE FROM photo_months
  WHERE owner = coalesce(old.owner_id, 0) AND month = substr(old.taken_at, 1, 7) AND n <= 0;
END;
CREATE TRIGGER photo_months_au AFTER UPDATE OF taken_at, trashed_at, owner_id ON photos
WHEN (old.taken_at > '' AND old.trashed_at IS NULL) OR (new.taken_at > '' AND new.trashed_at IS NULL) BEGIN
  UPDATE photo_months SET n = n - 1
  WHERE old.taken_at > '' AND old.trashed_at IS NULL
    AND owner = coalesce(old.owner_id, 0) AND month = substr(old.taken_at, 1, 7);
  DELETE FROM photo_months
  WHERE owner = coalesce(old.owner_id, 0) AND month = substr(old.taken_at, 1, 7) AND n <= 0;
  INSERT INTO photo_months(owner, month, n)
  SELECT coalesce(new.owner_id, 0), substr(new.taken_at, 1, 7), 1
  WHERE new.taken_at > '' AND new.trashed_at IS NULL
  ON CONFLICT(owner, month) DO UPDATE SET n = n + 1;
END;
)sql"},
};

// The highest version above. Versions need not be contiguous while features are
// built on separate branches: each migration is applied when its own row is
// missing from schema_version, in ascending order.
constexpr int kLatestVersion = [] {
  int v = 0;
  for (const Migration& m : kMigrations) v = m.version > v ? m.version : v;
  return v;
}();

}  // namespace

int Store::latest_schema_version() { return kLatestVersion; }

Store::Store(Db db) : db_(std::move(db)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& path, const StoreOptions& opt) {
  SA_ASSIGN_OR_RETURN(Db db, Db::open(path, opt.busy_timeout_ms));
  std::unique_ptr<Store> store(new Store(std::move(db)));
  SA_RETURN_IF_ERROR(store->migrate(opt.migrate_up_to).with_context("database '" + path + "'"));
  if (opt.recover_jobs) {
    SA_ASSIGN_OR_RETURN(int64_t n, store->reset_running_jobs());
    if (n > 0) spdlog::info("store: {} interrupted job(s) put back to pending", n);
  }
  return store;
}

Status Store::migrate(int up_to) {
  std::lock_guard lock(mu_);
  SA_RETURN_IF_ERROR(db_.exec(
      "CREATE TABLE IF NOT EXISTS schema_version("
      "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"));
  for (const Migration& m : kMigrations) {
    if (up_to > 0 && m.version > up_to) break;
    // PRAGMA foreign_keys is a no-op inside a transaction: set it before.
    if (m.rebuilds_tables) SA_RETURN_IF_ERROR(db_.exec("PRAGMA foreign_keys=OFF"));
    struct ForeignKeysBackOn {
      Db& db;
      bool on;
      ~ForeignKeysBackOn() {
        if (on) (void)db.exec("PRAGMA foreign_keys=ON");
      }
    } back_on{db_, m.rebuilds_tables};
    // Re-read inside the transaction: another process may have migrated
    // between our check and our BEGIN IMMEDIATE.
    SA_ASSIGN_OR_RETURN(Transaction tx, Transaction::begin(db_));
    SA_ASSIGN_OR_RETURN(Stmt q, db_.prepare("SELECT coalesce(max(version), 0) FROM schema_version"));
    SA_ASSIGN_OR_RETURN(bool row, q.step());
    int64_t current = row ? q.column_int64(0) : 0;
    q = Stmt();
    if (current > kLatestVersion) {
      return Status::Corruption("schema version " + std::to_string(current) +
                                " is newer than this program supports (" +
                                std::to_string(kLatestVersion) + ")");
    }
    SA_ASSIGN_OR_RETURN(Stmt has, db_.prepare("SELECT 1 FROM schema_version WHERE version = ?"));
    has.bind(1, static_cast<int64_t>(m.version));
    SA_ASSIGN_OR_RETURN(bool applied, has.step());
    has = Stmt();
    if (applied) continue;  // tx rolls back: nothing was written
    SA_RETURN_IF_ERROR(db_.exec(m.sql).with_context("migration " + std::to_string(m.version)));
    if (m.apply) SA_RETURN_IF_ERROR(m.apply(db_).with_context("migration " + std::to_string(m.version)));
    if (m.rebuilds_tables) {
      SA_ASSIGN_OR_RETURN(Stmt fk, db_.prepare("PRAGMA foreign_key_check"));
      SA_ASSIGN_OR_RETURN(bool broken, fk.step());
      if (broken) {
        return Status::Corruption("migration " + std::to_string(m.version) +
                                  " left a foreign key broken in table " + fk.column_text(0));
      }
    }
    SA_ASSIGN_OR_RETURN(Stmt ins, db_.prepare(
        "INSERT INTO schema_version(version, applied_at) "
        "VALUES (?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))"));
    ins.bind(1, static_cast<int64_t>(m.version));
    SA_RETURN_IF_ERROR(ins.run());
    ins = Stmt();
    SA_RETURN_IF_ERROR(tx.commit());
    spdlog::info("store: applied schema migration {}", m.version);
  }
  return Status::OK();
}

Result<int64_t> Store::data_version() {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("PRAGMA data_version"));
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  return row ? st.column_int64(0) : int64_t{0};
}

int Store::schema_version() {
  std::lock_guard lock(mu_);
  auto st = db_.prepare("SELECT coalesce(max(version), 0) FROM schema_version");
  if (!st.ok()) return 0;
  auto row = st->step();
  return row.ok() && *row ? static_cast<int>(st->column_int64(0)) : 0;
}

}  // namespace sa
