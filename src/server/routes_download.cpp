// GET /api/photos/download?ids=1,2,3 (and POST with a form field ids=... for
// selections too long for a URL): the originals as one ZIP, streamed while it
// is written (server/zip_stream.h), each under its original name.
#include <sys/stat.h>

#include <charconv>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "server/errors.h"
#include "server/routes.h"
#include "server/zip_stream.h"

namespace sa {
namespace {

constexpr size_t kMaxIds = 10'000;

Result<std::vector<int64_t>> parse_ids(const std::string& s) {
  std::vector<int64_t> ids;
  std::unordered_set<int64_t> seen;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) {
      int64_t x = 0;
      auto [ptr, ec] = std::from_chars(s.data() + i, s.data() + j, x);
      if (ec != std::errc() || ptr != s.data() + j || x <= 0) {
        return Status::InvalidArgument("parameter 'ids' must be photo ids separated by commas");
      }
      if (seen.insert(x).second) ids.push_back(x);
    }
    i = j + 1;
  }
  if (ids.empty()) return Status::InvalidArgument("parameter 'ids' is required");
  if (ids.size() > kMaxIds) {
    return Status::InvalidArgument("at most " + std::to_string(kMaxIds) + " photos per download");
  }
  return ids;
}

void handle_download(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  auto ids = parse_ids(req.has_param("ids") ? req.get_param_value("ids") : "");
  if (!ids.ok()) return send_error(res, ids.status());
  // Every photo is checked before the first byte goes out: a missing one is a
  // 404 naming it, not a broken archive.
  struct Entry {
    std::string name, path;
    int64_t mtime = 0;
  };
  auto entries = std::make_shared<std::vector<Entry>>();
  std::vector<int64_t> missing;
  // Another user's photo is missing here too (one the user may view through a
  // shared album is theirs to download, as its original is).
  const OwnerScope scope = scope_of(ctx, req);
  for (int64_t id : *ids) {
    auto p = ctx.album.get_photo(id, scope);
    auto path = p.ok() && p->trashed_at.empty() ? ctx.album.original_path(id, scope)
                                                : Result<std::string>(Status::NotFound(""));
    if (!path.ok()) {
      missing.push_back(id);
      continue;
    }
    struct stat st{};
    const int64_t mtime = ::stat(path->c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtime) : 0;
    entries->push_back({p->filename, *path, mtime});
  }
  if (!missing.empty()) {
    nlohmann::json body = {{"error",
                            {{"code", "not_found"},
                             {"message", std::to_string(missing.size()) + " of the photos were not found"}}},
                           {"not_found", missing}};
    return send_json(res, body, 404);
  }
  res.set_header("Content-Disposition",
                 "attachment; filename=\"photos-" + std::to_string(entries->size()) + ".zip\"");
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider("application/zip", [entries](size_t, httplib::DataSink& sink) {
    ZipStream zip([&sink](const char* d, size_t n) { return sink.write(d, n); });
    for (const auto& e : *entries) {
      Status st = zip.add_file(zip.unique_name(e.name), e.path, e.mtime);
      if (!st.ok()) return false;  // the connection is closed: the archive is visibly cut
    }
    if (!zip.finish().ok()) return false;
    sink.done();
    return true;
  });
}

}  // namespace

void register_download_routes(Router& srv, RouteContext& ctx) {
  srv.Get("/api/photos/download", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    handle_download(ctx, req, res);
  }));
  srv.Post("/api/photos/download", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    handle_download(ctx, req, res);  // ids=1,2,3 as an urlencoded form field
  }));
}

}  // namespace sa
