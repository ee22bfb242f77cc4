#include "server/router.h"

#include <algorithm>

namespace sa {

std::vector<std::string> Router::allowed_methods(const std::string& path) const {
  std::vector<std::string> out;
  auto add = [&out](const std::string& m) {
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  };
  for (const auto& [method, pattern] : routes_) {
    if (!std::regex_match(path, pattern)) continue;
    add(method);
    if (method == "GET") add("HEAD");
  }
  return out;
}

}  // namespace sa
