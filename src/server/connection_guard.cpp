#include "server/connection_guard.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

namespace sa {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// When the socket now served on this thread was accepted (set by StampedThreadPool).
thread_local Clock::time_point tl_queued_at{};

struct ConnState {
  explicit ConnState(const ConnectionLimits& l) : lim(l) {}
  const ConnectionLimits& lim;
  Clock::time_point head_deadline = Clock::time_point::max();
  bool head_done = false;
  size_t head_bytes = 0;
  HeadCut cut = HeadCut::kNone;

  // A new request head starts now (or, for the first one, at the accept).
  void start_request(Clock::time_point from) {
    head_done = false;
    head_bytes = 0;
    head_deadline = lim.head_deadline_s > 0 ? from + std::chrono::seconds(lim.head_deadline_s)
                                            : Clock::time_point::max();
  }
  bool head_late(Clock::time_point now) const { return !head_done && now >= head_deadline; }
};

thread_local ConnState* tl_conn = nullptr;

// Sets tl_conn for the life of one connection on this thread.
class ConnScope {
 public:
  explicit ConnScope(ConnState* s) { tl_conn = s; }
  ~ConnScope() { tl_conn = nullptr; }
  ConnScope(const ConnScope&) = delete;
  ConnScope& operator=(const ConnScope&) = delete;
};

// Waits until `fd` is ready for `events` or `until` passes. True when ready (an error
// or hang-up counts as ready: the next read or write reports it). Looks at least once,
// so what has already arrived counts even when `until` is past.
bool wait_fd(int fd, short events, Clock::time_point until) {
  for (;;) {
    const auto now = Clock::now();
    const long long left = until > now ? std::chrono::duration_cast<milliseconds>(until - now).count() + 1 : 0;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, INT_MAX)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
    if (r == 0 && Clock::now() >= until) return false;
  }
}

Clock::time_point after(int seconds) {
  return seconds > 0 ? Clock::now() + std::chrono::seconds(seconds) : Clock::time_point::max();
}

// Byte transport without waiting: > 0 bytes moved, 0 end of stream, kWouldBlock with
// `want` set to the poll event to wait for, kFailed on an error.
constexpr ssize_t kWouldBlock = -1;
constexpr ssize_t kFailed = -2;

class Transport {
 public:
  virtual ~Transport() = default;
  virtual ssize_t recv_some(char* p, size_t n, short* want) = 0;
  virtual ssize_t send_some(const char* p, size_t n, short* want) = 0;
  virtual bool has_pending() const { return false; }  // decrypted bytes held inside
};

class PlainTransport : public Transport {
 public:
  explicit PlainTransport(int fd) : fd_(fd) {}
  ssize_t recv_some(char* p, size_t n, short* want) override {
    const ssize_t r = ::recv(fd_, p, n, MSG_DONTWAIT);
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      *want = POLLIN;
      return kWouldBlock;
    }
    return kFailed;
  }
  ssize_t send_some(const char* p, size_t n, short* want) override {
    const ssize_t r = ::send(fd_, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      *want = POLLOUT;
      return kWouldBlock;
    }
    return kFailed;
  }

 private:
  int fd_;
};

// TLS over a non-blocking socket: SSL_read/SSL_write never block, so a client that
// sends half a TLS record is subject to the same deadlines as one that sends half a line.
class TlsTransport : public Transport {
 public:
  explicit TlsTransport(SSL* ssl) : ssl_(ssl) {}
  ssize_t recv_some(char* p, size_t n, short* want) override {
    ERR_clear_error();
    const int r = SSL_read(ssl_, p, static_cast<int>(std::min<size_t>(n, INT_MAX)));
    return r > 0 ? r : classify(r, want);
  }
  ssize_t send_some(const char* p, size_t n, short* want) override {
    ERR_clear_error();
    const int r = SSL_write(ssl_, p, static_cast<int>(std::min<size_t>(n, INT_MAX)));
    return r > 0 ? r : classify(r, want);
  }
  bool has_pending() const override { return SSL_pending(ssl_) > 0; }

