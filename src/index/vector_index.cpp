#include "index/vector_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <unordered_set>

#include "core/file_util.h"
#include "core/sha256.h"
#include "model/ops.h"

namespace sa {

namespace {

constexpr char kMagic[8] = {'S', 'A', 'I', 'D', 'X', '0', '0', '1'};
constexpr int kFormatVersion = 1;
// A header is a few hundred bytes; anything larger is not ours.
constexpr uint32_t kMaxHeaderBytes = 1 << 16;

// Reads the FAISS payload straight out of the mapped file: no second copy of a
// possibly large index. Short reads return fewer items; FAISS turns that into
// an exception, which load() reports as Corruption.
struct SpanReader : faiss::IOReader {
  SpanReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    if (size == 0 || nitems == 0) return 0;
    size_t avail = (size_ - pos_) / size;
    size_t n = std::min(avail, nitems);
    std::memcpy(ptr, data_ + pos_, n * size);
    pos_ += n * size;
    return n;
  }
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Normalises rows in place; false if a row is zero or not finite.
bool normalise_rows(std::span<float> data, int dim, size_t* bad_row) {
  size_t n = data.size() / static_cast<size_t>(dim);
  for (size_t i = 0; i < n; ++i) {
    float* row = data.data() + i * static_cast<size_t>(dim);
    double ss = 0;
    for (int j = 0; j < dim; ++j) ss += static_cast<double>(row[j]) * row[j];
    if (!std::isfinite(ss) || ss <= 0) {
      if (bad_row) *bad_row = i;
      return false;
    }
    float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (int j = 0; j < dim; ++j) row[j] *= inv;
  }
  return true;
}

std::string faiss_error(const char* what, const std::exception& e) {
  return std::string(what) + ": " + e.what();
}

}  // namespace

struct VectorIndex::Impl {
  // IndexIDMap2 owns the flat index (own_fields) and keeps rev_map (id ->
  // position), which makes contains() and replacement cheap.
  std::unique_ptr<faiss::IndexIDMap2> map;
};

const char* index_load_outcome_name(IndexLoadOutcome o) {
  switch (o) {
    case IndexLoadOutcome::kLoaded: return "loaded";
    case IndexLoadOutcome::kRebuiltMissing: return "rebuilt_missing";
    case IndexLoadOutcome::kRebuiltCorrupt: return "rebuilt_corrupt";
    case IndexLoadOutcome::kRebuiltStale: return "rebuilt_stale";
  }
  return "unknown";
}

VectorIndex::VectorIndex(int dim) : dim_(dim > 0 ? dim : 1), impl_(std::make_unique<Impl>()) {
  auto flat = std::make_unique<faiss::IndexFlatIP>(dim_);
  impl_->map = std::make_unique<faiss::IndexIDMap2>(flat.get());
  flat.release();
  impl_->map->own_fields = true;
}

VectorIndex::~VectorIndex() = default;

int64_t VectorIndex::size() const {
  std::shared_lock lock(mu_);
  return impl_->map->ntotal;
}

bool VectorIndex::contains(int64_t id) const {
  std::shared_lock lock(mu_);
  return impl_->map->rev_map.count(id) > 0;
}

std::vector<int64_t> VectorIndex::ids() const {
  std::shared_lock lock(mu_);
  std::vector<int64_t> out(impl_->map->id_map.begin(), impl_->map->id_map.end());
  std::sort(out.begin(), out.end());
  return out;
}

Status VectorIndex::add(std::span<const int64_t> ids, std::span<const float> vectors) {
  std::unique_lock lock(mu_);
  return add_locked(ids, vectors);
}

Status VectorIndex::add_locked(std::span<const int64_t> ids, std::span<const float> vectors) {
  if (vectors.size() != ids.size() * static_cast<size_t>(dim_))
    return Status::InvalidArgument("index add: " + std::to_string(vectors.size()) + " floats for " +
                                   std::to_string(ids.size()) + " ids of dim " + std::to_string(dim_));
  if (ids.empty()) return Status::OK();
  std::unordered_set<int64_t> seen;
  std::vector<faiss::Index::idx_t> existing;
  for (int64_t id : ids) {
    if (!seen.insert(id).second)
      return Status::InvalidArgument("index add: id " + std::to_string(id) + " twice in one batch");
    if (impl_->map->rev_map.count(id)) existing.push_back(id);
  }
  std::vector<float> data(vectors.begin(), vectors.end());
  size_t bad = 0;
  if (!normalise_rows(data, dim_, &bad))
    return Status::InvalidArgument("index add: vector for id " + std::to_string(ids[bad]) +
                                   " is zero or not finite");
  std::vector<faiss::Index::idx_t> fids(ids.begin(), ids.end());
  try {
    if (!existing.empty()) {
      // Replace, never duplicate: a re-embedded photo must appear once.
      faiss::IDSelectorBatch sel(existing.size(), existing.data());
      impl_->map->remove_ids(sel);
    }
    impl_->map->add_with_ids(static_cast<faiss::Index::idx_t>(ids.size()), data.data(), fids.data());
  } catch (const std::exception& e) {
    return Status::Internal(faiss_error("faiss add", e));
  }
  return Status::OK();
}

Result<int64_t> VectorIndex::remove(std::span<const int64_t> ids) {
  std::unique_lock lock(mu_);
  std::vector<faiss::Index::idx_t> present;
  for (int64_t id : ids)
    if (impl_->map->rev_map.count(id)) present.push_back(id);
  if (present.empty()) return int64_t{0};
  try {
    faiss::IDSelectorBatch sel(present.size(), present.data());
    return static_cast<int64_t>(impl_->map->remove_ids(sel));
  } catch (const std::exception& e) {
    return Status::Internal(faiss_error("faiss remove", e));
  }
}

void VectorIndex::clear() {
  std::unique_lock lock(mu_);
  impl_->map->reset();
}

Result<std::vector<SearchResult>> VectorIndex::search(std::span<const float> query, int k) const {
  if (query.size() != static_cast<size_t>(dim_))
    return Status::InvalidArgument("query has " + std::to_string(query.size()) +
                                   " components, index dim is " + std::to_string(dim_));
  std::vector<SearchResult> out;
  if (k <= 0) return out;
  std::vector<float> q(query.begin(), query.end());
  if (!normalise_rows(q, dim_, nullptr)) return Status::InvalidArgument("query vector is zero or not finite");

  std::shared_lock lock(mu_);
  int64_t n = impl_->map->ntotal;
  int64_t kk = std::min<int64_t>(k, n);
  if (kk == 0) return out;
  // One query against the flat storage: the inner products are a matrix-vector
  // product, done by the engine's few-row kernel on both cores (Debian's FAISS
  // 1.7.3 is built without AVX2 and measured 2-2.5x slower at 100k x 512 here;
  // OpenBLAS's sgemv is as fast but leaves its pool spinning against the next
  // query, see matmul_xwt), then a partial sort. FAISS still owns the vectors,
  // ids and persistence.
  const auto* flat = dynamic_cast<const faiss::IndexFlatIP*>(impl_->map->index);
  if (flat != nullptr && static_cast<int64_t>(impl_->map->id_map.size()) == n) {
    std::vector<float> scores(static_cast<size_t>(n));
    matmul_xwt(q.data(), 1, flat->get_xb(), static_cast<int>(n), dim_, scores.data());
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    auto better = [&](int64_t a, int64_t b) {
      return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
    };
    std::partial_sort(order.begin(), order.begin() + kk, order.end(), better);
    out.reserve(static_cast<size_t>(kk));
    for (int64_t i = 0; i < kk; ++i) out.push_back({impl_->map->id_map[order[i]], scores[order[i]]});
    return out;
  }
  std::vector<float> dist(static_cast<size_t>(kk));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(kk));
  try {
    impl_->map->search(1, q.data(), kk, dist.data(), labels.data());
  } catch (const std::exception& e) {
    return Status::Internal(faiss_error("faiss search", e));
  }
  out.reserve(static_cast<size_t>(kk));
  for (int64_t i = 0; i < kk; ++i)
    if (labels[i] >= 0) out.push_back({labels[i], dist[i]});
  return out;
}

