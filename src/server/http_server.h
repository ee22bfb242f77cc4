// HttpServer: the JSON API and the web page over one Album.
//
// The server is a thin layer: every route parses its parameters, calls the Album
// and maps the result to JSON (or a Status to an error reply, see errors.h). It
// never owns the Album; the Album must outlive the server.
//
// Threading: start() binds and runs the accept loop on a background thread with a
// pool of request threads; stop() (or the destructor) shuts it down and joins.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace sa {

class Accounts;
class Album;

inline constexpr const char* kVersion = "0.1.0";

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 5000;           // 0 = any free port (see HttpServer::port())
  std::string web_dir;       // static files served at "/"; empty = no page
  int64_t max_upload_bytes = 200LL << 20;  // per uploaded file
  // Request threads. Each open connection holds one while it sends a request or
  // waits between requests (httplib 0.11.4 blocks a thread per connection), so a
  // few slow or idle clients must not use them all up; an idle thread costs
  // little more than its stack (memory-heavy work is bounded elsewhere: the decode
  // budget in image.h). Slow clients are bounded by the head deadline and the
  // per-address cap below (connection_guard.h, docs/limits.md).
  int threads = 256;
  // The request head (request line + header fields) must be complete this many
  // seconds after the connection was accepted, or after the previous reply on a
  // keep-alive connection: 408 and closed otherwise, however often the client
  // sends a byte. <= 0: no deadline.
  int head_deadline_s = 10;
  // Bytes in one request head: 431 and closed when more arrive (so a million
  // header fields cost at most this much). <= 0: no cap.
  int64_t max_head_bytes = 64 << 10;
  // Connections one client IP address may hold open at once, loopback included:
  // one more is answered 503 at once and closed. <= 0: no cap. The trusted
  // proxies below are not capped (they carry everyone's connections).
  int max_connections_per_client = 32;
  // Longest wait for a single read (httplib checks each read call, not a whole
  // request): a client that stalls this long inside a request head or body is
  // dropped, while a large upload that keeps sending is never cut off.
  int read_timeout_s = 10;
  // Longest wait for the next request on an idle keep-alive connection.
  int keep_alive_timeout_s = 3;
  // Every route but the photo upload takes a small JSON body: larger Content-Length
  // is refused with 413 before the body is read, chunked bodies with 411.
  int64_t max_json_body_bytes = 1 << 20;
  // More header fields than this: 431 (request_limits.h).
  int max_header_fields = 100;
  // More multipart parts than this in one upload: 413, the rest is not read.
  int max_upload_parts = 1000;

  // ---- who may reach the album (docs/security.md) ----
  // true: every /api route except POST /api/auth/login, POST /api/auth/setup
  // and a minimal GET /api/health answers 401 without a session cookie or a
  // Bearer token (the server then needs an Accounts). false: no sign-in at all
  // (the CLI allows it on a loopback bind only).
  bool auth = true;
  // Host names (no port) accepted besides loopback names, IP literals and the
  // bind address; anything else is 421 (DNS rebinding).
  std::vector<std::string> allowed_hosts;
  // The address people use, e.g. "https://photos.example.com": its host is
  // allowed and an https scheme marks cookies Secure.
  std::string public_url;
  // Peers (IP addresses) whose X-Forwarded-For / X-Forwarded-Proto are believed.
  std::vector<std::string> trusted_proxies;
  // Serve HTTPS directly with these PEM files (both or neither).
  std::string tls_cert, tls_key;
};

class HttpServer {
 public:
  // accounts: required when opt.auth (start() fails without it); must outlive the server.
  HttpServer(Album& album, ServerOptions opt, Accounts* accounts = nullptr);
  ~HttpServer();  // stops and joins
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port and starts serving on a background thread.
  // Unavailable if the address cannot be bound; InvalidArgument for a bad port.
  Status start();
  // The bound port (the chosen one when options.port == 0); 0 before start().
  int port() const;
  // Every registered route as "METHOD pattern", for tests that check each one.
  std::vector<std::string> routes() const;
  // Blocks until stop() is called from another thread (or a signal handler path).
  void wait();
  // Idempotent; safe from any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sa
