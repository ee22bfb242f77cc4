// The index file (SAIDX003): save, load and load-or-rebuild of a VectorIndex.
// Format in docs/storage.md.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/file_util.h"
#include "index/index_impl.h"
#include "index/vector_index.h"

namespace sa {

namespace {

constexpr char kMagic[8] = {'S', 'A', 'I', 'D', 'X', '0', '0', '3'};
constexpr char kFaissMagic[8] = {'S', 'A', 'I', 'D', 'X', '0', '0', '1'};
constexpr char kFp16Magic[8] = {'S', 'A', 'I', 'D', 'X', '0', '0', '2'};
constexpr int kFormatVersion = 3;
// A header is a few hundred bytes; anything larger is not ours.
constexpr uint32_t kMaxHeaderBytes = 1 << 16;

// A 64-bit multiply-xor hash of bytes, fed in pieces (sizes need not be
// multiples of 8). Not cryptographic: it detects damage, fast.
class PayloadHash {
 public:
  void update(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    while (n > 0 && fill_ != 0) {
      push_byte(*p++);
      --n;
    }
    while (n >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      mix(w);
      p += 8;
      n -= 8;
    }
    while (n > 0) {
      push_byte(*p++);
      --n;
    }
  }
  std::string hex() {
    uint64_t h = h_;
    if (fill_ != 0) h = (h ^ pending_ ^ (uint64_t{fill_} << 56)) * kMul;
    h ^= h >> 29;
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }

