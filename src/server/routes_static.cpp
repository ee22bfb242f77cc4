// The web page: files under ServerOptions::web_dir served at "/". The request path
// is resolved inside web_dir and refused if it would leave it (no "..", no links out).
#include <filesystem>
#include <system_error>

#include "core/file_util.h"
#include "server/errors.h"
#include "server/routes.h"

namespace sa {
namespace {

namespace fs = std::filesystem;

const char* mime_for(const fs::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".json" || ext == ".webmanifest") return "application/json";
  return "application/octet-stream";
}

// Maps a URL path to a file inside root; NotFound for anything that escapes root
// or is not a regular file.
Result<fs::path> resolve_static(const fs::path& root, const std::string& url_path) {
  std::string rel = url_path;
  while (!rel.empty() && rel.front() == '/') rel.erase(rel.begin());
  if (rel.empty() || rel.back() == '/') rel += "index.html";
  if (rel.find('\0') != std::string::npos || rel.find('\\') != std::string::npos) {
    return Status::NotFound("no such file");
  }
  for (const auto& part : fs::path(rel)) {
    if (part == ".." || part == ".") return Status::NotFound("no such file");
  }
  std::error_code ec;
  const fs::path full = fs::weakly_canonical(root / rel, ec);
  if (ec) return Status::NotFound("no such file");
  auto [root_end, _] = std::mismatch(root.begin(), root.end(), full.begin(), full.end());
  if (root_end != root.end() || !fs::is_regular_file(full, ec)) {
    return Status::NotFound("no such file");
  }
  return full;
}

}  // namespace

void register_static_routes(Router& srv, RouteContext& ctx) {
  if (ctx.opt.web_dir.empty()) return;
  std::error_code ec;
  const fs::path root = fs::canonical(ctx.opt.web_dir, ec);
  if (ec) return;  // HttpServer::start() reports a missing web dir
  srv.Get(R"(/(?!api/).*)", guarded([root](const httplib::Request& req, httplib::Response& res) {
    auto path = resolve_static(root, req.path);
    if (!path.ok()) return send_error(res, path.status());
    auto bytes = read_file(path->string(), 16u << 20);
    if (!bytes.ok()) return send_error(res, Status::NotFound("no such file"));
    res.set_header("Cache-Control", "no-cache");
    res.set_content(*bytes, mime_for(*path));
  }));
}

}  // namespace sa
