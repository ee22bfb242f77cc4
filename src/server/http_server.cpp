#include "server/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

#include "auth/accounts.h"
#include "server/connection_guard.h"
#include "server/errors.h"
#include "server/request_limits.h"
#include "server/routes.h"
#include "server/security.h"

namespace sa {
namespace {

// Both kinds enforce the connection limits of connection_guard.h.
std::unique_ptr<httplib::Server> make_server(const ServerOptions& o, ConnectionGuard& conns) {
  if (o.tls_cert.empty() && o.tls_key.empty()) return std::make_unique<GuardedServer>(conns);
  return std::make_unique<GuardedSslServer>(conns, o.tls_cert.c_str(), o.tls_key.c_str());
}

ConnectionLimits connection_limits(const ServerOptions& o) {
  ConnectionLimits l;
  l.head_deadline_s = o.head_deadline_s;
  l.max_head_bytes = o.max_head_bytes > 0 ? static_cast<size_t>(o.max_head_bytes) : 0;
  l.max_connections_per_client = o.max_connections_per_client;
  l.uncapped = o.trusted_proxies;
  return l;
}

// The routes anyone may call without signing in. Everything else under /api/
// answers 401 first (tests enumerate the router's routes against this list).
bool is_public_api(const std::string& method, const std::string& path) {
  return (method == "GET" && path == "/api/health") || (method == "HEAD" && path == "/api/health") ||
         (method == "POST" && (path == "/api/auth/login" || path == "/api/auth/setup"));
}

// Sent with every reply. The page loads only its own scripts and styles; photos
// and thumbnails may become blob: URLs; data: is the inline favicon.
httplib::Headers security_headers() {
  return {
      {"X-Content-Type-Options", "nosniff"},
      {"Content-Security-Policy",
       "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'"},
      {"Referrer-Policy", "same-origin"},
      {"X-Frame-Options", "DENY"},
  };
}

}  // namespace

struct HttpServer::Impl {
  Impl(Album& a, ServerOptions o, Accounts* acc)
      : ctx{a, std::move(o), acc},
        conns(connection_limits(ctx.opt)),
        srv(make_server(ctx.opt, conns)),
        router(*srv),
        guard(ctx.opt) {
    ctx.guard = &guard;
  }
  RouteContext ctx;
  ConnectionGuard conns;  // before srv, which refers to it
  std::unique_ptr<httplib::Server> srv;
  Router router;
  RequestGuard guard;
  std::thread thread;
  socket_t listen_sock = INVALID_SOCKET;
  int port = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
};

HttpServer::HttpServer(Album& album, ServerOptions opt, Accounts* accounts)
    : impl_(std::make_unique<Impl>(album, std::move(opt), accounts)) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
  Impl& m = *impl_;
  if (m.thread.joinable()) return Status::InvalidArgument("server already started");
  if (m.ctx.opt.port < 0 || m.ctx.opt.port > 65535) {
    return Status::InvalidArgument("port must be in [0, 65535]");
  }
  if (!m.ctx.opt.web_dir.empty() && !std::filesystem::is_directory(m.ctx.opt.web_dir)) {
    return Status::NotFound("web directory not found: " + m.ctx.opt.web_dir);
  }
  if (m.ctx.opt.auth && !m.ctx.accounts) return Status::InvalidArgument("sign-in is on but no accounts store was given");
  if (m.ctx.opt.tls_cert.empty() != m.ctx.opt.tls_key.empty()) {
    return Status::InvalidArgument("--tls-cert and --tls-key go together");
  }
  if (!m.srv->is_valid()) {
    return Status::InvalidArgument("cannot load the TLS certificate '" + m.ctx.opt.tls_cert + "' or key '" +
                                   m.ctx.opt.tls_key + "' (PEM files expected)");
  }
  const int n_threads = std::max(2, m.ctx.opt.threads);
  m.srv->new_task_queue = [n_threads] { return new StampedThreadPool(n_threads); };
  // Bodies are streamed part by part (see routes_photos.cpp) with a per-file limit,
  // so the request as a whole may be much larger than one file.
  m.srv->set_payload_max_length(size_t(64) << 30);
  m.srv->set_read_timeout(std::max(1, m.ctx.opt.read_timeout_s));
  m.srv->set_keep_alive_timeout(std::max(1, m.ctx.opt.keep_alive_timeout_s));
  // httplib's default also sets SO_REUSEPORT, which would let a second album bind
  // the same port silently; keep only SO_REUSEADDR (fast restarts).
  m.srv->set_socket_options([&m](socket_t sock) {
    m.listen_sock = sock;  // only listening sockets come here (see start() below)
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
    // Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus
    // the client's delayed ACK adds ~40 ms to every small reply (measured in bench_http).
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  m.srv->set_tcp_nodelay(true);
  m.srv->set_write_timeout(60);

  m.srv->set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                 std::exception_ptr ep) {
    std::string what = "unexpected error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what += std::string(": ") + e.what();
    } catch (...) {
    }
    send_error(res, Status::Internal(what));
  });
  m.srv->set_default_headers(security_headers());
  // Before any route: Host, same origin, body type and sign-in checks
  // (docs/security.md), Range only for the photo files, and a length on every
  // body: httplib reads the body of a POST/PUT that announces no length until
  // the client closes or the read timeout passes, then answers a bare 400 --
  // what curl -X POST without -d gets. That is refused at once, naming the fix.
  m.srv->set_pre_routing_handler([&m](const httplib::Request& req, httplib::Response& res) {
    // The request head is complete: its deadline and byte cap end here (connection_guard.h).
    mark_request_head_read();
    // Nobody is signed in until the check below says so (a client-sent copy of
    // the internal user headers is dropped here).
    set_request_user(req, std::nullopt);
    // Request limits (request_limits.h): oversized JSON bodies, too many header
    // fields, a body with no length; answered from the headers first.
    if (refuse_over_limits(req, res, m.ctx.opt)) return httplib::Server::HandlerResponse::Handled;
    // DNS rebinding: a page whose name was pointed at this address sends its
    // own name as Host.
    if (!m.guard.host_allowed(req)) {
      send_error_code(res, 421, "misdirected_request",
                      "host '" + req.get_header_value("Host") +
                          "' is not this album's address (serve --allowed-host NAME or --public-url URL)");
      return httplib::Server::HandlerResponse::Handled;
    }
    // CSRF: a state change must come from the album's own page.
    if (!m.guard.same_origin_ok(req)) {
      send_error_code(res, 403, "permission_denied", "cross-site request refused");
      return httplib::Server::HandlerResponse::Handled;
    }
    // Byte ranges are served for the photo files only (send_file resolves them
    // against the file). httplib would cut any other reply -- JSON, errors,
    // static files -- to the requested bytes after the handler, unchecked
    // ('Range: bytes=0-5' on /api/health gave 200 with 6 bytes, a 404 became a
    // 416). RFC 9110 lets a server ignore Range: the whole reply goes out. The
    // request is httplib's own non-const object (see send_file).
    static const std::regex kFileRoute(R"(^/api/photos/[^/]+/(original|thumbnail)$)");
    if (!req.ranges.empty() && !std::regex_match(req.path, kFileRoute)) {
      const_cast<httplib::Request&>(req).ranges.clear();
    }
    const bool has_body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    const bool has_length = req.has_header("Content-Length") || req.has_header("Transfer-Encoding");
    if (has_body_method && !has_length) {
      send_error(res, Status::InvalidArgument(req.method + " " + req.path +
                                              " needs a Content-Length header (send an empty body, "
                                              "e.g. curl -d '')"));
      res.status = 411;  // Length Required
      return httplib::Server::HandlerResponse::Handled;
    }
    const bool is_api = req.path.rfind("/api/", 0) == 0;
    // JSON routes take JSON only (a form or text/plain body is what another
    // site's page can send without asking); the upload is multipart, and the
    // ZIP download (which changes nothing) also takes the page's form post for
    // selections too long for a URL. Cross-site posts stop at the Origin check.
    const bool form_download = req.method == "POST" && req.path == "/api/photos/download" &&
        req.get_header_value("Content-Type").rfind("application/x-www-form-urlencoded", 0) == 0;
    const bool has_body = req.has_header("Transfer-Encoding") ||
                          req.get_header_value<uint64_t>("Content-Length") > 0;
    if (is_api && has_body_method && has_body && !(req.method == "POST" && req.path == "/api/photos") &&
        !form_download && m.router.has_route(req.method, req.path) &&
        req.get_header_value("Content-Type").rfind("application/json", 0) != 0) {
      send_error_code(res, 415, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!is_api || !m.ctx.opt.auth) return httplib::Server::HandlerResponse::Unhandled;
    // Sign-in: a Bearer token (scripts) or the session cookie (the page).
    Result<User> user = Status(kBadCredentials, "not signed in");
    const std::string authz = req.get_header_value("Authorization");
    if (authz.rfind("Bearer ", 0) == 0) {
      user = m.ctx.accounts->token_user(authz.substr(7));
    } else if (const std::string cookie = session_cookie(req); !cookie.empty()) {
      user = m.ctx.accounts->session_user(cookie);
    }
    if (user.ok()) {
      set_request_user(req, *user);
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (is_public_api(req.method, req.path)) return httplib::Server::HandlerResponse::Unhandled;
    if (user.status().code() != kBadCredentials) {
      send_error(res, user.status());  // the database failed
      return httplib::Server::HandlerResponse::Handled;
    }
    res.set_header("WWW-Authenticate", "Bearer realm=\"smart-album\"");
    // With no account yet the page offers the first-run setup instead.
    auto n_users = m.ctx.accounts->count_users();
    if (n_users.ok() && *n_users == 0) {
      send_error_code(res, 401, "setup_required", "no account exists yet");
    } else {
      send_error_code(res, 401, "unauthenticated", user.status().message());
    }
    return httplib::Server::HandlerResponse::Handled;
  });
  // Errors httplib produces itself (unknown route, 413 body too large, bad request)
  // get the same JSON shape as ours; replies that already carry a body are kept.
  // httplib answers 404 when no route of the request's method matches; if a
  // route of another method does, the answer is 405 with an Allow header.
  m.srv->set_error_handler(httplib::Server::HandlerWithResponse(
      [&m](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.status == 304) return httplib::Server::HandlerResponse::Unhandled;
    // A head cut by the connection guard reads as a bad request to httplib.
    const HeadCut cut = current_head_cut();
    if (cut != HeadCut::kNone) {
      res.status = cut == HeadCut::kDeadline ? 408 : 431;
      res.set_header("Connection", "close");
    }
    if (res.status == 404) {
      const std::vector<std::string> allowed = m.router.allowed_methods(req.path);
      if (!allowed.empty()) {
        std::string allow;
        for (const auto& a : allowed) allow += (allow.empty() ? "" : ", ") + a;
        res.set_header("Allow", allow);
        res.status = 405;
      }
    }
    Status s;
    switch (res.status) {
      case 404: s = Status::NotFound("no route for " + req.method + " " + req.path); break;
      case 405:
        s = Status::InvalidArgument("method " + req.method + " is not allowed for " + req.path +
                                    " (allowed: " + res.get_header_value("Allow") + ")");
        break;
      case 413: s = Status::ResourceExhausted("request body too large"); break;
      case 408:
        s = Status::Timeout("the request head (request line and header fields) did not arrive within " +
                            std::to_string(m.ctx.opt.head_deadline_s) + " s");
        break;
      case 431:
        s = Status::ResourceExhausted("the request head is larger than " + std::to_string(m.ctx.opt.max_head_bytes) +
                                      " bytes");
        break;
      default: s = Status(StatusCode::kInvalidArgument, "bad request (HTTP " +
                                                           std::to_string(res.status) + ")");
    }
    const int code = res.status;
    send_error(res, s);
    res.status = code;
    return httplib::Server::HandlerResponse::Handled;
  }));

  register_auth_routes(m.router, m.ctx);
  register_settings_routes(m.router, m.ctx);
  register_search_routes(m.router, m.ctx);
  register_download_routes(m.router, m.ctx);  // before /api/photos/{id}: "download" is no id
  register_organise_routes(m.router, m.ctx);
  register_sharing_routes(m.router, m.ctx);
  register_photo_routes(m.router, m.ctx);
  register_static_routes(m.router, m.ctx);

  if (m.ctx.opt.port == 0) {
    m.port = m.srv->bind_to_any_port(m.ctx.opt.host);
    if (m.port <= 0) return Status::Unavailable("cannot bind " + m.ctx.opt.host);
  } else {
    if (!m.srv->bind_to_port(m.ctx.opt.host, m.ctx.opt.port)) {
      return Status::Unavailable("cannot bind " + m.ctx.opt.host + ":" +
                                 std::to_string(m.ctx.opt.port) +
                                 " (address in use or not available)");
    }
    m.port = m.ctx.opt.port;
  }
  // httplib 0.11.4 listens with a backlog of 5: a burst of connections (a page
  // loading thumbnails, a few clients at once) overflowed it and the kernel
  // dropped SYNs, which clients retry only after 1 s. Listening again on the
  // bound socket raises the backlog (Linux keeps the socket, updates the queue).
  if (m.listen_sock != INVALID_SOCKET) ::listen(m.listen_sock, SOMAXCONN);
  m.thread = std::thread([&m] {
    m.srv->listen_after_bind();
    std::lock_guard<std::mutex> lock(m.mu);
    m.stopped = true;
    m.cv.notify_all();
  });
  // stop() is a no-op until the accept loop runs; wait for it so that a stop()
  // right after start() cannot be lost.
  while (!m.srv->is_running()) {
    {
      std::lock_guard<std::mutex> lock(m.mu);
      if (m.stopped) return Status::Unavailable("server stopped while starting");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::OK();
}

int HttpServer::port() const { return impl_->port; }

std::vector<std::string> HttpServer::routes() const { return impl_->router.routes(); }

void HttpServer::wait() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return impl_->stopped; });
}

void HttpServer::stop() {
  Impl& m = *impl_;
  m.srv->stop();
  if (m.thread.joinable()) m.thread.join();
  std::lock_guard<std::mutex> lock(m.mu);
  m.stopped = true;
  m.cv.notify_all();
}

}  // namespace sa