 private:
  ssize_t classify(int r, short* want) {
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ: *want = POLLIN; return kWouldBlock;
      case SSL_ERROR_WANT_WRITE: *want = POLLOUT; return kWouldBlock;
      case SSL_ERROR_ZERO_RETURN: return 0;
      default: return kFailed;
    }
  }
  SSL* ssl_;
};

bool address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return false;
  if (addr.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  } else {
    return false;
  }
  std::array<char, NI_MAXHOST> host{};
  if (::getnameinfo(sa, len, host.data(), static_cast<socklen_t>(host.size()), nullptr, 0, NI_NUMERICHOST) != 0) {
    return false;
  }
  ip = host.data();
  return true;
}

// httplib::Stream over a Transport, with the head limits on every read.
class GuardedStream : public httplib::Stream {
 public:
  // svr_sock: the server's listening socket, INVALID_SOCKET once it stops; every wait
  // looks at it at least every 200 ms, so a stop never waits out a slow client.
  GuardedStream(Transport& t, ConnState& st, int fd, int read_s, int write_s, const std::atomic<socket_t>& svr_sock)
      : t_(t), st_(st), fd_(fd), read_s_(read_s), write_s_(write_s), svr_sock_(svr_sock) {}

  bool is_readable() const override {
    if (pos_ < len_ || t_.has_pending()) return true;
    return wait(POLLIN, read_until());
  }
  bool is_writable() const override {
    if (!wait(POLLOUT, after(write_s_))) return false;
    char c;  // still connected? (a peer that closed reads as end of stream)
    return ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) != 0;
  }
  ssize_t read(char* ptr, size_t size) override {
    if (pos_ == len_) {
      const ssize_t n = fill();
      if (n <= 0) return n;
    }
    size_t n = std::min(size, len_ - pos_);
    if (!st_.head_done && st_.lim.max_head_bytes > 0) {
      if (st_.head_bytes + n > st_.lim.max_head_bytes) {
        st_.cut = HeadCut::kTooLarge;
        return -1;
      }
      st_.head_bytes += n;
    }
    std::memcpy(ptr, buf_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    size_t done = 0;
    const auto until = after(write_s_);
    while (done < size) {
      short want = POLLOUT;
      const ssize_t n = t_.send_some(ptr + done, size - done, &want);
      if (n > 0) {
        done += static_cast<size_t>(n);
      } else if (n != kWouldBlock || !wait(want, until)) {
        return -1;
      }
    }
    return static_cast<ssize_t>(done);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

  // Waits for the first byte of the next request: at most the keep-alive wait and the
  // head deadline, and no longer than the server runs.
  bool wait_for_request(int keep_alive_s) {
    if (pos_ < len_ || t_.has_pending()) return true;
    return wait(POLLIN, std::min(after(std::max(1, keep_alive_s)), st_.head_deadline));
  }

 private:
  // wait_fd in slices, giving up when the server stops.
  bool wait(short events, Clock::time_point until) const {
    while (svr_sock_ != INVALID_SOCKET) {
      if (wait_fd(fd_, events, std::min(until, Clock::now() + milliseconds(200)))) return true;
      if (Clock::now() >= until) return false;
    }
    return false;
  }
  Clock::time_point read_until() const {
    const auto t = after(read_s_);
    return st_.head_done ? t : std::min(t, st_.head_deadline);
  }
  // Refills the buffer: > 0 bytes, 0 end of stream, -1 timeout, cut or error. What has
  // already arrived is always taken (a client that waited for a thread past its
  // deadline with its whole request sent is served); the deadline cuts waiting only.
  ssize_t fill() {
    const auto until = read_until();
    for (;;) {
      short want = POLLIN;
      const ssize_t n = t_.recv_some(buf_.data(), buf_.size(), &want);
      if (n >= 0) {
        pos_ = 0;
        len_ = static_cast<size_t>(n);
        return n;
      }
      if (n != kWouldBlock || !wait(want, until)) {
        if (st_.head_late(Clock::now())) st_.cut = HeadCut::kDeadline;
        return -1;
      }
    }
  }

  Transport& t_;
  ConnState& st_;
  int fd_;
  int read_s_, write_s_;
  const std::atomic<socket_t>& svr_sock_;
  std::array<char, 4096> buf_{};
  size_t pos_ = 0, len_ = 0;
};

struct Waits {
  int read_s, write_s, keep_alive_s;
};

// The keep-alive loop of httplib's process_server_socket, over a GuardedStream.
// `process` is the server's process_request.
template <class Process>
bool serve(const ConnectionLimits& lim, Transport& t, int fd, const std::atomic<socket_t>& svr_sock,
           size_t max_requests, Waits w, bool* was_cut, Process&& process) {
  ConnState st(lim);
  ConnScope scope(&st);
  GuardedStream strm(t, st, fd, w.read_s, w.write_s, svr_sock);
  st.start_request(tl_queued_at == Clock::time_point{} ? Clock::now() : tl_queued_at);
  bool ret = false;
  for (size_t left = std::max<size_t>(1, max_requests); left > 0; --left) {
    if (svr_sock == INVALID_SOCKET || !strm.wait_for_request(w.keep_alive_s)) break;
    bool closed = false;
    ret = process(strm, left == 1, closed);
    if (!ret || closed || st.cut != HeadCut::kNone) break;
    st.start_request(Clock::now());
  }
  *was_cut = st.cut != HeadCut::kNone;
  return ret;
}

// A connection cut in its head still has request bytes coming: closing at once would
// reset the connection and could drop our 408/431 before the client reads it. Stop
// sending, read (and drop) what comes for a short while, then close.
void lingering_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto until = Clock::now() + milliseconds(500);
  std::array<char, 4096> sink{};
  size_t drained = 0;
  while (drained < (256u << 10) && wait_fd(fd, POLLIN, until)) {
    const ssize_t n = ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) break;
    if (n > 0) drained += static_cast<size_t>(n);
  }
}