Status VectorIndex::save(const std::string& path, const IndexMeta& meta) const {
  if (meta.dim != dim_)
    return Status::InvalidArgument("index save: meta dim " + std::to_string(meta.dim) +
                                   " != index dim " + std::to_string(dim_));
  faiss::VectorIOWriter writer;
  {
    std::shared_lock lock(mu_);
    try {
      faiss::write_index(impl_->map.get(), &writer);
    } catch (const std::exception& e) {
      return Status::Internal(faiss_error("faiss write_index", e));
    }
  }
  std::string_view payload(reinterpret_cast<const char*>(writer.data.data()), writer.data.size());
  nlohmann::json h = {
      {"version", kFormatVersion},
      {"model", meta.model},
      {"dim", meta.dim},
      {"count", meta.fingerprint.count},
      {"max_id", meta.fingerprint.max_id},
      {"id_sum", meta.fingerprint.id_sum},
      {"generation", meta.fingerprint.generation},
      {"payload_bytes", payload.size()},
      {"payload_sha256", sha256_hex(payload)},
  };
  std::string header = h.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string file;
  file.reserve(sizeof(kMagic) + 4 + header.size() + payload.size());
  file.append(kMagic, sizeof(kMagic));
  uint32_t hlen = static_cast<uint32_t>(header.size());
  for (int i = 0; i < 4; ++i) file.push_back(static_cast<char>((hlen >> (8 * i)) & 0xff));
  file += header;
  file += payload;
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (!parent.empty()) SA_RETURN_IF_ERROR(make_dirs(parent));
  return write_file_atomic(path, file).with_context("saving index '" + path + "'");
}

