// Store: the timeline's views of the photos table (sorted pages with a keyset
// cursor, per-month counts) and taken_at updates.
#include <algorithm>
#include <charconv>

#include "store/store.h"
#include "store/store_internal.h"

namespace sa {

namespace {

// " AND owner_id = N" for a user's scope, "" for everyone's.
std::string owner_clause(const OwnerScope& scope) {
  return scope.everyone() ? std::string() : " AND owner_id = " + std::to_string(scope.owner_id);
}

bool parse_id(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && *out > 0;
}

// A cursor names the last photo of a page: "<taken_at>|<id>" (sort=taken) or
// "<id>" (sort=added).
struct Cursor {
  std::string taken_at;
  int64_t id = 0;
};

Result<Cursor> parse_cursor(const std::string& s, bool by_taken) {
  Cursor c;
  if (by_taken) {
    const size_t bar = s.rfind('|');
    if (bar == std::string::npos || !parse_id(std::string_view(s).substr(bar + 1), &c.id))
      return Status::InvalidArgument("malformed cursor");
    c.taken_at = s.substr(0, bar);
  } else if (!parse_id(s, &c.id)) {
    return Status::InvalidArgument("malformed cursor");
  }
  return c;
}

}  // namespace

Result<PhotoPage> Store::query_photos(const PhotoQuery& q) {
  const bool by_taken = q.sort == "taken";
  if (!by_taken && q.sort != "added")
    return Status::InvalidArgument("sort must be 'taken' or 'added'");
  Cursor cur;
  if (!q.cursor.empty()) {
    SA_ASSIGN_OR_RETURN(cur, parse_cursor(q.cursor, by_taken));
  }

  PhotoPage out;
  out.per_page = std::clamp(q.limit, 1, 1000);
  const int offset = q.cursor.empty() ? std::max(q.offset, 0) : 0;
  out.page = offset / out.per_page + 1;

  // Date range: inclusive prefixes. '~' sorts after every character a taken_at
  // holds (digits, '-', ':', 'T', '+', 'Z'), so taken_at < date_to || '~' keeps
  // everything that starts with date_to; both bounds can use the index.
  // Never the trash; favourites / one album when asked.
  // One album: all its photos, whoever owns them (the caller has checked that
  // the scope may see the album); otherwise the scope's own photos.
  std::string where = "trashed_at IS NULL";
  if (q.filter.album_id <= 0) where += owner_clause(q.filter.scope);
  if (!q.date_from.empty()) where += " AND taken_at >= ?1";
  if (!q.date_to.empty()) where += " AND taken_at < ?2";
  if (q.filter.favorite_only) where += " AND favorite = 1";
  if (q.filter.album_id > 0) where += " AND id IN (SELECT photo_id FROM album_photos WHERE album_id = ?7)";
  const std::string to_bound = q.date_to + "~";
  auto bind_dates = [&](Stmt& st) {
    if (!q.date_from.empty()) st.bind(1, q.date_from);
    if (!q.date_to.empty()) st.bind(2, to_bound);
    if (q.filter.album_id > 0) st.bind(7, q.filter.album_id);
  };

  std::lock_guard lock(mu_);
  if (q.filter.album_id > 0) {
    SA_ASSIGN_OR_RETURN(Stmt a, db_.prepare("SELECT 1 FROM albums WHERE id = ?"));
    a.bind(1, q.filter.album_id);
    SA_ASSIGN_OR_RETURN(bool found, a.step());
    if (!found) return Status::NotFound("album " + std::to_string(q.filter.album_id) + " not found");
  }
  SA_ASSIGN_OR_RETURN(Stmt c, db_.prepare("SELECT count(*) FROM photos WHERE " + where));
  bind_dates(c);
  SA_ASSIGN_OR_RETURN(bool crow, c.step());
  out.total = crow ? c.column_int64(0) : 0;

  const bool newer = q.newer && !q.cursor.empty();
  std::string sql = std::string("SELECT ") + store_internal::kPhotoColumns + " FROM photos WHERE " + where;
  if (!q.cursor.empty()) {
    const char* cmp = newer ? ">" : "<";
    sql += by_taken ? std::string(" AND (taken_at, id) ") + cmp + " (?3, ?4)"
                    : std::string(" AND id ") + cmp + " ?4";
  }
  const char* dir = newer ? "ASC" : "DESC";
  sql += by_taken ? std::string(" ORDER BY taken_at ") + dir + ", id " + dir
                  : std::string(" ORDER BY id ") + dir;
  sql += " LIMIT ?5 OFFSET ?6";
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(sql));
  bind_dates(st);
  if (!q.cursor.empty()) {
    if (by_taken) st.bind(3, cur.taken_at);
    st.bind(4, cur.id);
  }
  // One more than asked: tells whether a next page exists without a second query.
  st.bind(5, static_cast<int64_t>(out.per_page) + 1);
  st.bind(6, static_cast<int64_t>(offset));
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.items.push_back(read_photo_row(st));
  }
  const bool more = static_cast<int>(out.items.size()) > out.per_page;
  if (more) out.items.resize(out.per_page);
  if (newer) std::reverse(out.items.begin(), out.items.end());  // newest first, as always
  if (more) {
    const PhotoInfo& edge = newer ? out.items.front() : out.items.back();
    out.next_cursor = by_taken ? edge.taken_at + "|" + std::to_string(edge.id) : std::to_string(edge.id);
  }
  return out;
}

