// Store: the vectors table (float32 little-endian BLOBs) and its fingerprint.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "store/store.h"
#include "store/store_internal.h"

namespace sa {

// The BLOB layout is float32 LE; on a little-endian host that is memcpy.
static_assert(std::endian::native == std::endian::little, "vectors BLOB codec assumes little-endian");

namespace {

Status check_kind(std::string_view kind) {
  if (!store_internal::valid_vector_kind(kind))
    return Status::InvalidArgument("unknown vector kind '" + std::string(kind) + "'");
  return Status::OK();
}

}  // namespace

Status Store::put_vector(int64_t photo_id, std::string_view kind, std::string_view model,
                         std::span<const float> v) {
  SA_RETURN_IF_ERROR(check_kind(kind));
  if (v.empty()) return Status::InvalidArgument("empty vector");
  for (float x : v)
    if (!std::isfinite(x)) return Status::InvalidArgument("vector has a non-finite component");
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "INSERT INTO vectors(photo_id, kind, model, dim, data) VALUES (?,?,?,?,?) "
      "ON CONFLICT(photo_id, kind) DO UPDATE SET model = excluded.model, dim = excluded.dim, "
      "data = excluded.data"));
  st.bind(1, photo_id).bind(2, kind).bind(3, model).bind(4, static_cast<int64_t>(v.size()));
  st.bind_blob(5, v.data(), v.size_bytes());
  Status s = st.run();
  // The foreign key is the existence check: no extra SELECT per write.
  if (!s.ok() && s.code() == StatusCode::kInvalidArgument &&
      s.message().find("FOREIGN KEY") != std::string::npos)
    return Status::NotFound("photo " + std::to_string(photo_id) + " not found");
  return s;
}

namespace {

// Columns model, dim, data starting at `col` -> a vector; Corruption if the
// BLOB does not hold dim floats.
Result<StoredVector> read_vector(const Stmt& st, int col, int64_t photo_id) {
  StoredVector out;
  out.model = st.column_text(col);
  int64_t dim = st.column_int64(col + 1);
  auto blob = st.column_blob(col + 2);
  if (dim <= 0 || blob.size() != static_cast<size_t>(dim) * sizeof(float))
    return Status::Corruption("vector of photo " + std::to_string(photo_id) + " has " +
                              std::to_string(blob.size()) + " bytes for dim " + std::to_string(dim));
  out.data.resize(static_cast<size_t>(dim));
  std::memcpy(out.data.data(), blob.data(), blob.size());
  return out;
}

}  // namespace

Result<StoredVector> Store::get_vector(int64_t photo_id, std::string_view kind) {
  SA_RETURN_IF_ERROR(check_kind(kind));
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT model, dim, data FROM vectors WHERE photo_id = ? AND kind = ?"));
  st.bind(1, photo_id).bind(2, kind);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  if (!row)
    return Status::NotFound("no '" + std::string(kind) + "' vector for photo " + std::to_string(photo_id));
  return read_vector(st, 0, photo_id);
}

Result<std::unordered_map<int64_t, StoredVector>> Store::get_vectors(std::span<const int64_t> ids,
                                                                     std::string_view kind) {
  SA_RETURN_IF_ERROR(check_kind(kind));
  constexpr size_t kChunk = 500;  // bound variables per statement
  std::unordered_map<int64_t, StoredVector> out;
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < ids.size(); i += kChunk) {
    const size_t n = std::min(kChunk, ids.size() - i);
    std::string sql = "SELECT photo_id, model, dim, data FROM vectors WHERE kind = ?1 AND photo_id IN (";
    for (size_t j = 0; j < n; ++j) sql += j ? ",?" : "?";
    sql += ")";
    SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(sql));
    st.bind(1, kind);
    for (size_t j = 0; j < n; ++j) st.bind(static_cast<int>(j + 2), ids[i + j]);
    while (true) {
      SA_ASSIGN_OR_RETURN(bool row, st.step());
      if (!row) break;
      const int64_t id = st.column_int64(0);
      // A row whose BLOB does not hold `dim` floats is left out, like a
      // missing one (get_vector reports it as Corruption).
      Result<StoredVector> v = read_vector(st, 1, id);
      if (v.ok()) out.insert_or_assign(id, std::move(v).value());
    }
  }
  return out;
}

Status Store::delete_vector(int64_t photo_id, std::string_view kind) {
  SA_RETURN_IF_ERROR(check_kind(kind));
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("DELETE FROM vectors WHERE photo_id = ? AND kind = ?"));
  st.bind(1, photo_id).bind(2, kind);
  return st.run();
}

Result<int64_t> Store::delete_vectors_not_of_model(std::string_view kind, std::string_view model) {
  SA_RETURN_IF_ERROR(check_kind(kind));
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare("DELETE FROM vectors WHERE kind = ? AND model <> ?"));
  st.bind(1, kind).bind(2, model);
  SA_RETURN_IF_ERROR(st.run());
  return static_cast<int64_t>(db_.changes());
}

