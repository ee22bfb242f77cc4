// An in-memory Album for testing the HTTP layer without models or SQLite.
// "Images" are any bytes starting with "IMG"; anything else is rejected like a
// non-image. Search ranks photos by how many bytes of the query occur in the
// file name, so tests can predict the order.
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

#include "app/album.h"
#include "core/file_util.h"

namespace sa::testing {

class FakeAlbum : public Album {
 public:
  explicit FakeAlbum(std::string dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
  }

  Result<AddResult> add_file(std::string_view name, std::string_view bytes, const OwnerScope& = {}) override {
    std::lock_guard<std::mutex> lock(mu_);
    added_names.emplace_back(name);
    if (bytes.substr(0, 3) != "IMG") return Status::InvalidArgument("not an image");
    for (auto& [id, p] : photos_) {
      if (p.hash == std::string(bytes)) return AddResult{id, std::string(name), true};
    }
    PhotoInfo p;
    p.id = next_id_++;
    p.hash = std::string(bytes);
    std::string n(name);
    auto slash = n.find_last_of('/');
    p.filename = slash == std::string::npos ? n : n.substr(slash + 1);
    p.folder = slash == std::string::npos ? "" : n.substr(0, slash);
    p.mime = "image/jpeg";
    p.size = static_cast<int64_t>(bytes.size());
    p.status = PhotoStatus::kReady;
    p.vlm_status = VlmStatus::kNone;
    (void)write_file_atomic(dir_ + "/" + std::to_string(p.id) + ".jpg", bytes);
    photos_[p.id] = p;
    return AddResult{p.id, std::string(name), false};
  }
  Result<ImportReport> import_folder(
      const std::string&, const std::function<void(int64_t, int64_t, const std::string&)>&,
      const OwnerScope& = {}) override {
    return Status::Unimplemented("fake");
  }
  Result<PhotoPage> list_photos(int page, int per_page, int64_t before_id = 0,
                                const OwnerScope& = {}) override {
    std::lock_guard<std::mutex> lock(mu_);
    PhotoPage pg;
    pg.total = static_cast<int64_t>(photos_.size());
    pg.page = before_id > 0 ? 1 : page;
    pg.per_page = per_page;
    int i = 0;
    for (auto it = photos_.rbegin(); it != photos_.rend(); ++it) {
      if (before_id > 0 && it->first >= before_id) continue;
      if (i >= (pg.page - 1) * per_page && i < pg.page * per_page) pg.items.push_back(it->second);
      ++i;
    }
    return pg;
  }
  // Newest id first (the fake's photos carry no dates, so both sorts agree);
  // cursor = the last id shown; offset for page numbers.
  Result<PhotoPage> query_photos(const PhotoQuery& q) override {
    std::lock_guard<std::mutex> lock(mu_);
    last_query = q;
    PhotoPage pg;
    pg.total = static_cast<int64_t>(photos_.size());
    pg.per_page = q.limit;
    pg.page = q.offset / q.limit + 1;
    const int64_t before = q.cursor.empty() ? INT64_MAX : std::stoll(q.cursor);
    int skipped = 0;
    for (auto it = photos_.rbegin(); it != photos_.rend(); ++it) {
      if (it->first >= before) continue;
      if (skipped++ < q.offset) continue;
      if (static_cast<int>(pg.items.size()) == q.limit) {
        pg.next_cursor = std::to_string(pg.items.back().id);
        break;
      }
      pg.items.push_back(it->second);
    }
    return pg;
  }
  Result<PhotoInfo> get_photo(int64_t id, const OwnerScope& = {}) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = photos_.find(id);
    if (it == photos_.end()) return Status::NotFound("no photo with id " + std::to_string(id));
    return it->second;
  }
  Result<std::string> thumbnail_path(int64_t id, const OwnerScope& = {}) override { return original_path(id); }
  Result<std::string> preview_path(int64_t id, const OwnerScope& = {}) override {
    ++preview_calls;
    return original_path(id);
  }
  Result<std::string> original_path(int64_t id, const OwnerScope& = {}) override {
    SA_ASSIGN_OR_RETURN(auto p, get_photo(id));
    return dir_ + "/" + std::to_string(p.id) + ".jpg";
  }
  Status delete_photo(int64_t id, const OwnerScope& = {}) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (photos_.erase(id) == 0) return Status::NotFound("no photo with id " + std::to_string(id));
    return Status::OK();
  }
  // Only trash, as the HTTP DELETE uses it: a trashed photo leaves the fake.
  Result<BatchResult> batch(BatchAction action, std::span<const int64_t> ids, int64_t,
                            const OwnerScope& = {}) override {
    if (action != BatchAction::kTrash) return Status::Unimplemented("fake batch");
    std::lock_guard<std::mutex> lock(mu_);
    BatchResult r;
    for (int64_t id : ids)
      if (!photos_.count(id)) r.not_found.push_back(id);
    if (!r.not_found.empty()) return r;
    for (int64_t id : ids) r.changed += static_cast<int64_t>(photos_.erase(id));
    return r;
  }
  Status analyze(int64_t id, const OwnerScope& = {}) override {
    if (!vlm) return Status::Unavailable("no VLM configured");
    std::lock_guard<std::mutex> lock(mu_);
    auto it = photos_.find(id);
    if (it == photos_.end()) return Status::NotFound("no photo");
    it->second.vlm_status = VlmStatus::kPending;
    return Status::OK();
  }
  Result<int64_t> analyze_missing(const OwnerScope& = {}) override { return int64_t{0}; }
  Result<std::vector<SearchHit>> search(const std::string& q, const SearchOptions& opt) override {
    if (q == "throw") throw std::runtime_error("boom");
    if (!clip) return Status::Unavailable("搜索需要模型");
    last_search = opt;
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SearchHit> hits;
    for (auto& [id, p] : photos_) {
      SearchHit h;
      h.photo = p;
      int match = 0;
      for (char c : q) match += p.filename.find(c) != std::string::npos;
      h.score = h.clip_score = static_cast<float>(match) / static_cast<float>(q.size());
      hits.push_back(h);
    }
    std::stable_sort(hits.begin(), hits.end(),
                     [](const SearchHit& a, const SearchHit& b) { return a.score > b.score; });
    if (static_cast<int>(hits.size()) > opt.limit) hits.resize(opt.limit);
    return hits;
  }
  Result<std::vector<SearchHit>> similar(int64_t id, int limit, const OwnerScope& = {}) override {
    SA_ASSIGN_OR_RETURN(auto p, get_photo(id));
    SearchHit h;
    h.photo = p;
    h.score = h.clip_score = 1.0f;
    return std::vector<SearchHit>{h};
  }
  Settings settings() override {
    std::lock_guard<std::mutex> lock(mu_);
    return settings_;
  }
  Status set_settings(const Settings& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    settings_ = s;
    return Status::OK();
  }
  JobStats job_stats(const OwnerScope& = {}) override {
    JobStats j;
    j.pending = 2;
    j.done = 5;
    j.failed = 1;
    j.recent_failures.push_back({7, 3, JobKind::kEmbed, "decode failed", "2024-01-01T00:00:00Z"});
    return j;
  }
  bool wait_idle(double) override { return true; }
  bool has_clip_model() const override { return clip; }
  bool has_text_model() const override { return false; }
  bool has_vlm() const override { return vlm; }
  std::string model_name() const override { return "fake-clip"; }

  // A test sets where a photo's processing is (its search vector, its description).
  void set_states(int64_t id, PhotoStatus status, VlmStatus vlm_status) {
    std::lock_guard<std::mutex> lock(mu_);
    photos_.at(id).status = status;
    photos_.at(id).vlm_status = vlm_status;
  }

  bool clip = true;
  bool vlm = false;
  std::vector<std::string> added_names;
  SearchOptions last_search;
  PhotoQuery last_query;
  int preview_calls = 0;

 private:
  std::string dir_;
  std::mutex mu_;
  std::map<int64_t, PhotoInfo> photos_;
  int64_t next_id_ = 1;
  Settings settings_;
};

}  // namespace sa::testing