Status VectorIndex::save(const std::string& path, Store& store, const std::string& kind,
                         const std::string& model) const {
  SA_ASSIGN_OR_RETURN(VectorFingerprint fp, store.vector_fingerprint(kind, model));
  return save(path, IndexMeta{model, dim_, fp});
}

Result<std::pair<std::unique_ptr<VectorIndex>, IndexMeta>> VectorIndex::load(const std::string& path) {
  SA_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption("index file '" + path + "': " + why);
  };
  const uint8_t* p = file.data();
  size_t size = file.size();
  if (size < sizeof(kMagic) + 4 || std::memcmp(p, kMagic, sizeof(kMagic)) != 0)
    return corrupt("bad magic (not a smart-album index)");
  uint32_t hlen = 0;
  for (int i = 0; i < 4; ++i) hlen |= static_cast<uint32_t>(p[sizeof(kMagic) + i]) << (8 * i);
  size_t hstart = sizeof(kMagic) + 4;
  if (hlen == 0 || hlen > kMaxHeaderBytes || hlen > size - hstart) return corrupt("bad header length");
  nlohmann::json h = nlohmann::json::parse(p + hstart, p + hstart + hlen, nullptr, false);
  if (!h.is_object()) return corrupt("header is not JSON");

  IndexMeta meta;
  size_t payload_bytes = 0;
  std::string want_sha;
  try {
    if (h.at("version").get<int>() != kFormatVersion) return corrupt("unsupported version");
    meta.model = h.at("model").get<std::string>();
    meta.dim = h.at("dim").get<int>();
    meta.fingerprint.count = h.at("count").get<int64_t>();
    meta.fingerprint.max_id = h.at("max_id").get<int64_t>();
    meta.fingerprint.id_sum = h.at("id_sum").get<int64_t>();
    meta.fingerprint.generation = h.at("generation").get<int64_t>();
    payload_bytes = h.at("payload_bytes").get<size_t>();
    want_sha = h.at("payload_sha256").get<std::string>();
  } catch (const std::exception& e) {
    return corrupt(std::string("bad header: ") + e.what());
  }
  if (meta.dim <= 0) return corrupt("bad dim");
  const uint8_t* payload = p + hstart + hlen;
  size_t have = size - hstart - hlen;
  if (have != payload_bytes)
    return corrupt("payload is " + std::to_string(have) + " bytes, header says " +
                   std::to_string(payload_bytes) + " (truncated?)");
  // The checksum is what makes FAISS safe to call: its reader trusts the
  // sizes inside the payload, and a flipped byte could ask for a huge allocation.
  if (sha256_hex(std::string_view(reinterpret_cast<const char*>(payload), have)) != want_sha)
    return corrupt("payload checksum mismatch");

  std::unique_ptr<faiss::Index> raw;
  try {
    SpanReader reader(payload, have);
    raw.reset(faiss::read_index(&reader));
  } catch (const std::exception& e) {
    return corrupt(faiss_error("faiss read_index", e));
  }
  auto* map = dynamic_cast<faiss::IndexIDMap2*>(raw.get());
  if (!map || !dynamic_cast<faiss::IndexFlatIP*>(map->index))
    return corrupt("not an IndexIDMap2 over IndexFlatIP");
  if (map->d != meta.dim) return corrupt("faiss dim " + std::to_string(map->d) + " != header dim");
  raw.release();

  auto index = std::make_unique<VectorIndex>(meta.dim);
  index->impl_->map.reset(map);
  return std::make_pair(std::move(index), std::move(meta));
}