Result<std::vector<int64_t>> Store::photo_ids_missing_vector(std::string_view kind, std::string_view model) {
  SA_RETURN_IF_ERROR(check_kind(kind));
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT p.id FROM photos p WHERE NOT EXISTS (SELECT 1 FROM vectors v "
      "WHERE v.photo_id = p.id AND v.kind = ? AND v.model = ?) ORDER BY p.id"));
  st.bind(1, kind).bind(2, model);
  return store_internal::column_ids(st);
}

Result<std::vector<int64_t>> Store::photo_ids_with_vector(std::string_view kind, std::string_view model) {
  SA_RETURN_IF_ERROR(check_kind(kind));
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT photo_id FROM vectors WHERE kind = ? AND model = ? ORDER BY photo_id"));
  st.bind(1, kind).bind(2, model);
  return store_internal::column_ids(st);
}

Result<VectorFingerprint> Store::vector_fingerprint(std::string_view kind, std::string_view model) {
  SA_RETURN_IF_ERROR(check_kind(kind));
  std::lock_guard lock(mu_);
  // One read transaction, so the counts and the generation describe the same state.
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT count(*), coalesce(max(photo_id), 0), coalesce(sum(photo_id), 0), "
      "(SELECT generation FROM vector_generation WHERE kind = ?1) "
      "FROM vectors WHERE kind = ?1 AND model = ?2"));
  st.bind(1, kind).bind(2, model);
  SA_ASSIGN_OR_RETURN(bool row, st.step());
  VectorFingerprint fp;
  if (row) {
    fp.count = st.column_int64(0);
    fp.max_id = st.column_int64(1);
    fp.id_sum = st.column_int64(2);
    fp.generation = st.column_int64(3);
  }
  return fp;
}

Status Store::for_each_vector(
    std::string_view kind, std::string_view model, int dim,
    const std::function<Status(std::span<const int64_t>, std::span<const float>)>& fn, int batch) {
  SA_RETURN_IF_ERROR(check_kind(kind));
  if (dim <= 0) return Status::InvalidArgument("dim must be positive");
  if (batch <= 0) batch = 4096;
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT photo_id, data FROM vectors WHERE kind = ? AND model = ? AND dim = ? ORDER BY photo_id"));
  st.bind(1, kind).bind(2, model).bind(3, static_cast<int64_t>(dim));
  std::vector<int64_t> ids;
  std::vector<float> data;
  ids.reserve(static_cast<size_t>(batch));
  data.reserve(static_cast<size_t>(batch) * static_cast<size_t>(dim));
  const size_t row_bytes = static_cast<size_t>(dim) * sizeof(float);
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (row) {
      auto blob = st.column_blob(1);
      if (blob.size() != row_bytes)
        return Status::Corruption("vector of photo " + std::to_string(st.column_int64(0)) +
                                  " has " + std::to_string(blob.size()) + " bytes for dim " +
                                  std::to_string(dim));
      ids.push_back(st.column_int64(0));
      size_t off = data.size();
      data.resize(off + static_cast<size_t>(dim));
      std::memcpy(data.data() + off, blob.data(), row_bytes);
    }
    if ((!row && !ids.empty()) || ids.size() == static_cast<size_t>(batch)) {
      SA_RETURN_IF_ERROR(fn(ids, data));
      ids.clear();
      data.clear();
    }
    if (!row) break;
  }
  return Status::OK();
}

Result<int64_t> Store::read_vectors(std::string_view kind, std::string_view model, int dim,
                                    int64_t after_id, int limit, std::vector<int64_t>* ids,
                                    std::vector<float>* data) {
  SA_RETURN_IF_ERROR(check_kind(kind));
  if (dim <= 0) return Status::InvalidArgument("dim must be positive");
  if (limit <= 0) return int64_t{0};
  std::lock_guard lock(mu_);
  SA_ASSIGN_OR_RETURN(Stmt st, db_.prepare(
      "SELECT photo_id, data FROM vectors WHERE kind = ? AND model = ? AND photo_id > ? AND dim = ? "
      "ORDER BY photo_id LIMIT ?"));
  st.bind(1, kind).bind(2, model).bind(3, after_id).bind(4, static_cast<int64_t>(dim)).bind(5, static_cast<int64_t>(limit));
  const size_t row_bytes = static_cast<size_t>(dim) * sizeof(float);
  int64_t n = 0;
  while (true) {
    SA_ASSIGN_OR_RETURN(bool row, st.step());
    if (!row) break;
    auto blob = st.column_blob(1);
    if (blob.size() != row_bytes)
      return Status::Corruption("vector of photo " + std::to_string(st.column_int64(0)) + " has " +
                                std::to_string(blob.size()) + " bytes for dim " + std::to_string(dim));
    ids->push_back(st.column_int64(0));
    size_t off = data->size();
    data->resize(off + static_cast<size_t>(dim));
    std::memcpy(data->data() + off, blob.data(), row_bytes);
    ++n;
  }
  return n;
}

}  // namespace sa
