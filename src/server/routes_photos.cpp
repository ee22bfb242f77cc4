// /api/photos...: upload, list, details, thumbnail/original bytes, delete, analyze.
#include <cctype>
#include <limits>
#include <memory>
#include <vector>

#include "core/file_util.h"
#include "server/errors.h"
#include "server/file_response.h"
#include "server/routes.h"

namespace sa {
namespace {

// Percent-encodes a UTF-8 file name for Content-Disposition's filename* (RFC 5987).
std::string rfc5987(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool etag_matches(const httplib::Request& req, const std::string& etag) {
  return req.has_header("If-None-Match") && req.get_header_value("If-None-Match") == etag;
}

// A multipart part's file name as the user's file system had it. Browsers
// (the WHATWG form-data encoding) and curl write '"' as %22 and CR / LF as
// %0D / %0A inside filename="..."; nothing else is escaped there, so only
// these three are decoded (a name that really contains "%41" keeps it).
std::string multipart_filename(const std::string& raw) {
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size()) {
      const char hi = raw[i + 1];
      const char lo = static_cast<char>(std::toupper(static_cast<unsigned char>(raw[i + 2])));
      const char c = hi == '2' && lo == '2' ? '"' : hi == '0' && lo == 'D' ? '\r'
                     : hi == '0' && lo == 'A' ? '\n' : '\0';
      if (c != '\0') {
        out += c;
        i += 2;
        continue;
      }
    }
    out += raw[i];
  }
  return out;
}

// One multipart upload, processed part by part as it streams in, so a batch holds
// at most one file in memory and one bad file never fails the others.
void handle_upload(RouteContext& ctx, const httplib::Request& req, httplib::Response& res,
                   const httplib::ContentReader& reader) {
  if (!req.is_multipart_form_data()) {
    reader([](const char*, size_t) { return true; });  // drain the body
    send_error(res, Status::InvalidArgument("expected multipart/form-data with field 'files'"));
    return;
  }
  // ?album=ID (上传到相册): every stored file, new or already present, also
  // goes into that album. An unknown album fails the request before any file.
  // The album must be the uploader's own or shared with them as contributor
  // (404 when they cannot see it, 403 for a viewer).
  const OwnerScope scope = scope_of(ctx, req);  // the photos become the uploader's
  int64_t album_id = 0;
  if (req.has_param("album")) {
    auto a = int_param(req, "album", 0, 1, std::numeric_limits<int64_t>::max());
    auto info = a.ok() ? ctx.album.get_album(*a, scope) : Result<AlbumInfo>(a.status());
    Status s = info.status();
    if (s.ok() && info->role == AlbumRole::kViewer) {
      reader([](const httplib::MultipartFormData&) { return true; },  // drain the body
             [](const char*, size_t) { return true; });
      return send_error_code(res, 403, "permission_denied", "this album is shared with you to view only");
    }
    if (!s.ok()) {
      reader([](const httplib::MultipartFormData&) { return true; },  // drain the body
             [](const char*, size_t) { return true; });
      send_error(res, s);
      return;
    }
    album_id = *a;
  }
  nlohmann::json uploaded = nlohmann::json::array();
  nlohmann::json rejected = nlohmann::json::array();
  struct Part {
    std::string name, filename, data;
    bool too_big = false;
    bool active = false;
  } cur;
  int n_files = 0, n_parts = 0;
  bool too_many_parts = false;
  const int64_t limit = ctx.opt.max_upload_bytes;

  // Each result carries "index", the file's position among the request's
  // 'files' parts, so a client can match results to its files even when two
  // have the same name.
  auto finish = [&]() {
    if (!cur.active || cur.name != "files") return;
    const int index = n_files++;
    const std::string& fname = cur.filename;
    if (cur.too_big) {
      rejected.push_back({{"index", index},
                          {"filename", fname},
                          {"code", status_code_name(StatusCode::kResourceExhausted)},
                          {"error", "file is larger than the upload limit of " +
                                        std::to_string(limit >> 20) + " MiB"}});
      return;
    }
    auto r = ctx.album.add_file(fname, cur.data, scope);
    if (r.ok() && album_id > 0) {
      const int64_t ids[] = {r->id};
      auto b = ctx.album.batch(BatchAction::kAddToAlbum, ids, album_id, scope);
      // The photo is stored either way; say why it is not in the album.
      if (!b.ok() || !b->not_found.empty()) {
        rejected.push_back({{"index", index}, {"filename", fname}, {"id", r->id},
                            {"code", status_code_name(b.ok() ? StatusCode::kNotFound : b.status().code())},
                            {"error", b.ok() ? "the album no longer exists" : b.status().message()}});
        return;
      }
    }
    if (r.ok()) {
      uploaded.push_back(
          {{"index", index}, {"id", r->id}, {"filename", fname}, {"duplicate", r->duplicate}});
    } else {
      rejected.push_back({{"index", index},
                          {"filename", fname},
                          {"code", status_code_name(r.status().code())},
                          {"error", r.status().message()}});
    }
  };

  const bool ok = reader(
      [&](const httplib::MultipartFormData& f) {
        finish();
        cur = Part{};
        if (++n_parts > ctx.opt.max_upload_parts) {
          // The rest is read (so the client gets the answer) but not processed.
          too_many_parts = true;
          cur.active = false;
          return true;
        }
        cur.active = true;
        cur.name = f.name;
        cur.filename = multipart_filename(f.filename);
        return true;
      },
      [&](const char* data, size_t len) {
        if (too_many_parts || cur.too_big || cur.name != "files") return true;
        if (static_cast<int64_t>(cur.data.size() + len) > limit) {
          cur.too_big = true;
          std::string().swap(cur.data);
          return true;
        }
        cur.data.append(data, len);
        return true;
      });
  finish();
  if (too_many_parts) {
    // The files before the limit were processed: say which, beside the error.
    send_json(res,
              {{"error",
                {{"code", status_code_name(StatusCode::kResourceExhausted)},
                 {"message", "more than " + std::to_string(ctx.opt.max_upload_parts) +
                                 " parts in one upload; the rest was skipped (send the files "
                                 "in several requests)"}}},
               {"uploaded", uploaded},
               {"rejected", rejected}},
              413);
    res.set_header("Connection", "close");
    return;
  }
  if (!ok) {
    send_error(res, Status::InvalidArgument("malformed multipart body"));
    return;
  }
  if (n_files == 0) {
    send_error(res, Status::InvalidArgument("no 'files' field in the upload"));
    return;
  }
  send_json(res, {{"uploaded", uploaded}, {"rejected", rejected}});
}

// GET /api/photos?sort=taken|added&cursor=&limit=|per_page=&page=&date_from=&date_to=
void list_timeline(RouteContext& ctx, const httplib::Request& req, httplib::Response& res) {
  PhotoQuery q;
  if (req.has_param("sort") && !req.get_param_value("sort").empty()) q.sort = req.get_param_value("sort");
  if (q.sort != "taken" && q.sort != "added") {
    return send_error(res, Status::InvalidArgument("parameter 'sort' must be 'taken' or 'added'"));
  }
  auto per_page = int_param(req, "per_page", 50, 1, 500);
  if (!per_page.ok()) return send_error(res, per_page.status());
  auto limit = int_param(req, "limit", *per_page, 1, 500);
  if (!limit.ok()) return send_error(res, limit.status());
  auto page = int_param(req, "page", 1, 1, 1'000'000);
  if (!page.ok()) return send_error(res, page.status());
  q.limit = static_cast<int>(*limit);
  q.cursor = req.has_param("cursor") ? req.get_param_value("cursor") : "";
  // after=CURSOR: the page just newer than that photo (scrolling up after a jump).
  if (q.cursor.empty() && req.has_param("after") && !req.get_param_value("after").empty()) {
    q.cursor = req.get_param_value("after");
    q.newer = true;
  }
  if (q.cursor.empty()) q.offset = static_cast<int>((*page - 1) * *limit);
  q.date_from = req.has_param("date_from") ? req.get_param_value("date_from") : "";
  q.date_to = req.has_param("date_to") ? req.get_param_value("date_to") : "";
  auto filter = photo_filter_params(req);  // ?favorite=1, ?album=ID
  if (!filter.ok()) return send_error(res, filter.status());
  q.filter = *filter;
  q.filter.scope = scope_of(ctx, req);
  auto r = ctx.album.query_photos(q);
  if (!r.ok()) return send_error(res, r.status());
  nlohmann::json items = nlohmann::json::array();
  for (const auto& p : r->items) items.push_back(photo_json(p));
  send_json(res, {{"total", r->total}, {"page", r->page}, {"per_page", r->per_page},
                  {"sort", q.sort}, {"next_cursor", r->next_cursor.empty() ? nlohmann::json(nullptr)
                                                                            : nlohmann::json(r->next_cursor)},
                  {"items", items}});
}

}  // namespace