 private:
  static constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  void mix(uint64_t w) { h_ = ((h_ ^ w) * kMul) ^ (h_ >> 31); }
  void push_byte(uint8_t b) {
    pending_ |= uint64_t{b} << (8 * fill_);
    if (++fill_ == 8) {
      mix(pending_);
      pending_ = 0;
      fill_ = 0;
    }
  }
  uint64_t h_ = 0x6A09E667F3BCC908ull;
  uint64_t pending_ = 0;
  unsigned fill_ = 0;
};

}  // namespace

using index_internal::Chunk;
using index_internal::chunk_used_bytes;
using index_internal::kHole;
using index_internal::kPanel;

Status VectorIndex::save(const std::string& path, const IndexMeta& meta) const {
  if (meta.dim != dim_)
    return Status::InvalidArgument("index save: meta dim " + std::to_string(meta.dim) +
                                   " != index dim " + std::to_string(dim_));
  // The payload is written straight from the index's own arrays: no copy of a
  // possibly gigabyte-sized index (the FAISS writer made two).
  std::shared_lock lock(mu_);
  const Impl& m = *impl_;
  const int64_t n = static_cast<int64_t>(m.ids.size());
  std::vector<std::string_view> parts;
  parts.emplace_back(reinterpret_cast<const char*>(m.ids.data()), m.ids.size() * sizeof(int64_t));
  parts.emplace_back(reinterpret_cast<const char*>(m.scales.data()), static_cast<size_t>(n) * sizeof(float));
  for (size_t c = 0; c < m.chunks.size(); ++c) {
    const int64_t cnt = std::min(kChunkVectors, n - static_cast<int64_t>(c) * kChunkVectors);
    parts.emplace_back(reinterpret_cast<const char*>(m.chunks[c].data()), chunk_used_bytes(cnt, dim_));
  }
  static_assert(sizeof(index_internal::IvfList) == 24, "IvfList is written as is");
  const int ivf_lists = m.ivf ? static_cast<int>(m.ivf->lists.size()) : 0;
  if (m.ivf) {
    parts.emplace_back(reinterpret_cast<const char*>(m.ivf->lists.data()),
                       m.ivf->lists.size() * sizeof(index_internal::IvfList));
    parts.emplace_back(reinterpret_cast<const char*>(m.ivf->centroids.data()),
                       m.ivf->centroids.size() * sizeof(float));
  }
  PayloadHash hash;
  size_t payload_bytes = 0;
  for (std::string_view p : parts) {
    hash.update(p.data(), p.size());
    payload_bytes += p.size();
  }
  nlohmann::json h = {
      {"version", kFormatVersion},
      {"model", meta.model},
      {"dim", meta.dim},
      {"count", meta.fingerprint.count},
      {"max_id", meta.fingerprint.max_id},
      {"id_sum", meta.fingerprint.id_sum},
      {"generation", meta.fingerprint.generation},
      {"vectors", n},
      {"chunk_vectors", kChunkVectors},
      {"holes", m.holes},
      {"ivf_lists", ivf_lists},
      {"ivf_tail", m.ivf ? m.ivf->tail_begin : 0},
      {"quant_error", m.quant_error},
      {"payload_bytes", payload_bytes},
      {"payload_hash", hash.hex()},
  };
  std::string header = h.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string head(kMagic, sizeof(kMagic));
  uint32_t hlen = static_cast<uint32_t>(header.size());
  for (int i = 0; i < 4; ++i) head.push_back(static_cast<char>((hlen >> (8 * i)) & 0xff));
  head += header;
  parts.insert(parts.begin(), head);
  std::string parent = std::filesystem::path(path).parent_path().string();
  if (!parent.empty()) SA_RETURN_IF_ERROR(make_dirs(parent));
  return write_file_atomic(path, parts).with_context("saving index '" + path + "'");
}

Status VectorIndex::save(const std::string& path, Store& store, const std::string& kind,
                         const std::string& model) const {
  SA_ASSIGN_OR_RETURN(VectorFingerprint fp, store.vector_fingerprint(kind, model));
  return save(path, IndexMeta{model, dim_, fp});
}

namespace {

// Reads exactly n bytes (false on a short file or an error).
bool read_exact(int fd, void* dst, size_t n) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t r = ::read(fd, p, std::min<size_t>(n, size_t{1} << 28));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<std::pair<std::unique_ptr<VectorIndex>, IndexMeta>> VectorIndex::load(const std::string& path) {
  // read(), not mmap: the file's pages stay in the page cache instead of being
  // counted a second time in the process's resident memory.
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    if (errno == ENOENT) return Status::NotFound("no index file '" + path + "'");
    return Status::IOError("cannot open index file '" + path + "': " + std::strerror(errno));
  }
  auto corrupt = [&](const std::string& why) {
    return Status::Corruption("index file '" + path + "': " + why);
  };
  const off_t file_size = ::lseek(f.fd, 0, SEEK_END);
  if (file_size < 0 || ::lseek(f.fd, 0, SEEK_SET) != 0) return corrupt("cannot seek");
  const size_t size = static_cast<size_t>(file_size);
  uint8_t pre[sizeof(kMagic) + 4];
  if (size < sizeof pre || !read_exact(f.fd, pre, sizeof pre)) return corrupt("too short");
  if (std::memcmp(pre, kFaissMagic, sizeof(kMagic)) == 0)
    return corrupt("older format (FAISS flat index, before fp16 storage)");
  if (std::memcmp(pre, kFp16Magic, sizeof(kMagic)) == 0)
    return corrupt("older format (fp16 vectors, before int8 storage)");
  if (std::memcmp(pre, kMagic, sizeof(kMagic)) != 0) return corrupt("bad magic (not a smart-album index)");
  uint32_t hlen = 0;
  for (int i = 0; i < 4; ++i) hlen |= static_cast<uint32_t>(pre[sizeof(kMagic) + i]) << (8 * i);
  const size_t hstart = sizeof pre;
  if (hlen == 0 || hlen > kMaxHeaderBytes || hlen > size - hstart) return corrupt("bad header length");
  std::string hbytes(hlen, '\0');
  if (!read_exact(f.fd, hbytes.data(), hlen)) return corrupt("truncated header");
  nlohmann::json h = nlohmann::json::parse(hbytes, nullptr, false);
  if (!h.is_object()) return corrupt("header is not JSON");

