#include "server/router.h"

#include <algorithm>

namespace sa {

std::vector<std::string> Router::allowed_methods(const std::string& path) const {
  std::vector<std::string> out;
  auto add = [&out](const std::string& m) {
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  };
  for (const auto& r : routes_) {
    if (!std::regex_match(path, r.re)) continue;
    add(r.method);
    if (r.method == "GET") add("HEAD");
  }
  return out;
}

bool Router::has_route(const std::string& method, const std::string& path) const {
  const auto m = allowed_methods(path);
  return std::find(m.begin(), m.end(), method) != m.end();
}

std::vector<std::string> Router::routes() const {
  std::vector<std::string> out;
  for (const auto& r : routes_) out.push_back(r.method + " " + r.pattern);
  return out;
}

}  // namespace sa