void register_photo_routes(Router& srv, RouteContext& ctx) {
  srv.Post("/api/photos", [&ctx](const httplib::Request& req, httplib::Response& res,
                                 const httplib::ContentReader& reader) {
    try {
      handle_upload(ctx, req, res, reader);
    } catch (const std::exception& e) {
      send_error(res, Status::Internal(std::string("upload failed: ") + e.what()));
    }
  });

  srv.Get("/api/photos", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    // The timeline's list (sort, cursor, date range) unless the request is the
    // older before=ID form.
    if (!req.has_param("before")) return list_timeline(ctx, req, res);
    auto page = int_param(req, "page", 1, 1, 1'000'000'000);
    if (!page.ok()) return send_error(res, page.status());
    auto per_page = int_param(req, "per_page", 50, 1, 500);
    if (!per_page.ok()) return send_error(res, per_page.status());
    // before=ID: the photos older than ID (a cursor for infinite scroll).
    auto before = int_param(req, "before", 0, 1, std::numeric_limits<int64_t>::max());
    if (!before.ok()) return send_error(res, before.status());
    auto filter = photo_filter_params(req);  // ?favorite=1, ?album=ID
    if (!filter.ok()) return send_error(res, filter.status());
    filter->scope = scope_of(ctx, req);
    auto r = filter->favorite_only || filter->album_id > 0
                 ? ctx.album.list_photos_filtered(*filter, static_cast<int>(*page),
                                                  static_cast<int>(*per_page), *before)
                 : ctx.album.list_photos(static_cast<int>(*page), static_cast<int>(*per_page), *before,
                                         filter->scope);
    if (!r.ok()) return send_error(res, r.status());
    nlohmann::json items = nlohmann::json::array();
    for (const auto& p : r->items) items.push_back(photo_json(p));
    send_json(res, {{"total", r->total}, {"page", r->page}, {"per_page", r->per_page},
                    {"items", items}});
  }));

  srv.Get(R"(/api/photos/([^/]+))", guarded([&ctx](const httplib::Request& req,
                                                  httplib::Response& res) {
    auto id = id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    auto p = ctx.album.get_photo(*id, scope_of(ctx, req));
    if (!p.ok()) return send_error(res, p.status());
    send_json(res, photo_json(*p));
  }));

  srv.Get(R"(/api/photos/([^/]+)/thumbnail)", guarded([&ctx](const httplib::Request& req,
                                                            httplib::Response& res) {
    auto id = id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    auto p = ctx.album.get_photo(*id, scope_of(ctx, req));
    if (!p.ok()) return send_error(res, p.status());
    const std::string etag = "\"t-" + p->hash + "\"";
    res.set_header("Cache-Control", "private, max-age=86400");
    res.set_header("ETag", etag);
    if (etag_matches(req, etag)) {
      res.status = 304;
      return;
    }
    auto path = ctx.album.thumbnail_path(*id, scope_of(ctx, req));
    if (!path.ok()) return send_error(res, path.status());
    Status s = send_file(req, res, *path, "image/jpeg");
    if (!s.ok()) return send_error(res, Status::NotFound("thumbnail is not available"));
  }));

  srv.Get("/api/timeline", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto months = ctx.album.timeline(scope_of(ctx, req));
    if (!months.ok()) return send_error(res, months.status());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : *months) out.push_back({{"month", m.month}, {"count", m.count}});
    send_json(res, out);
  }));

  srv.Get("/api/folders", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    auto folders = ctx.album.folders(scope_of(ctx, req));
    if (!folders.ok()) return send_error(res, folders.status());
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [f, n] : *folders) out.push_back({{"folder", f}, {"count", n}});
    send_json(res, out);
  }));

  srv.Get(R"(/api/photos/([^/]+)/preview)", guarded([&ctx](const httplib::Request& req,
                                                          httplib::Response& res) {
    auto id = id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    auto p = ctx.album.get_photo(*id, scope_of(ctx, req));
    if (!p.ok()) return send_error(res, p.status());
    // The preview follows from the original's bytes: the hash names it for ever.
    const std::string etag = "\"p-" + p->hash + "\"";
    res.set_header("Cache-Control", "private, max-age=31536000, immutable");
    res.set_header("ETag", etag);
    if (etag_matches(req, etag)) {
      res.status = 304;
      return;
    }
    auto path = ctx.album.preview_path(*id, scope_of(ctx, req));
    if (!path.ok()) return send_error(res, path.status());
    Status s = send_file(req, res, *path, "image/jpeg");
    if (!s.ok()) return send_error(res, s);
  }));

  srv.Get(R"(/api/photos/([^/]+)/original)", guarded([&ctx](const httplib::Request& req,
                                                           httplib::Response& res) {
    auto id = id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    auto p = ctx.album.get_photo(*id, scope_of(ctx, req));
    if (!p.ok()) return send_error(res, p.status());
    const std::string etag = "\"o-" + p->hash + "\"";
    res.set_header("Cache-Control", "private, max-age=86400");
    res.set_header("ETag", etag);
    if (etag_matches(req, etag)) {
      res.status = 304;
      return;
    }
    auto path = ctx.album.original_path(*id, scope_of(ctx, req));
    if (!path.ok()) return send_error(res, path.status());
    res.set_header("Content-Disposition", "inline; filename*=UTF-8''" + rfc5987(p->filename));
    const std::string mime = p->mime.empty() ? "application/octet-stream" : p->mime;
    Status s = send_file(req, res, *path, mime);
    if (!s.ok()) return send_error(res, s);
  }));

  srv.Delete(R"(/api/photos/([^/]+))", guarded([&ctx](const httplib::Request& req,
                                                     httplib::Response& res) {
    auto id = id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    // To the trash (restorable for 30 days) unless ?permanent=1.
    auto permanent = int_param(req, "permanent", 0, 0, 1);
    if (!permanent.ok()) return send_error(res, permanent.status());
    const OwnerScope scope = scope_of(ctx, req);
    if (*permanent == 1) {
      Status s = ctx.album.delete_photo(*id, scope);
      if (!s.ok()) return send_error(res, s);
      return send_json(res, {{"deleted", *id}, {"trashed", false}});
    }
    const std::vector<int64_t> ids = {*id};
    auto r = ctx.album.batch(BatchAction::kTrash, ids, 0, scope);
    if (!r.ok()) return send_error(res, r.status());
    if (!r->not_found.empty()) return send_error(res, Status::NotFound("no photo with id " + std::to_string(*id)));
    send_json(res, {{"deleted", *id}, {"trashed", true}});
  }));

  // Which of these photos are still being processed (search vector, description):
  // the upload panel asks about exactly the new photos of its batch, however many,
  // in requests of up to kMaxStateIds ids. {"ids":[...]} -> {"processed": N,
  // "pending": [ids], "missing": [ids the caller cannot see, or deleted]}.
  srv.Post("/api/photos/states", guarded([&ctx](const httplib::Request& req, httplib::Response& res) {
    constexpr size_t kMaxStateIds = 1000;
    auto body = json_body(req);
    if (!body.ok()) return send_error(res, body.status());
    const auto& ids = (*body)["ids"];
    if (!ids.is_array() || ids.empty() || ids.size() > kMaxStateIds) {
      return send_error(res, Status::InvalidArgument("field 'ids' must be an array of 1 to " +
                                                     std::to_string(kMaxStateIds) + " photo ids"));
    }
    const OwnerScope scope = scope_of(ctx, req);
    int64_t processed = 0;
    nlohmann::json pending = nlohmann::json::array();
    nlohmann::json missing = nlohmann::json::array();
    for (const auto& v : ids) {
      if (!v.is_number_integer() || v.get<int64_t>() <= 0) {
        return send_error(res, Status::InvalidArgument("field 'ids' must hold positive integers"));
      }
      const int64_t id = v.get<int64_t>();
      auto p = ctx.album.get_photo(id, scope);
      if (!p.ok()) {
        if (p.status().code() != StatusCode::kNotFound) return send_error(res, p.status());
        missing.push_back(id);
      } else if (p->status == PhotoStatus::kPending || p->vlm_status == VlmStatus::kPending ||
                 p->vlm_status == VlmStatus::kRunning) {
        pending.push_back(id);
      } else {
        ++processed;
      }
    }
    send_json(res, {{"processed", processed}, {"pending", pending}, {"missing", missing}});
  }));

  srv.Post(R"(/api/photos/([^/]+)/analyze)", guarded([&ctx](const httplib::Request& req,
                                                           httplib::Response& res) {
    auto id = id_param(req);
    if (!id.ok()) return send_error(res, id.status());
    const OwnerScope scope = scope_of(ctx, req);
    Status s = ctx.album.analyze(*id, scope);
    if (!s.ok()) return send_error(res, s);
    VlmStatus vlm_status = VlmStatus::kPending;
    if (auto p = ctx.album.get_photo(*id, scope); p.ok()) vlm_status = p->vlm_status;
    send_json(res, {{"id", *id}, {"queued", true}, {"vlm_status", to_string(vlm_status)}}, 202);
  }));
}

}  // namespace sa
