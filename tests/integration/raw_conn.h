// A raw HTTP/1.1 client connection for tests that need what httplib's client hides:
// a head sent byte by byte, a body that stops half-way, a chosen source address.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

namespace sa::test {

class RawConn {
 public:
  // Connects to 127.0.0.1:port from 127.0.0.<host> (distinct hosts let a test tell a
  // per-address limit apart from the rest).
  explicit RawConn(int port, int host = 1) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000000u | static_cast<uint32_t>(host));
    ::bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof(src));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool ok() const { return ok_; }

  bool send(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Reads for up to `ms`. Without `closed` it stops as soon as one whole reply (head
  // and Content-Length body) is in; with it, it reads on until the peer closes or
  // resets the connection, and sets *closed accordingly.
  std::string read_reply(int ms, bool* closed = nullptr) {
    using Clock = std::chrono::steady_clock;
    std::string out;
    if (closed) *closed = false;
    const auto end = Clock::now() + std::chrono::milliseconds(ms);
    char buf[4096];
    while (Clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
      if (::poll(&p, 1, static_cast<int>(std::max<long long>(left, 1))) <= 0) break;
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        if (closed) *closed = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
      const size_t h = out.find("\r\n\r\n");
      const size_t cl = out.find("Content-Length: ");
      if (!closed && h != std::string::npos && cl != std::string::npos && cl < h &&
          out.size() >= h + 4 + std::stoul(out.substr(cl + 16))) {
        break;
      }
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

// The status code of a raw reply, 0 when it is not an HTTP/1.1 status line.
inline int status_of(const std::string& reply) {
  if (reply.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::stoi(reply.substr(9, 3));
}

}  // namespace sa::test
