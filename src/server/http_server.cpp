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

#include "server/errors.h"
#include "server/routes.h"

namespace sa {

struct HttpServer::Impl {
  Impl(Album& a, ServerOptions o) : ctx{a, std::move(o)} {}
  RouteContext ctx;
  httplib::Server srv;
  Router router{srv};
  std::thread thread;
  socket_t listen_sock = INVALID_SOCKET;
  int port = 0;
  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
};

HttpServer::HttpServer(Album& album, ServerOptions opt)
    : impl_(std::make_unique<Impl>(album, std::move(opt))) {}

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
  const int n_threads = std::max(2, m.ctx.opt.threads);
  m.srv.new_task_queue = [n_threads] { return new httplib::ThreadPool(n_threads); };
  // Bodies are streamed part by part (see routes_photos.cpp) with a per-file limit,
  // so the request as a whole may be much larger than one file.
  m.srv.set_payload_max_length(size_t(64) << 30);
  m.srv.set_read_timeout(std::max(1, m.ctx.opt.read_timeout_s));
  m.srv.set_keep_alive_timeout(std::max(1, m.ctx.opt.keep_alive_timeout_s));
  // httplib's default also sets SO_REUSEPORT, which would let a second album bind
  // the same port silently; keep only SO_REUSEADDR (fast restarts).
  m.srv.set_socket_options([&m](socket_t sock) {
    m.listen_sock = sock;  // only listening sockets come here (see start() below)
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof(yes));
    // Headers and body go out in separate writes: without TCP_NODELAY, Nagle plus
    // the client's delayed ACK adds ~40 ms to every small reply (measured in bench_http).
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const void*>(&yes), sizeof(yes));
  });
  m.srv.set_tcp_nodelay(true);
  m.srv.set_write_timeout(60);

  m.srv.set_exception_handler([](const httplib::Request&, httplib::Response& res,
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
  // httplib reads the body of a POST/PUT that announces no length until the
  // client closes or the read timeout passes, then answers a bare 400:
  // what curl -X POST without -d gets. Refuse it at once and name the fix.
  m.srv.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
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
    if (!has_body_method || req.has_header("Content-Length") || req.has_header("Transfer-Encoding")) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    send_error(res, Status::InvalidArgument(req.method + " " + req.path +
                                            " needs a Content-Length header (send an empty body, "
                                            "e.g. curl -d '')"));
    res.status = 411;  // Length Required
    return httplib::Server::HandlerResponse::Handled;
  });
  // Errors httplib produces itself (unknown route, 413 body too large, bad request)
  // get the same JSON shape as ours; replies that already carry a body are kept.
  // httplib answers 404 when no route of the request's method matches; if a
  // route of another method does, the answer is 405 with an Allow header.
  m.srv.set_error_handler(httplib::Server::HandlerWithResponse(
      [&m](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty() || res.status == 304) return httplib::Server::HandlerResponse::Unhandled;
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
      default: s = Status(StatusCode::kInvalidArgument, "bad request (HTTP " +
                                                           std::to_string(res.status) + ")");
    }
    const int code = res.status;
    send_error(res, s);
    res.status = code;
    return httplib::Server::HandlerResponse::Handled;
  }));

  register_settings_routes(m.router, m.ctx);
  register_search_routes(m.router, m.ctx);
  register_download_routes(m.router, m.ctx);  // before /api/photos/{id}: "download" is no id
  register_organise_routes(m.router, m.ctx);
  register_photo_routes(m.router, m.ctx);
  register_static_routes(m.router, m.ctx);

  if (m.ctx.opt.port == 0) {
    m.port = m.srv.bind_to_any_port(m.ctx.opt.host);
    if (m.port <= 0) return Status::Unavailable("cannot bind " + m.ctx.opt.host);
  } else {
    if (!m.srv.bind_to_port(m.ctx.opt.host, m.ctx.opt.port)) {
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
    m.srv.listen_after_bind();
    std::lock_guard<std::mutex> lock(m.mu);
    m.stopped = true;
    m.cv.notify_all();
  });
  // stop() is a no-op until the accept loop runs; wait for it so that a stop()
  // right after start() cannot be lost.
  while (!m.srv.is_running()) {
    {
      std::lock_guard<std::mutex> lock(m.mu);
      if (m.stopped) return Status::Unavailable("server stopped while starting");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::OK();
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::wait() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait(lock, [this] { return impl_->stopped; });
}

void HttpServer::stop() {
  Impl& m = *impl_;
  m.srv.stop();
  if (m.thread.joinable()) m.thread.join();
  std::lock_guard<std::mutex> lock(m.mu);
  m.stopped = true;
  m.cv.notify_all();
}

}  // namespace sa
