// Per-connection limits that Debian's compiled cpp-httplib 0.11.4 has no option for
// (issue 11, items 5 and 6): a whole-request-head deadline, a cap on the bytes of one
// request head, and a cap on the connections one client address holds at once.
//
// How: GuardedServer / GuardedSslServer derive from httplib::Server / SSLServer and
// override its (private virtual) process_and_close_socket, the function each request
// thread runs for one accepted socket. The override cannot call the base one (it is
// private), so it runs the same keep-alive loop itself over its own Stream, then hands
// each request to httplib's protected process_request: parsing, routing and replies stay
// httplib's. The Stream enforces the limits on every read of a request head:
//   - deadline: the head (request line + header fields) must be complete within
//     `head_deadline_s` of the connection's accept (first request) or of the end of the
//     previous reply (keep-alive); a client that drips header lines is cut at the
//     deadline however often it sends, and answered 408.
//   - bytes: more than `max_head_bytes` in one head is cut and answered 431, so a
//     million header fields cost at most that much.
// A head is complete when the pre-routing handler calls mark_request_head_read() (same
// thread, through a thread_local); the body is read under the per-read timeout only.
// Connections are counted per peer IP address (loopback too); one over the cap gets a
// 503 at once and is closed, without taking a request thread for longer than that.
//
// Internal to src/server. Thread safety: one guard per server, shared by its request
// threads (the counts are behind a mutex; the rest is per connection).
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace sa {

struct ConnectionLimits {
  int head_deadline_s = 10;               // <= 0: no deadline
  size_t max_head_bytes = 64 << 10;       // 0: no cap
  int max_connections_per_client = 32;    // <= 0: no cap
  // Addresses never capped: reverse proxies carry every user's connections.
  std::vector<std::string> uncapped;
};
// The per-read, per-write and keep-alive waits are the server's own (set_read_timeout,
// set_write_timeout, set_keep_alive_timeout), as with httplib's own loop.

// Why the current thread's request head was cut, for the error handler.
enum class HeadCut { kNone, kDeadline, kTooLarge };

// Called by the pre-routing handler: the head of the request now being served on this
// thread is complete (no-op outside a guarded connection).
void mark_request_head_read();
// The cut of the request now being served on this thread (kNone outside one).
HeadCut current_head_cut();

// Shared by both server kinds: the per-address counts and the limits.
class ConnectionGuard {
 public:
  explicit ConnectionGuard(ConnectionLimits limits) : limits_(limits) {}
  const ConnectionLimits& limits() const { return limits_; }

  // Counts `addr` in; false (nothing counted) when it already holds the cap.
  bool enter(const std::string& addr);
  void leave(const std::string& addr);
  // Connections `addr` holds now (for tests).
  int count(const std::string& addr) const;

 private:
  ConnectionLimits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int> open_;
};

// The thread pool for request threads, recording when each accepted socket was queued
// so that the head deadline of its first request counts from the accept: a connection
// that waited for a free thread past its deadline is served only if its request head
// has already arrived whole, and closed as soon as it would have to be waited for.
class StampedThreadPool : public httplib::TaskQueue {
 public:
  explicit StampedThreadPool(size_t n) : pool_(n) {}
  void enqueue(std::function<void()> fn) override;
  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
};

class GuardedServer : public httplib::Server {
 public:
  explicit GuardedServer(ConnectionGuard& guard) : guard_(guard) {}

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionGuard& guard_;
};

class GuardedSslServer : public httplib::SSLServer {
 public:
  GuardedSslServer(ConnectionGuard& guard, const char* cert, const char* key)
      : httplib::SSLServer(cert, key), guard_(guard) {}

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionGuard& guard_;
};

}  // namespace sa
