// QueryCache: the embeddings of recent query texts, least recently used out.
//
// A query's text embedding costs a pass of the text tower (~20 ms for a
// RoBERTa-base query on two cores); the same phrase comes back often: the
// user toggles enhanced search, re-runs a search after an upload, pages with
// --offset. Entries are small (embed_dim floats), so a few hundred cost under a
// megabyte. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sa {

class QueryCache {
 public:
  explicit QueryCache(size_t capacity) : capacity_(capacity) {}

  // The cached vector for `text`, and marks it most recently used.
  std::optional<std::vector<float>> get(const std::string& text);
  // Texts longer than this are not kept (the HTTP API caps queries at 1000
  // bytes; this bounds the cache for any other caller).
  static constexpr size_t kMaxTextBytes = 4096;

  // Stores (or replaces) `text`'s vector; drops the least recently used entry
  // beyond capacity. A capacity of 0, or a text over kMaxTextBytes, stores nothing.
  void put(const std::string& text, std::vector<float> v);

  size_t size() const;
  int64_t hits() const;
  int64_t misses() const;

 private:
  using Entry = std::pair<std::string, std::vector<float>>;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> pos_;
  int64_t hits_ = 0;
  int64_t misses_ = 0;
};

}  // namespace sa