void close_socket(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

// Refuses a connection over the per-address cap: a 503 for plain HTTP (whatever the
// request was), nothing for TLS (the handshake has not happened), then close.
void refuse_over_cap(int fd, bool plain, int cap) {
  if (plain) {
    const std::string body =
        "{\"error\":{\"code\":\"resource_exhausted\",\"message\":\"too many connections from this address (the limit "
        "is " + std::to_string(cap) + ")\"}}";
    const std::string reply = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                              "Retry-After: 5\r\nConnection: close\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
    (void)::send(fd, reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    // What already arrived is read, so the close is a FIN, not a reset that could drop the reply.
    std::array<char, 4096> sink{};
    while (::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
    }
  }
  close_socket(fd);
}

// Counts a connection in for its lifetime; `admitted` is false over the cap.
class Admission {
 public:
  Admission(ConnectionGuard& g, int fd) : g_(g) {
    int port = 0;
    if (!address_of(fd, true, addr_, port)) addr_.clear();
    admitted_ = g_.enter(addr_);
  }
  ~Admission() {
    if (admitted_) g_.leave(addr_);
  }
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  bool admitted() const { return admitted_; }

 private:
  ConnectionGuard& g_;
  std::string addr_;
  bool admitted_ = false;
};

int to_seconds(time_t sec, time_t usec) { return static_cast<int>(std::max<time_t>(1, sec + (usec > 0 ? 1 : 0))); }

std::mutex g_ssl_new_mu;

}  // namespace

void mark_request_head_read() {
  if (tl_conn) tl_conn->head_done = true;
}

HeadCut current_head_cut() { return tl_conn ? tl_conn->cut : HeadCut::kNone; }

bool ConnectionGuard::enter(const std::string& addr) {
  std::lock_guard<std::mutex> lock(mu_);
  int& n = open_[addr];
  const bool capped = std::find(limits_.uncapped.begin(), limits_.uncapped.end(), addr) == limits_.uncapped.end();
  if (capped && limits_.max_connections_per_client > 0 && n >= limits_.max_connections_per_client) {
    if (n == 0) open_.erase(addr);
    return false;
  }
  ++n;
  return true;
}

void ConnectionGuard::leave(const std::string& addr) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(addr);
  if (it != open_.end() && --it->second <= 0) open_.erase(it);
}