Result<std::unique_ptr<VectorIndex>> VectorIndex::load_or_rebuild(
    const std::string& path, Store& store, const std::string& kind, const std::string& model, int dim,
    IndexLoadOutcome* outcome) {
  if (dim <= 0) return Status::InvalidArgument("index dim must be positive");
  // Read before rebuilding: if vectors change during the rebuild, the saved
  // fingerprint is older than the content and the next start rebuilds again --
  // the safe direction.
  SA_ASSIGN_OR_RETURN(VectorFingerprint fp, store.vector_fingerprint(kind, model));

  IndexLoadOutcome result;
  std::string why;
  if (!file_exists(path)) {
    result = IndexLoadOutcome::kRebuiltMissing;
    why = "no index file";
  } else {
    auto loaded = load(path);
    if (!loaded.ok()) {
      result = IndexLoadOutcome::kRebuiltCorrupt;
      why = loaded.status().to_string();
    } else {
      auto& [index, meta] = *loaded;
      if (meta.model != model || meta.dim != dim) {
        result = IndexLoadOutcome::kRebuiltStale;
        why = "file is for model '" + meta.model + "' dim " + std::to_string(meta.dim);
      } else if (meta.fingerprint != fp || index->size() != fp.count) {
        result = IndexLoadOutcome::kRebuiltStale;
        why = "database changed since the index was saved (file: " +
              std::to_string(meta.fingerprint.count) + " vectors, generation " +
              std::to_string(meta.fingerprint.generation) + "; database: " + std::to_string(fp.count) +
              " vectors, generation " + std::to_string(fp.generation) + ")";
      } else {
        spdlog::info("index {}: loaded {} '{}' vectors from {}", kind, index->size(), model, path);
        if (outcome) *outcome = IndexLoadOutcome::kLoaded;
        return std::move(index);
      }
    }
  }

  spdlog::warn("index {}: rebuilding from the database ({}): {}", kind, index_load_outcome_name(result), why);
  auto index = std::make_unique<VectorIndex>(dim);
  int64_t skipped = 0;
  Status s = store.for_each_vector(kind, model, dim,
      [&](std::span<const int64_t> ids, std::span<const float> data) -> Status {
        std::unique_lock lock(index->mu_);
        Status st = index->add_locked(ids, data);
        if (st.ok()) return st;
        // A zero vector in one row must not cost the whole index: add row by row.
        for (size_t i = 0; i < ids.size(); ++i) {
          auto row = data.subspan(i * static_cast<size_t>(dim), static_cast<size_t>(dim));
          if (!index->add_locked(ids.subspan(i, 1), row).ok()) ++skipped;
        }
        return Status::OK();
      });
  SA_RETURN_IF_ERROR(s.with_context("rebuilding index " + kind));
  if (skipped > 0) spdlog::warn("index {}: skipped {} unusable vector(s)", kind, skipped);
  spdlog::info("index {}: rebuilt with {} '{}' vectors", kind, index->size(), model);

  Status saved = index->save(path, IndexMeta{model, dim, fp});
  if (!saved.ok()) spdlog::warn("index {}: could not save: {}", kind, saved.to_string());
  if (outcome) *outcome = result;
  return index;
}

}  // namespace sa