  IndexMeta meta;
  size_t payload_bytes = 0;
  int64_t n = 0, chunk_vectors = 0, holes = 0, ivf_lists = 0, ivf_tail = 0;
  float quant_error = 0;
  std::string want_hash;
  try {
    if (h.at("version").get<int>() != kFormatVersion) return corrupt("unsupported version");
    meta.model = h.at("model").get<std::string>();
    meta.dim = h.at("dim").get<int>();
    meta.fingerprint.count = h.at("count").get<int64_t>();
    meta.fingerprint.max_id = h.at("max_id").get<int64_t>();
    meta.fingerprint.id_sum = h.at("id_sum").get<int64_t>();
    meta.fingerprint.generation = h.at("generation").get<int64_t>();
    n = h.at("vectors").get<int64_t>();
    chunk_vectors = h.at("chunk_vectors").get<int64_t>();
    holes = h.value("holes", int64_t{0});
    ivf_lists = h.value("ivf_lists", int64_t{0});
    ivf_tail = h.value("ivf_tail", int64_t{0});
    quant_error = h.at("quant_error").get<float>();
    payload_bytes = h.at("payload_bytes").get<size_t>();
    want_hash = h.at("payload_hash").get<std::string>();
  } catch (const std::exception& e) {
    return corrupt(std::string("bad header: ") + e.what());
  }
  if (meta.dim <= 0 || meta.dim > (1 << 16)) return corrupt("bad dim");
  // A unit vector's rounding error is at most half a step (scale / 2) in each
  // component: sqrt(dim) / 254 at most. Anything else is not ours.
  if (!(quant_error >= 0) || quant_error > std::sqrt(static_cast<float>(meta.dim)) / 254 + 1e-3f)
    return corrupt("bad quantisation error");
  if (chunk_vectors != kChunkVectors) return corrupt("other chunk size");
  const size_t have = size - hstart - hlen;
  if (have != payload_bytes)
    return corrupt("payload is " + std::to_string(have) + " bytes, header says " +
                   std::to_string(payload_bytes) + " (truncated?)");
  // The sizes below come from the header: check them against the file before
  // allocating anything.
  if (n < 0 || static_cast<uint64_t>(n) > have / (sizeof(int64_t) + sizeof(float))) return corrupt("bad vector count");
  size_t expect = static_cast<size_t>(n) * (sizeof(int64_t) + sizeof(float));
  for (int64_t base = 0; base < n; base += kChunkVectors)
    expect += chunk_used_bytes(std::min(kChunkVectors, n - base), meta.dim);
  if (ivf_lists < 0 || ivf_lists > n || holes < 0 || holes > n || ivf_tail < 0 || ivf_tail > n ||
      (ivf_lists == 0 && holes != 0))
    return corrupt("bad IVF header");
  expect += static_cast<size_t>(ivf_lists) * (sizeof(index_internal::IvfList) + sizeof(float) * meta.dim);
  if (expect != have) return corrupt("payload size does not match " + std::to_string(n) + " vectors");

