#include "search/query_cache.h"

namespace sa {

std::optional<std::vector<float>> QueryCache::get(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pos_.find(text);
  if (it == pos_.end()) {
    ++misses_;
    return std::nullopt;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void QueryCache::put(const std::string& text, std::vector<float> v) {
  if (capacity_ == 0 || text.size() > kMaxTextBytes) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = pos_.find(text); it != pos_.end()) {
    it->second->second = std::move(v);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(text, std::move(v));
  pos_[text] = lru_.begin();
  if (lru_.size() > capacity_) {
    pos_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

size_t QueryCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

int64_t QueryCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

int64_t QueryCache::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

}  // namespace sa
