// Internal to src/server: the checks every request passes before its route
// (Host allow-list, same-origin for state changes, JSON bodies, sign-in) and
// the small helpers they share. docs/security.md explains each rule.
#pragma once

#include <httplib.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/host_names.h"
#include "server/http_server.h"
#include "store/users.h"

namespace sa {

// Decides what the request may do before any route runs. Built once per server.
class RequestGuard {
 public:
  explicit RequestGuard(const ServerOptions& opt);

  bool host_allowed(const httplib::Request& req) const;
  // The client's address: the peer, or X-Forwarded-For's last hop when the
  // peer is a trusted proxy.
  std::string client_addr(const httplib::Request& req) const;
  // True for TLS, an https public URL, or X-Forwarded-Proto: https from a trusted proxy.
  bool is_https(const httplib::Request& req) const;
  // False for a state-changing request (POST/PUT/PATCH/DELETE) sent by another
  // site: Sec-Fetch-Site: cross-site, or an Origin other than the album's own.
  bool same_origin_ok(const httplib::Request& req) const;
  bool from_trusted_proxy(const httplib::Request& req) const;

 private:
  const ServerOptions& opt_;
  std::vector<std::string> hosts_;  // lower case, no port
  std::string public_origin_;       // "https://photos.example.com" or ""
};

// The signed-in user of a request, as the pre-routing check recorded it
// (nullopt when auth is off or nobody is signed in).
std::optional<User> request_user(const httplib::Request& req);
// Records / clears it (pre-routing only; strips any client-sent copy).
void set_request_user(const httplib::Request& req, const std::optional<User>& u);
// The session cookie's value ("" if none).
std::string session_cookie(const httplib::Request& req);
void set_session_cookie(httplib::Response& res, const std::string& token, bool secure);
void clear_session_cookie(httplib::Response& res, bool secure);

inline constexpr const char* kSessionCookie = "sa_session";

}  // namespace sa
