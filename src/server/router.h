// Router: registers routes on an httplib::Server and remembers each method and
// path pattern, so that a request whose path has routes, but none for its method,
// is answered 405 with an Allow header instead of httplib's 404.
//
// Route files call Get/Post/Put/Patch/Delete exactly as on httplib::Server (same
// patterns, same handler kinds, content readers included). Register everything
// before the server starts; allowed_methods() is then safe from any thread.
#pragma once

#include <httplib.h>

#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace sa {

class Router {
 public:
  explicit Router(httplib::Server& srv) : srv_(srv) {}

  template <class H> void Get(const std::string& pattern, H&& h) {
    add("GET", pattern);
    srv_.Get(pattern, std::forward<H>(h));
  }
  template <class H> void Post(const std::string& pattern, H&& h) {
    add("POST", pattern);
    srv_.Post(pattern, std::forward<H>(h));
  }
  template <class H> void Put(const std::string& pattern, H&& h) {
    add("PUT", pattern);
    srv_.Put(pattern, std::forward<H>(h));
  }
  template <class H> void Patch(const std::string& pattern, H&& h) {
    add("PATCH", pattern);
    srv_.Patch(pattern, std::forward<H>(h));
  }
  template <class H> void Delete(const std::string& pattern, H&& h) {
    add("DELETE", pattern);
    srv_.Delete(pattern, std::forward<H>(h));
  }

  // The methods with a route whose pattern matches `path` as httplib matches it
  // (whole path), in registration order without repeats; HEAD follows GET
  // (httplib answers HEAD with the GET handler). Empty when no route matches.
  std::vector<std::string> allowed_methods(const std::string& path) const;
  bool has_route(const std::string& method, const std::string& path) const;
  // Every route as "METHOD pattern", in registration order.
  std::vector<std::string> routes() const;

 private:
  void add(const char* method, const std::string& pattern) {
    routes_.push_back({method, pattern, std::regex(pattern)});
  }
  struct Route {
    std::string method, pattern;
    std::regex re;
  };

  httplib::Server& srv_;
  std::vector<Route> routes_;
};

}  // namespace sa