// From the counts the triggers of migration 9 keep (photo_months): O(months),
// not O(photos). Everyone's scope sums the owners of each month.
Result<std::vector<MonthCount>> Store::timeline(const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(
      Stmt st, db_.prepare(scope.everyone()
                               ? "SELECT month, sum(n) FROM photo_months GROUP BY month HAVING sum(n) > 0 "
                                 "ORDER BY month DESC"
                               : "SELECT month, n FROM photo_months WHERE owner = ?1 AND n > 0 ORDER BY month DESC"));
  if (!scope.everyone()) st.bind(1, scope.owner_id);
  std::vector<MonthCount> out;
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back({st.column_text(0), st.column_int64(1)});
  }
  return out;
}

Result<std::vector<int64_t>> Store::photo_ids_matching(const PhotoFilter& f, std::string_view date_from,
                                                       std::string_view date_to, std::string_view folder,
                                                       int64_t limit) {
  std::string where = "trashed_at IS NULL" + owner_clause(f.scope);
  if (!date_from.empty()) where += " AND taken_at >= ?1";
  if (!date_to.empty()) where += " AND taken_at < ?2";  // date_to + '~', as query_photos
  if (f.favorite_only) where += " AND favorite = 1";
  if (!folder.empty()) where += " AND (folder = ?3 OR substr(folder, 1, length(?3) + 1) = ?3 || '/')";
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("SELECT id FROM photos WHERE " + where + " LIMIT ?4"));
  if (!date_from.empty()) st.bind(1, date_from);
  if (!date_to.empty()) st.bind(2, std::string(date_to) + "~");
  if (!folder.empty()) st.bind(3, folder);
  st.bind(4, std::max<int64_t>(limit, 0) + 1);
  std::vector<int64_t> out;
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.push_back(st.column_int64(0));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::pair<std::string, int64_t>>> Store::folders(const OwnerScope& scope) {
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT folder, count(*) FROM photos WHERE folder > '' AND trashed_at IS NULL" + owner_clause(scope) +
      " GROUP BY folder ORDER BY folder"));
  std::vector<std::pair<std::string, int64_t>> out;
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    out.emplace_back(st.column_text(0), st.column_int64(1));
  }
  return out;
}

Status Store::set_taken_at(int64_t id, std::string_view taken_at, std::string_view source) {
  if (!store_internal::one_of(source, {"exif", "file", "upload"}))
    return Status::InvalidArgument("unknown taken_at source '" + std::string(source) + "'");
  if (taken_at.empty()) return Status::InvalidArgument("empty taken_at");
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "UPDATE photos SET taken_at = ?, taken_at_source = ? WHERE id = ?"));
  st.bind(1, taken_at).bind(2, source).bind(3, id);
  SA_RETURN_IF_ERROR(st.run());
  if (db_.changes() == 0) return Status::NotFound("photo " + std::to_string(id) + " not found");
  return Status::OK();
}

}  // namespace sa