int ConnectionGuard::count(const std::string& addr) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(addr);
  return it == open_.end() ? 0 : it->second;
}

void StampedThreadPool::enqueue(std::function<void()> fn) {
  pool_.enqueue([fn = std::move(fn), at = Clock::now()] {
    tl_queued_at = at;
    fn();
    tl_queued_at = Clock::time_point{};
  });
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  bool ret = false;
  {
    Admission adm(guard_, sock);
    if (!adm.admitted()) {
      refuse_over_cap(sock, /*plain=*/true, guard_.limits().max_connections_per_client);
      return false;
    }
    PlainTransport t(sock);
    bool cut = false;
    ret = serve(guard_.limits(), t, sock, svr_sock_, keep_alive_max_count_,
                {to_seconds(read_timeout_sec_, read_timeout_usec_), to_seconds(write_timeout_sec_, write_timeout_usec_),
                 static_cast<int>(keep_alive_timeout_sec_)},
                &cut, [this](httplib::Stream& strm, bool close, bool& closed) {
                  return process_request(strm, close, closed, nullptr);
                });
    if (cut) lingering_close(sock);
  }
  close_socket(sock);
  return ret;
}

bool GuardedSslServer::process_and_close_socket(socket_t sock) {
  bool ret = false;
  {
    Admission adm(guard_, sock);
    if (!adm.admitted()) {
      refuse_over_cap(sock, /*plain=*/false, guard_.limits().max_connections_per_client);
      return false;
    }
    SSL* ssl = nullptr;
    {
      std::lock_guard<std::mutex> lock(g_ssl_new_mu);
      ssl = SSL_new(ssl_context());
    }
    const int flags = ::fcntl(sock, F_GETFL, 0);
    if (ssl && flags >= 0 && ::fcntl(sock, F_SETFL, flags | O_NONBLOCK) == 0 && SSL_set_fd(ssl, sock) == 1) {
      // The handshake is part of the first request's head: same deadline, same read wait.
      ConnState hs(guard_.limits());
      hs.start_request(tl_queued_at == Clock::time_point{} ? Clock::now() : tl_queued_at);
      const auto until = std::min(hs.head_deadline, after(to_seconds(read_timeout_sec_, read_timeout_usec_)));
      bool shook = false;
      for (;;) {
        ERR_clear_error();
        const int r = SSL_accept(ssl);
        if (r == 1) {
          shook = true;
          break;
        }
        const int e = SSL_get_error(ssl, r);
        const short want = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (want == 0 || svr_sock_ == INVALID_SOCKET || !wait_fd(sock, want, until)) break;
      }
      if (shook) {
        TlsTransport t(ssl);
        bool cut = false;
        ret = serve(guard_.limits(), t, sock, svr_sock_, keep_alive_max_count_,
                    {to_seconds(read_timeout_sec_, read_timeout_usec_),
                     to_seconds(write_timeout_sec_, write_timeout_usec_), static_cast<int>(keep_alive_timeout_sec_)},
                    &cut, [this, ssl](httplib::Stream& strm, bool close, bool& closed) {
                      return process_request(strm, close, closed, [ssl](httplib::Request& req) { req.ssl = ssl; });
                    });
        if (ret && !cut) {
          ERR_clear_error();
          SSL_shutdown(ssl);  // best effort close_notify; never waits
        }
        if (cut) lingering_close(sock);
      }
    }
    if (ssl) SSL_free(ssl);
  }
  close_socket(sock);
  return ret;
}

}  // namespace sa
