#include "server/security.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace sa {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// Request headers that carry the signed-in user from the pre-routing check to
// the route. Any copy sent by the client is removed first.
constexpr const char* kUserId = "X-Smart-Album-Internal-User-Id";
constexpr const char* kUserName = "X-Smart-Album-Internal-User-Name";
constexpr const char* kUserAdmin = "X-Smart-Album-Internal-User-Admin";

void erase_header(httplib::Headers& h, const char* key) {
  auto [b, e] = h.equal_range(key);  // Headers compare keys case-insensitively
  h.erase(b, e);
}

}  // namespace

std::string host_without_port(std::string_view authority) {
  std::string a = lower(trim(authority));
  if (!a.empty() && a.front() == '[') {
    const size_t close = a.find(']');
    return close == std::string::npos ? a : a.substr(1, close - 1);
  }
  const size_t colon = a.find(':');
  if (colon != std::string::npos && a.find(':', colon + 1) == std::string::npos) a.resize(colon);
  while (!a.empty() && a.back() == '.') a.pop_back();  // "localhost." is "localhost"
  return a;
}

bool is_ip_literal(std::string_view host) {
  std::string h(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned char buf[16];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

bool is_loopback_host(std::string_view host_in) {
  std::string h = lower(host_in);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h == "localhost" || (h.size() > 10 && h.ends_with(".localhost"))) return true;
  if (h == "::1") return true;
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return false;
}

RequestGuard::RequestGuard(const ServerOptions& opt) : opt_(opt) {
  const std::string bind = host_without_port(opt.host);
  if (!bind.empty() && bind != "0.0.0.0" && bind != "::") hosts_.push_back(bind);
  for (const auto& h : opt.allowed_hosts) hosts_.push_back(host_without_port(h));
  if (!opt.public_url.empty()) {
    std::string url = lower(opt.public_url);
    const size_t scheme_end = url.find("://");
    if (scheme_end != std::string::npos) {
      const size_t path = url.find('/', scheme_end + 3);
      public_origin_ = url.substr(0, path);
      hosts_.push_back(host_without_port(public_origin_.substr(scheme_end + 3)));
    }
  }
}

bool RequestGuard::host_allowed(const httplib::Request& req) const {
  // HTTP/1.1 requires Host; a request without one cannot come from a browser.
  if (!req.has_header("Host")) return true;
  const std::string host = host_without_port(req.get_header_value("Host"));
  if (host.empty()) return false;
  if (is_loopback_host(host) || is_ip_literal(host)) return true;
  return std::find(hosts_.begin(), hosts_.end(), host) != hosts_.end();
}

bool RequestGuard::from_trusted_proxy(const httplib::Request& req) const {
  return std::find(opt_.trusted_proxies.begin(), opt_.trusted_proxies.end(), req.remote_addr) !=
         opt_.trusted_proxies.end();
}

std::string RequestGuard::client_addr(const httplib::Request& req) const {
  if (from_trusted_proxy(req) && req.has_header("X-Forwarded-For")) {
    // The proxy appends the address it saw: the last entry is the one we can trust.
    const std::string xff = req.get_header_value("X-Forwarded-For");
    const size_t comma = xff.rfind(',');
    const std::string last = trim(comma == std::string::npos ? xff : std::string_view(xff).substr(comma + 1));
    if (!last.empty()) return last;
  }
  return req.remote_addr;
}

bool RequestGuard::is_https(const httplib::Request& req) const {
  if (!opt_.tls_cert.empty()) return true;
  if (from_trusted_proxy(req) && req.has_header("X-Forwarded-Proto")) {
    return lower(req.get_header_value("X-Forwarded-Proto")) == "https";
  }
  return public_origin_.rfind("https://", 0) == 0;
}

bool RequestGuard::same_origin_ok(const httplib::Request& req) const {
  const std::string& m = req.method;
  if (m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE") return true;
  if (req.has_header("Sec-Fetch-Site") && lower(req.get_header_value("Sec-Fetch-Site")) == "cross-site") {
    return false;
  }
  if (!req.has_header("Origin")) return true;  // scripts and curl send none; browsers always do on POST
  const std::string origin = lower(trim(req.get_header_value("Origin")));
  if (!public_origin_.empty() && origin == public_origin_) return true;
  if (!req.has_header("Host")) return false;
  // The album's own origin is the one the request was sent to.
  const std::string own = std::string(is_https(req) ? "https://" : "http://") +
                          lower(trim(req.get_header_value("Host")));
  if (origin == own) return true;
  // Browsers leave the default port out of Origin, and some clients out of Host.
  const bool https = is_https(req);
  auto strip_default = [https](std::string o) {
    const std::string suffix = https ? ":443" : ":80";
    if (o.ends_with(suffix)) o.resize(o.size() - suffix.size());
    return o;
  };
  return strip_default(origin) == strip_default(own);
}

std::optional<User> request_user(const httplib::Request& req) {
  if (!req.has_header(kUserId)) return std::nullopt;
  User u;
  u.id = std::stoll(req.get_header_value(kUserId));
  u.name = req.get_header_value(kUserName);
  u.admin = req.get_header_value(kUserAdmin) == "1";
  return u;
}

void set_request_user(const httplib::Request& req, const std::optional<User>& u) {
  // httplib hands pre-routing handlers its own mutable request as const (see
  // the Range handling in http_server.cpp): the route receives the same object.
  auto& headers = const_cast<httplib::Request&>(req).headers;
  erase_header(headers, kUserId);
  erase_header(headers, kUserName);
  erase_header(headers, kUserAdmin);
  if (!u) return;
  headers.emplace(kUserId, std::to_string(u->id));
  headers.emplace(kUserName, u->name);
  headers.emplace(kUserAdmin, u->admin ? "1" : "0");
}

std::string session_cookie(const httplib::Request& req) {
  const size_t n = req.get_header_value_count("Cookie");
  for (size_t i = 0; i < n; ++i) {
    const std::string c = req.get_header_value("Cookie", i);
    size_t pos = 0;
    while (pos < c.size()) {
      size_t end = c.find(';', pos);
      if (end == std::string::npos) end = c.size();
      const std::string part = trim(std::string_view(c).substr(pos, end - pos));
      const size_t eq = part.find('=');
      if (eq != std::string::npos && part.substr(0, eq) == kSessionCookie) return part.substr(eq + 1);
      pos = end + 1;
    }
  }
  return "";
}

void set_session_cookie(httplib::Response& res, const std::string& token, bool secure) {
  res.set_header("Set-Cookie", std::string(kSessionCookie) + "=" + token +
                                   "; Path=/; Max-Age=2592000; HttpOnly; SameSite=Strict" +
                                   (secure ? "; Secure" : ""));
}

void clear_session_cookie(httplib::Response& res, bool secure) {
  res.set_header("Set-Cookie", std::string(kSessionCookie) +
                                   "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" +
                                   (secure ? "; Secure" : ""));
}

}  // namespace sa
