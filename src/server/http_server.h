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

#include "core/status.h"

namespace sa {

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
  // budget in image.h). 256 so that a few dozen slow clients cannot starve the rest
  // (issue 11); Debian's compiled httplib 0.11.4 has no hook before the header read,
  // so there is no whole-request header deadline or per-client cap (docs/limits.md).
  int threads = 256;
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
};

class HttpServer {
 public:
  HttpServer(Album& album, ServerOptions opt);
  ~HttpServer();  // stops and joins
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port and starts serving on a background thread.
  // Unavailable if the address cannot be bound; InvalidArgument for a bad port.
  Status start();
  // The bound port (the chosen one when options.port == 0); 0 before start().
  int port() const;
  // Blocks until stop() is called from another thread (or a signal handler path).
  void wait();
  // Idempotent; safe from any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sa