  auto index = std::make_unique<VectorIndex>(meta.dim);
  Impl& m = *index->impl_;
  PayloadHash hash;
  m.ids.resize(static_cast<size_t>(n));
  if (!read_exact(f.fd, m.ids.data(), m.ids.size() * sizeof(int64_t))) return corrupt("truncated ids");
  hash.update(m.ids.data(), m.ids.size() * sizeof(int64_t));
  m.scales.resize(static_cast<size_t>(n));
  if (!read_exact(f.fd, m.scales.data(), m.scales.size() * sizeof(float))) return corrupt("truncated scales");
  hash.update(m.scales.data(), m.scales.size() * sizeof(float));
  for (float sc : m.scales)  // largest component of a unit vector / 127
    if (!(sc >= 0 && sc <= 1.0f / 127 + 1e-6f)) return corrupt("bad vector scale");
  for (int64_t base = 0; base < n; base += kChunkVectors) {
    const size_t bytes = chunk_used_bytes(std::min(kChunkVectors, n - base), meta.dim);
    Chunk c;
    c.resize(bytes);
    if (!read_exact(f.fd, c.data(), bytes)) return corrupt("truncated vectors");
    hash.update(c.data(), bytes);
    m.chunks.push_back(std::move(c));
  }
  m.quant_error = quant_error;
  if (ivf_lists > 0) {
    auto ivf = std::make_unique<index_internal::Ivf>();
    ivf->lists.resize(static_cast<size_t>(ivf_lists));
    ivf->centroids.resize(static_cast<size_t>(ivf_lists) * meta.dim);
    if (!read_exact(f.fd, ivf->lists.data(), ivf->lists.size() * sizeof(index_internal::IvfList)) ||
        !read_exact(f.fd, ivf->centroids.data(), ivf->centroids.size() * sizeof(float)))
      return corrupt("truncated IVF lists");
    hash.update(ivf->lists.data(), ivf->lists.size() * sizeof(index_internal::IvfList));
    hash.update(ivf->centroids.data(), ivf->centroids.size() * sizeof(float));
    ivf->tail_begin = ivf_tail;
    int64_t prev_end = 0;
    for (const auto& li : ivf->lists) {
      if (li.begin < prev_end || li.begin % kPanel != 0 || li.end < li.begin || li.end > ivf_tail)
        return corrupt("bad IVF list");
      prev_end = li.end;
    }
    if (ivf_tail % kPanel != 0) return corrupt("bad IVF tail");
    m.ivf = std::move(ivf);
  }
  if (hash.hex() != want_hash) return corrupt("payload checksum mismatch");
  m.pos.reserve(static_cast<size_t>(n - holes));
  for (int64_t i = 0; i < n; ++i) {
    if (m.ids[static_cast<size_t>(i)] == kHole) {
      ++m.holes;
      continue;
    }
    if (!m.pos.emplace(m.ids[static_cast<size_t>(i)], i).second) return corrupt("duplicate id");
  }
  if (m.holes != holes) return corrupt("hole count does not match the header");
  if (m.ivf) index_internal::list_stats(m, meta.dim);  // derived, not saved
  return std::make_pair(std::move(index), std::move(meta));
}

Result<std::unique_ptr<VectorIndex>> VectorIndex::load_or_rebuild(
    const std::string& path, Store& store, const std::string& kind, const std::string& model, int dim,
    IndexLoadOutcome* outcome, const IndexLoadControl* control) {
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
  {
    std::unique_lock lock(index->mu_);
    index->reserve_locked(fp.count);
  }
  if (control && control->total) *control->total = fp.count;
  int64_t skipped = 0, next_log = fp.count / 10;
  // Batches by photo id, the store's lock taken per batch: requests served
  // meanwhile wait for one batch at most, not for the whole walk.
  Status s;
  std::vector<int64_t> ids;
  std::vector<float> data;
  int64_t after = 0;
  while (true) {
    if (control && control->cancel && control->cancel->load()) {
      s = Status::Unavailable("index rebuild cancelled");
      break;
    }
    ids.clear();
    data.clear();
    auto got = store.read_vectors(kind, model, dim, after, 4096, &ids, &data);
    if (!got.ok()) {
      s = got.status();
      break;
    }
    if (ids.empty()) break;
    after = ids.back();
    std::unique_lock lock(index->mu_);
    if (!index->add_locked(ids, data).ok()) {
      // A zero vector in one row must not cost the whole index: add row by row.
      for (size_t i = 0; i < ids.size(); ++i) {
        auto row = std::span<const float>(data).subspan(i * static_cast<size_t>(dim), static_cast<size_t>(dim));
        if (!index->add_locked(std::span<const int64_t>(ids).subspan(i, 1), row).ok()) ++skipped;
      }
    }
    const int64_t done = static_cast<int64_t>(index->impl_->ids.size());
    lock.unlock();
    if (control && control->done) *control->done = done;
    if (fp.count >= 100000 && done >= next_log) {
      spdlog::info("index {}: rebuilding, {} of {} vectors", kind, done, fp.count);
      next_log += fp.count / 10;
    }
  }
  SA_RETURN_IF_ERROR(s.with_context("rebuilding index " + kind));
  if (skipped > 0) spdlog::warn("index {}: skipped {} unusable vector(s)", kind, skipped);
  spdlog::info("index {}: rebuilt with {} '{}' vectors", kind, index->size(), model);

  Status saved = index->save(path, IndexMeta{model, dim, fp});
  if (!saved.ok()) spdlog::warn("index {}: could not save: {}", kind, saved.to_string());
  if (outcome) *outcome = result;
  return index;
}

}  // namespace sa
